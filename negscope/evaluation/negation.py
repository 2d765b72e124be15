"""Presence and absence negation accuracy, swap accuracy and NegBench-style MCQ."""

from __future__ import annotations

import numpy as np
import torch

from ..data.negation import MCQ_TYPES, ImageNegations
from ..models import ClipBundle
from .features import text_lookup


def pair_accuracy(
    bundle: ClipBundle, image_feats: torch.Tensor, pairs: list[tuple[int, str, str]]
) -> float:
    """Share of (image row, true text, false text) triples where S(I, true) > S(I, false)."""
    if not pairs:
        return float("nan")
    feats, row = text_lookup(bundle, [t for _, a, b in pairs for t in (a, b)])
    img = image_feats[[i for i, _, _ in pairs]]
    s_true = (img * feats[[row[a] for _, a, _ in pairs]]).sum(-1)
    s_false = (img * feats[[row[b] for _, _, b in pairs]]).sum(-1)
    return float((s_true > s_false).float().mean())


def presence_accuracy(bundle: ClipBundle, image_feats: torch.Tensor, negs: list[ImageNegations]) -> float:
    """P[S(I, caption) > S(I, caption with a present object negated)]."""
    return pair_accuracy(bundle, image_feats, [(i, t, f) for i, n in enumerate(negs) for t, f in n.presence])


def absence_accuracy(bundle: ClipBundle, image_feats: torch.Tensor, negs: list[ImageNegations]) -> float:
    """P[S(I, 'caption, with no X') > S(I, 'caption, with X')] for absent X."""
    return pair_accuracy(bundle, image_feats, [(i, t, f) for i, n in enumerate(negs) for t, f in n.absence])


def swap_accuracy(bundle: ClipBundle, image_feats: torch.Tensor, negs: list[ImageNegations]) -> float:
    """P[S(I, caption) > S(I, caption with its main object replaced by an absent one)]."""
    return pair_accuracy(bundle, image_feats, [(i, t, f) for i, n in enumerate(negs) for t, f in n.swap])


def mcq_accuracy(
    bundle: ClipBundle, image_feats: torch.Tensor, negs: list[ImageNegations], seed: int = 0
) -> tuple[float, dict[str, float]]:
    """Four-option accuracy overall and by the type of the correct answer; ties broken at random."""
    items = [(i, n.mcq) for i, n in enumerate(negs) if n.mcq is not None]
    if not items:
        return float("nan"), {}
    feats, row = text_lookup(bundle, [o for _, q in items for o in q.options])
    rng = np.random.default_rng(seed)
    hits: dict[str, list[bool]] = {t: [] for t in MCQ_TYPES}
    for i, q in items:
        scores = (feats[[row[o] for o in q.options]] @ image_feats[i]).numpy()
        best = np.flatnonzero(scores == scores.max())
        hits[q.answer_type].append(int(rng.choice(best)) == q.answer)
    every = [h for v in hits.values() for h in v]
    return float(np.mean(every)), {t: float(np.mean(v)) for t, v in hits.items() if v}
