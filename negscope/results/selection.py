"""The selection stage's result: text blocks ranked by the negation evidence, and the freeze plan."""

from __future__ import annotations

from dataclasses import dataclass, field

from .base import Result

RULES = ("front", "top", "window")  # front blocks 0..m; the top-ranked blocks; blocks in a row anywhere
DEFAULT_RULE = "window"
# why: the rule comparison on the analysis split (README, "Choosing the selection rule"), which never reads a test image
DEFAULT_RULE_BASIS = (
    "the default, chosen by comparing the rules' sets on the analysis split of the shipped world model (30 steps, "
    "3 seeds, 300 scenes; no test image read): front and window took the same blocks, 0–4, and gained +0.069 ± "
    "0.012 in negation accuracy, beating the top-ranked blocks (0, 1, 2, 4, 10) by +0.004 ± 0.001 paired over seeds "
    "(p = 0.045); window is kept because, unlike front, it may place its blocks anywhere the evidence points")
SHORTHANDS = ("front", "middle", "back", "all")  # --blocks thirds of the text blocks, or all of them


def block_spec(spec: str) -> str | list[int]:
    """What a `--blocks` value names: 'auto', a shorthand, or block indices (checked against a model later)."""
    spec = spec.strip()
    if spec == "auto" or spec in SHORTHANDS:
        return spec
    try:
        chosen = [int(x) for x in spec.split(",") if x.strip()]
    except ValueError:
        raise ValueError(
            f"--blocks {spec!r} is not understood; use auto, {', '.join(SHORTHANDS)} or block indices like 0,1,2"
        ) from None
    if not chosen:
        raise ValueError(f"--blocks {spec!r} names no text blocks; give at least one block index")
    return chosen


@dataclass
class RankedBlock:
    """One block's combined score and its score under each kind of evidence that entered it."""

    block: int
    name: str
    score: float
    by_kind: dict[str, float]


@dataclass
class Stability:
    """How often each block enters the plan when every kind's evidence is resampled together: in draw b each kind's
    b-th image resample (its untrained copies resampled with it) is combined and the rule applied."""

    resamples: int
    seed: int
    inclusion: list[float]


@dataclass
class KindWeight:
    """One kind of evidence in the selection: its per-block gain over the untrained copies with its 95% interval over
    images, the blocks it counts (interval above 0), whether it entered the combined score, its weight, and why."""

    measure: str
    images: int
    untrained_seeds: list[int]
    gain: list[float]
    ci_low: list[float]
    ci_high: list[float]
    counted: list[bool]
    entered: bool
    weight: float
    reason: str


@dataclass
class EvidenceSummary:
    """The kinds of evidence that decided the plan (`kinds`), those present but within noise, those missing, their
    per-block scores, the combined score, the plan's coverage, its stability, each kind's record (`by_kind`) and the
    evidence left out as uninformative (`excluded`: what, and why)."""

    kinds: list[str]
    missing: list[str]
    sources: dict[str, str]
    scores: dict[str, list[float]]
    combined: list[float]
    coverage_of_plan: float
    stability: Stability
    excluded: dict[str, str] = field(default_factory=dict)
    within_noise: list[str] = field(default_factory=list)
    by_kind: dict[str, KindWeight] = field(default_factory=dict)


@dataclass
class SelectionResult(Result):
    """`selection.json`: the trainable blocks (the freeze plan), their ranking and the evidence behind them. `certain`
    is false when no kind of evidence had a block beyond noise, so the plan rests on the model's own gains."""

    kind = "selection"
    filename = "selection.json"
    schema = 2

    blocks: list[int]
    ranking: list[RankedBlock]
    evidence: EvidenceSummary
    rule: str
    coverage: float
    seed: int
    certain: bool = True
    size: int = 0
