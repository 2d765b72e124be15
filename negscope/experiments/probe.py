"""`negscope probe`: per-site linear probes for negation, with control tasks, baselines and the divergence curve.

Writes to the output folder:

- `activations/<task>/`: the activation store of every task (resumable; rerunning reuses finished shards);
- `probes.json`: ``{"tasks": {task: {"sites": [{"site", "accuracy", "ci_low", "ci_high", "control_accuracy",
  "selectivity"}], "baselines": {...}}}, "divergence": [{"site", "mean_cosine"}]}`` plus the run's settings and
  sample counts; "site" is a site name (`text.embed` or `text.block.k`, the output of block k);
- `probes.csv`: the same numbers, one row per task and site (baselines and divergence included);
- `probe_<task>.png` per task and `divergence.png`.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..data import load_dataset
from ..hooks import ActivationStore, write_store
from ..io import atomic_path, write_json
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

CSV_COLUMNS = ["task", "site", "accuracy", "ci_low", "ci_high", "control_accuracy", "selectivity", "mean_cosine"]


@dataclass
class ProbeConfig:
    """Settings for `negscope probe`."""

    model: str
    out: str
    data: str = "world"
    limit: int | None = None
    folds: int = 5
    captions_per_image: int = 1
    n_boot: int = 1000
    dtype: str = "float32"
    batch_size: int = 256
    seed: int = 0


def capture_task(bundle: ClipBundle, task: ProbeTask, folder: Path, cfg: ProbeConfig, progress: bool = False) -> ActivationStore:
    """The activation store of `task` (EOS and mean pools, every site), resumed if partly written."""
    return write_store(
        folder, bundle, task.texts, task.groups, labels={"label": task.labels, "variant": task.variants}, ids=task.ids,
        pools=("eos", "mean"), dtype=cfg.dtype, batch_size=cfg.batch_size, progress=progress,
    )


def task_splits(task: ProbeTask, cfg: ProbeConfig) -> list[tuple[np.ndarray, np.ndarray]]:
    """The outer grouped folds of `task`, checked before any capture so too few groups fail fast."""
    return grouped_splits(np.array(task.labels), np.array(task.groups), cfg.folds, cfg.seed)


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
    bundle: ClipBundle, store: ActivationStore, classes: tuple[str, str], splits: list, cfg: ProbeConfig, progress: bool = False
) -> dict:
    """The probe sweep of one store's EOS states, with the embedding and bag-of-words baselines, in the probes.json layout."""
    baselines = {"embedding": StoreStates(store, pool="mean")[EMBED], "bag_of_words": token_counts(bundle, store.texts)}
    res = sweep(
        StoreStates(store), store.labels("label"), store.groups, store.texts, n_boot=cfg.n_boot, seed=cfg.seed,
        baselines=baselines, splits=splits, progress=progress,
    )
    features = {"embedding": f"{EMBED}, mean over real tokens", "bag_of_words": "token counts"}
    return {
        "classes": list(classes), "samples": res["samples"], "groups": res["groups"], "chance": res["chance"],
        "sites": res["sites"],
        "baselines": {name: {**score, "features": features[name]} for name, score in res["baselines"].items()},
    }


def divergence_curve(store: ActivationStore) -> list[dict]:
    """Per site, the mean cosine between the EOS states of each caption and its negation."""
    variant = store.labels("variant")
    first, second = np.flatnonzero(variant == "caption"), np.flatnonzero(variant == "this_is_not")
    return [
        {"site": site, "mean_cosine": mean_pair_cosine(X, first, second)} for site, X in StoreStates(store).items()
    ]


def run_probe(cfg: ProbeConfig, progress: bool = True) -> dict:
    """Build the tasks, capture their states, probe every site and write JSON, CSV and figures to `cfg.out`."""
    start = time.time()
    torch.manual_seed(cfg.seed)
    out = Path(cfg.out)
    bundle = load_bundle(cfg.model)
    dataset = load_dataset(cfg.data, limit=cfg.limit)
    tasks = [negated_task(dataset, cfg.captions_per_image, cfg.seed), scope_task(dataset, cfg.captions_per_image)]
    splits = {task.name: task_splits(task, cfg) for task in tasks}
    results = {}
    for task in tasks:
        store = capture_task(bundle, task, out / "activations" / task.name, cfg, progress)
        results[task.name] = probe_task(bundle, store, task.classes, splits[task.name], cfg, progress)
    pairs = divergence_pairs(dataset, cfg.captions_per_image)
    divergence = divergence_curve(capture_task(bundle, pairs, out / "activations" / pairs.name, cfg, progress))
    payload = {
        "config": asdict(cfg), "model": bundle.spec, "images": len(dataset), "seconds": round(time.time() - start, 1),
        "threads": torch.get_num_threads(), "tasks": results, "divergence": divergence,
    }
    write_json(out / "probes.json", payload)
    write_csv(payload, out / "probes.csv")
    for name, result in results.items():
        probe_figure(name, result, out / f"probe_{name}.png", model=bundle.spec)
    divergence_figure(divergence, out / "divergence.png", model=bundle.spec)
    return payload


def write_csv(payload: dict, path: Path) -> Path:
    """One row per task and site, per task baseline, and per divergence site."""
    rows = []
    for task, res in payload["tasks"].items():
        rows += [{"task": task, **{k: r[k] for k in CSV_COLUMNS if k in r}} for r in res["sites"]]
        rows += [{"task": task, "site": f"baseline:{b}", **v} for b, v in res["baselines"].items()]
    rows += [{"task": "divergence", **r} for r in payload["divergence"]]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, CSV_COLUMNS, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path


def format_summary(payload: dict) -> str:
    """A short Markdown table: per task, the best site against the baselines."""
    lines = ["| task | best site | accuracy [95% CI] | selectivity | embedding | bag of words |", "|---|---|---|---|---|---|"]
    for task, res in payload["tasks"].items():
        best = max(res["sites"], key=lambda r: r["accuracy"])
        b = res["baselines"]
        lines.append(
            f"| {task} | {best['site']} | {best['accuracy']:.3f} [{best['ci_low']:.3f}, {best['ci_high']:.3f}] | "
            f"{best['selectivity']:.3f} | {b['embedding']['accuracy']:.3f} | {b['bag_of_words']['accuracy']:.3f} |"
        )
    return "\n".join(lines)
