"""Torch-free training settings: the Omni-NegCLIP loss weights and schedule, and the world model's pretraining."""

from __future__ import annotations

from dataclasses import dataclass

from ..data.forms import FORMS, TRAIN_FORMS
from ..settings import setting

OBJECTIVES = ("omni", "clip")


def _train_forms() -> list[str]:
    return list(TRAIN_FORMS)


@dataclass(frozen=True)
class LossWeights:
    """The weights and margin of the Omni-NegCLIP objective; the defaults are the reference values."""

    lambda_abs: float = setting(1.0, "weight of the absence objective L_abs in L = L_pres + lambda_abs * L_abs", low=0)
    lambda_orig: float = setting(1.0, "weight of InfoNCE on the original captions inside L_abs", low=0)
    lambda_text: float = setting(1.0, "weight of the caption-vs-absence-caption margin term inside L_abs", low=0)
    margin: float = setting(0.9, "margin m of that term: mean(ReLU(cos(T_i, A_i) + m))")
    lambda_anchor: float = setting(50.0, "weight of the anchor mean(1 - cos(T_i, T0_i)) that keeps positive captions "
                                   "where the model before fine-tuning put them (0: off, the reference objective)", low=0)


@dataclass(frozen=True)
class TrainConfig(LossWeights):
    """Optimiser, schedule and loss settings; the defaults suit the world model on CPU."""

    steps: int = setting(80, "optimisation steps", low=1)
    batch_size: int = setting(32, "images per step, over all processes (contrastive: at least 2)", low=2)
    lr: float = setting(3e-4, "peak learning rate (AdamW)", low=0)
    weight_decay: float = setting(0.2, "AdamW weight decay", low=0)
    warmup: int = setting(10, "linear warm-up steps before the cosine decay", low=0)
    grad_clip: float = setting(1.0, "clip the gradient norm at this value", low=0)
    save_every: int = setting(40, "write a resumable checkpoint every N steps", low=1)
    lora_rank: int = setting(0, "train LoRA adapters of this rank on the chosen blocks instead of their weights, and "
                             "nothing else (0: off; needs peft)", low=0)
    validation: int = setting(300, "training images held out to choose the checkpoint (0: none, keep the last step)",
                              low=0)
    validate_every: int = setting(20, "score the validation split every N steps", low=1)
    retrieval_tolerance: float = setting(0.01, "how far either R@1 may fall below the model's before fine-tuning on the "
                                         "validation split for a checkpoint to be chosen", low=0, high=1)
    patience: int = setting(0, "stop after N validations without a better admissible checkpoint (0: never)", low=0)
    cached_images: bool = setting(True, "encode each training image once before training and train against those "
                                  "features (the image tower is frozen); off: encode each batch's images at every step")
    forms: list[str] = setting(None, "negation forms training draws from; the others stay held out for evaluation",
                               choices=FORMS, factory=_train_forms)
    objective: str = setting("omni", "omni: the Omni-NegCLIP objectives; clip: the plain CLIP loss on the same captions, "
                             "blocks and steps (the same-budget baseline)", choices=OBJECTIVES)
    lr_scale: list[float] = setting(None, "per text block, a factor on the learning rate of that block's weights, "
                                    "one per block of the model (empty: every chosen block at lr; the study's "
                                    "evidence-weighted arm sets it from the analysis)", low=0, factory=list)


@dataclass(frozen=True)
class WorldTrainConfig:
    """Pretraining a shapes-world CLIP (`negscope world train`) on positive captions, a small share of them true
    negations."""

    size: str = setting("world", "model size", choices=("world", "tiny"))
    steps: int = setting(1700, "optimisation steps", low=1)
    batch_size: int = setting(160, "scenes per step", low=2)
    lr: float = setting(1e-3, "peak learning rate (AdamW)", low=0)
    weight_decay: float = setting(0.1, "AdamW weight decay", low=0)
    warmup: int = setting(150, "linear warm-up steps", low=0)
    pool: int = setting(20000, "training scenes", low=2)
    negated_share: float = setting(0.02, "share of the training captions replaced by a true negation of an object the "
                                   "scene lacks, in a form drawn from all the negation forms (web captions hold a few "
                                   "per cent)", low=0, high=1)
    eval_scenes: int = setting(1000, "held-out scenes for the model card's figures", low=1)
    seed: int = setting(0, "seed of the initialisation and the batches")
