"""The attribution and patching stages' results: where the negation gap is attributed, and what patching recreates."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .base import Result
from .evidence import BlockEvidence


@dataclass
class MeanCI:
    """A mean over examples with its 95% interval over whole images and the count."""

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
    """How much of the gap's EOS attribution one block adds, mean over the kept pairs with its interval over images."""

    block: int
    name: str
    mean: float
    ci_low: float
    ci_high: float
    n: int


@dataclass
class PerPair:
    """Per-pair arrays: the gap, per site the EOS share, the changed-token share and the completeness delta, and
    whether the pair is kept (its gap larger than its largest |delta|, `LayerAttribution.resolved`)."""

    gap: list[float]
    eos_share: list[list[float]]
    changed_share: list[list[float]]
    delta: list[list[float]]
    kept: list[bool]


@dataclass
class SiteAttributions:
    """Per-site integrated gradients of S(I, negated) - S(I, positive) on one model, one pair per image.

    Of the `requested` images, `n_pairs` gave a pair that was kept; `dropped` counts the others by reason, among them
    pairs whose gap is no larger than their integrated-gradients completeness error. `captions` and `per_pair` hold
    every aligned pair (kept or not); shares and block importances are means over the kept pairs. `gap_ci` is the
    95% interval over images of the signed `mean_gap` over the aligned pairs: it says whether negation moves the
    score on average, not whether the shares are evidence (that is `AttributionResult.evidence`).
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
    requested: int
    dropped: dict[str, int]
    gap_ci: list[float]


@dataclass
class AttributionResult(Result):
    """`attribution.json`: token attributions and per-site attributions of the negation gap on the model and on
    untrained copies of its architecture (one per seed of `evidence.untrained_seeds`), and the per-block evidence:
    the share of the gap's attribution each block moves onto EOS, over the copies' mean, with image-level intervals.
    `noise` says how integration error and noise are kept out of that evidence."""

    kind = "attribution"
    filename = "attribution.json"
    schema = 2

    model: str
    data: str
    seed: int
    steps: int
    tokens: TokenAttributions
    sites: SiteAttributions
    seconds: float
    untrained: list[SiteAttributions]
    evidence: BlockEvidence
    noise: str

    @property
    def within_noise(self) -> bool:
        """Whether no block's gain over the untrained copies has an interval that excludes 0."""
        return not any(self.evidence.certain)

    def caveats(self) -> list[str]:
        """Pairs dropped from the per-site attribution, with their reasons (a copy only where it dropped others than the
        model), and whether every block's gain over the untrained copies is within noise."""
        notes = []
        copies = [(f" on untrained copy {s}", u) for s, u in zip(self.evidence.untrained_seeds, self.untrained)]
        for label, run in [("", self.sites)] + [(label, u) for label, u in copies if u.dropped != self.sites.dropped]:
            if run.dropped:
                reasons = "; ".join(f"{why}: {n}" for why, n in run.dropped.items())
                notes.append(f"Per-site attribution{label} kept {run.n_pairs} of {run.requested} pairs ({reasons}).")
        if self.within_noise:
            ev = self.evidence
            notes.append(f"No block's attribution gain over the {len(ev.untrained_seeds)} untrained copies has a 95% "
                         f"interval over the {ev.images} images that excludes zero, so the per-block shares are not "
                         "evidence of where the model handles negation.")
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
    """`patching.json`: patching curves per position set and direction with intervals over images, the runs behind
    them, the EOS runs and curves of untrained copies of the architecture (one per seed of `evidence.untrained_seeds`),
    and the per-block evidence: the rise of the EOS curve (directions averaged) across each block over the copies'."""

    kind = "patching"
    filename = "patching.json"
    schema = 2

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
    untrained_curves: list[dict[str, list[CurvePoint]]]
    untrained_runs: list[dict[str, PatchRun]]
    evidence: BlockEvidence
