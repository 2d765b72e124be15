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
from .erasure import AmnesicProbe, ErasureResult, ErasureSite, Share
from .evaluation import EvaluationResult, EvaluationRow, PairedChange
from .heads import HEAD_MEASURES, HeadMap, HeadsResult, TopHead
from .localisation import BlockChange, LocalisationResult
from .negations import NegationsResult
from .probes import Divergence, ProbesResult, ProbeSweep, Score, SiteScore, TaskProbes
from .recipes import RecipeRow, RecipesResult
from .selection import EvidenceSummary, KindWeight, RankedBlock, SelectionResult, Stability
from .similarity import SeedRow, SimilarityResult
from .steering import SteerResult
from .study import RankCorrelation, StudyResult, StudyRow
from .training import TrainResult

__all__ = [
    "HEAD_MEASURES",
    "AmnesicProbe",
    "AttributionResult",
    "BlockChange",
    "BlockImportance",
    "CaptionPair",
    "CurvePoint",
    "Divergence",
    "ErasureResult",
    "ErasureSite",
    "EvaluationResult",
    "EvaluationRow",
    "EvidenceSummary",
    "HeadMap",
    "HeadsResult",
    "KindWeight",
    "LocalisationResult",
    "MeanCI",
    "NegationsResult",
    "PairedChange",
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
    "Share",
    "SimilarityResult",
    "SiteAttribution",
    "SiteAttributions",
    "SiteScore",
    "Stability",
    "SteerResult",
    "StudyResult",
    "StudyRow",
    "TaskProbes",
    "TokenAttributions",
    "TopHead",
    "TrainResult",
]
