"""A probe sweep over hidden-state sites held in memory: one set of grouped folds for every site, control,
untrained copy and baseline; and the mean over seeds of several sweeps."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..progress import tqdm
from ..results.probes import ProbeSweep, Score, SiteScore
from ..stats import mean_interval, paired_change
from .linear import Folds, LinearProbe, ProbeScore, control_labels, cross_validate, grouped_splits, nested_folds


@dataclass
class Sweep:
    """A sweep's scores and, per site, every row's out-of-fold correctness: the model's probe, its control task's,
    and each untrained copy's (by seed); the evidence curves are measured from these."""

    scores: ProbeSweep
    correct: dict[str, np.ndarray] = field(default_factory=dict)
    control: dict[str, np.ndarray] = field(default_factory=dict)
    untrained: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)


def _site_score(site: str, real: ProbeScore, control: ProbeScore, copies: list[ProbeScore], images: np.ndarray,
                n_boot: int, seed: int) -> SiteScore:
    unconverged = real.unconverged + control.unconverged + sum(c.unconverged for c in copies)
    common = {"control_selectivity": real.accuracy - control.accuracy, "C_at_edge": real.at_edge, "unconverged": unconverged}
    if not copies:
        return SiteScore(site, real.accuracy, real.ci_low, real.ci_high, control.accuracy,
                         real.accuracy - control.accuracy, float(np.median(real.chosen_C)), **common)
    copy_correct = np.mean([c.correct for c in copies], axis=0)
    untrained = float(copy_correct.mean())
    lo, hi = mean_interval(copy_correct, images, n_boot, seed)
    gain = paired_change(copy_correct, real.correct, images, n_boot, seed)
    return SiteScore(
        site, real.accuracy, real.ci_low, real.ci_high, control.accuracy, real.accuracy - max(control.accuracy, untrained),
        float(np.median(real.chosen_C)), untrained_accuracy=untrained, untrained_ci_low=lo, untrained_ci_high=hi,
        untrained_std=float(np.std([c.accuracy for c in copies], ddof=1)) if len(copies) > 1 else 0.0,
        untrained_copies=[c.accuracy for c in copies], untrained_gain=gain.change, gain_ci_low=gain.ci_low,
        gain_ci_high=gain.ci_high, **common,
    )


