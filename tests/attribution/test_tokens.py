import numpy as np
import pytest
import torch

from negscope.attribution import pad_baseline, token_attributions
from negscope.attribution.score import similarity_at

TEXTS = ["This is not a red circle", "There is absolutely no blue square", "a green cross"]


@pytest.fixture(scope="module")
def images():
    return torch.nn.functional.normalize(torch.randn(len(TEXTS), 16, generator=torch.Generator().manual_seed(1)), dim=-1)


def test_similarity_at_reads_the_position_it_is_given(tiny, images):
    tok = tiny.tokenize(TEXTS)
    ids, mask = tok["input_ids"], tok["attention_mask"]
    ours = similarity_at(tiny, ids, mask, tiny.pool_positions(ids), images)
    torch.testing.assert_close(ours, (tiny.text_embeds(tok) * images).sum(-1))
    # the baseline ids are mostly end-of-text ids, so their own pooling would read the wrong position
    base = pad_baseline(tiny, ids)
    assert not torch.equal(tiny.pool_positions(base), tiny.pool_positions(ids))
    at_start = similarity_at(tiny, ids, mask, torch.zeros(len(ids), dtype=torch.long), images)
    assert not torch.allclose(at_start, ours)


def test_baseline_keeps_the_special_tokens_and_pads_the_words(tiny):
    tok = tiny.tokenize(TEXTS)
    base = pad_baseline(tiny, tok["input_ids"])
    pad = tiny.pad_token_id
    for row, ids, n in zip(base, tok["input_ids"], tok["attention_mask"].sum(1)):
        assert row[0] == ids[0] == tiny.tokenizer.bos_token_id
        assert row[n - 1] == ids[n - 1] == tiny.eos_token_id
        assert (row[1 : n - 1] == pad).all() and (row[n:] == ids[n:]).all()


def test_attributions_sum_to_the_output_difference_within_the_delta(tiny, images):
    res = token_attributions(tiny, TEXTS, images, steps=16)
    for r in res:
        total = sum(r.attributions)
        assert abs(total - (r.score - r.baseline_score)) <= abs(r.delta) + 1e-6
        assert abs(r.delta) < 1e-3 and abs(r.delta) < 0.01 * abs(r.score - r.baseline_score)
        assert r.attributions[0] == 0.0 and r.attributions[-1] == 0.0  # BOS and EOS equal their baseline
    assert res[0].tokens[3] == "not" and res[0].negation_mask.tolist() == [False] * 3 + [True] + [False] * 4
    assert res[2].negation_share() == 0.0
    assert 0 < res[1].negation_share() < 1
    assert np.isclose(res[0].to_dict()["negation_share"], res[0].negation_share())


def test_mismatched_images_are_an_error(tiny, images):
    with pytest.raises(ValueError, match="one image per text"):
        token_attributions(tiny, TEXTS, images[:2], steps=2)
