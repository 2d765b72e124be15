import math

import pytest
import torch

from negscope.finetune.losses import (
    LossWeights,
    absence_terms,
    clip_loss,
    omni_negclip_loss,
    presence_terms,
)

E = math.e
I = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
T = I.clone()
N = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
A = torch.tensor([[0.6, 0.8], [0.8, -0.6]])


def unit_scale(s: torch.Tensor) -> torch.Tensor:
    return s


def test_clip_loss_by_hand():
    # logits 2*I: each row's CE is log(e^2 + 1) - 2, in both directions
    assert clip_loss(I, T, lambda s: 2.0 * s).item() == pytest.approx(math.log(E**2 + 1) - 2, rel=1e-6)


def test_presence_terms_by_hand():
    t = presence_terms(I, T, N, unit_scale)
    # image 0 against [T0, T1, N0, N1] = [1, 0, 0, 1]; image 1 against them = [0, 1, 1, 0]
    assert t["l1"].item() == pytest.approx(math.log(2 * E + 2) - 1, rel=1e-6)
    # text to image: identity logits
    assert t["l2"].item() == pytest.approx(math.log(E + 1) - 1, rel=1e-6)
    # two-way [<I,T>, <I,N>] = [1, 0], label 0
    assert t["l3"].item() == pytest.approx(math.log(1 + 1 / E), rel=1e-6)


def test_l2_is_text_to_image_only():
    # T.I^T = [[1, .6], [0, .8]] is not symmetric, so text->image differs from image->text
    img = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    txt = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    expected = ((math.log(E + E**0.6) - 1) + (math.log(1 + E**0.8) - 0.8)) / 2
    assert presence_terms(img, txt, txt, unit_scale)["l2"].item() == pytest.approx(expected, rel=1e-6)


def test_absence_terms_by_hand():
    t = absence_terms(I, T, A, unit_scale, margin=0.5)
    # I.A^T = [[.6, .8], [.8, -.6]] is symmetric, so both directions agree
    row0 = math.log(E**0.6 + E**0.8) - 0.6
    row1 = math.log(E**0.8 + E**-0.6) + 0.6
    assert t["absence_nce"].item() == pytest.approx((row0 + row1) / 2, rel=1e-6)
    assert t["original_nce"].item() == pytest.approx(math.log(E + 1) - 1, rel=1e-6)
    # cos(T_i, A_i) = .6 and -.6: ReLU(1.1) and ReLU(-0.1) = 0
    assert t["text_margin"].item() == pytest.approx(0.55, rel=1e-6)
    assert absence_terms(I, T, A, unit_scale, margin=0.9)["text_margin"].item() == pytest.approx(0.9, rel=1e-6)


def test_total_uses_every_weight():
    w = LossWeights(lambda_abs=2.0, lambda_orig=0.5, lambda_text=3.0, margin=0.5)
    total, t = omni_negclip_loss(I, T, unit_scale, w, negated=N, absence=A)
    pres = (t["l1"] + t["l2"] + t["l3"]).item() / 3
    absn = t["absence_nce"].item() + 0.5 * t["original_nce"].item() + 3.0 * 0.55
    assert t["presence"].item() == pytest.approx(pres, rel=1e-6)
    assert t["absence"].item() == pytest.approx(absn, rel=1e-6)
    assert total.item() == pytest.approx(pres + 2.0 * absn, rel=1e-6)


def test_missing_negations_drop_their_objective():
    w = LossWeights()
    only_pres, t = omni_negclip_loss(I, T, unit_scale, w, negated=N)
    assert "absence" not in t and only_pres.item() == pytest.approx(t["presence"].item())
    only_abs, t = omni_negclip_loss(I, T, unit_scale, w, absence=A)
    assert "presence" not in t and only_abs.item() == pytest.approx(t["absence"].item())
    with pytest.raises(ValueError, match="needs presence-negated"):
        omni_negclip_loss(I, T, unit_scale, w)


def test_a_shared_logit_bias_cancels_in_every_objective():
    w = LossWeights()
    plain, _ = omni_negclip_loss(I, T, unit_scale, w, negated=N, absence=A)
    biased, _ = omni_negclip_loss(I, T, lambda s: s - 10.0, w, negated=N, absence=A)
    assert biased.item() == pytest.approx(plain.item(), rel=1e-6)