def sweep(
    states: Mapping[str, np.ndarray],
    labels: Sequence | np.ndarray,
    groups: Sequence | np.ndarray,
    units: Sequence[str],
    *,
    images: Sequence | np.ndarray | None = None,
    folds: int = 5,
    n_boot: int = 1000,
    seed: int = 0,
    baselines: Mapping[str, np.ndarray] | None = None,
    untrained: Mapping[int, Mapping[str, np.ndarray]] | None = None,
    splits: list[tuple[np.ndarray, np.ndarray]] | None = None,
    solver: str = "torch",
    progress: bool = False,
) -> Sweep:
    """Per site: probe accuracy and interval, control-task accuracy, the untrained copies' accuracy, selectivity and C.

    Args:
        states: site name (e.g. 'text.block.0') → its (rows, width) states; read one site at a time.
        labels: per row, the task's label.
        groups: per row, its caption group (never on both sides of a split).
        units: per row, its control unit (`control_labels` gives each unit one random label).
        images: per row, its image, the unit every interval resamples (default: the groups).
        folds: outer grouped folds, made from `seed` unless `splits` gives them.
        n_boot: resamples of each interval.
        seed: the seed of the folds, the control labels and the intervals.
        baselines: name → (rows, features) of features read without the model's states, probed on the same folds.
        untrained: copy seed → the same sites' states of an untrained copy of the model.
        splits: the outer (train, test) splits, instead of making them.
        solver: the `LinearProbe` solver, "sklearn" or "torch"; a site's probes are fitted together.
        progress: show a progress bar over sites.

    Returns:
        The `Sweep`: its `ProbeSweep` and the per-row correctness behind it. A site's untrained accuracy is the mean
        over the copies (`untrained_std` their spread), its gain over them a paired change over images, and its
        selectivity the accuracy minus the larger of the control's and the copies' mean.
    """
    y, groups = np.asarray(labels), np.asarray(groups)
    if not len(y) == len(groups) == len(units):
        raise ValueError(f"got {len(y)} labels, {len(groups)} groups and {len(units)} control units; give one of each per row")
    images = groups if images is None else np.asarray(images)
    probe = LinearProbe(seed=seed, solver=solver)
    task = nested_folds(y, groups, grouped_splits(y, groups, folds, seed) if splits is None else splits,
                        probe.inner_folds, seed, images)
    control = nested_folds(control_labels(units, y, seed), groups, task.outer, probe.inner_folds, seed, images)
    copies = dict(untrained or {})

    def score(jobs: dict[str, tuple[np.ndarray, Folds]]) -> list[ProbeScore]:
        for name, (X, _) in jobs.items():
            if len(X) != len(y):
                raise ValueError(f"states {name!r} have {len(X)} rows for {len(y)} labels; give one row per label")
        return cross_validate([(np.asarray(X), f) for X, f in jobs.values()], probe, n_boot=n_boot, seed=seed)

    out = Sweep(ProbeSweep(0, 0, 0.0, []), untrained={s: {} for s in copies})
    sites = []
    for site, X in tqdm(states.items(), total=len(states), desc="probe sites", disable=not progress, leave=False):
        jobs = {site: (X, task), f"control {site}": (X, control)}
        jobs.update({f"untrained{s} {site}": (copy[site], task) for s, copy in copies.items()})
        real, ctrl, *copy_scores = score(jobs)
        sites.append(_site_score(site, real, ctrl, copy_scores, images, n_boot, seed))
        out.correct[site], out.control[site] = real.correct, ctrl.correct
        for s, c in zip(copies, copy_scores):
            out.untrained[s][site] = c.correct
    baselines = baselines or {}
    scores = score({name: (X, task) for name, X in baselines.items()})
    baseline_scores = {name: Score(s.accuracy, s.ci_low, s.ci_high) for name, s in zip(baselines, scores)}
    _, counts = np.unique(y, return_counts=True)
    out.scores = ProbeSweep(len(y), len(np.unique(groups)), float(counts.max() / len(y)), sites, baseline_scores, [seed],
                            images=len(np.unique(images)))
    return out


def _mean(values: list) -> float | None:
    return None if values[0] is None else float(np.mean(values))


def _std(values: list) -> float | None:
    return None if values[0] is None else float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


MEANS = ("accuracy", "control_accuracy", "selectivity", "untrained_accuracy", "untrained_std", "control_selectivity",
         "untrained_gain", "C_at_edge")
STDS = {"accuracy_std": "accuracy", "selectivity_std": "selectivity"}


def merge_seeds(sweeps: Sequence[ProbeSweep]) -> ProbeSweep:
    """One sweep whose numbers are the means over `sweeps` (one per seed), with their stds; intervals from the first."""
    first = sweeps[0]
    sites = []
    for k, row in enumerate(first.sites):
        values = {f: [getattr(s.sites[k], f) for s in sweeps] for f in MEANS}
        sites.append(dataclasses.replace(
            row, **{f: _mean(v) for f, v in values.items()}, **{f: _std(values[of]) for f, of in STDS.items()},
            C=float(np.median([s.sites[k].C for s in sweeps])),
            untrained_copies=np.mean([s.sites[k].untrained_copies for s in sweeps], axis=0).tolist(),
            unconverged=sum(s.sites[k].unconverged for s in sweeps),
        ))
    baselines = {name: dataclasses.replace(b, accuracy=_mean(v := [s.baselines[name].accuracy for s in sweeps]), std=_std(v))
                 for name, b in first.baselines.items()}
    return dataclasses.replace(first, sites=sites, baselines=baselines, seeds=[s for x in sweeps for s in x.seeds])
