"""`negscope run`: every stage in order, each in `runs/<name>/<stage>/`, skipping those already complete.

A stage's cache key is a hash of its content: the shared settings, its own section, the fingerprints of the
model and the data it reads (their files' sizes and modification times), negscope's code and version, and
the keys of the stages it reads from. So new weights saved into the same model folder, changed data, changed
code or a change upstream redo the stage and everything downstream. A stage folder holds `.started` (the key,
written first), `.segments.json` (the start and end of each attempt under that key) and `stage.json` (the key,
its inputs and its seconds summed over the attempts, written atomically last). On a rerun a stage
whose `stage.json` matches is skipped; one started under the same key but unfinished runs again in place, so a
stage that resumes from its own files (activation shards, training checkpoints) picks up where it stopped; a
folder left by another key is cleared first. Every stage starts from the same seeded RNG state, so a resumed
run gives the results of an uninterrupted one.

Each stage announces itself as "stage k/n" with the run's elapsed time and an estimate of the time left: the
elapsed time scaled by the expected seconds of the stages still to run against those already run, each stage's
expected seconds being its cost in the default run scaled by its configured size (`Stage.expected`).
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data import data_fingerprint
from ..fingerprint import code_fingerprint, digest
from ..io import read_json, write_json
from ..models import model_fingerprint
from ..progress import std_tqdm
from .analysis import shared_analysis
from .common import CACHE, MARKER, STARTED, claim, finished
from .config import RunConfig
from .stages import STAGE_LIST, Stage

SEGMENTS = ".segments.json"


def fingerprints(cfg: RunConfig) -> dict[str, str]:
    """The content fingerprints every stage key shares: model, data (and training data), and code."""
    prints = {"model": model_fingerprint(cfg.model), "data": data_fingerprint(cfg.data), "code": code_fingerprint()}
    if cfg.finetune.train_data:
        prints["train_data"] = data_fingerprint(cfg.finetune.train_data)
    return prints


def stage_inputs(cfg: RunConfig, stage: Stage, prints: dict[str, str]) -> dict[str, Any]:
    """What a stage's results depend on besides upstream stages: the settings it reads, and `prints`."""
    # where and how, not what: features are keyed by content, and a run's result does not depend on what ran beside it
    common = {k: v for k, v in dataclasses.asdict(cfg.common).items() if k not in ("cache", "engine", "workers")}
    inputs = {"common": common, "section": dataclasses.asdict(getattr(cfg, stage.name)), **prints}
    if stage.trains:
        inputs["finetune"] = dataclasses.asdict(cfg.finetune)
    return inputs


def stage_keys(cfg: RunConfig, stages: tuple[Stage, ...] = STAGE_LIST, prints: dict[str, str] | None = None) -> dict[str, str]:
    """The cache key of every stage: a hash of its inputs and of the keys of the stages it reads from."""
    prints = fingerprints(cfg) if prints is None else prints
    keys: dict[str, str] = {}
    for stage in stages:
        keys[stage.name] = digest({"inputs": stage_inputs(cfg, stage, prints), "needs": {n: keys[n] for n in stage.needs}})
    return keys


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch, so a stage gives the same results whether or not earlier ones ran."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def time_left(cfg: RunConfig, todo: list[Stage], done: int, elapsed: float) -> str:
    """"; 02:10 so far, about 09:40 left": the elapsed time scaled by the expected seconds under `cfg` of the stages left
    against those of the `done` stages run (empty at first)."""
    spent = sum(s.expected(cfg) for s in todo[:done])
    if not done or spent <= 0:
        return ""
    left = elapsed * sum(s.expected(cfg) for s in todo[done:]) / spent
    return f"; {std_tqdm.format_interval(elapsed)} so far, about {std_tqdm.format_interval(left)} left"


def timed(folder: Path, work: Callable[[], Any]) -> list[tuple[float, float]]:
    """Run `work`, recording its start and end in `folder/.segments.json` beside those of earlier attempts under the
    same key; returns every attempt's (start, end). An attempt that died unrecorded ends at the last file it wrote."""
    path = folder / SEGMENTS
    earlier = [tuple(s) for s in read_json(path)] if path.is_file() else []
    segments = [(b, e if e is not None else max([b, *(p.stat().st_mtime for p in folder.rglob("*") if p.is_file() and p.name != STARTED)]))
                for b, e in earlier]
    start = time.time()
    write_json(path, [*segments, (start, None)])
    try:
        work()
    finally:
        segments.append((start, time.time()))
        write_json(path, segments)
    return segments


def run(cfg: RunConfig, out: str | Path, report: bool = True, stages: tuple[Stage, ...] = STAGE_LIST) -> dict[str, str]:
    """Run the configured stages into `out`, skipping those complete for their key; returns each stage's status."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if not cfg.common.cache:
        cfg = dataclasses.replace(cfg, cache=str(out / CACHE))
    write_json(out / "config.json", dataclasses.asdict(cfg))
    prints = fingerprints(cfg)
    keys = stage_keys(cfg, stages, prints)
    status = {s.name: "not configured" for s in stages if s.name not in cfg.stages}
    todo = [s for s in stages if s.name in cfg.stages]
    for s in todo:
        if finished(s.folder(out), keys[s.name], MARKER):
            print(f"run: {s.name} is complete for key {keys[s.name]}; skipping")
            status[s.name] = "skipped"
    todo = [s for s in todo if s.name not in status]
    if cfg.finetune.train_data and any(s.trains for s in todo):
        from ..finetune.data import training_dataset

        # refuses training data that shares an image with the evaluated data before any stage spends time
        training_dataset(cfg.finetune.train_data, cfg.finetune.pool, cfg.common.data, cfg.common.split)
    begun = time.time()
    with shared_analysis(cfg.common, out) as analysis:
        for k, stage in enumerate(todo):
            folder, key = stage.folder(out), keys[stage.name]
            claim(folder, key, MARKER)
            print(f"run: stage {k + 1}/{len(todo)} {stage.name} (key {key}){time_left(cfg, todo, k, time.time() - begun)}",
                  flush=True)
            seed_everything(cfg.seed)
            if not stage.analyses:
                analysis.release()
            segments = timed(folder, partial(stage.run, cfg, out))
            write_json(
                folder / MARKER,
                {"stage": stage.name, "key": key, "inputs": stage_inputs(cfg, stage, prints),
                 "needs": {n: keys[n] for n in stage.needs}, "seconds": round(sum(e - b for b, e in segments), 1),
                 "segments": len(segments)},
            )
            status[stage.name] = "done"
    if report:
        from .report import write_report

        html, md = write_report(out)
        print(f"run: wrote {html} and {md}")
    return {s.name: status[s.name] for s in stages}
