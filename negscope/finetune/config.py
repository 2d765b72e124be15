"""Training settings that need no torch to build, so command lines and run configs can make them cheaply."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class WorldTrainConfig:
    """Settings for `negscope world train`."""

    out: str
    size: str = "world"
    steps: int = 2000
    batch_size: int = 160
    lr: float = 7e-4
    weight_decay: float = 0.1
    warmup: int = 150
    pool: int = 20000
    eval_scenes: int = 1000
    seed: int = 0
