import torch

from negscope.evaluation.features import shared_texts, text_lookup


def test_shared_texts_encode_each_distinct_text_once(tiny, monkeypatch):
    calls = []
    encode = tiny.encode_text

    def counted(captions, **kw):
        calls.append(list(captions))
        return encode(captions, **kw)

    monkeypatch.setattr(tiny, "encode_text", counted)
    with shared_texts(tiny):
        a, row_a = text_lookup(tiny, ["a red circle", "no blue square", "a red circle"])
        b, row_b = text_lookup(tiny, ["no blue square", "a green cross"])
    assert calls == [["a red circle", "no blue square"], ["a green cross"]]
    assert list(row_b) == ["no blue square", "a green cross"] and len(b) == 2
    assert torch.equal(b[row_b["no blue square"]], a[row_a["no blue square"]])
    torch.testing.assert_close(b, encode(["no blue square", "a green cross"]), atol=1e-6, rtol=0)
    text_lookup(tiny, ["a red circle"])
    assert len(calls) == 3  # outside the block every call encodes
