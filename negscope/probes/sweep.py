"""A probe sweep over hidden-state sites held in memory: one set of grouped folds for every site, control,
untrained copy and baseline; and the mean over seeds of several sweeps."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from ..progress import tqdm
from ..results.probes import ProbeSweep, Score, SiteScore
from .linear import Folds, LinearProbe, ProbeScore, control_labels, cross_validate, grouped_splits, nested_folds


def _site_score(site: str, real: ProbeScore, control: ProbeScore, untrained: ProbeScore | None) -> SiteScore:
    floor = control.accuracy if untrained is None else max(control.accuracy, untrained.accuracy)
    return SiteScore(
        site, real.accuracy, real.ci_low, real.ci_high, control.accuracy, real.accuracy - floor,
        float(np.median(real.chosen_C)),
        untrained_accuracy=None if untrained is None else untrained.accuracy,
        untrained_ci_low=None if untrained is None else untrained.ci_low,
        untrained_ci_high=None if untrained is None else untrained.ci_high,
        control_selectivity=real.accuracy - control.accuracy,
        untrained_gain=None if untrained is None else real.accuracy - untrained.accuracy,
        C_at_edge=real.at_edge,
    )


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
    untrained: Mapping[str, np.ndarray] | None = None,
    splits: list[tuple[np.ndarray, np.ndarray]] | None = None,
    solver: str = "sklearn",
    progress: bool = False,
) -> ProbeSweep:
    """Per site: probe accuracy and CI, control-task accuracy, the untrained copy's accuracy, selectivity and C.

    `states` maps a site name (e.g. 'text.block.0') to its (rows, width) states; it is read one site at a time.
    `untrained` maps the same sites to the states of an untrained copy of the model. The grouped outer folds are
    made once from `folds` and `seed` (or taken from `splits`), and the inner folds that choose C once per label
    vector: the task's serve every site, the untrained states and every baseline; the control task
    (`control_labels` of `texts`) has its own. `solver` is the `LinearProbe` solver, "sklearn" or "torch"; a site's
    probes (task, control, untrained) are fitted together.
    """
    y, groups = np.asarray(labels), np.asarray(groups)
    if not len(y) == len(groups) == len(texts):
        raise ValueError(f"got {len(y)} labels, {len(groups)} groups and {len(texts)} texts; give one of each per row")
    probe = LinearProbe(seed=seed, solver=solver)
    task = nested_folds(y, groups, grouped_splits(y, groups, folds, seed) if splits is None else splits,
                        probe.inner_folds, seed)
    control = nested_folds(control_labels(texts, y, seed), groups, task.outer, probe.inner_folds, seed)

    def score(jobs: dict[str, tuple[np.ndarray, Folds]]) -> list[ProbeScore]:
        for name, (X, _) in jobs.items():
            if len(X) != len(y):
                raise ValueError(f"states {name!r} have {len(X)} rows for {len(y)} labels; give one row per label")
        return cross_validate([(np.asarray(X), f) for X, f in jobs.values()], probe, n_boot=n_boot, seed=seed)

    sites = []
    for site, X in tqdm(states.items(), total=len(states), desc="probe sites", disable=not progress, leave=False):
        jobs = {site: (X, task), f"control {site}": (X, control)}
        if untrained is not None:
            jobs[f"untrained {site}"] = (untrained[site], task)
        real, ctrl, *copy = score(jobs)
        sites.append(_site_score(site, real, ctrl, copy[0] if copy else None))
    baselines = baselines or {}
    scores = score({name: (X, task) for name, X in baselines.items()})
    baseline_scores = {name: Score(s.accuracy, s.ci_low, s.ci_high) for name, s in zip(baselines, scores)}
    _, counts = np.unique(y, return_counts=True)
    return ProbeSweep(len(y), len(np.unique(groups)), float(counts.max() / len(y)), sites, baseline_scores, [seed])


def _mean(values: list) -> float | None:
    return None if values[0] is None else float(np.mean(values))


def _std(values: list) -> float | None:
    return None if values[0] is None else float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


MEANS = ("accuracy", "control_accuracy", "selectivity", "untrained_accuracy", "control_selectivity", "untrained_gain", "C_at_edge")
STDS = {"accuracy_std": "accuracy", "untrained_std": "untrained_accuracy", "selectivity_std": "selectivity"}


def merge_seeds(sweeps: Sequence[ProbeSweep]) -> ProbeSweep:
    """One sweep whose numbers are the means over `sweeps` (one per seed), with their stds; intervals from the first."""
    first = sweeps[0]
    sites = []
    for k, row in enumerate(first.sites):
        values = {f: [getattr(s.sites[k], f) for s in sweeps] for f in MEANS}
        sites.append(dataclasses.replace(
            row, **{f: _mean(v) for f, v in values.items()}, **{f: _std(values[of]) for f, of in STDS.items()},
            C=float(np.median([s.sites[k].C for s in sweeps])),
        ))
    baselines = {name: dataclasses.replace(b, accuracy=_mean(v := [s.baselines[name].accuracy for s in sweeps]), std=_std(v))
                 for name, b in first.baselines.items()}
    return ProbeSweep(first.samples, first.groups, first.chance, sites, baselines, [s for x in sweeps for s in x.seeds])
