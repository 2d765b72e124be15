"""Helpers shared by the stage runners: file-name slugs, folders whose results are keyed by their inputs, and the
evaluation rows of the studies' fine-tuning runs with their mean and spread over seeds."""

from __future__ import annotations

import dataclasses
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..io import read_json, write_json, write_text
from ..results import EvaluationRow
from ..results.base import build, plain
from ..results.evidence import BlockEvidence
from .config import Common, FinetuneConfig, RecipesConfig, StudyConfig

if TYPE_CHECKING:
    from ..data import Dataset
    from ..evaluation.suite import Tasks
    from ..models import ClipBundle
    from .parallel import Job

CACHE = "cache"
STARTED = ".started"
MARKER = "stage.json"
RUN_MARKER = "set.json"


def slug(spec: str) -> str:
    """A file-name-safe form of a model or data spec."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", spec.strip("/")).strip("_") or "model"


def finished(folder: Path, key: str, marker: str) -> dict[str, Any] | None:
    """The marker file `folder/marker` when it was written for cache key `key`, else None."""
    path = folder / marker
    if not path.is_file():
        return None
    try:
        data = read_json(path)
    except ValueError:
        return None
    return data if isinstance(data, dict) and data.get("key") == key else None


def claim(folder: Path, key: str, marker: str) -> None:
    """Make `folder` ready for work under `key`: keep an unfinished run of the same key, clear anything else."""
    started = folder / STARTED
    same = started.is_file() and started.read_text(encoding="utf-8").strip() == key
    if folder.exists() and not (same and not (folder / marker).exists()):
        print(f"clearing {folder}: it holds results made from other inputs")
        shutil.rmtree(folder)
    write_text(started, key)


def keyed_row(folder: Path, key: str, compute: Callable[[], EvaluationRow]) -> EvaluationRow:
    """The evaluation row stored in `folder` under `key`, computed (and stored) when missing or made from other inputs."""
    done = finished(folder, key, RUN_MARKER)
    if done:
        return build(EvaluationRow, done["row"])
    claim(folder, key, RUN_MARKER)
    row = compute()
    write_json(folder / RUN_MARKER, {"key": key, "row": plain(row)})
    return row


@dataclass
class Study:
    """A study of fine-tuning runs: its evaluation data, the model before fine-tuning with its evaluation row, the
    key every run builds on, the training data, the settings every run starts from and the training seeds."""

    common: Common
    train_data: str
    train: FinetuneConfig
    seeds: list[int]
    limit: int
    dataset: Dataset
    bundle: ClipBundle
    key: str
    baseline: EvaluationRow
    cache: Path
    tasks: Tasks
    progress: bool = True
    role: str = "evaluation"

    def job(self, folder: Path, train: FinetuneConfig, blocks: list[int], seed: int, label: str,
            full: bool = True) -> Job:
        """The run that fine-tunes `blocks` with `train` and `seed` into `folder` and evaluates the result on the
        study's data (every negation form unless not `full`), keyed by its inputs (the study's key, the training
        data and settings, blocks, seed, threads, forms)."""
        from ..data import data_fingerprint
        from ..fingerprint import digest
        from .parallel import Job, run_threads

        key = digest({"base": self.key, "train_data": data_fingerprint(self.train_data), "train": dataclasses.asdict(train),
                      "blocks": blocks, "seed": seed, "threads": run_threads(self.common), "full": full})
        return Job(self.common, self.limit, self.train_data, self.cache, folder, key, train, tuple(blocks),
                   seed, label, full, self.role)

    def run_all(self, jobs: list[Job]) -> list[EvaluationRow]:
        """Every job's evaluation row, in order, run side by side as `common` says (see `parallel.run_jobs`); a
        finished run is reused while its key matches."""
        from .parallel import run_jobs

        return run_jobs(jobs, self.common, self.progress)


def feature_cache(common: Common, out: str | Path) -> Path:
    """The image-feature cache folder: `common.cache`, else `cache/` in `out`."""
    return Path(common.cache) if common.cache else Path(out) / CACHE


def common_dataset(common: Common, limit: int | None, role: str | None = None) -> Dataset:
    """The shared data (`common.data`, its split, the bad-image policy): at most `limit` images of `role`'s split.

    Args:
        common: the shared settings.
        limit: at most this many images.
        role: 'evaluation' (what `evaluate` and the studies score) or 'analysis' (the stages whose evidence picks the
            blocks), which never share an image (see `data.splits`); None reads the data as its spec names it, for
            the stages that neither pick blocks nor score fine-tuning (negations, similarity). The dataset's
            `describe()` names the split and its number of images.

    Returns:
        The dataset.
    """
    from ..data import load_dataset

    return load_dataset(common.data, limit=limit, strict=common.strict, split=common.split, role=role)


def open_study(common: Common, finetune: FinetuneConfig, study: StudyConfig | RecipesConfig, out: Path,
               progress: bool = True, role: str = "evaluation") -> Study:
    """The study of `common`'s model on `study.limit` images of its data's `role` split (evaluation, or analysis to
    decide a setting without reading the images evaluation scores), trained on
    `finetune.train_data` (default: the same data's training split) for `study.steps` steps of `study.batch_size` images with seeds `common.seed` onwards (`study.seeds` of them),
    each run keeping its last step (no validation split: every run has the same budget); the model's evaluation row
    before fine-tuning is stored in `out/baseline`."""
    from ..data import data_fingerprint
    from ..evaluation.suite import evaluate
    from ..fingerprint import code_fingerprint, digest
    from ..models import load_bundle, model_fingerprint
    from .parallel import evaluation_data

    dataset, tasks = evaluation_data(common, study.limit, role)
    bundle = load_bundle(common.model)
    key = digest({"model": model_fingerprint(common.model), "data": data_fingerprint(common.data), "split": common.split,
                  "role": role, "limit": study.limit, "seed": common.seed, "code": code_fingerprint()})
    cache = feature_cache(common, out)
    baseline = keyed_row(out / "baseline", key,
                         lambda: evaluate(bundle, dataset, seed=common.seed, progress=progress, cache=cache, tasks=tasks))
    return Study(common, finetune.train_data or common.data, dataclasses.replace(finetune, steps=study.steps, batch_size=study.batch_size, validation=0),
                 list(range(common.seed, common.seed + study.seeds)), study.limit, dataset, bundle, key, baseline, cache, tasks, progress,
                 role)


def evidence_line(ev: BlockEvidence) -> str:
    """One line: each block's gain over the untrained copies with its interval over images (* where it excludes 0)."""
    blocks = " ".join(f"{k}:{g:+.3f} [{lo:+.3f}, {hi:+.3f}]{'*' if c else ''}"
                      for k, (g, lo, hi, c) in enumerate(zip(ev.gain, ev.ci_low, ev.ci_high, ev.certain)))
    return f"gain over {len(ev.untrained_seeds)} untrained copies ({ev.images} images; * interval excludes 0): {blocks}"


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; 0 for a single value)."""
    a = np.asarray(values, dtype=float)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) >= 2 else 0.0
