"""The attribution and patching stages' results: where the negation gap is attributed, and what patching recreates."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .base import Result


@dataclass
class MeanCI:
    """A mean over examples with its bootstrap 95% interval and the count."""

    mean: float
    ci_low: float
    ci_high: float
    n: int


@dataclass
class CaptionPair:
    """The image and the two captions of one positive/negated pair."""

    image_id: int | str
    positive: str
    negated: str


@dataclass
class TokenAttributions:
    """Token-level integrated gradients over the seven templates. `baseline_gap` holds, per template, the mean of
    S(I, T) - S(I, baseline) over texts with its interval: what each text's attributions add up to (less its delta)."""

    method: str
    n_texts: int
    negation_words: list[str]
    negation_share: dict[str, MeanCI]
    mean_abs_delta: float
    max_abs_delta: float
    attributions: list[dict[str, Any]]
    baseline_gap: dict[str, MeanCI] = field(default_factory=dict)


@dataclass
class SiteAttribution:
    """Mean shares of the gap's attribution at one site: on the EOS state, on the changed token, in total."""

    site: str
    eos_share: float
    changed_share: float
    total: float
    mean_abs_delta: float
    max_abs_delta: float


@dataclass
class BlockImportance:
    """How much of the gap's EOS attribution one block adds, mean over pairs with its interval."""

    block: int
    name: str
    mean: float
    ci_low: float
    ci_high: float
    n: int


@dataclass
class PerPair:
    """Per-pair arrays: the gap, and per site the EOS share, the changed-token share and the completeness delta."""

    gap: list[float]
    eos_share: list[list[float]]
    changed_share: list[list[float]]
    delta: list[list[float]]


@dataclass
class SiteAttributions:
    """Per-site integrated gradients of S(I, negated) - S(I, positive) on pairs of equal token length.

    Of the `requested` pairs (one per image) `n_pairs` were kept; `dropped` counts the others by reason. `gap_ci` is the
    bootstrap 95% interval of `mean_gap` over pairs, and `gap_within_noise` is true when that interval holds 0 (then
    the per-site shares apportion a gap not told apart from none). Files written before these fields leave them unset.
    """

    method: str
    pairs: str
    n_pairs: int
    sites: list[str]
    mean_gap: float
    states: list[SiteAttribution]
    blocks: list[BlockImportance]
    captions: list[CaptionPair]
    per_pair: PerPair
    requested: int | None = None
    dropped: dict[str, int] = field(default_factory=dict)
    gap_ci: list[float] | None = None
    gap_within_noise: bool | None = None


@dataclass
class AttributionResult(Result):
    """`attribution.json`: token attributions and per-site attributions of the negation gap (and on an untrained copy)."""

    kind = "attribution"
    filename = "attribution.json"

    model: str
    data: str
    seed: int
    steps: int
    tokens: TokenAttributions
    sites: SiteAttributions
    seconds: float
    untrained: SiteAttributions | None = None

    def caveats(self) -> list[str]:
        """Pairs dropped from the per-site attribution, with their reasons, and each gap (trained, untrained copy)
        whose interval holds zero, so that its per-site shares apportion noise."""
        notes = []
        if self.sites.dropped:
            reasons = "; ".join(f"{why}: {n}" for why, n in self.sites.dropped.items())
            notes.append(f"Per-site attribution kept {self.sites.n_pairs} of {self.sites.requested} pairs ({reasons}).")
        for label, run in (("", self.sites), (" on the untrained copy", self.untrained)):
            if run is not None and run.gap_within_noise:
                low, high = run.gap_ci
                notes.append(f"The negation gap S(I, negated) − S(I, positive) attributed{label} averages "
                             f"{run.mean_gap:+.4f} [95% CI {low:+.4f}, {high:+.4f}] over {run.n_pairs} pairs: its "
                             "interval holds zero, so the per-site shares apportion noise and are not evidence.")
        return notes


@dataclass
class CurvePoint:
    """The share of the negation effect that patching one site recreates, with its interval."""

    site: str
    share: float
    ci_low: float
    ci_high: float


@dataclass
class PatchRun:
    """Per pair: the receiver's and donor's scores, and the patched score at every site."""

    receiver: list[float]
    donor: list[float]
    patched: list[list[float]]


@dataclass
class PatchingResult(Result):
    """`patching.json`: patching curves per position set and direction, the runs behind them, and the EOS curves of an
    untrained copy of the architecture (by direction)."""

    kind = "patching"
    filename = "patching.json"

    model: str
    data: str
    pairs: str
    seed: int
    n_pairs: dict[str, int]
    sites: list[str]
    method: str
    directions: dict[str, str]
    curves: dict[str, dict[str, list[CurvePoint]]]
    captions: list[CaptionPair]
    runs: dict[str, dict[str, PatchRun]]
    seconds: float
    untrained_curves: dict[str, list[CurvePoint]] | None = None
    untrained_runs: dict[str, PatchRun] | None = None
