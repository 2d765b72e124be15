"""`negscope steer`: a training-free fix. Negation directions are fitted per site on analysis captions (a probe's and
LEACE's); one site, source, mode and strength is chosen on fine-tuning's validation split; the steered model is
written as a folder every stage takes as `--model` (hooks on the base model, no weight changed)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from ..finetune.data import training_source
from ..finetune.run import validation_split
from ..finetune.validation import Validator
from ..models import load_bundle
from ..probes import negated_task
from ..results import SteerResult
from ..steering import candidates, fit_directions, search, steering_for
from .common import common_dataset, feature_cache
from .config import Common, FinetuneConfig, SteerConfig


def _spec(model: str) -> str:
    """`model` as a steered folder records its base: a folder by its absolute path, anything else as written."""
    path = Path(model).expanduser()
    return str(path.resolve()) if path.is_dir() else model


def run_steer(common: Common, cfg: SteerConfig, train: FinetuneConfig, out: str | Path,
              finetuned: str | Path | None = None, progress: bool = True) -> SteerResult:
    """Fit the directions, choose the steering on the validation split and write the steered model.

    Args:
        common: the shared settings (model, data and split, seed).
        cfg: the analysis images and the candidate sites.
        train: fine-tuning's settings, whose validation split, forms and retrieval tolerance steering is chosen by.
        out: the output folder: steer.json, the steered model in `model/` and, with `finetuned`, `both/`.
        finetuned: a fine-tuned model folder to write the same steering on, in `both/`.
        progress: show progress bars.

    Returns:
        The `SteerResult`.
    """
    start, out = time.time(), Path(out)
    bundle = load_bundle(common.model)
    analysis = common_dataset(common, cfg.limit, role="analysis")
    task = negated_task(analysis, seed=common.seed)
    sites = ([s.name for s in bundle.sites] if cfg.sites == "all"
             else [bundle.site(s.strip()).name for s in cfg.sites.split(",")])
    directions = fit_directions(bundle, task.texts, task.labels, task.groups, sites, seed=common.seed)
    source = training_source(train.train_data or common.data, pool=train.pool, forms=train.forms,
                             evaluation=common.data, split=common.split)
    validation = validation_split(source, train)
    if validation is None:
        raise ValueError("steering chooses its site and strength on fine-tuning's validation split, and there is none; "
                         "set [finetune] validation (--validation) to 2 or more images")
    validator = Validator(bundle, validation, train.forms, seed=common.seed, cache=feature_cache(common, out))
    choice = search(bundle, validator, directions, candidates(sites), train.retrieval_tolerance, progress)
    steering = steering_for(_spec(common.model), directions, choice.chosen)
    spec = steering.save(out / "model")
    both = dataclasses.replace(steering, base=_spec(str(finetuned))).save(out / "both") if finetuned else None
    result = SteerResult(
        model=common.model, data=analysis.describe(), captions=len(task.texts), validation=validation.name,
        validation_images=len(validation), tolerance=train.retrieval_tolerance,
        chosen={k: choice.chosen[k] for k in ("source", "mode", "sites", "strength")}, admissible=choice.admissible,
        note=choice.note, records=choice.records, values=steering.values, spec=str(spec),
        both=None if both is None else str(both), seconds=round(time.time() - start, 1), sites=sites)
    result.save(out)
    return result


def format_summary(result: SteerResult) -> str:
    """The steering kept and its validation scores against the unsteered model's."""
    before = result.records[0]
    kept = next(r for r in result.records[1:] if all(r[k] == v for k, v in result.chosen.items()))
    return "\n".join([
        f"kept: {result.note}",
        (f"validation ({result.validation_images} images): negation accuracy {before['negation']:.3f} -> "
        f"{kept['negation']:.3f}, i2t R@1 {before['i2t_r1']:.3f} -> {kept['i2t_r1']:.3f}, t2i R@1 "
        f"{before['t2i_r1']:.3f} -> {kept['t2i_r1']:.3f}"),
        f"steered model: {result.spec} ({result.values} steering numbers, no weight changed)"
        + (f"; on the fine-tuned model: {result.both}" if result.both else ""),
    ])
