"""`negscope study recipes`: fine-tuning recipes trained alike, and which negation forms each one learns.

Each recipe is a change to the [finetune] settings ('lr=1e-4', 'forms=no', 'lora_rank=8 lr=1e-3'). Every recipe
trains the same blocks (the finetune stage's) for the same steps, once per seed, in `<recipe>/seed_<s>/`, each run
keyed like the layer study's so a rerun redoes only what changed. Every run is evaluated on every negation form,
which makes the trained-form × tested-form matrix: a recipe's held-out accuracy is its mean over the forms it did
not train on.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from ..data.forms import FORMS
from ..io import write_text
from ..reports.document import over_seeds
from ..reports.figures import form_matrix
from ..results import EvaluationRow, RecipeRow, RecipesResult, TrainResult
from ..selection import plan_blocks
from .common import mean_std, open_study, slug
from .config import Common, FinetuneConfig, RecipesConfig, parse_arm

METRICS = ("presence_accuracy", "absence_accuracy", "held_out", "flip_rate", "i2t_r1", "t2i_r1")


def form_scores(row: EvaluationRow) -> dict[str, float]:
    """Each negation form's mean of presence and absence accuracy."""
    return {f: (v["presence"] + v["absence"]) / 2 for f, v in row.form_accuracy.items()}


def _values(row: EvaluationRow, trained: list[str]) -> dict[str, float]:
    forms = form_scores(row)
    held = [v for f, v in forms.items() if f not in trained]
    return {**{m: row.metric(m) for m in METRICS if m != "held_out"}, "held_out": float(np.mean(held)) if held else float("nan")}


def run_recipes(
    common: Common, finetune: FinetuneConfig, cfg: RecipesConfig, out: str | Path,
    selection: str | Path | None = None, progress: bool = True,
) -> RecipesResult:
    """Fine-tune each recipe with the same budget once per seed, evaluate every form, and compare."""
    out = Path(out)
    study = open_study(common, finetune, cfg, out, progress)
    base, seeds = study.baseline, study.seeds
    blocks = [b.index for b in plan_blocks(study.bundle, finetune.blocks, selection)]
    trains = [parse_arm(arm, study.train) for arm in cfg.arms]
    folders = [[out / slug(arm) / f"seed_{seed}" for seed in seeds] for arm in cfg.arms]
    done = iter(study.run_all([study.job(folder, train, blocks, seed, f"recipe study: {arm}")
                               for arm, (_, train), arm_folders in zip(cfg.arms, trains, folders)
                               for folder, seed in zip(arm_folders, seeds)]))
    rows = []
    for arm, (changes, train), arm_folders in zip(cfg.arms, trains, folders):
        runs = [next(done) for _ in seeds]
        chosen = []
        for folder in arm_folders:
            trained = TrainResult.load(TrainResult.path(folder))
            chosen.append(int(trained.chosen["record"]["step"]) if trained.chosen else trained.config["steps"])
        values = [_values(r, train.forms) for r in runs]
        forms = [form_scores(r) for r in runs]
        stats = {m: mean_std([v[m] for v in values]) for m in METRICS}
        form_stats = {f: mean_std([v[f] for v in forms]) for f in FORMS}
        rows.append(RecipeRow(arm, changes, list(train.forms), {m: s[0] for m, s in stats.items()},
                              {m: s[1] for m, s in stats.items()}, {f: s[0] for f, s in form_stats.items()},
                              {f: s[1] for f, s in form_stats.items()}, chosen))
    result = RecipesResult(model=common.model, train_data=study.train_data, eval_data=study.dataset.describe(), images=len(study.dataset),
                           blocks=blocks, train_config=dataclasses.asdict(study.train), seeds=seeds,
                           baseline=_values(base, []), baseline_forms=form_scores(base), rows=rows)
    result.save(out)
    write_text(out / "recipes.md", format_summary(result))
    form_matrix(result, out / "forms.png")
    return result


def format_summary(result: RecipesResult) -> str:
    """The recipe table and the trained × tested form matrix, as Markdown (mean ± std over seeds)."""
    n = len(result.seeds)
    heads = ["presence", "absence", "held-out forms", "'This is not' flips", "i2t R@1", "t2i R@1"]
    b = result.baseline
    lines = [f"| recipe (mean ± std over {n} seeds) | " + " | ".join(heads) + " | chosen steps |",
             "|---" * (len(heads) + 2) + "|",
             "| none (before) | " + " | ".join(f"{b[m]:.3f}" for m in METRICS) + " | |"]
    for r in result.rows:
        cells = " | ".join(over_seeds(r.values[m], r.std[m], r.values[m] - b[m]) for m in METRICS)
        lines.append(f"| {r.arm} | {cells} | {', '.join(map(str, r.chosen_steps))} |")
    forms = list(FORMS)
    lines += ["", ("Trained forms (rows) × tested forms (columns): mean of presence and absence accuracy; "
                   "* marks a form the recipe trained on."), "",
              "| trained on | " + " | ".join(forms) + " |", "|---" * (len(forms) + 1) + "|",
              "| (before) | " + " | ".join(f"{result.baseline_forms[f]:.3f}" for f in forms) + " |"]
    for r in result.rows:
        lines.append(f"| {r.arm} ({'+'.join(r.trained_forms)}) | "
                     + " | ".join(f"{r.forms[f]:.3f}{'*' if f in r.trained_forms else ''}" for f in forms) + " |")
    return "\n".join(lines) + "\n"
