"""`negscope probe`: per-site linear probes for negation, beside untrained copies, control tasks and surface baselines.

Per task and probe seed (folds, control labels), the probe is fitted at every site of the model and, on the same
folds, of `Common.untrained_copies` untrained copies of its architecture (same tokenizer and data, weights drawn
with seeds seed, seed+1, ...), and on a control task; tasks that name an object are probed again at that object's
own last token, with surface baselines read from the text up to that token. Writes to the output folder:

- `activations/<task>/` and `activations/<task>.untrained<seed>/`: the activation stores (resumable);
- `probes.json`: the `ProbesResult` (per task, a `SiteScore` per site, the baselines; the divergence curve; the
  per-block evidence and the tasks it leaves out);
- `probes.csv`: the same numbers, one row per task and site (baselines and divergence included);
- `probe_<task>.png` per task and `divergence.png`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np
import torch

from ..hooks import ActivationStore, write_store
from ..io import atomic_path
from ..models import EMBED, ClipBundle
from ..probes import (
    SURFACE_BASELINES,
    ProbeTask,
    Sweep,
    divergence_pairs,
    grouped_splits,
    mean_pair_cosine,
    merge_seeds,
    negated_task,
    scope_position_task,
    scope_task,
    surface_features,
    sweep,
)
from ..probes.evidence import selectivity_evidence
from ..probes.linear import DEFAULT_CS
from ..reports.probe_figures import divergence_figure, probe_figure
from ..results import Divergence, ProbesResult, SiteScore, TaskProbes
from .analysis import Analysis
from .config import Common, ProbesConfig

CSV_COLUMNS = ["task", "position", "site", "accuracy", "accuracy_std", "ci_low", "ci_high", "control_accuracy",
               "untrained_accuracy", "untrained_std", "control_selectivity", "untrained_gain", "gain_ci_low",
               "gain_ci_high", "selectivity", "C", "C_at_edge", "unconverged", "mean_cosine", "untrained_cosine"]
BASELINE_FEATURES = {"embedding": f"{EMBED}, mean over real tokens", **SURFACE_BASELINES}


def capture_task(bundle: ClipBundle, task: ProbeTask, folder: Path, cfg: ProbesConfig, progress: bool = False) -> ActivationStore:
    """The activation store of `task` (EOS and mean pools, every site; for a task that names an object, also the state
    at the object's last token), resumed if partly written."""
    anchors = bundle.prefix_ends(task.anchors) if task.anchors else None
    return write_store(
        folder, bundle, task.texts, task.groups, labels={"label": task.labels, "variant": task.variants}, ids=task.ids,
        pools=("eos", "mean") if anchors is None else ("eos", "mean", "anchor"), dtype=cfg.dtype,
        batch_size=cfg.batch_size, progress=progress, anchors=anchors,
    )


class StoreStates(Mapping[str, np.ndarray]):
    """The `pool` states of every site in an activation store, by site name, read one site at a time."""

    def __init__(self, store: ActivationStore, pool: str = "eos") -> None:
        self.store, self.pool = store, pool

    def __getitem__(self, site: str) -> np.ndarray:
        return self.store.states(site, pool=self.pool)

    def __iter__(self) -> Iterator[str]:
        return iter(self.store.sites)

    def __len__(self) -> int:
        return len(self.store.sites)


def baselines(bundle: ClipBundle, store: ActivationStore) -> dict[str, np.ndarray]:
    """The mean token-embedding baseline and every surface baseline, as features of the store's rows."""
    return {"embedding": StoreStates(store, pool="mean")[EMBED], **surface_features(bundle, store.texts)}


def probe_task(
    bundle: ClipBundle,
    task: ProbeTask,
    store: ActivationStore,
    untrained: Mapping[int, ActivationStore],
    splits: Mapping[int, list],
    cfg: ProbesConfig,
    progress: bool = False,
) -> tuple[TaskProbes, list[Sweep]]:
    """The task's sweep per probe seed (its folds in `splits`) at the pooled position and the object's token, beside
    every untrained copy in `untrained` (copy seed → its store), the control task and the surface
    baselines of the text each reading sees; also the pooled sweeps themselves, one per probe seed."""
    y, groups = np.asarray(task.labels), np.asarray(task.groups)

    def seeds(states, copies, features) -> list[Sweep]:
        return [sweep(states, y, groups, task.units, images=task.images, seed=s, n_boot=cfg.n_boot, splits=split,
                      untrained=copies, solver=cfg.solver, baselines=features, progress=progress)
                for s, split in splits.items()]

    pooled = seeds(StoreStates(store), {s: StoreStates(st) for s, st in untrained.items()}, baselines(bundle, store))
    scores = merge_seeds([p.scores for p in pooled])
    for name, score in scores.baselines.items():
        score.features = BASELINE_FEATURES[name]
    at_object = None
    if task.anchors:
        copies = {s: StoreStates(st, pool="anchor") for s, st in untrained.items()}
        at_object = merge_seeds([p.scores for p in seeds(StoreStates(store, pool="anchor"), copies,
                                                         surface_features(bundle, task.anchors))])
        for name, score in at_object.baselines.items():
            score.features = f"{SURFACE_BASELINES[name]}, of the text up to the object's last token"
    fields_ = {f.name: getattr(scores, f.name) for f in fields(scores)}
    return TaskProbes(**fields_, classes=list(task.classes), at_object=at_object, control_unit=task.control_unit), pooled


def divergence_curve(store: ActivationStore, untrained: ActivationStore | None = None) -> list[Divergence]:
    """Per site, the mean cosine between the EOS states of each caption and its negation (and on the untrained copy)."""
    variant = store.labels("variant")
    first, second = np.flatnonzero(variant == "caption"), np.flatnonzero(variant == "this_is_not")
    copy = None if untrained is None else StoreStates(untrained)
    return [Divergence(site, mean_pair_cosine(X, first, second),
                       None if copy is None else mean_pair_cosine(copy[site], first, second))
            for site, X in StoreStates(store).items()]


def run_probes(common: Common, cfg: ProbesConfig, out: str | Path, progress: bool = True) -> ProbesResult:
    """Build the tasks, capture their states (trained and untrained), probe every site and write JSON, CSV and figures."""
    ctx = Analysis.open(common, out)
    out = Path(out)
    bundle, dataset = ctx.bundle, ctx.dataset(cfg.limit)
    tasks = [negated_task(dataset, cfg.captions_per_image, common.seed), scope_task(dataset, cfg.captions_per_image),
             scope_position_task(dataset, cfg.captions_per_image)]
    seeds = [common.seed + k for k in range(cfg.seeds)]
    copy_seeds = ctx.copy_seeds
    # every seed's folds are made before any capture, so too few groups fail fast
    splits = {t.name: {s: grouped_splits(np.array(t.labels), np.array(t.groups), cfg.folds, s) for s in seeds} for t in tasks}

    def stores(task: ProbeTask, seeds: list[int]) -> tuple[ActivationStore, dict[int, ActivationStore]]:
        folder = out / "activations"
        return capture_task(bundle, task, folder / task.name, cfg, progress), {
            s: capture_task(ctx.copy(s), task, folder / f"{task.name}.untrained{s}", cfg, progress) for s in seeds}

    results, readings, excluded = {}, [], {}
    for task in tasks:
        store, untrained = stores(task, copy_seeds)
        results[task.name], pooled = probe_task(bundle, task, store, untrained, splits[task.name], cfg, progress)
        if (reason := results[task.name].uninformative()) is not None:
            excluded[task.name] = reason
        else:
            readings.append((task.images, pooled))
    sites = [s.name for s in bundle.sites]
    evidence = selectivity_evidence(readings, sites, copy_seeds, common.evidence_resamples, common.seed) if readings else None
    store, untrained = stores(divergence_pairs(dataset, cfg.captions_per_image), copy_seeds[:1])
    divergence = divergence_curve(store, untrained[copy_seeds[0]])
    unconverged = sum(r.unconverged for t in results.values() for sw in (t, t.at_object) if sw for r in sw.sites)
    result = ProbesResult(
        model=bundle.spec, data=dataset.describe(), images=len(dataset), settings={**asdict(common), **asdict(cfg), "C_grid": list(DEFAULT_CS)},
        tasks=results, divergence=divergence, seconds=ctx.seconds(), threads=torch.get_num_threads(),
        evidence=evidence, excluded=excluded, unconverged=unconverged,
    )
    result.save(out)
    write_csv(result, out / "probes.csv")
    for name, task_result in results.items():
        probe_figure(name, task_result, out / f"probe_{name}.png", model=bundle.spec)
    divergence_figure(divergence, out / "divergence.png", model=bundle.spec)
    return result


def write_csv(result: ProbesResult, path: Path) -> Path:
    """One row per task, position and site, per task, position and baseline, and per divergence site."""
    rows = []
    for task, res in result.tasks.items():
        for position, sw in (("pooled", res), ("object", res.at_object)):
            if sw is not None:
                rows += [{"task": task, "position": position, **asdict(r)} for r in sw.sites]
                rows += [{"task": task, "position": position, "site": f"baseline:{b}", "accuracy_std": v.std, **asdict(v)}
                         for b, v in sw.baselines.items()]
    rows += [{"task": "divergence", **asdict(r)} for r in result.divergence]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, CSV_COLUMNS, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path


def format_summary(result: ProbesResult) -> str:
    """A short Markdown table: per task and reading, the most selective site against the untrained copies, the
    control and the baselines of the same text; then the tasks the block evidence leaves out, and unconverged solves."""
    names = list(BASELINE_FEATURES)
    lines = ["| task | reading | most selective site | accuracy [95% CI] | untrained (mean ± spread) | gain [95% CI] | "
             "control | selectivity | " + " | ".join(n.replace("_", " ") for n in names) + " |",
             "|---" * (8 + len(names)) + "|"]
    for task, res in result.tasks.items():
        for reading, sw in (("pooled", res), ("object token", res.at_object)):
            if sw is None:
                continue
            best: SiteScore = max(sw.sites, key=lambda r: r.selectivity)
            untrained = "" if best.untrained_accuracy is None else f"{best.untrained_accuracy:.3f} ± {best.untrained_std:.3f}"
            gain = "" if best.gain_ci_low is None else (
                f"{best.untrained_gain:+.3f} [{best.gain_ci_low:+.3f}, {best.gain_ci_high:+.3f}]")
            lines.append(
                f"| {task} | {reading} | {best.site} | {best.accuracy:.3f} [{best.ci_low:.3f}, {best.ci_high:.3f}] | "
                f"{untrained} | {gain} | {best.control_accuracy:.3f} | {best.selectivity:+.3f} | "
                + " | ".join(f"{sw.baselines[n].accuracy:.3f}" if n in sw.baselines else "" for n in names) + " |"
            )
    lines += [f"\nLeft out of the block evidence: `{task}`, {reason}." for task, reason in result.excluded.items()]
    if result.unconverged:
        lines.append(f"\n{result.unconverged} probe solves stopped at the iteration cap (per site in probes.csv).")
    return "\n".join(lines)
