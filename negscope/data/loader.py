"""Images decoded in DataLoader workers, a batch at a time, so a pass over a dataset never holds all its pixels."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.utils.data import BatchSampler, DataLoader, SequentialSampler

from .records import ImageRecord

MAX_WORKERS = 4


def loader_workers(images: int, batch_size: int) -> int:
    """Worker processes for a pass over `images`: none for a pass of two batches or fewer (starting workers costs
    more) or in a process that is itself a worker (a study run beside others: the cores are taken, and a spawned
    process could only hand its data to workers by pickling it), else one per core but one, at most `MAX_WORKERS`."""
    if images <= 2 * batch_size or multiprocessing.parent_process() is not None:
        return 0
    return max(1, min(MAX_WORKERS, (os.cpu_count() or 2) - 1))


class _Batches(torch.utils.data.Dataset):
    """`transform` of the pixels of a list of records, fetched by a list of indices."""

    def __init__(self, records: Sequence[ImageRecord], transform: Callable[[list], Any]):
        self.records, self.transform = records, transform

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, indices: list[int]) -> Any:
        return self.transform([self.records[i].load_pixels() for i in indices])


def image_batches(records: Sequence[ImageRecord], transform: Callable[[list], Any], batch_size: int,
                  pin_memory: bool = False, workers: int | None = None) -> DataLoader:
    """Batches of `transform(pixels)` over `records` in order, decoded ahead by `workers` processes (default:
    `loader_workers`), in pinned memory when `pin_memory`."""
    sampler = BatchSampler(SequentialSampler(range(len(records))), batch_size, drop_last=False)
    workers = loader_workers(len(records), batch_size) if workers is None else workers
    return DataLoader(_Batches(records, transform), sampler=sampler, batch_size=None, num_workers=workers,
                      pin_memory=pin_memory, prefetch_factor=2 if workers else None)
