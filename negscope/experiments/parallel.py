"""A study's fine-tuning runs side by side: serially, in worker processes on this machine, or as tasks on a Ray cluster.

Each run (`Job`) is a fine-tune and its evaluation, written to its own folder under its own key (`common.keyed_row`),
so the engines differ only in where a run executes: the folders, keys and resume behaviour are those of a serial run.
Every run uses `threads` intra-op threads in every engine, because the thread count changes the order of
floating-point sums and so the last bits of the weights; with the same threads, a run's result is the same whichever
engine ran it and beside whatever else. Local workers are forked where that is safe, after this process has built the
runs' training sources and evaluation data, so that no worker spends its first minute building them again.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING

from ..progress import tqdm
from ..results import EvaluationRow
from ..results.base import build
from .common import RUN_MARKER, finished, keyed_row
from .config import Common, FinetuneConfig

if TYPE_CHECKING:
    from ..data import Dataset
    from ..evaluation.suite import Tasks


@dataclass(frozen=True)
class Job:
    """One fine-tuning run of a study: train `blocks` with `train` and `seed` on `train_data`, evaluate on `limit`
    images of `common`'s `role` split (every negation form unless not `full`), store the row in `folder` under
    `key`."""

    common: Common
    limit: int
    train_data: str
    cache: Path
    folder: Path
    key: str
    train: FinetuneConfig
    blocks: tuple[int, ...]
    seed: int
    label: str
    full: bool = True
    role: str = "evaluation"


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def run_threads(common: Common) -> int:
    """The intra-op threads of every study run: `common.threads`, else 1 on CPU and on GPUs the cores shared out
    among them (so that Ray, which gives each run one GPU and this many CPUs, runs one per GPU at once)."""
    import torch

    return common.threads or (max(1, _cores() // torch.cuda.device_count()) if torch.cuda.is_available() else 1)


def plan_workers(common: Common, jobs: int) -> int:
    """How many runs train side by side: `common.workers`, else one per `run_threads` cores on CPU and one on a GPU;
    never more than `jobs`, the runs still to do."""
    import torch

    workers = common.workers or (1 if torch.cuda.is_available() else max(1, _cores() // run_threads(common)))
    return max(1, min(workers, jobs))


_DATA: dict[tuple[Common, int, str], tuple[Dataset, Tasks]] = {}


def evaluation_data(common: Common, limit: int, role: str = "evaluation") -> tuple[Dataset, Tasks]:
    """At most `limit` images of `common`'s `role` split and their evaluation tasks, built once per process.

    Args:
        common: the shared settings (model, data, split, seed).
        limit: at most this many images.
        role: the split's role (`data.splits.ROLES`).

    Returns:
        The dataset and its tasks.
    """
    from ..evaluation.suite import evaluation_tasks
    from .common import common_dataset

    if (common, limit, role) not in _DATA:
        dataset = common_dataset(common, limit, role=role)
        _DATA[common, limit, role] = dataset, evaluation_tasks(dataset, common.seed)
    return _DATA[common, limit, role]


@contextmanager
def _threads(n: int) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _start_method(threads: int) -> str:
    """'fork' on Linux for CPU runs of one thread, so workers inherit what this process built; 'spawn' elsewhere: GNU
    OpenMP (torch's on Linux) hangs a forked child's first parallel region once the parent has run one, CUDA cannot
    be forked, and macOS's system libraries are not fork-safe."""
    import torch

    return "fork" if sys.platform.startswith("linux") and threads == 1 and not torch.cuda.is_available() else "spawn"


def _prepare(jobs: list[Job]) -> None:
    """Build here, once, the training sources and evaluation data that `jobs` read, for forked workers to inherit."""
    from ..data import world_count
    from ..finetune.data import training_source

    for job in jobs:
        evaluation_data(job.common, job.limit, job.role)
        if world_count(job.train_data, job.train.pool) is not None:  # built once per process; other data is not kept
            training_source(job.train_data, job.train.pool, job.train.forms)


def run_job(job: Job, threads: int, progress: bool = False) -> EvaluationRow:
    """Train and evaluate one run with `threads` intra-op threads (reusing its stored row while its key matches).

    Args:
        job: the run.
        threads: intra-op threads.
        progress: show the run's progress bars.

    Returns:
        The run's evaluation row.
    """

    def train_and_evaluate() -> EvaluationRow:
        from ..evaluation.suite import evaluate
        from ..finetune.run import fine_tune
        from ..models import load_bundle

        dataset, tasks = evaluation_data(job.common, job.limit, job.role)
        print(f"{job.label} with seed {job.seed}", flush=True)
        fine_tune(job.common.model, job.train_data, ",".join(map(str, job.blocks)), job.folder, cfg=job.train,
                  seed=job.seed, pool=job.train.pool, resume=True, progress=progress, cache=job.cache,
                  evaluation=job.common.data, split=job.common.split)
        return evaluate(load_bundle(str(job.folder)), dataset, seed=job.common.seed, progress=progress, cache=job.cache,
                        tasks=tasks, full=job.full)

    with _threads(threads):
        return keyed_row(job.folder, job.key, train_and_evaluate)


def _ray_runner(threads: int, gpu: bool):
    import ray

    return ray.remote(num_cpus=threads, num_gpus=1 if gpu else 0)(run_job)


def run_jobs(jobs: list[Job], common: Common, progress: bool = True) -> list[EvaluationRow]:
    """Every job's evaluation row, in the jobs' order: stored rows are read, the others run on `common.engine`.

    Args:
        jobs: the study's runs.
        common: the shared settings: `engine` (local or ray), `workers` and `threads` (0: chosen, see `plan_workers`).
        progress: show progress (each run's bars when serial, a bar over runs otherwise).

    Returns:
        The rows.
    """
    import torch

    rows: dict[int, EvaluationRow] = {}
    todo = []
    for i, job in enumerate(jobs):
        done = finished(job.folder, job.key, RUN_MARKER)
        if done:
            rows[i] = build(EvaluationRow, done["row"])
        else:
            todo.append(i)
    workers, threads = plan_workers(common, len(todo)), run_threads(common)
    if todo and common.engine == "ray":
        import ray

        if not ray.is_initialized():
            ray.init(include_dashboard=False, log_to_driver=progress)
        remote = _ray_runner(threads, torch.cuda.is_available())
        pending = {remote.remote(jobs[i], threads): i for i in todo}
        with tqdm(total=len(todo), desc="study runs (ray)", disable=not progress) as bar:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                rows[pending.pop(ready[0])] = ray.get(ready[0])
                bar.update(1)
    elif workers > 1:
        method = _start_method(threads)
        print(f"study: {len(todo)} runs on {workers} worker processes ({method}), {threads} thread(s) each", flush=True)
        if method == "fork":
            _prepare([jobs[i] for i in todo])
        with ProcessPoolExecutor(workers, mp_context=get_context(method)) as pool, \
                tqdm(total=len(todo), desc="study runs", disable=not progress) as bar:
            futures = {pool.submit(run_job, jobs[i], threads): i for i in todo}
            for future in as_completed(futures):
                rows[futures[future]] = future.result()
                bar.update(1)
    else:
        for i in todo:
            rows[i] = run_job(jobs[i], threads, progress)
    return [rows[i] for i in range(len(jobs))]
