"""The heads stage's result: per text block and attention head, how much of the negation effect the head carries and
how much it attends to the negator, in the model and against untrained copies of its architecture."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .attribution import CaptionPair
from .base import Result

HEAD_MEASURES = {
    "patching": "share of the negation effect recreated by patching the head's pooled output (both ways averaged)",
    "zero": "share of the negation effect removed by zeroing the head's pooled output",
    "mean": "share of the negation effect removed by setting the head's pooled output to its mean",
    "attention_pooled": "attention from the pooled token to the negator",
    "attention_object": "mean attention from the negated object's tokens to the negator",
}


@dataclass
class HeadMap:
    """One measure per (block, head), each a blocks × heads grid: the model's value, the untrained copies' mean, their
    difference and its 95% interval when whole images are resampled (the model and the copies on the same draws)."""

    measure: str
    model: list[list[float]]
    untrained: list[list[float]]
    difference: list[list[float]]
    ci_low: list[list[float]]
    ci_high: list[list[float]]

    @property
    def certain(self) -> np.ndarray:
        """Blocks × heads: whether the interval of the difference excludes 0."""
        low, high = np.asarray(self.ci_low), np.asarray(self.ci_high)
        return (low > 0) | (high < 0)


@dataclass
class TopHead:
    """One head of a measure's ranking: its block, its index in the block and its map's values."""

    block: int
    head: int
    model: float
    untrained: float
    difference: float
    ci_low: float
    ci_high: float


@dataclass
class HeadsResult(Result):
    """`heads.json`: per measure (`HEAD_MEASURES`) a `HeadMap`; the pairs it was measured on and how."""

    kind = "heads"
    filename = "heads.json"
    schema = 1

    model: str
    data: str
    pairs: str
    seed: int
    n_pairs: int
    images: int
    blocks: int
    heads: int
    untrained_seeds: list[int]
    method: str
    maps: dict[str, HeadMap]
    captions: list[CaptionPair] = field(default_factory=list)
    seconds: float = 0.0

    def top(self, measure: str, n: int = 5) -> list[TopHead]:
        """The `n` heads with the largest difference from the untrained copies in `measure`, largest first."""
        m = self.maps[measure]
        diff = np.asarray(m.difference)
        order = np.argsort(-np.nan_to_num(diff, nan=-np.inf), axis=None)[:n]
        return [TopHead(int(b), int(h), m.model[b][h], m.untrained[b][h], m.difference[b][h], m.ci_low[b][h],
                        m.ci_high[b][h]) for b, h in (np.unravel_index(i, diff.shape) for i in order)]
