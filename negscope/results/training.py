"""The finetune stage's result: what was trained, how, and the loss curve."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .base import Result


@dataclass
class TrainResult(Result):
    """`train.json`, beside the fine-tuned model: the plan, the settings, the data and every step's record."""

    kind = "finetune"
    filename = "train.json"

    model: str
    blocks_spec: str
    selection: str | None
    config: dict[str, Any]
    seed: int
    blocks: list[int]
    trainable: list[str]
    processes: int
    data: str
    train_seconds: float
    threads: int
    final_loss: float
    history: list[dict[str, float]]
