"""`negscope finetune`: Omni-NegCLIP fine-tuning of chosen text blocks, resumable, one or many processes."""

from __future__ import annotations

from pathlib import Path

import torch

from ..finetune.data import training_source
from ..finetune.ddp import init_distributed, local_device
from ..finetune.trainer import TrainConfig, Trainer
from ..models import load_bundle
from ..reports.figures import training_curve
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
    summary = trainer.fit(out, resume=resume, progress=progress, meta=meta)
    if trainer.rank == 0:
        training_curve(summary["history"], Path(out) / "training_curve.png", title=f"fine-tuning blocks {blocks}")
    return summary
