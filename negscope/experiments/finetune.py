"""`negscope finetune`: Omni-NegCLIP fine-tuning of chosen text blocks, resumable, one or many processes."""

from __future__ import annotations

from pathlib import Path

from ..finetune.ddp import init_distributed
from ..finetune.run import fine_tune
from ..finetune.trainer import TrainConfig
from ..reports.figures import training_curve


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
    """Fine-tune `model` on `data`, training the text blocks the spec `blocks` names; writes `out/` (model), `out/train.json` and the curve."""
    summary = fine_tune(model, data, blocks, out, cfg=cfg, selection=selection, resume=resume, pool=pool, progress=progress)
    rank, _ = init_distributed()
    if rank == 0:
        training_curve(summary["history"], Path(out) / "training_curve.png", title=f"fine-tuning text blocks {summary['blocks']}")
    return summary
