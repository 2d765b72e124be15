"""Probes: per-site linear probes with grouped folds, control tasks, baselines, the sweep and the divergence curve."""

from .baselines import SURFACE_BASELINES, bigram_counts, negator_position, surface_features, token_counts
from .divergence import mean_pair_cosine
from .linear import (
    Folds,
    LinearProbe,
    ProbeScore,
    control_labels,
    cross_validate,
    grouped_splits,
    nested_folds,
)
from .sweep import Sweep, merge_seeds, sweep
from .tasks import ProbeTask, divergence_pairs, mention_order, negated_task, scope_position_task, scope_task

__all__ = [
    "SURFACE_BASELINES",
    "Folds",
    "LinearProbe",
    "ProbeScore",
    "ProbeTask",
    "Sweep",
    "bigram_counts",
    "control_labels",
    "cross_validate",
    "divergence_pairs",
    "grouped_splits",
    "mean_pair_cosine",
    "mention_order",
    "merge_seeds",
    "negated_task",
    "negator_position",
    "nested_folds",
    "scope_position_task",
    "scope_task",
    "surface_features",
    "sweep",
    "token_counts",
]
