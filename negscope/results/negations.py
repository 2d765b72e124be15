"""The negations stage's result: what the stages read of the data, sampled, and what they skip."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..data.overview import CaptionNegations
from .base import Result


@dataclass
class NegationsResult(Result):
    """`negations.json`: counts of images, captions and skips by reason, and a seeded sample of captions with their
    negations. `given` says the data brought its own negations; `questions` counts the multiple-choice items it holds."""

    kind = "negations"
    filename = "negations.json"

    data: str
    images: int
    captions: int
    skipped_images: int
    skipped_captions: dict[str, int]
    unmentioned_pairs: int
    object_pairs: int
    given: bool
    questions: int
    seed: int
    samples: list[CaptionNegations] = field(default_factory=list)

    @property
    def skipped_share(self) -> float:
        """The share of captions that give no presence negation."""
        return sum(self.skipped_captions.values()) / self.captions if self.captions else float("nan")
