"""`negscope run`: every stage in order, each in `runs/<name>/<stage>/`, skipping those already complete.

A stage's config hash covers the shared settings, its own section and the hashes of the stages it reads
from, so a change upstream redoes everything downstream. A stage folder holds `.started` (the hash,
written first) and `stage.json` (the hash and timing, written atomically last). On a rerun a stage whose
`stage.json` matches is skipped; one started under the same hash but unfinished runs again in place, so a
stage that resumes from its own files (activation shards, training checkpoints) picks up where it stopped;
a folder left by another config is cleared first. Every stage starts from the same seeded RNG state, so a
resumed run gives the results of an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..io import read_json, write_json, write_text
from .config import RunConfig, config_hash, section_config

if TYPE_CHECKING:
    from ..finetune.trainer import TrainConfig

MARKER = "stage.json"
STARTED = ".started"


@dataclass(frozen=True)
class Stage:
    """One step of the run: its name (also its folder), the stages it reads from, and its runner."""

    name: str
    needs: tuple[str, ...]
    run: Callable[[RunConfig, Path], None]


def _similarity(cfg: RunConfig, root: Path) -> None:
    from .similarity import run_similarity

    run_similarity([cfg.model], cfg.data, root / "similarity", limit=cfg.similarity.limit, strict=cfg.strict, seed=cfg.seed)


def _probes(cfg: RunConfig, root: Path) -> None:
    from .probe import ProbeConfig, run_probe

    run_probe(ProbeConfig(model=cfg.model, out=str(root / "probes"), data=cfg.data, seed=cfg.seed, **dataclasses.asdict(cfg.probes)))


def _attribution(cfg: RunConfig, root: Path) -> None:
    from .attribute import run_attribution

    run_attribution(cfg.model, cfg.data, root / "attribution", seed=cfg.seed, **dataclasses.asdict(cfg.attribution))


def _patching(cfg: RunConfig, root: Path) -> None:
    from .patch import run_patching

    run_patching(cfg.model, cfg.data, root / "patching", seed=cfg.seed, **dataclasses.asdict(cfg.patching))


def _selection(cfg: RunConfig, root: Path) -> None:
    from .select import run_selection

    run_selection(root / "probes", root / "attribution", root / "patching", root / "selection", seed=cfg.seed,
                  **dataclasses.asdict(cfg.selection))


def _train_config(cfg: RunConfig, steps: int | None = None) -> TrainConfig:
    """The trainer settings of the finetune section, with the run's seed (and `steps` when given)."""
    from ..finetune.trainer import TrainConfig

    c = cfg.finetune
    train = TrainConfig(**{f.name: getattr(c, f.name) for f in dataclasses.fields(TrainConfig) if f.name != "seed"}, seed=cfg.seed)
    return dataclasses.replace(train, steps=steps) if steps else train


def _finetune(cfg: RunConfig, root: Path) -> None:
    from .finetune import run_finetune

    c = cfg.finetune
    selection = root / "selection" / "selection.json" if c.blocks == "auto" else None
    run_finetune(cfg.model, c.data or cfg.data, c.blocks, root / "finetune", cfg=_train_config(cfg), selection=selection,
                 resume=True, pool=c.pool)


def _evaluate(cfg: RunConfig, root: Path) -> None:
    from .evaluate import run_evaluate

    models = [cfg.model, str(finetuned_model(root))]
    run_evaluate(models, cfg.data, root / "evaluate", limit=cfg.evaluate.limit, strict=cfg.strict, seed=cfg.seed)


def _study(cfg: RunConfig, root: Path) -> None:
    from .study import run_layer_study

    selection = root / "selection" / "selection.json"
    run_layer_study(cfg.model, cfg.finetune.data or cfg.data, root / "study", eval_data=cfg.data, eval_limit=cfg.study.limit,
                    selection=selection if selection.is_file() else None, cfg=_train_config(cfg, cfg.study.steps),
                    pool=cfg.finetune.pool)


def finetuned_model(root: Path) -> Path:
    """The folder of the fine-tuned model (Hugging Face layout) inside run folder `root`."""
    return root / "finetune"


STAGE_LIST: tuple[Stage, ...] = (
    Stage("similarity", (), _similarity),
    Stage("probes", (), _probes),
    Stage("attribution", (), _attribution),
    Stage("patching", (), _patching),
    Stage("selection", ("probes", "attribution", "patching"), _selection),
    Stage("finetune", ("selection",), _finetune),
    Stage("evaluate", ("finetune",), _evaluate),
    Stage("study", ("selection", "finetune"), _study),
)


def stage_hashes(cfg: RunConfig) -> dict[str, str]:
    """The config hash of every stage: its own settings plus the hashes of the stages it reads from."""
    hashes: dict[str, str] = {}
    for stage in STAGE_LIST:
        hashes[stage.name] = config_hash(
            {"config": section_config(cfg, stage.name), "needs": {n: hashes[n] for n in stage.needs}}
        )
    return hashes


def is_complete(folder: Path, digest: str) -> bool:
    """Whether `folder` holds a finished stage marker for config hash `digest`."""
    marker = folder / MARKER
    if not marker.is_file():
        return False
    try:
        return read_json(marker).get("config_hash") == digest
    except ValueError:
        return False


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch, so a stage gives the same results whether or not earlier ones ran."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def run(cfg: RunConfig, out: str | Path, report: bool = True) -> dict[str, str]:
    """Run the configured stages into `out`, skipping those complete for this config; returns each stage's status."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "config.json", dataclasses.asdict(cfg))
    hashes = stage_hashes(cfg)
    status: dict[str, str] = {}
    for stage in STAGE_LIST:
        if stage.name not in cfg.stages:
            status[stage.name] = "not configured"
            continue
        folder, digest = out / stage.name, hashes[stage.name]
        if is_complete(folder, digest):
            print(f"run: {stage.name} is complete for config {digest}; skipping")
            status[stage.name] = "skipped"
            continue
        _prepare(folder, digest)
        print(f"run: {stage.name} (config {digest})")
        start = time.time()
        seed_everything(cfg.seed)
        stage.run(cfg, out)
        write_json(
            folder / MARKER,
            {"stage": stage.name, "config_hash": digest, "config": section_config(cfg, stage.name),
             "needs": {n: hashes[n] for n in stage.needs}, "seconds": round(time.time() - start, 1)},
        )
        status[stage.name] = "done"
    if report:
        from ..reports.report import build_report

        html, md = build_report(out)
        print(f"run: wrote {html} and {md}")
    return status


def _prepare(folder: Path, digest: str) -> None:
    """Make `folder` ready for a run of config `digest`: keep a same-config partial run, clear anything else."""
    started = folder / STARTED
    same = started.is_file() and started.read_text(encoding="utf-8").strip() == digest
    if folder.exists() and not (same and not (folder / MARKER).exists()):
        print(f"run: clearing {folder}: it holds results of another config")
        shutil.rmtree(folder)
    write_text(started, digest)
