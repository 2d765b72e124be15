"""The linear probe and its grouped evaluation: outer grouped folds, bootstrap intervals, control task."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

# Wide enough that the inner search rarely settles on an end; `ProbeScore.at_edge` reports how often it does.
DEFAULT_CS = tuple(10.0**k for k in range(-4, 7))


class LinearProbe(ClassifierMixin, BaseEstimator):
    """Standardise, then L2 logistic regression (Newton-Cholesky) with C chosen by inner grouped, stratified cross-validation."""

    def __init__(self, Cs: Sequence[float] = DEFAULT_CS, inner_folds: int = 3, max_iter: int = 1000, seed: int = 0) -> None:
        self.Cs = Cs
        self.inner_folds = inner_folds
        self.max_iter = max_iter
        self.seed = seed

    def fit(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None) -> LinearProbe:
        """Fit on (X, y); rows sharing a group never sit on both sides of an inner split."""
        X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
        groups = np.arange(len(y)) if groups is None else np.asarray(groups)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(f"probe training data has one class only ({self.classes_}); each fold needs both classes")
        self.scaler_ = StandardScaler().fit(X)
        inner = grouped_splits(y, groups, self.inner_folds, self.seed)
        search = LogisticRegressionCV(
            Cs=list(self.Cs), cv=inner, l1_ratios=(0.0,), scoring="accuracy", max_iter=self.max_iter,
            solver="newton-cholesky",
            use_legacy_attributes=False,
        )
        with threadpool_limits(limits=1):  # small dense problems: BLAS threads cost far more than they give
            self.model_ = search.fit(self.scaler_.transform(X), y)
        self.C_ = float(np.ravel(self.model_.C_)[0])
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted labels for the rows of X; NotFittedError before `fit`."""
        check_is_fitted(self, ("scaler_", "model_"))
        return self.model_.predict(self.scaler_.transform(np.asarray(X, dtype=np.float64)))


def grouped_splits(y: np.ndarray, groups: np.ndarray, folds: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified (train, test) index pairs in which no group appears on both sides."""
    n_groups = len(np.unique(groups))
    if n_groups < folds:
        raise ValueError(f"only {n_groups} caption groups for {folds} folds; use more images (--limit) or fewer folds")
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), y, groups))


def bootstrap_ci(correct: np.ndarray, groups: np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of accuracy when whole groups are resampled with replacement."""
    _, inv = np.unique(groups, return_inverse=True)
    hits = np.bincount(inv, weights=correct.astype(float))
    sizes = np.bincount(inv).astype(float)
    rng = np.random.default_rng(seed)
    draw = rng.integers(0, len(sizes), size=(n_boot, len(sizes)))
    accs = hits[draw].sum(1) / sizes[draw].sum(1)
    tail = (1 - level) / 2 * 100
    return float(np.percentile(accs, tail)), float(np.percentile(accs, 100 - tail))


@dataclass
class ProbeScore:
    """Out-of-fold accuracy of a probe, with its bootstrap interval, the chosen C per fold and how often it sat at an end of the grid."""

    accuracy: float
    ci_low: float
    ci_high: float
    chosen_C: list[float]
    correct: np.ndarray
    at_edge: float = 0.0


def cross_validate(
    X: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
    probe: LinearProbe | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> ProbeScore:
    """Fit a fresh probe per outer split and score every row once, out of fold."""
    probe = probe or LinearProbe(seed=seed)
    y, groups = np.asarray(y), np.asarray(groups)
    correct = np.zeros(len(y), dtype=bool)
    chosen = []
    for train, test in splits:
        fitted = clone(probe).fit(X[train], y[train], groups[train])
        correct[test] = fitted.predict(X[test]) == y[test]
        chosen.append(fitted.C_)
    lo, hi = bootstrap_ci(correct, groups, n_boot, seed)
    edges = (min(probe.Cs), max(probe.Cs))
    return ProbeScore(float(correct.mean()), lo, hi, chosen, correct, float(np.mean([c in edges for c in chosen])))


def control_labels(types: Sequence[str], y: np.ndarray, seed: int = 0) -> np.ndarray:
    """Hewitt & Liang control task: every distinct caption type gets one random label, drawn with the task's label frequencies."""
    y = np.asarray(y)
    classes, counts = np.unique(y, return_counts=True)
    kinds, inv = np.unique(np.asarray(types), return_inverse=True)
    rng = np.random.default_rng(seed)
    return classes[rng.choice(len(classes), size=len(kinds), p=counts / counts.sum())][inv]
