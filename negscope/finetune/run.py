"""One fine-tuning run end to end: load the model on this process's device, plan the blocks, train, save."""

from __future__ import annotations

from pathlib import Path

import torch

from ..data import Dataset
from ..models import load_bundle
from ..results.training import TrainResult
from ..selection import plan_blocks
from .config import TrainConfig
from .data import Source, training_source
from .ddp import init_distributed, local_device
from .trainer import Trainer

VALIDATION_SHARE = 5


def validation_split(source: Source, cfg: TrainConfig) -> Dataset | None:
    """Hold `cfg.validation` images (at most 1 in `VALIDATION_SHARE`) out of `source` as the validation split that
    chooses fine-tuning's checkpoint and steering's sites and strength; None where there is none (printing why).

    Args:
        source: the training source (its copy: holding out changes it).
        cfg: the training settings (`validation`).

    Returns:
        The validation split, or None.
    """
    if not cfg.validation:
        return None
    if not source.scorable:
        print(f"fine-tuning: {source.name} brings absence negations without absence_false, which a validation split "
              "cannot score, so none is held out; the last step is kept")
        return None
    size = min(cfg.validation, source.image_count // VALIDATION_SHARE)
    if size < cfg.validation:
        print(f"fine-tuning: {source.name} has {source.image_count} images to train on, so {size} (not "
              f"{cfg.validation}) are held out for validation, at most 1 in {VALIDATION_SHARE}")
    return source.hold_out(size) if size >= 2 else None


def fine_tune(
    model_spec: str,
    data: str,
    blocks_spec: str,
    out: str | Path,
    cfg: TrainConfig | None = None,
    seed: int = 0,
    selection: str | Path | None = None,
    resume: bool = False,
    pool: int = 10000,
    progress: bool = True,
    cache: str | Path | None = None,
    evaluation: str | None = None,
    split: str | None = None,
) -> TrainResult:
    """Fine-tune the text blocks `blocks_spec` names of `model_spec` on `data`, never on an image of the evaluated data
    `evaluation` (with its COCO `split`; see `data.training_source`); writes the model and train.json to `out`."""
    cfg = cfg or TrainConfig()
    init_distributed()
    torch.manual_seed(seed)
    bundle = load_bundle(model_spec, device=local_device())
    blocks = plan_blocks(bundle, blocks_spec, selection)
    source = training_source(data, pool=pool, forms=cfg.forms, evaluation=evaluation, split=split)
    if source.skipped:
        print(f"fine-tuning: {source.skipped} images of {source.name} are left out: {source.skip_reason}")
    validation = validation_split(source, cfg)
    trainer = Trainer(bundle, source, blocks, cfg, seed=seed, validation=validation, cache=cache)
    return trainer.fit(out, resume=resume, progress=progress, model=model_spec, blocks_spec=blocks_spec,
                       selection=str(selection) if selection else None)
