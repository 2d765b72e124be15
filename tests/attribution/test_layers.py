import numpy as np
import pytest
import torch

from negscope.attribution import equal_length_pairs, layer_attributions

POS = ["a red circle and a blue square", "there is a blue square", "a green cross"]
NEG = ["a red circle and no blue square", "there is no blue square", "no green cross"]


def test_every_site_attributes_the_gap_and_moves_it_onto_eos(tiny):
    img = torch.nn.functional.normalize(torch.randn(3, 16, generator=torch.Generator().manual_seed(0)), dim=-1)
    la = layer_attributions(tiny, POS, NEG, img, steps=16)
    assert la.sites == [s.name for s in tiny.sites] and la.total.shape == (3, 5)
    assert la.importance.shape == (3, len(tiny.blocks))
    np.testing.assert_allclose(la.total, np.repeat(la.gap[:, None], 5, axis=1), atol=1e-5)
    np.testing.assert_allclose(la.total - la.delta, np.repeat(la.gap[:, None], 5, axis=1), atol=1e-6)
    np.testing.assert_allclose(la.eos_share[:, 0], 0, atol=1e-6)  # embeddings: only the changed token differs
    np.testing.assert_allclose(la.changed_share[:, 0], 1, atol=1e-6)
    np.testing.assert_allclose(la.eos_share[:, -1], 1, atol=1e-6)  # last block: only the pooled state matters
    np.testing.assert_allclose(la.importance.sum(1), 1, atol=1e-6)


def test_pairs_of_different_length_are_refused_and_filtered(tiny):
    pos, neg = POS + ["a red circle"], NEG + ["This is not a red circle"]
    assert equal_length_pairs(tiny, pos, neg) == [0, 1, 2]
    with pytest.raises(ValueError, match="pair 3 has captions of different token lengths"):
        layer_attributions(tiny, pos, neg, torch.zeros(4, 16), steps=2)
