"""`negscope finetune`: Omni-NegCLIP fine-tuning of chosen text blocks, resumable, one or many processes."""

from __future__ import annotations

from pathlib import Path

import torch

from ..finetune.data import training_source
from ..finetune.ddp import init_distributed, local_device
from ..finetune.trainer import TrainConfig, Trainer
from ..models import load_bundle
from ..reports.figures import training_curve
from ..selection import plan_blocks


def run_finetune(
    model: str,
    data: str,
    blocks: str,
    out: str | Path,
    cfg: TrainConfig | None = None,
    selection: str | Path | None = None,
    resume: bool = False,
    pool: int = 10000,
    progress: bool = True,
) -> dict:
    """Fine-tune `model` on `data`, training the text blocks the spec `blocks` names (see `plan_blocks`); writes `out/` (model) and `out/train.json`."""
    cfg = cfg or TrainConfig()
    init_distributed()
    torch.manual_seed(cfg.seed)
    bundle = load_bundle(model, device=local_device())
    plan = plan_blocks(bundle, blocks, selection)
    source = training_source(data, pool=pool)
    trainer = Trainer(bundle, source, plan, cfg)
    meta = {"model": model, "blocks_spec": blocks, "selection": str(selection) if selection else None}
    summary = trainer.fit(out, resume=resume, progress=progress, meta=meta)
    if trainer.rank == 0:
        training_curve(summary["history"], Path(out) / "training_curve.png", title=f"fine-tuning text blocks {summary['blocks']}")
    return summary
