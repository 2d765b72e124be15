"""`negscope run`: every stage in order, each in `runs/<name>/<stage>/`, skipping those already complete.

A stage's cache key is a hash of its content: the shared settings, its own section, the fingerprints of the
model and the data it reads (their files' sizes and modification times), negscope's code and version, and
the keys of the stages it reads from. So new weights saved into the same model folder, changed data, changed
code or a change upstream redo the stage and everything downstream. A stage folder holds `.started` (the key,
written first) and `stage.json` (the key, its inputs and timing, written atomically last). On a rerun a stage
whose `stage.json` matches is skipped; one started under the same key but unfinished runs again in place, so a
stage that resumes from its own files (activation shards, training checkpoints) picks up where it stopped; a
folder left by another key is cleared first. Every stage starts from the same seeded RNG state, so a resumed
run gives the results of an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data import data_fingerprint
from ..fingerprint import code_fingerprint, digest
from ..io import write_json
from ..models import model_fingerprint
from .common import CACHE, MARKER, claim, finished
from .config import RunConfig
from .stages import STAGE_LIST, Stage


def fingerprints(cfg: RunConfig) -> dict[str, str]:
    """The content fingerprints every stage key shares: model, data (and training data), and code."""
    prints = {"model": model_fingerprint(cfg.model), "data": data_fingerprint(cfg.data), "code": code_fingerprint()}
    if cfg.finetune.train_data:
        prints["train_data"] = data_fingerprint(cfg.finetune.train_data)
    return prints


def stage_inputs(cfg: RunConfig, stage: Stage, prints: dict[str, str]) -> dict[str, Any]:
    """What a stage's results depend on besides upstream stages: the settings it reads, and `prints`."""
    common = {k: v for k, v in dataclasses.asdict(cfg.common).items() if k != "cache"}  # where, not what: features are keyed by content
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


def run(cfg: RunConfig, out: str | Path, report: bool = True, stages: tuple[Stage, ...] = STAGE_LIST) -> dict[str, str]:
    """Run the configured stages into `out`, skipping those complete for their key; returns each stage's status."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if not cfg.common.cache:
        cfg = dataclasses.replace(cfg, cache=str(out / CACHE))
    write_json(out / "config.json", dataclasses.asdict(cfg))
    prints = fingerprints(cfg)
    keys = stage_keys(cfg, stages, prints)
    status: dict[str, str] = {}
    for stage in stages:
        if stage.name not in cfg.stages:
            status[stage.name] = "not configured"
            continue
        folder, key = stage.folder(out), keys[stage.name]
        if finished(folder, key, MARKER):
            print(f"run: {stage.name} is complete for key {key}; skipping")
            status[stage.name] = "skipped"
            continue
        claim(folder, key, MARKER)
        print(f"run: {stage.name} (key {key})")
        start = time.time()
        seed_everything(cfg.seed)
        stage.run(cfg, out)
        write_json(
            folder / MARKER,
            {"stage": stage.name, "key": key, "inputs": stage_inputs(cfg, stage, prints),
             "needs": {n: keys[n] for n in stage.needs}, "seconds": round(time.time() - start, 1)},
        )
        status[stage.name] = "done"
    if report:
        from .report import write_report

        html, md = write_report(out)
        print(f"run: wrote {html} and {md}")
    return status
