"""Torch-free training settings: the Omni-NegCLIP loss weights and schedule, and the world model's pretraining."""

from __future__ import annotations

from dataclasses import dataclass

from ..settings import setting


@dataclass(frozen=True)
class LossWeights:
    """The weights and margin of the Omni-NegCLIP objective; the defaults are the reference values."""

    lambda_abs: float = setting(1.0, "weight of the absence objective L_abs in L = L_pres + lambda_abs * L_abs", low=0)
    lambda_orig: float = setting(1.0, "weight of InfoNCE on the original captions inside L_abs", low=0)
    lambda_text: float = setting(1.0, "weight of the caption-vs-absence-caption margin term inside L_abs", low=0)
    margin: float = setting(0.9, "margin m of that term: mean(ReLU(cos(T_i, A_i) + m))")


@dataclass(frozen=True)
class TrainConfig(LossWeights):
    """Optimiser, schedule and loss settings; the defaults suit the world model on CPU."""

    steps: int = setting(120, "optimisation steps", low=1)
    batch_size: int = setting(32, "images per step, over all processes (contrastive: at least 2)", low=2)
    lr: float = setting(3e-4, "peak learning rate (AdamW)", low=0)
    weight_decay: float = setting(0.2, "AdamW weight decay", low=0)
    warmup: int = setting(10, "linear warm-up steps before the cosine decay", low=0)
    grad_clip: float = setting(1.0, "clip the gradient norm at this value", low=0)
    save_every: int = setting(40, "write a resumable checkpoint every N steps", low=1)


@dataclass(frozen=True)
class WorldTrainConfig:
    """Pretraining a shapes-world CLIP on positive captions only (`negscope world train`)."""

    size: str = setting("world", "model size", choices=("world", "tiny"))
    steps: int = setting(2000, "optimisation steps", low=1)
    batch_size: int = setting(160, "scenes per step", low=2)
    lr: float = setting(7e-4, "peak learning rate (AdamW)", low=0)
    weight_decay: float = setting(0.1, "AdamW weight decay", low=0)
    warmup: int = setting(150, "linear warm-up steps", low=0)
    pool: int = setting(20000, "training scenes", low=2)
    eval_scenes: int = setting(1000, "held-out scenes for the model card's figures", low=1)
    seed: int = setting(0, "seed of the initialisation and the batches")
