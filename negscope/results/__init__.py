"""Typed stage results: dataclasses saved as JSON with their kind and schema version inside (torch-free)."""

from .attribution import (
    AttributionResult,
    BlockImportance,
    CaptionPair,
    CurvePoint,
    MeanCI,
    PatchingResult,
    PatchRun,
    PerPair,
    SiteAttribution,
    SiteAttributions,
    TokenAttributions,
)
from .base import Result, ResultError
from .erasure import ErasureCurve, ErasurePoint, ErasureResult
from .evaluation import EvaluationResult, EvaluationRow
from .negations import NegationsResult
from .probes import Divergence, ProbesResult, ProbeSweep, Score, SiteScore, TaskProbes
from .recipes import RecipeRow, RecipesResult
from .selection import EvidenceSummary, KindWeight, RankedBlock, SelectionResult, Stability
from .similarity import SeedRow, SimilarityResult
from .study import RankCorrelation, StudyResult, StudyRow
from .training import TrainResult

__all__ = [
    "AttributionResult",
    "BlockImportance",
    "CaptionPair",
    "CurvePoint",
    "Divergence",
    "ErasureCurve",
    "ErasurePoint",
    "ErasureResult",
    "EvaluationResult",
    "EvaluationRow",
    "EvidenceSummary",
    "KindWeight",
    "MeanCI",
    "NegationsResult",
    "PatchRun",
    "PatchingResult",
    "PerPair",
    "ProbeSweep",
    "ProbesResult",
    "RankCorrelation",
    "RankedBlock",
    "RecipeRow",
    "RecipesResult",
    "Result",
    "ResultError",
    "Score",
    "SeedRow",
    "SelectionResult",
    "SimilarityResult",
    "SiteAttribution",
    "SiteAttributions",
    "SiteScore",
    "Stability",
    "StudyResult",
    "StudyRow",
    "TaskProbes",
    "TokenAttributions",
    "TrainResult",
]
