"""`negscope probe`: per-site linear probes for negation, with control tasks, baselines and the divergence curve.

Writes to the output folder:

- `activations/<task>/`: the activation store of every task (resumable; rerunning reuses finished shards);
- `probes.json`: the `ProbesResult` (per task, a `SiteScore` per site, the baselines; the divergence curve);
- `probes.csv`: the same numbers, one row per task and site (baselines and divergence included);
- `probe_<task>.png` per task and `divergence.png`.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np
import torch

from ..data import load_dataset
from ..hooks import ActivationStore, write_store
from ..io import atomic_path
from ..models import EMBED, ClipBundle, load_bundle
from ..probes import (
    ProbeTask,
    divergence_pairs,
    grouped_splits,
    mean_pair_cosine,
    negated_task,
    scope_task,
    sweep,
    token_counts,
)
from ..reports.probe_figures import divergence_figure, probe_figure
from ..results import Divergence, ProbesResult, SiteScore, TaskProbes
from .config import Common, ProbesConfig

CSV_COLUMNS = ["task", "site", "accuracy", "ci_low", "ci_high", "control_accuracy", "selectivity", "mean_cosine"]
BASELINE_FEATURES = {"embedding": f"{EMBED}, mean over real tokens", "bag_of_words": "token counts"}


def capture_task(bundle: ClipBundle, task: ProbeTask, folder: Path, cfg: ProbesConfig, progress: bool = False) -> ActivationStore:
    """The activation store of `task` (EOS and mean pools, every site), resumed if partly written."""
    return write_store(
        folder, bundle, task.texts, task.groups, labels={"label": task.labels, "variant": task.variants}, ids=task.ids,
        pools=("eos", "mean"), dtype=cfg.dtype, batch_size=cfg.batch_size, progress=progress,
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


def probe_task(
    bundle: ClipBundle, store: ActivationStore, task: ProbeTask, splits: list, n_boot: int, seed: int, progress: bool = False
) -> TaskProbes:
    """The probe sweep of one store's EOS states, with the embedding and bag-of-words baselines."""
    baselines = {"embedding": StoreStates(store, pool="mean")[EMBED], "bag_of_words": token_counts(bundle, store.texts)}
    res = sweep(StoreStates(store), store.labels("label"), store.groups, store.texts, n_boot=n_boot, seed=seed,
                baselines=baselines, splits=splits, progress=progress)
    for name, score in res.baselines.items():
        score.features = BASELINE_FEATURES[name]
    return TaskProbes(**{f.name: getattr(res, f.name) for f in fields(res)}, classes=list(task.classes))


def divergence_curve(store: ActivationStore) -> list[Divergence]:
    """Per site, the mean cosine between the EOS states of each caption and its negation."""
    variant = store.labels("variant")
    first, second = np.flatnonzero(variant == "caption"), np.flatnonzero(variant == "this_is_not")
    return [Divergence(site, mean_pair_cosine(X, first, second)) for site, X in StoreStates(store).items()]


def run_probes(common: Common, cfg: ProbesConfig, out: str | Path, progress: bool = True) -> ProbesResult:
    """Build the tasks, capture their states, probe every site and write JSON, CSV and figures to `out`."""
    start = time.time()
    torch.manual_seed(common.seed)
    out = Path(out)
    bundle = load_bundle(common.model)
    dataset = load_dataset(common.data, limit=cfg.limit, strict=common.strict)
    tasks = [negated_task(dataset, cfg.captions_per_image, common.seed), scope_task(dataset, cfg.captions_per_image)]
    # the folds are checked before any capture, so too few groups fail fast
    splits = {t.name: grouped_splits(np.array(t.labels), np.array(t.groups), cfg.folds, common.seed) for t in tasks}
    results = {}
    for task in tasks:
        store = capture_task(bundle, task, out / "activations" / task.name, cfg, progress)
        results[task.name] = probe_task(bundle, store, task, splits[task.name], cfg.n_boot, common.seed, progress)
    pairs = divergence_pairs(dataset, cfg.captions_per_image)
    divergence = divergence_curve(capture_task(bundle, pairs, out / "activations" / pairs.name, cfg, progress))
    result = ProbesResult(
        model=bundle.spec, data=common.data, images=len(dataset), settings={**asdict(common), **asdict(cfg)},
        tasks=results, divergence=divergence, seconds=round(time.time() - start, 1), threads=torch.get_num_threads(),
    )
    result.save(out)
    write_csv(result, out / "probes.csv")
    for name, task_result in results.items():
        probe_figure(name, task_result, out / f"probe_{name}.png", model=bundle.spec)
    divergence_figure(divergence, out / "divergence.png", model=bundle.spec)
    return result


def write_csv(result: ProbesResult, path: Path) -> Path:
    """One row per task and site, per task baseline, and per divergence site."""
    rows = []
    for task, res in result.tasks.items():
        rows += [{"task": task, **asdict(r)} for r in res.sites]
        rows += [{"task": task, "site": f"baseline:{b}", **asdict(v)} for b, v in res.baselines.items()]
    rows += [{"task": "divergence", **asdict(r)} for r in result.divergence]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, CSV_COLUMNS, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path


def format_summary(result: ProbesResult) -> str:
    """A short Markdown table: per task, the best site against the baselines."""
    lines = ["| task | best site | accuracy [95% CI] | selectivity | embedding | bag of words |", "|---|---|---|---|---|---|"]
    for task, res in result.tasks.items():
        best: SiteScore = max(res.sites, key=lambda r: r.accuracy)
        b = res.baselines
        lines.append(
            f"| {task} | {best.site} | {best.accuracy:.3f} [{best.ci_low:.3f}, {best.ci_high:.3f}] | "
            f"{best.selectivity:.3f} | {b['embedding'].accuracy:.3f} | {b['bag_of_words'].accuracy:.3f} |"
        )
    return "\n".join(lines)
