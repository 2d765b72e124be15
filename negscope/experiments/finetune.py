"""`negscope finetune`: Omni-NegCLIP fine-tuning of chosen text blocks, resumable, one or many processes."""

from __future__ import annotations

from pathlib import Path

from ..finetune.ddp import init_distributed
from ..finetune.run import fine_tune
from ..reports.figures import training_curve, validation_curve
from ..results import TrainResult
from .common import feature_cache
from .config import Common, FinetuneConfig


def run_finetune(
    common: Common, cfg: FinetuneConfig, out: str | Path, selection: str | Path | None = None, resume: bool = False,
    progress: bool = True,
) -> TrainResult:
    """Fine-tune the model on the training data (default: the training split of the shared data), never on an image
    the evaluation scores, training the blocks `cfg.blocks` names; writes the model, train.json and the curves to
    `out`."""
    result = fine_tune(common.model, cfg.train_data or common.data, cfg.blocks, out, cfg=cfg, seed=common.seed,
                       selection=selection, resume=resume, pool=cfg.pool, progress=progress,
                       cache=feature_cache(common, out), evaluation=common.data, split=common.split)
    rank, _ = init_distributed()
    if rank == 0:
        training_curve(result.history, Path(out) / "training_curve.png", title=f"fine-tuning text blocks {result.blocks}")
        if result.validation:
            validation_curve(result.validation, result.chosen["record"]["step"], Path(out) / "validation_curve.png")
    return result
