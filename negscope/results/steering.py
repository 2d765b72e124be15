"""The steer stage's result: the negation directions' fit, every candidate's validation scores and the steering kept."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .base import Result


@dataclass
class SteerResult(Result):
    """`steer.json`: directions fitted on `data` (analysis captions), candidates scored on `validation` (held out of the
    training images), and the one kept (`chosen`: source, mode, sites, strength) with whether it kept R@1 within the
    tolerance and why. `records[0]` is the model unsteered. `spec` is the steered model's folder (a `--model` for
    every stage), `both` the same steering on the fine-tuned model, where there was one; `values`: the numbers the
    steering adds to the model (no weight changes)."""

    kind = "steer"
    filename = "steer.json"
    schema = 1

    model: str
    data: str
    captions: int
    validation: str
    validation_images: int
    tolerance: float
    chosen: dict[str, Any]
    admissible: bool
    note: str
    records: list[dict[str, Any]]
    values: int
    spec: str
    both: str | None = None
    seconds: float = 0.0
    sites: list[str] = field(default_factory=list)
