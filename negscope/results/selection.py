"""The selection stage's result: text blocks ranked by the negation evidence, and the freeze plan."""

from __future__ import annotations

from dataclasses import dataclass, field

from .base import Result

RULES = ("front", "top")  # front: the smallest front blocks 0..m; top: the fewest top-ranked blocks
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
    """One block's combined score and its score under each kind of evidence."""

    block: int
    name: str
    score: float
    by_kind: dict[str, float]


@dataclass
class Stability:
    """How often each block enters the plan over bootstrap resamples of the pairs."""

    resamples: int
    seed: int
    inclusion: list[float]


@dataclass
class EvidenceSummary:
    """The kinds of evidence used or missing, their per-block scores, the combined score, the plan's coverage and
    the evidence left out as uninformative (`excluded`: what, and why)."""

    kinds: list[str]
    missing: list[str]
    sources: dict[str, str]
    scores: dict[str, list[float]]
    combined: list[float]
    coverage_of_plan: float
    stability: Stability
    excluded: dict[str, str] = field(default_factory=dict)


@dataclass
class SelectionResult(Result):
    """`selection.json`: the trainable blocks (the freeze plan), their ranking and the evidence behind them."""

    kind = "selection"
    filename = "selection.json"

    blocks: list[int]
    ranking: list[RankedBlock]
    evidence: EvidenceSummary
    rule: str
    coverage: float
    seed: int
    over_untrained: bool = True
