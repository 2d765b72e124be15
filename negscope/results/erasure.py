"""The erasure stage's result: what erasing the "negated" concept at each site does to the negation effect."""

from __future__ import annotations

from dataclasses import dataclass

from .base import Result
from .evidence import BlockEvidence


@dataclass
class ErasurePoint:
    """Erasing at one site: the share of the negation effect removed, and the accuracy drops, with 95% intervals."""

    site: str
    removed_share: float
    ci_low: float
    ci_high: float
    presence_accuracy: float
    presence_drop: float
    presence_drop_ci: list[float]
    absence_accuracy: float
    absence_drop: float
    absence_drop_ci: list[float]


@dataclass
class ErasureCurve:
    """One model's erasure curve, with its accuracies before erasure."""

    model: str
    presence_accuracy: float
    absence_accuracy: float
    points: list[ErasurePoint]


@dataclass
class ErasureResult(Result):
    """`erasure.json`: LEACE erasure per site on the model and on an untrained copy of its architecture."""

    kind = "erasure"
    filename = "erasure.json"

    model: str
    data: str
    seed: int
    method: str
    fit_images: int
    fit_texts: int
    eval_images: int
    pairs: dict[str, int]
    sites: list[str]
    trained: ErasureCurve
    untrained: ErasureCurve
    seconds: float
    evidence: BlockEvidence | None = None
