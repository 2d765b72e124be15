"""The layer study's result: front, middle, back, all and selected blocks fine-tuned alike, and their gains."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .base import Result


@dataclass
class StudyRow:
    """One trained block set: its metrics, their gains over the model before fine-tuning, and its analysis coverage."""

    set: str
    blocks: list[int]
    analysis_coverage: float | None
    values: dict[str, float]
    gains: dict[str, float]
    negation_gain: float


@dataclass
class RankCorrelation:
    """Spearman's rank correlation between the analysis coverage of the sets and their negation gain."""

    spearman_rho: float
    p_value: float
    n: int
    between: str


@dataclass
class StudyResult(Result):
    """`study.json`: the block sets compared under one training budget."""

    kind = "study"
    filename = "study.json"

    model: str
    train_data: str
    eval_data: str
    images: int
    train_config: dict[str, Any]
    baseline: dict[str, float]
    rows: list[StudyRow]
    rank_correlation: RankCorrelation | None
