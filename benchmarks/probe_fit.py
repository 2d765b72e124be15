"""Probe fitting time of the old method against the new one, side by side in one run.

Fits the `negated` probe (the same grouped outer folds, inner grouped CV for C over `DEFAULT_CS`, bootstrap CI)
on the EOS states of every site of a model, three ways:

- old: the probe as it was, kept here as the reference: per outer fold, `LogisticRegressionCV` (Newton-Cholesky)
  on inner splits made again at every fit;
- new: `cross_validate` with the inner splits made once (`nested_folds`) and each inner split solved along one
  warm-started path of C by scikit-learn's `LogisticRegression` (solver "sklearn");
- torch: the same, by the batched torch solver (solver "torch"), every site's probes in one batch.

The methods take turns `--repeats` times; each one's fastest time and its ratio to the old one's are printed (goal:
new ÷ old ≤ 0.3). Checks that every site gets the same C per outer fold and an accuracy within 0.005 of the old
method's; exits 1 if not.

    python benchmarks/probe_fit.py [--model world] [--images 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegressionCV
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from negscope.data import world_dataset
from negscope.hooks import text_states
from negscope.models import ModelLoadError, load_bundle
from negscope.probes.linear import (
    DEFAULT_CS,
    LinearProbe,
    ProbeScore,
    cross_validate,
    grouped_splits,
    nested_folds,
)
from negscope.probes.tasks import negated_task
from negscope.stats import mean_interval

TOLERANCE = 0.005


class OldProbe(ClassifierMixin, BaseEstimator):
    """The reference: `LinearProbe` before the warm-started path, as it was."""

    def __init__(self, Cs=DEFAULT_CS, inner_folds: int = 3, max_iter: int = 1000, seed: int = 0) -> None:
        self.Cs = Cs
        self.inner_folds = inner_folds
        self.max_iter = max_iter
        self.seed = seed

    def fit(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray) -> OldProbe:
        X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
        self.classes_ = np.unique(y)
        self.scaler_ = StandardScaler().fit(X)
        inner = grouped_splits(y, groups, self.inner_folds, self.seed)
        search = LogisticRegressionCV(
            Cs=list(self.Cs), cv=inner, l1_ratios=(0.0,), scoring="accuracy", max_iter=self.max_iter,
            solver="newton-cholesky", use_legacy_attributes=False,
        )
        with threadpool_limits(limits=1):
            self.model_ = search.fit(self.scaler_.transform(X), y)
        self.C_ = float(np.ravel(self.model_.C_)[0])
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.model_.predict(self.scaler_.transform(np.asarray(X, dtype=np.float64)))


def old_cross_validate(X, y, groups, splits, n_boot: int = 1000, seed: int = 0) -> ProbeScore:
    """The old `cross_validate`: a fresh `OldProbe` per outer split, every row scored once, out of fold."""
    probe = OldProbe(seed=seed)
    correct = np.zeros(len(y), dtype=bool)
    chosen = []
    for train, test in splits:
        fitted = clone(probe).fit(X[train], y[train], groups[train])
        correct[test] = fitted.predict(X[test]) == y[test]
        chosen.append(fitted.C_)
    lo, hi = mean_interval(correct, groups, n_boot, seed)
    edges = (min(probe.Cs), max(probe.Cs))
    return ProbeScore(float(correct.mean()), lo, hi, chosen, correct, float(np.mean([c in edges for c in chosen])))


def timed(fit) -> tuple[list[ProbeScore], float]:
    start = time.perf_counter()
    scores = fit()
    return scores, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    """Print per site the accuracies and matching Cs, then each method's time and ratio; 1 if a check fails."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="world")
    p.add_argument("--images", type=int, default=200)
    p.add_argument("--repeats", type=int, default=3, help="turns of the three methods; each is timed at its fastest")
    args = p.parse_args(argv)
    try:
        bundle = load_bundle(args.model)
    except ModelLoadError:
        bundle = load_bundle("tiny")
    task = negated_task(world_dataset(args.images))
    states = text_states(bundle, task.texts)
    names = [s.name for s in bundle.sites]
    layers = [states[name].float().numpy() for name in names]
    y, groups = np.asarray(task.labels), np.asarray(task.groups)
    splits = grouped_splits(y, groups)

    def new(solver: str):
        def fit() -> list[ProbeScore]:
            folds = nested_folds(y, groups, splits)  # timed: the old method makes its inner splits inside
            return cross_validate([(X, folds) for X in layers], LinearProbe(solver=solver))
        return fit

    methods = {"old": lambda: [old_cross_validate(X, y, groups, splits) for X in layers],
               "new": new("sklearn"), "torch": new("torch")}
    scores, seconds = {}, {method: [] for method in methods}
    for _ in range(args.repeats):  # in turns, so a change in the machine's load falls on every method alike
        for method, fit in methods.items():
            scores[method], took = timed(fit)
            seconds[method].append(took)
    fastest = {method: min(times) for method, times in seconds.items()}
    old = scores["old"]
    print(f"model {bundle.spec}, {len(y)} captions, {len(names)} sites, {len(splits)} outer folds, "
          f"3 inner folds, {len(DEFAULT_CS)} values of C")
    print(f"{'site':16} {'old':>6} {'new':>6} {'torch':>6}  same C per fold (new, torch)")
    ok = True
    for k, name in enumerate(names):
        row = [scores[m][k] for m in ("new", "torch")]
        same = [sum(a == b for a, b in zip(r.chosen_C, old[k].chosen_C)) for r in row]
        ok &= all(s == len(splits) for s in same) and all(abs(r.accuracy - old[k].accuracy) <= TOLERANCE for r in row)
        print(f"{name:16} {old[k].accuracy:6.3f} {row[0].accuracy:6.3f} {row[1].accuracy:6.3f}  "
              f"{same[0]}/{len(splits)}, {same[1]}/{len(splits)}")
    print(f"\nfastest of {args.repeats} turns; the torch solver on {torch.get_num_threads()} worker threads, "
          "scikit-learn on 1 thread")
    print(f"{'method':8} {'seconds':>8} {'÷ old':>6} {'old ÷':>6}")
    for method, took in fastest.items():
        print(f"{method:8} {took:8.2f} {took / fastest['old']:6.2f} {fastest['old'] / took:6.2f}")
    print(f"torch ÷ new: {fastest['torch'] / fastest['new']:.2f}")
    print(f"checks (same C per site and outer fold, accuracy within {TOLERANCE}): {'passed' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
