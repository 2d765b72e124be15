"""`negscope finetune`: Omni-NegCLIP fine-tuning of chosen text blocks, resumable, one or many processes."""

from __future__ import annotations

from pathlib import Path

import torch

from ..finetune.data import training_source
from ..finetune.ddp import init_distributed, local_device
from ..finetune.trainer import Trainer, TrainConfig
from ..models import load_bundle
from ..selection import plan_layers


def run_finetune(
    model: str,
    data: str,
    layers: str,
    out: str | Path,
    cfg: TrainConfig | None = None,
    selection: str | Path | None = None,
    resume: bool = False,
    pool: int = 10000,
    progress: bool = True,
) -> dict:
    """Fine-tune `model` on `data`, training the blocks `layers` names; writes `out/` (model) and `out/train.json`."""
    cfg = cfg or TrainConfig()
    init_distributed()
    torch.manual_seed(cfg.seed)
    bundle = load_bundle(model, device=local_device())
    blocks = plan_layers(bundle, layers, selection)
    source = training_source(data, pool=pool)
    trainer = Trainer(bundle, source, blocks, cfg)
    meta = {"model": model, "layers_spec": layers, "selection": str(selection) if selection else None}
    return trainer.fit(out, resume=resume, progress=progress, meta=meta)
