import numpy as np
import pytest
import torch

from negscope.attribution import patch_pairs, patched_site, recreated_share
from negscope.models import Block

POS = ["a red circle and a blue square", "there is a blue square", "a green cross"]
NEG = ["a red circle and no blue square", "there is no blue square", "no green cross"]
SEED_NEG = ["This is not " + c for c in POS]


@pytest.fixture(scope="module")
def img():
    return torch.nn.functional.normalize(torch.randn(3, 16, generator=torch.Generator().manual_seed(0)), dim=-1)


@pytest.mark.parametrize("positions", ["eos", "context", "all"])
def test_patching_with_the_captions_own_state_changes_nothing(tiny, img, positions):
    res = patch_pairs(tiny, POS, POS, img, positions=positions)
    np.testing.assert_allclose(res.patched, np.repeat(res.receiver[:, None], 5, axis=1), atol=1e-6)


def test_patching_all_token_states_of_any_site_reproduces_the_donor(tiny, img):
    res = patch_pairs(tiny, POS, NEG, img, positions="all")
    assert np.abs(res.gap).min() > 1e-4
    np.testing.assert_allclose(res.patched, np.repeat(res.donor[:, None], 5, axis=1), atol=1e-5)
    curve = res.curve([0, 0, 1], resamples=20)  # two pairs of one image
    assert [c.site for c in curve] == res.sites == [s.name for s in tiny.sites]
    assert [c.share for c in curve] == pytest.approx([1.0] * 5)


def test_eos_patching_reproduces_the_donor_only_at_the_last_site(tiny, img):
    res = patch_pairs(tiny, POS, SEED_NEG, img, positions="eos")  # different lengths are fine for EOS
    last, first = res.sites.index("text.block.3"), res.sites.index("text.block.0")
    np.testing.assert_allclose(res.patched[:, last], res.donor, atol=1e-5)
    assert np.abs(res.patched[:, first] - res.donor).max() > 1e-3
    reverse = patch_pairs(tiny, SEED_NEG, POS, img, positions="eos", sites=["text.block.3"])
    assert reverse.sites == ["text.block.3"]
    np.testing.assert_allclose(reverse.patched[:, 0], reverse.donor, atol=1e-5)


def test_token_patching_refuses_pairs_of_different_length(tiny, img):
    with pytest.raises(ValueError, match="pair 0 .* differs in token length"):
        patch_pairs(tiny, POS, SEED_NEG, img, positions="context")


def test_the_hook_is_removed_even_after_an_error(tiny):
    module = tiny.block_module(Block(1))
    values, where = torch.zeros(1, 1, 1), torch.ones(1, 1, dtype=torch.bool)
    with pytest.raises(ValueError, match="patch values for text.block.1 have shape"), patched_site(tiny, Block(1).output, values, where):
        tiny.encode_text(["a red circle"])
    assert not module._forward_hooks
    with pytest.raises(IndexError, match="text.block.0 to text.block.3"), patched_site(tiny, "text.block.9", values, where):
        pass
    with pytest.raises(TypeError, match="a site is named"), patched_site(tiny, 1, values, where):
        pass


def test_recreated_share_is_gap_weighted():
    effect = np.array([[1.0, 0.5], [-2.0, 0.0]])
    gap = np.array([1.0, -2.0])
    np.testing.assert_allclose(recreated_share(effect, gap), [1.0, 0.5 / 3])
