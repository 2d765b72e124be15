"""The batched integrated gradients give what Captum's LayerIntegratedGradients gives one example at a time."""

import numpy as np
import pytest
import torch
from captum.attr import LayerIntegratedGradients

from negscope.attribution import layer_attributions, pad_baseline, token_attributions
from negscope.attribution.integrated import bare_blocks
from negscope.attribution.score import similarity_at

TEXTS = ["This is not a red circle", "a green cross", "There is absolutely no blue square", "no red circle next to a blue square"]
POS = ["a red circle and a blue square", "a green cross", "there is a blue square", "a cross"]
NEG = ["a red circle and no blue square", "no green cross", "there is no blue square", "no cross"]
STEPS = 8


def images(n: int) -> torch.Tensor:
    return torch.nn.functional.normalize(torch.randn(n, 16, generator=torch.Generator().manual_seed(2)), dim=-1)


def captum(bundle, module, ids, baseline, mask, pooled, img, to_input=False):
    """Captum on one example: per-position attributions (summed over the width) and the convergence delta."""
    lig = LayerIntegratedGradients(lambda i, m, p, im: similarity_at(bundle, i, m, p, im), module)
    attr, delta = lig.attribute(ids, baselines=baseline, additional_forward_args=(mask, pooled, img), n_steps=STEPS,
                                attribute_to_layer_input=to_input, return_convergence_delta=True)
    return attr.sum(-1)[0].detach(), float(delta[0])


def test_token_attributions_match_captum_per_text(tiny):
    img = images(len(TEXTS))
    ours = token_attributions(tiny, TEXTS, img, steps=STEPS, batch_size=2)  # sorted by length: batches mix the order
    for k, text in enumerate(TEXTS):
        tok = tiny.tokenize([text])
        ids, mask = tok["input_ids"], tok["attention_mask"]
        attr, delta = captum(tiny, tiny.token_embedding, ids, pad_baseline(tiny, ids), mask, tiny.pool_positions(ids), img[k : k + 1])
        assert ours[k].text == text
        np.testing.assert_allclose(ours[k].attributions, attr.numpy(), atol=1e-5)
        assert ours[k].delta == pytest.approx(delta, abs=1e-5)


def test_site_attributions_match_captum_per_pair(tiny):
    assert bare_blocks(tiny)  # so the blocks below each site are skipped, and that path is what is compared
    img = images(len(POS))
    flags = [p.requires_grad for p in tiny.model.parameters()]
    la = layer_attributions(tiny, POS, NEG, img, steps=STEPS, batch_size=3)
    for i in range(len(POS)):
        tok = tiny.tokenize([POS[i], NEG[i]])
        width = int(tok["attention_mask"][0].sum())
        pos, neg, mask = tok["input_ids"][:1, :width], tok["input_ids"][1:, :width], tok["attention_mask"][:1, :width]
        pooled = tiny.pool_positions(pos)
        with torch.no_grad():
            gap = float(similarity_at(tiny, neg, mask, pooled, img[i : i + 1]) - similarity_at(tiny, pos, mask, pooled, img[i : i + 1]))
        assert la.gap[i] == pytest.approx(gap, abs=1e-6)
        for j, site in enumerate(la.sites):
            module, to_input = tiny.site_point(site)
            attr, delta = captum(tiny, module, neg, pos, mask, pooled, img[i : i + 1], to_input)
            absolute = attr.abs()
            assert la.total[i, j] == pytest.approx(float(attr.sum()), abs=1e-5)
            assert la.delta[i, j] == pytest.approx(delta, abs=1e-5)
            assert la.eos_share[i, j] == pytest.approx(float(absolute[pooled[0]] / absolute.sum()), abs=1e-5)
            changed = float(absolute[pos[0] != neg[0]].sum() / absolute.sum())
            assert la.changed_share[i, j] == pytest.approx(changed, abs=1e-5)
    # the blocks run again and the weights ask for gradients as before
    assert not any("forward" in vars(block) for block in tiny.text_layers)
    assert [p.requires_grad for p in tiny.model.parameters()] == flags
