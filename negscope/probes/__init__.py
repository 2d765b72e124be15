"""Probes: per-site linear probes with grouped folds, control tasks, baselines and the divergence curve."""

from .baselines import token_counts
from .divergence import mean_pair_cosine
from .linear import (
    LinearProbe,
    ProbeScore,
    bootstrap_ci,
    control_labels,
    cross_validate,
    grouped_splits,
)
from .tasks import ProbeTask, divergence_pairs, mention_order, negated_task, scope_task

__all__ = [
    "LinearProbe",
    "ProbeScore",
    "ProbeTask",
    "bootstrap_ci",
    "control_labels",
    "cross_validate",
    "divergence_pairs",
    "grouped_splits",
    "mean_pair_cosine",
    "mention_order",
    "negated_task",
    "scope_task",
    "token_counts",
]
