"""The trainer's input pipeline: each step's batch, drawn from (seed, step), prepared by DataLoader workers ahead of
the step that uses it (examples drawn, texts tokenised and, without cached image features, images decoded and
preprocessed)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from ..data.loader import loader_workers
from ..models import ClipBundle
from .data import Source


def draw(source: Source, seed: int, step: int, batch_size: int) -> tuple[np.ndarray, list]:
    """Step `step`'s global batch: image indices and their examples, a pure function of (seed, step)."""
    rng = np.random.default_rng([seed, step])
    n = len(source)
    idx = rng.choice(n, size=batch_size, replace=n < batch_size)
    return idx, [source.example(int(i), rng) for i in idx]


class StepBatches(IterableDataset):
    """The batches of steps `start`, `start + 1`, ... for one rank of `world`: the global image indices, the tokens
    of this rank's texts (every caption, then every presence negation, then every absence negation, as `kinds` lists
    them) and, given `pixels`, `pixels(images)` of this rank's images. Worker w of W prepares steps start + w + kW,
    which the loader returns in step order."""

    def __init__(self, source: Source, bundle: ClipBundle, kinds: list[str], batch_size: int, seed: int, start: int,
                 rank: int = 0, world: int = 1, pixels: Callable[[list[np.ndarray]], Any] | None = None):
        self.source, self.bundle, self.kinds, self.seed, self.start = source, bundle, kinds, seed, start
        self.batch_size, self.rank, self.world, self.pixels = batch_size, rank, world, pixels

    def batch(self, step: int) -> dict[str, Any]:
        """One step's batch for this rank."""
        idx, examples = draw(self.source, self.seed, step, self.batch_size)
        part = self.batch_size // self.world
        mine = slice(self.rank * part, (self.rank + 1) * part)
        texts = [getattr(e, k) for k in self.kinds for e in examples[mine]]
        batch = {"step": step, "index": torch.from_numpy(idx), "tokens": self.bundle.tokenize(texts)}
        if self.pixels is not None:
            batch["pixels"] = self.pixels([self.source.pixels(int(i)) for i in idx[mine]])
        return batch

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        return (self.batch(step) for step in itertools.count(self.start + worker, workers))


def step_loader(batches: StepBatches, steps: int, pin_memory: bool = False) -> Iterator[dict[str, Any]]:
    """The batches in step order, prepared ahead by workers when the run has more than a few steps."""
    workers = loader_workers(steps, 2)
    return iter(DataLoader(batches, batch_size=None, num_workers=workers, pin_memory=pin_memory,
                           prefetch_factor=2 if workers else None))
