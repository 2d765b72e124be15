"""Localisation after tuning: patching and erasure measured again on the fine-tuned model, per block against before."""

from __future__ import annotations

from dataclasses import dataclass

from .base import Result


@dataclass
class BlockChange:
    """One measure's per-block gain (its curve's rise across the block) before and after fine-tuning, and the change.

    `change` is after − before per block with its 95% interval (`ci_low`, `ci_high`) over images, both models
    resampled on the same images (paired). `inside` is the trained blocks' mean change minus the other blocks' mean
    change, with its interval over the same resamples (`inside_ci`): above 0 when the change sits in the trained blocks.
    """

    measure: str
    before: list[float]
    after: list[float]
    change: list[float]
    ci_low: list[float]
    ci_high: list[float]
    inside: float
    inside_ci: list[float]

    @property
    def certain(self) -> list[bool]:
        """Per block, whether the interval of the change excludes 0."""
        return [not lo <= 0 <= hi for lo, hi in zip(self.ci_low, self.ci_high)]

    def sentence(self, trained: list[int]) -> str:
        """Whether the change sits in the trained blocks, in one sentence."""
        lo, hi = self.inside_ci
        where = ("sits in the trained blocks" if lo > 0 else "sits outside the trained blocks" if hi < 0
                 else "is not more in the trained blocks than elsewhere")
        return (f"{self.measure[0].upper()}{self.measure[1:]}: the change {where} (trained blocks "
                f"{', '.join(map(str, trained))}: mean change minus the other blocks' {self.inside:+.3f} "
                f"[{lo:+.3f}, {hi:+.3f}]).")


@dataclass
class LocalisationResult(Result):
    """`localisation.json`: patching and erasure on the model before and after fine-tuning, on the same analysis
    images, per block."""

    kind = "localisation"
    filename = "localisation.json"
    schema = 1

    model: str
    tuned: str
    data: str
    images: int
    trained_blocks: list[int]
    patching: BlockChange
    erasure: BlockChange
    seconds: float
