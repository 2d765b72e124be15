"""Positive and negated caption pairs, one per image, for layer attribution and activation patching."""

from __future__ import annotations

from .negation import build_negations, seed_negation
from .records import Dataset

PAIR_KINDS = ("presence", "seed")


def negation_pairs(dataset: Dataset, kind: str = "presence", seed: int = 0) -> tuple[list[int], list[str], list[str]]:
    """One (image row, positive, negated) pair per image: a presence negation, or 'This is not ' + caption."""
    if kind not in PAIR_KINDS:
        raise ValueError(f"pair kind {kind!r} is unknown; choose one of {PAIR_KINDS}")
    rows, pos, neg = [], [], []
    if kind == "seed":
        for i, rec in enumerate(dataset):
            rows.append(i)
            pos.append(rec.captions[0])
            neg.append(seed_negation(rec.captions[0]))
    else:
        for i, item in enumerate(build_negations(dataset, seed=seed)):
            if item.presence:
                rows.append(i)
                pos.append(item.presence[0][0])
                neg.append(item.presence[0][1])
    if not rows:
        raise ValueError(f"no {kind} pairs in the data: its images list no objects; use pairs='seed' or data with instances")
    return rows, pos, neg
