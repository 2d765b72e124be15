"""The finetune stage's result: what was trained, how, and the loss curve."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .base import Result


@dataclass
class TrainResult(Result):
    """`train.json`, beside the fine-tuned model: the plan, the settings, the data and every step's record.

    `validation` holds the validation scores (step 0: the model before fine-tuning) and `chosen` the checkpoint kept
    (`finetune.validation.Choice`); both are empty when training held no validation split out.
    """

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
    validation: list[dict[str, float]] = field(default_factory=list)
    chosen: dict[str, Any] | None = None
