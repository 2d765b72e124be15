"""Activation store: round trip, one-site reads, one batch held at a time, resume after an interruption, mismatched reruns."""

import numpy as np
import pytest
import torch

from negscope.hooks import ActivationStore, text_states, write_store
from negscope.hooks.capture import TextStates

TEXTS = [f"a {c} {s}" for c in ("red", "blue", "green") for s in ("circle", "square", "cross")]


def test_round_trip_and_one_site_reads(tiny, tmp_path):
    store = write_store(tmp_path, tiny, TEXTS, groups=[i // 2 for i in range(9)], labels={"y": [i % 2 for i in range(9)]},
                        pools=("eos", "mean"), dtype="float16", shard_size=4)
    assert store.manifest["shards"] == 3 and store.manifest["dtype"] == "float16" and store.manifest["model"] == "tiny"
    assert store.manifest["format"] == 2 and store.sites == [s.name for s in tiny.sites]
    expected = text_states(tiny, TEXTS, dtype=torch.float16)
    assert sorted(p.name for p in (tmp_path / "shard_00001" / "mean").iterdir()) == sorted(f"{n}.npy" for n in store.sites)
    for other in store.sites[1:]:
        for shard in tmp_path.glob("shard_*"):
            (shard / "eos" / f"{other}.npy").unlink()
    x = store.states("text.embed")
    assert x.dtype == np.float16 and x.shape == (9, 32)
    np.testing.assert_array_equal(x, expected["text.embed"].numpy())
    np.testing.assert_array_equal(ActivationStore(tmp_path).states(tiny.sites[0], pool="mean").shape, (9, 32))
    assert store.texts == TEXTS and store.groups.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4]
    assert store.labels("y").tolist() == [0, 1, 0, 1, 0, 1, 0, 1, 0]


def test_capture_holds_one_batch_at_a_time(tiny, tmp_path, monkeypatch):
    held = []
    start = TextStates._start

    def spy(self, input_ids):
        held.append(len(self))
        start(self, input_ids)

    monkeypatch.setattr(TextStates, "_start", spy)
    store = write_store(tmp_path, tiny, TEXTS, groups=range(9), pools=("eos", "mean"), shard_size=4, batch_size=3)
    assert held == [0] * 5  # shards of 4, 4 and 1 captions in batches of 3 + 1, 3 + 1 and 1, each forward pass from empty
    monkeypatch.undo()
    for pool in ("eos", "mean"):
        expected = text_states(tiny, TEXTS, pool=pool)
        for name in store.sites:
            np.testing.assert_allclose(store.states(name, pool), expected[name].numpy(), atol=1e-6)


def test_resume_after_interruption(tiny, tmp_path, monkeypatch):
    calls = []
    real = tiny.encode_text

    def flaky(captions, **kw):
        calls.append(list(captions))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(captions, **kw)

    monkeypatch.setattr(tiny, "encode_text", flaky)
    with pytest.raises(KeyboardInterrupt):
        write_store(tmp_path, tiny, TEXTS, groups=range(9), shard_size=4)
    assert ActivationStore(tmp_path).missing_shards == [1, 2]
    with pytest.raises(ValueError, match="incomplete"):
        ActivationStore(tmp_path).states("text.block.0")
    store = write_store(tmp_path, tiny, TEXTS, groups=range(9), shard_size=4)
    assert calls[2:] == [TEXTS[4:8], TEXTS[8:]]
    monkeypatch.undo()
    np.testing.assert_allclose(store.states("text.block.3"), text_states(tiny, TEXTS)["text.block.3"].numpy(), atol=1e-6)


def test_errors_name_the_fix(tiny, tmp_path):
    write_store(tmp_path, tiny, TEXTS, groups=range(9))
    with pytest.raises(ValueError, match="different dtype"):
        write_store(tmp_path, tiny, TEXTS, groups=range(9), dtype="float16")
    with pytest.raises(ValueError, match="no captions"):
        write_store(tmp_path / "b", tiny, [], groups=[])
    with pytest.raises(ValueError, match="one per caption"):
        write_store(tmp_path / "c", tiny, TEXTS, groups=[1])
    with pytest.raises(TypeError, match="a site is named, not numbered"):
        ActivationStore(tmp_path).states(1)
    with pytest.raises(ValueError, match="has no site 'text.block.7'"):
        ActivationStore(tmp_path).states("text.block.7")
    with pytest.raises(ValueError, match="has no pool 'mean'"):
        ActivationStore(tmp_path).states("text.embed", pool="mean")


def test_anchor_pool_reads_each_captions_own_token_also_after_a_resume(tiny, tmp_path):
    from negscope.hooks import states_at

    anchors = tiny.prefix_ends([t if i % 3 else t.rsplit(" ", 1)[0] for i, t in enumerate(TEXTS)])  # shape or colour word
    assert len(set(anchors[4:].tolist()) | set(anchors[:4].tolist())) == 2 and anchors[3] != anchors[4]
    store = write_store(tmp_path, tiny, TEXTS, groups=range(9), pools=("eos", "anchor"), shard_size=4, batch_size=3,
                        anchors=anchors)
    expected = states_at(tiny, TEXTS, anchors)
    eos = text_states(tiny, TEXTS)
    for name in store.sites:
        np.testing.assert_allclose(store.states(name, "anchor"), expected[name].numpy(), atol=1e-6)
    assert not np.allclose(store.states("text.block.1", "anchor"), eos["text.block.1"].numpy())
    import shutil

    shutil.rmtree(tmp_path / "shard_00001")  # the resumed shard starts at caption 4: its anchors must too
    again = write_store(tmp_path, tiny, TEXTS, groups=range(9), pools=("eos", "anchor"), shard_size=4, batch_size=3,
                        anchors=anchors)
    np.testing.assert_allclose(again.states("text.block.1", "anchor"), expected["text.block.1"].numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="anchor"):
        write_store(tmp_path / "other", tiny, TEXTS, groups=range(9), pools=("eos", "anchor"))
