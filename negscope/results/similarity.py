"""The similarity stage's result: the seed study's Table 1, one row per model."""

from __future__ import annotations

from dataclasses import dataclass, field

from .base import Result


@dataclass
class SeedRow:
    """One model's Table 1 row: S(I, caption) against S(I, 'This is not ' + caption), and each template's mean."""

    model: str
    pairs: int
    pos_mean: float
    pos_std: float
    neg_mean: float
    neg_std: float
    flips: int
    flip_rate: float
    templates: dict[str, float]
    truncated_captions: int = 0

    @classmethod
    def empty(cls, model: str) -> SeedRow:
        """The row of a model the seed study did not score: no pairs, every figure NaN."""
        nan = float("nan")
        return cls(model=model, pairs=0, pos_mean=nan, pos_std=nan, neg_mean=nan, neg_std=nan, flips=0, flip_rate=nan,
                   templates={})


@dataclass
class SimilarityResult(Result):
    """`similarity.json`: the seed Table 1 over every model, on one dataset."""

    kind = "similarity"
    filename = "similarity.json"

    data: str
    images: int
    skipped_images: int
    seed: int
    rows: list[SeedRow] = field(default_factory=list)
