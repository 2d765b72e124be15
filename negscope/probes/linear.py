"""The linear probe and its grouped evaluation: outer and nested grouped folds, many probes fitted at once, intervals
over images, control task."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from ..stats import mean_interval
from .solvers import sklearn_path, torch_path

# Wide enough that the inner search rarely settles on an end; `ProbeScore.at_edge` reports how often it does.
DEFAULT_CS = tuple(10.0**k for k in range(-4, 7))
PATHS = {"sklearn": sklearn_path, "torch": torch_path}
Splits = list[tuple[np.ndarray, np.ndarray]]


class LinearProbe(ClassifierMixin, BaseEstimator):
    """Standardise, then L2 logistic regression (Newton-Cholesky) with C chosen by inner grouped, stratified
    cross-validation; each inner split is solved along one path of C, weakest regularisation last, warm-started.

    `solver` is "sklearn" (scikit-learn's `LogisticRegression`) or "torch" (the same algorithm, batched).
    With more features than rows, the fit runs in the row space of the standardised features: the L2 solution lies
    there, so the coefficients are the same and each Newton step solves a rows × rows system instead of features ×
    features. `unconverged_` counts the solves (of every C, inner and final) that stopped at `max_iter`.
    """

    def __init__(self, Cs: Sequence[float] = DEFAULT_CS, inner_folds: int = 3, max_iter: int = 1000, seed: int = 0,
                 solver: str = "torch") -> None:
        self.Cs = Cs
        self.inner_folds = inner_folds
        self.max_iter = max_iter
        self.seed = seed
        self.solver = solver

    def fit(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None) -> LinearProbe:
        """Fit on (X, y); rows sharing a group never sit on both sides of an inner split."""
        y = np.asarray(y)
        groups = np.arange(len(y)) if groups is None else np.asarray(groups)
        _classes(y)  # one class: say so before the splitter complains about it
        fit_probes([self], [(X, y, grouped_splits(y, groups, self.inner_folds, self.seed))])
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Decision scores: positive means `classes_[1]`. NotFittedError before `fit`."""
        check_is_fitted(self, ("scaler_", "coef_"))
        return self.scaler_.transform(np.asarray(X, dtype=np.float64)) @ self.coef_ + self.intercept_

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted labels for the rows of X; NotFittedError before `fit`."""
        positive = self.decision_function(X) > 0
        return self.classes_[positive.astype(int)]


def _classes(y: np.ndarray) -> np.ndarray:
    classes = np.unique(y)
    if len(classes) < 2:
        raise ValueError(f"probe training data has one class only ({classes}); each fold needs both classes")
    if len(classes) > 2:
        raise ValueError(f"probe labels have {len(classes)} classes ({classes}); probes are binary")
    return classes


def fit_probes(probes: Sequence[LinearProbe], data: Sequence[tuple[np.ndarray, np.ndarray, Splits]]) -> None:
    """Fit each probe on its (X, y, inner splits), with the settings of the first.

    Every inner split of every probe is solved along one path of `Cs`, strong to weak regularisation, in a single
    call of the solver; each probe takes the C of the best summed inner accuracy (the smallest of equal sums, as
    `LogisticRegressionCV` picks) and is refitted on all of X at that C, starting from the mean inner solution there.
    """
    if not probes:
        return
    settings = probes[0]
    if settings.solver not in PATHS:
        raise ValueError(f"probe solver {settings.solver!r} is not one of {', '.join(PATHS)}")
    with threadpool_limits(limits=1):  # small dense problems: BLAS threads cost far more than they give
        _fit_probes(probes, data, settings)


def _fit_probes(probes: Sequence[LinearProbe], data: Sequence[tuple[np.ndarray, np.ndarray, Splits]],
                settings: LinearProbe) -> None:
    path, Cs = PATHS[settings.solver], np.sort(np.asarray(settings.Cs, dtype=np.float64))
    scaled = [_scale(probe, X, y) for probe, (X, y, _) in zip(probes, data)]
    bases = [_row_space(Z) for Z, _ in scaled]
    scaled = [(Z if Q is None else Z @ Q, t) for (Z, t), Q in zip(scaled, bases)]
    owner = [i for i, ((_, t), (_, _, splits)) in enumerate(zip(scaled, data)) for train, _ in splits
             if len(np.unique(t[train])) == 2]
    problems = [(Z[train], t[train]) for (Z, t), (_, _, splits) in zip(scaled, data) for train, _ in splits
                if len(np.unique(t[train])) == 2]
    solved_path, capped = path(problems, np.repeat(Cs[:, None], len(problems), 1), None, settings.max_iter)
    paths = iter(solved_path)
    best, init = [], []
    for (Z, t), (_, _, splits) in zip(scaled, data):
        scores, solved = [], []
        for train, test in splits:
            if len(np.unique(t[train])) < 2:  # nothing to fit: the lone class is the prediction at every C
                scores.append(np.full(len(Cs), np.mean(t[test] == t[train][0])))
                continue
            solved.append(w := next(paths))
            scores.append(((Z[test] @ w[:, :-1].T + w[:, -1] > 0) == t[test][:, None]).mean(0))
        best.append(k := int(np.argmax(np.sum(scores, axis=0))))
        init.append(np.mean([w[k] for w in solved], axis=0) if solved else np.zeros(Z.shape[1] + 1))
    final, final_capped = path(scaled, Cs[best][None, :], init, settings.max_iter)
    for i, (probe, k, w, Q) in enumerate(zip(probes, best, final, bases)):
        probe.C_, probe.intercept_ = float(Cs[k]), float(w[0, -1])
        probe.coef_ = w[0, :-1] if Q is None else Q @ w[0, :-1]
        probe.unconverged_ = final_capped[i] + sum(c for o, c in zip(owner, capped) if o == i)


def _row_space(Z: np.ndarray) -> np.ndarray | None:
    """An orthonormal basis (features × rows) of a space holding the row space of `Z` when it has more features than
    rows, else None. A direction of the basis outside the row space meets no data, so its coefficient stays 0."""
    if Z.shape[1] <= len(Z):
        return None
    return np.linalg.qr(Z.T)[0]


def _scale(probe: LinearProbe, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Set the probe's classes and scaler; the standardised X and y as 0/1 (1 for the second class)."""
    X = np.asarray(X, dtype=np.float64)
    if not np.isfinite(X).all():
        raise ValueError("probe features contain NaN or infinite values")
    probe.classes_, probe.scaler_ = _classes(y), StandardScaler().fit(X)
    return probe.scaler_.transform(X), (y == probe.classes_[1]).astype(np.float64)


def grouped_splits(y: np.ndarray, groups: np.ndarray, folds: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified (train, test) index pairs in which no group appears on both sides."""
    n_groups = len(np.unique(groups))
    if n_groups < folds:
        raise ValueError(f"only {n_groups} caption groups for {folds} folds; use more images (--limit) or fewer folds")
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():  # a rare class (a control label drawn for few units) is split as well as it can be
        warnings.filterwarnings("ignore", "The least populated class", UserWarning)
        return list(splitter.split(np.zeros(len(y)), y, groups))


@dataclass(frozen=True)
class Folds:
    """Nested grouped folds of one label vector: the outer (train, test) splits and, per outer train set, the
    inner splits (indices into that train set) that choose C; `images` (per row, its image; default the groups)
    is the unit the accuracy's interval resamples."""

    labels: np.ndarray
    groups: np.ndarray
    outer: Splits
    inner: list[Splits]
    images: np.ndarray | None = None


def nested_folds(y: np.ndarray, groups: np.ndarray, outer: Splits, inner_folds: int = 3, seed: int = 0,
                 images: np.ndarray | None = None) -> Folds:
    """`Folds` of labels `y` on the `outer` splits, made once so every site, copy and baseline probed on `y` shares them.

    Args:
        y: per row, its label.
        groups: per row, its caption group (never on both sides of a split).
        outer: the outer (train, test) splits.
        inner_folds: inner splits per outer train set.
        seed: the seed of the inner splits.
        images: per row, its image (the unit of the accuracy's interval); default `groups`.

    Returns:
        The `Folds`.
    """
    y, groups = np.asarray(y), np.asarray(groups)
    return Folds(y, groups, outer, [grouped_splits(y[train], groups[train], inner_folds, seed) for train, _ in outer],
                 None if images is None else np.asarray(images))


@dataclass
class ProbeScore:
    """Out-of-fold accuracy of a probe, with its interval over images, the chosen C per fold, how often it sat at an
    end of the grid, and how many of its solves stopped at the iteration cap."""

    accuracy: float
    ci_low: float
    ci_high: float
    chosen_C: list[float]
    correct: np.ndarray
    at_edge: float = 0.0
    unconverged: int = 0


def cross_validate(
    jobs: Sequence[tuple[np.ndarray, Folds]],
    probe: LinearProbe | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> list[ProbeScore]:
    """Per (X, folds): fit a fresh probe per outer split and score every row once, out of fold.

    Every probe of every job is fitted in one `fit_probes` call, so the torch solver solves them as one batch.
    """
    probe = probe or LinearProbe(seed=seed)
    fitted = [clone(probe) for _, folds in jobs for _ in folds.outer]
    fit_probes(fitted, [(X[train], folds.labels[train], inner)
                        for X, folds in jobs for (train, _), inner in zip(folds.outer, folds.inner)])
    models, scores = iter(fitted), []
    edges = (min(probe.Cs), max(probe.Cs))
    for X, folds in jobs:
        correct = np.zeros(len(folds.labels), dtype=bool)
        chosen, capped = [], 0
        for (_, test), model in zip(folds.outer, models):
            correct[test] = model.predict(X[test]) == folds.labels[test]
            chosen.append(model.C_)
            capped += model.unconverged_
        lo, hi = mean_interval(correct, folds.groups if folds.images is None else folds.images, n_boot, seed)
        scores.append(ProbeScore(float(correct.mean()), lo, hi, chosen, correct, float(np.mean([c in edges for c in chosen])),
                                 capped))
    return scores


def control_labels(units: Sequence[str], y: np.ndarray, seed: int = 0) -> np.ndarray:
    """Hewitt & Liang control task: every distinct unit gets one random label, the units dealt in a random order so
    that each label covers about the share of rows it has in the task (so the control's majority rate is the task's,
    not whatever an unlucky draw over few units gives).

    Args:
        units: per row, its control unit; a unit that recurs across images (an object's name, a template × object)
            lets a probe that memorises units learn the control, which is what makes it a control.
        y: per row, the task's binary label (only its label frequencies are used).
        seed: the seed of the draw.

    Returns:
        Per row, the control label of its unit.
    """
    classes, counts = np.unique(np.asarray(y), return_counts=True)
    kinds, inv = np.unique(np.asarray(units), return_inverse=True)
    order = np.random.default_rng(seed).permutation(len(kinds))
    rows = np.bincount(inv)[order]
    second = np.zeros(len(kinds), dtype=int)
    second[order] = (np.cumsum(rows) - rows / 2) < counts[-1] / counts.sum() * len(inv)
    return classes[second if len(classes) > 1 else 0 * second][inv]
