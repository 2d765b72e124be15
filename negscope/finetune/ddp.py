"""Data parallelism under `torchrun`: process-group setup and a gradient-carrying all-gather."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_fn


def init_distributed() -> tuple[int, int]:
    """Join the `torchrun` process group if there is one (NCCL on CUDA, gloo on CPU); return (rank, world size)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def local_device() -> torch.device:
    """This process's device: its own GPU under torchrun (`LOCAL_RANK`), else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")


def gather(x: torch.Tensor) -> torch.Tensor:
    """Concatenate every rank's `x` in rank order; gradients flow back to each rank's own rows."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return x
    return torch.cat(dist_fn.all_gather(x))


def barrier() -> None:
    """Wait for every rank (no-op in a single process)."""
    if dist.is_initialized():
        dist.barrier()
