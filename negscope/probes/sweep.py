"""A probe sweep over hidden-state sites held in memory: one set of grouped folds for every site, control and baseline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from tqdm.auto import tqdm

from ..results.probes import ProbeSweep, Score, SiteScore
from .linear import control_labels, cross_validate, grouped_splits


def sweep(
    states: Mapping[str, np.ndarray],
    labels: Sequence | np.ndarray,
    groups: Sequence | np.ndarray,
    texts: Sequence[str],
    *,
    folds: int = 5,
    n_boot: int = 1000,
    seed: int = 0,
    baselines: Mapping[str, np.ndarray] | None = None,
    splits: list[tuple[np.ndarray, np.ndarray]] | None = None,
    progress: bool = False,
) -> ProbeSweep:
    """Per site: probe accuracy, CI, control accuracy, selectivity and median C; plus each baseline's accuracy and CI.

    `states` maps a site name (e.g. 'text.block.0') to its (rows, width) states; it is read one site at a time.
    The grouped folds are made once from `folds` and `seed` (or taken from `splits`) and serve every site, the
    control task (`control_labels` of `texts`) and every baseline.
    """
    y, groups = np.asarray(labels), np.asarray(groups)
    if not len(y) == len(groups) == len(texts):
        raise ValueError(f"got {len(y)} labels, {len(groups)} groups and {len(texts)} texts; give one of each per row")
    splits = grouped_splits(y, groups, folds, seed) if splits is None else splits
    control = control_labels(texts, y, seed)

    def score(name: str, X: np.ndarray, target: np.ndarray):
        if len(X) != len(y):
            raise ValueError(f"states {name!r} have {len(X)} rows for {len(y)} labels; give one row per label")
        return cross_validate(np.asarray(X), target, groups, splits, n_boot=n_boot, seed=seed)

    sites = []
    for site, X in tqdm(states.items(), total=len(states), desc="probe sites", disable=not progress, leave=False):
        real, ctrl = score(site, X, y), score(site, X, control)
        sites.append(SiteScore(site, real.accuracy, real.ci_low, real.ci_high, ctrl.accuracy,
                               real.accuracy - ctrl.accuracy, float(np.median(real.chosen_C))))
    baseline_scores = {}
    for name, X in (baselines or {}).items():
        s = score(name, X, y)
        baseline_scores[name] = Score(s.accuracy, s.ci_low, s.ci_high)
    _, counts = np.unique(y, return_counts=True)
    return ProbeSweep(len(y), len(np.unique(groups)), float(counts.max() / len(y)), sites, baseline_scores)
