"""Contrastive losses on L2-normalised features: plain CLIP InfoNCE and the Omni-NegCLIP objectives.

Notation (DESIGN.md, "Omni-NegCLIP objectives"): a batch of B images `I`, their captions `T`,
presence-negated captions `N` (a present object negated: false) and absence-negated captions `A` (an
absent object negated: true), and optionally `T0`, the captions' features under the weights before fine-tuning. Every row is an L2-normalised feature. `logits` turns similarities into the
model's logits (`ClipBundle.logits`: s * S, plus SigLIP's bias); every objective is a softmax cross-entropy,
in which a bias shared by all logits cancels.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from .config import LossWeights

Logits = Callable[[torch.Tensor], torch.Tensor]


def clip_loss(image: torch.Tensor, text: torch.Tensor, logits: Logits) -> torch.Tensor:
    """Symmetric CLIP InfoNCE: matching rows of `image` and `text` are the positives."""
    scores = logits(image @ text.T)
    labels = torch.arange(len(image), device=image.device)
    return (F.cross_entropy(scores, labels) + F.cross_entropy(scores.T, labels)) / 2


def presence_terms(
    image: torch.Tensor, text: torch.Tensor, negated: torch.Tensor, logits: Logits
) -> dict[str, torch.Tensor]:
    """L1 (image to [T;N], B x 2B), L2 (text to image) and L3 (two-way T vs N per image), each a mean CE."""
    labels = torch.arange(len(image), device=image.device)
    l1 = F.cross_entropy(logits(image @ torch.cat([text, negated]).T), labels)
    l2 = F.cross_entropy(logits(text @ image.T), labels)
    pair = logits(torch.stack([(image * text).sum(-1), (image * negated).sum(-1)], dim=1))
    l3 = F.cross_entropy(pair, torch.zeros_like(labels))
    return {"l1": l1, "l2": l2, "l3": l3}


def absence_terms(
    image: torch.Tensor, text: torch.Tensor, absence: torch.Tensor, logits: Logits, margin: float
) -> dict[str, torch.Tensor]:
    """InfoNCE(I, A), InfoNCE(I, T) and the text margin mean(ReLU(cos(T_i, A_i) + margin)), unweighted."""
    return {
        "absence_nce": clip_loss(image, absence, logits),
        "original_nce": clip_loss(image, text, logits),
        "text_margin": F.relu((text * absence).sum(-1) + margin).mean(),
    }


def anchor_term(text: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """mean(1 - cos(T_i, T0_i)): how far the captions' features moved from the model's before fine-tuning."""
    return (1 - (text * reference).sum(-1)).mean()


def omni_negclip_loss(
    image: torch.Tensor,
    text: torch.Tensor,
    logits: Logits,
    weights: LossWeights,
    negated: torch.Tensor | None = None,
    absence: torch.Tensor | None = None,
    reference: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """L = L_pres + lambda_abs * L_abs (+ lambda_anchor * anchor, given the captions' `reference` features before
    fine-tuning) and every term; a missing N or A drops its objective."""
    if negated is None and absence is None:
        raise ValueError("the Omni-NegCLIP loss needs presence-negated captions, absence-negated ones, or both")
    terms: dict[str, torch.Tensor] = {}
    total = image.new_zeros(())
    if negated is not None:
        terms.update(presence_terms(image, text, negated, logits))
        terms["presence"] = (terms["l1"] + terms["l2"] + terms["l3"]) / 3
        total = total + terms["presence"]
    if absence is not None:
        terms.update(absence_terms(image, text, absence, logits, weights.margin))
        terms["absence"] = (
            terms["absence_nce"] + weights.lambda_orig * terms["original_nce"] + weights.lambda_text * terms["text_margin"]
        )
        total = total + weights.lambda_abs * terms["absence"]
    if reference is not None:
        terms["anchor"] = anchor_term(text, reference)
        total = total + weights.lambda_anchor * terms["anchor"]
    terms["loss"] = total
    return total, terms
