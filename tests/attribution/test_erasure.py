"""LEACE erasure: the fitted eraser removes the linear concept, the hook restores the model, and the measures."""

import numpy as np
import pytest
import torch

from negscope.attribution.erasure import ErasureRun, erase_pairs, erased_site, fit_erasers
from negscope.hooks import capture_text_states

POS = ["a red circle", "there is a blue square", "a green cross and a red circle", "a yellow square", "one purple cross"]
NEG = ["no red circle", "there is no blue square", "a green cross and no red circle", "no yellow square", "no purple cross"]


@pytest.fixture(scope="module")
def erasers(tiny):
    texts = [t for pair in zip(POS, NEG) for t in pair]
    return fit_erasers(tiny, texts, [0, 1] * len(POS), sites=["text.embed", "text.block.1"])


def _token_means(tiny, site, texts):
    with capture_text_states(tiny, [site], pools=("tokens",)) as cap:
        tiny.encode_text(texts)
    return torch.cat(cap.tokens()[site]).double().mean(0)


def test_erased_states_have_equal_class_means_and_the_hook_is_removed(tiny, erasers):
    assert set(erasers) == {"text.embed", "text.block.1"}
    site = "text.block.1"
    before = [_token_means(tiny, site, texts) for texts in (POS, NEG)]
    assert (before[0] - before[1]).abs().max() > 1e-3
    with capture_text_states(tiny, [site], pools=("tokens",)) as cap:
        tiny.encode_text(POS + NEG)
    states = cap.tokens()[site]
    erased = [erasers[site](torch.cat(states[: len(POS)]).double()), erasers[site](torch.cat(states[len(POS):]).double())]
    np.testing.assert_allclose(erased[0].mean(0), erased[1].mean(0), atol=1e-6)  # LEACE: no linear signal left

    clean = tiny.encode_text(NEG)
    with erased_site(tiny, site, erasers[site]):
        changed = tiny.encode_text(NEG)
    assert (changed - clean).abs().max() > 1e-4
    torch.testing.assert_close(tiny.encode_text(NEG), clean)


def test_erase_pairs_scores_every_site_and_kind(tiny, erasers):
    img = torch.nn.functional.normalize(torch.randn(2, 16, generator=torch.Generator().manual_seed(0)), dim=-1)
    pairs = [(0, POS[0], NEG[0], "presence"), (1, NEG[1], POS[1], "absence"), (1, POS[2], NEG[2], "presence")]
    run = erase_pairs(tiny, erasers, pairs, img)
    feats = tiny.encode_text([t for _, a, b, _ in pairs for t in (a, b)])
    np.testing.assert_allclose(run.true, (img[[0, 1, 1]] * feats[0::2]).sum(-1).numpy(), atol=1e-6)
    assert run.true_erased.shape == (3, 2) and run.sites == ["text.embed", "text.block.1"]
    assert run.accuracy("presence") == float(np.mean(run.true[[0, 2]] > run.false[[0, 2]]))
    low, high = run.intervals(resamples=20)["removed_share"]
    assert low.shape == high.shape == (2,)


def test_removed_share_counts_the_negated_caption_on_either_side():
    # presence pairs hold (positive, negated); absence pairs (negated, positive). Erasure here halves every gap.
    true, false = np.array([1.0, 0.2]), np.array([0.6, 0.6])
    run = ErasureRun(["s"], np.array(["presence", "absence"]), true, false,
                     (true - (true - false) / 2)[:, None], false[:, None])
    assert run.removed_share()[0] == pytest.approx(0.5)
    assert run.drops("presence")[0] == 0.0 and run.accuracy("absence", 0) == 0.0
    full = ErasureRun(["s"], np.array(["presence", "absence"]), true, false, false[:, None], false[:, None])
    assert full.removed_share()[0] == pytest.approx(1.0)


def test_erasers_need_both_classes(tiny):
    with pytest.raises(ValueError, match="both classes"):
        fit_erasers(tiny, POS, [0] * len(POS))
