"""The report's sections on fine-tuning: the training run, before against after, and the layer and recipe studies."""

from __future__ import annotations

import math
from pathlib import Path

from ..data.forms import FORMS, GIVEN, TRAIN_FORMS
from ..results import EvaluationResult, EvaluationRow, LocalisationResult, PairedChange, RecipesResult, TrainResult
from .document import Doc, StageOutput, caption_from_name, fmt, mean_of, open_section, over_seeds, pct, with_ci


def training(doc: Doc, out: StageOutput) -> None:
    """Fine-tuning settings, the loss summary, the curves, a sample of the training log and the checkpoint choice."""
    res = open_section(doc, "Fine-tuning", out)
    if res is None:
        return
    c, hist = res.config, res.history
    lora = f" through LoRA adapters of rank {c['lora_rank']}" if c.get("lora_rank", 0) > 0 else ""
    forms = f" (negation forms {', '.join(f'`{f}`' for f in c['forms'])})" if c.get("forms") else ""
    anchor = (f", λ_anchor {fmt(c['lambda_anchor'])} (an anchor term that keeps positive captions where the model "
              f"before fine-tuning put them)" if c.get("lambda_anchor", 0) > 0 else "")
    doc.para(
        f"Text blocks {', '.join(map(str, res.blocks))} (`--blocks {res.blocks_spec}`) of `{res.model}` "
        f"were trained{lora} with the Omni-NegCLIP loss on `{res.data}`{forms}: {c['steps']} steps of batch "
        f"{c['batch_size']}, lr {fmt(c['lr'])}, weight decay {fmt(c['weight_decay'])}, {c['warmup']} warmup steps, "
        f"margin {fmt(c['margin'])}, λ_abs {fmt(c['lambda_abs'])}{anchor}; {len(res.trainable)} parameter tensors "
        f"trainable, "
        f"{res.processes} {'process' if res.processes == 1 else 'processes'}, "
        f"{fmt(res.train_seconds)} s of training. The loss went from {fmt(hist[0]['loss'])} (step 1) to "
        f"{fmt(res.final_loss)} (mean of the last 20 steps)."
    )
    doc.figures(out.folder, "training_curve.png", lambda p: (
        "Fine-tuning loss per step (grey), its moving average (black) and each loss term's moving average."))
    picks = sorted({round(i * (len(hist) - 1) / 9) for i in range(10)}) if hist else []
    cols = [k for k in ("step", "loss", "presence", "absence", "lr", "grad_norm") if hist and k in hist[0]]
    doc.table(cols, [[hist[i][k] for k in cols] for i in picks])
    if res.validation:
        _validation(doc, out, res)
    doc.figures(out.folder, "*.png", lambda p: f"Training: {caption_from_name(p)}.")


def _validation(doc: Doc, out: StageOutput, res: TrainResult) -> None:
    """The validation split, the checkpoint rule and choice, the validation scores and their curve."""
    c, chosen = res.config, res.chosen
    every = f" every {c['validate_every']} steps" if c.get("validate_every") else ""
    tolerance = c.get("retrieval_tolerance", 0.0)
    patience = (f" Training stopped early once {c['patience']} validations in a row had not bettered the choice."
                if c.get("patience") else "")
    if chosen is None:
        choice = "No checkpoint was chosen; the model is the last step's."
    elif chosen["admissible"]:
        choice = f"Chosen: {chosen['note']}; the saved model holds that checkpoint's weights."
    else:
        choice = (f"No checkpoint kept retrieval; {chosen['note']}. The saved model holds that checkpoint's weights, so "
                  f"its retrieval is below the model's before fine-tuning.")
    doc.para(
        f"Up to {c.get('validation', '?')} training images (at most one in five) were held out of training as a "
        f"validation split, never the evaluation images, and scored{every} (step 0: the model before fine-tuning): "
        f"presence and absence accuracy in the trained negation forms, their mean (negation accuracy), and R@1 both "
        f"ways. The rule: keep the checkpoint with the best validation negation accuracy among those whose "
        f"image-to-text and text-to-image R@1 both fell by at most {tolerance:g} below step 0; when none did, the best "
        f"validation negation accuracy all the same, flagged.{patience} {choice}"
    )
    step = int(chosen["record"]["step"]) if chosen else None

    def label(s: float) -> str:
        s = int(s)
        return f"{s}{' (before)' if s == 0 else ''}{' ← chosen' if s == step else ''}"

    doc.table(["step", "negation", "presence", "absence", "i2t R@1", "t2i R@1"],
              [[label(v["step"]), v.get("negation"), v.get("presence"), v.get("absence"), v.get("i2t_r1"), v.get("t2i_r1")]
               for v in res.validation])
    doc.figures(out.folder, "validation_curve.png", lambda p: (
        "Validation negation accuracy and R@1 both ways per step (dotted: before fine-tuning); the dashed line marks "
        "the chosen checkpoint."))


EVAL_COLUMNS = ["presence_accuracy", "absence_accuracy", "mcq_accuracy"]
RETRIEVAL_COLUMNS = ["i2t_r1", "i2t_r5", "i2t_r10", "t2i_r1", "t2i_r5", "t2i_r10"]


def recall_name(key: str) -> str:
    """`i2t_r1` as `i2t R@1`."""
    direction, k = key.split("_r")
    return f"{direction} R@{k}"


def change_cell(change: PairedChange | None, before: float | None, after: float | None) -> str | None:
    """"+0.050 [+0.020, +0.080], real": a change with its paired interval and whether that excludes 0; the plain
    difference when the result holds no paired change; None when a side is missing."""
    if change is None:
        return None if before is None or after is None else f"{after - before:+.3f}"
    return (f"{change.change:+.3f} [{change.ci_low:+.3f}, {change.ci_high:+.3f}], "
            + ("real" if change.real else "within noise"))


def steering(doc: Doc, out: StageOutput) -> None:
    """The steering kept, how it was chosen on the validation split, and the best candidates."""
    res = open_section(doc, "A fix without training: steering a negation direction", out)
    if res is None:
        return
    c = res.chosen
    doc.para(
        f"Negation directions were fitted per site on {res.captions} captions of `{res.data}` (a probe's weight vector, "
        f"and the component LEACE's eraser removes), and candidates scored on `{res.validation}` "
        f"({res.validation_images} images held out of the training images, the split that chooses fine-tuning's "
        f"checkpoint). Kept: {res.note}. The steered model (`{Path(res.spec).name}`: {res.values:,} numbers, no weight "
        f"changed) moves the states of each caption's negated tokens, from its first negator through its pooled "
        f"token, at {', '.join(c['sites'])}; `add` adds strength × the gap between negated and positive captions "
        "along the direction, `project` rescales LEACE's component by the strength (0 erases it)."
    )
    before = res.records[0]
    best = sorted(res.records[1:], key=lambda r: -r["negation"])[:10]
    doc.table(["source", "mode", "site", "strength", "negation", "presence", "absence", "i2t R@1", "t2i R@1"],
              [["unsteered", "", "", "", before["negation"], before.get("presence"), before.get("absence"),
                before["i2t_r1"], before["t2i_r1"]]]
              + [[r["source"], r["mode"], ", ".join(r["sites"]), r["strength"], r["negation"], r.get("presence"),
                  r.get("absence"), r["i2t_r1"], r["t2i_r1"]] for r in best])


def evaluation(doc: Doc, out: StageOutput) -> None:
    """The before-and-after evaluation table, retrieval with intervals, every negation form, and the change made."""
    res = open_section(doc, "Before and after fine-tuning", out)
    if res is None:
        return
    rows = res.rows
    labels = [_label(doc.root, r.model) for r in rows]
    if len(rows) == 2:
        labels = [f"before: {labels[0]}", f"after: {labels[1]}"]
    doc.para(f"Evaluated on `{res.data}` ({rows[0].images if rows else 0} images, seed {res.seed}).")
    table = [[label, *(r.metric(c) for c in EVAL_COLUMNS), r.flips] for label, r in zip(labels, rows)]
    if len(rows) >= 2:
        before, after = rows[0], res.tuned()

        def moved(key: str) -> str:
            if key in RETRIEVAL_COLUMNS and not (key in before.retrieval and key in after.retrieval):
                return "–"
            b, a = before.metric(key), after.metric(key)
            return (f"from {with_ci(b, before.interval(key))} to {with_ci(a, after.interval(key))} "
                    f"({change_cell(after.changes.get(key), b, a)})")

        doc.para(f"Fine-tuning moved presence accuracy {moved('presence_accuracy')}, absence accuracy "
                 f"{moved('absence_accuracy')} and MCQ accuracy {moved('mcq_accuracy')} (chance 0.250); image-to-text "
                 f"R@1 went {moved('i2t_r1')} and text-to-image R@1 {moved('t2i_r1')}. Each model's 95% interval over "
                 f"images is in brackets; "
                 + ("each change comes with the paired 95% interval of after − before over the same images, and is real "
                    "only when that interval excludes 0." if after.changes else
                    "this result holds no paired intervals of the changes, so none is called real (rerun evaluate)."))
        table.append(["after − before", *(change_cell(after.changes.get(c), before.metric(c), after.metric(c))
                                          for c in EVAL_COLUMNS), f"{after.flips - before.flips:+d}"])
    doc.table(["model", *EVAL_COLUMNS, "flips"], table)
    _retrieval(doc, labels, res)
    _choice(doc, res)
    types_ = sorted({t for r in rows for t in r.mcq_by_type})
    if types_:
        ties = ", ".join(f"{label} {pct(r.mcq_ties)}" for label, r in zip(labels, rows) if not math.isnan(r.mcq_ties))
        doc.para("MCQ accuracy by the type of the correct answer" + (
            f". Questions whose best score several options share, each broken at random (a model that cannot tell the "
            f"options apart ties on all, and scores chance): {ties}." if ties else ":"))
        doc.table(["model", *types_], [[label, *(r.mcq_by_type.get(t) for t in types_)] for label, r in zip(labels, rows)])

    def cell(acc: dict[str, float], pairs: dict[str, int], key: str) -> str | None:
        return f"{acc[key]:.3f} ({pairs[key]})" if key in acc else None

    split = [(label, r) for label, r in zip(labels, rows) if r.absence_by_objects]
    if split:
        doc.para("Presence and absence accuracy by the number of object categories in the image (one draw per "
                 "caption, pairs in brackets) and over every (caption, object) pair (absent ones capped per caption):")
    for label, r in split:
        doc.table(
            [f"{label}: objects", "presence", "absence"],
            [[k, cell(r.presence_by_objects, r.presence_pairs_by_objects, k),
              cell(r.absence_by_objects, r.absence_pairs_by_objects, k)]
             for k in sorted(r.presence_by_objects | r.absence_by_objects, key=int)]
            + [["all, one draw", f"{r.presence_accuracy:.3f} ({sum(r.presence_pairs_by_objects.values())})",
                f"{r.absence_accuracy:.3f} ({sum(r.absence_pairs_by_objects.values())})"],
               ["all, every pair", r.presence_all_pairs, r.absence_all_pairs]],
        )
    _forms(doc, labels, rows)
    doc.figures(out.folder, "*.png", lambda p: f"Evaluation: {caption_from_name(p)}.")


def _retrieval(doc: Doc, labels: list[str], res: EvaluationResult) -> None:
    """Recall at 1, 5 and 10 both ways, with 95% intervals where the result holds them, and the change made."""
    rows = res.rows
    keys = [k for k in RETRIEVAL_COLUMNS if any(k in r.retrieval for r in rows)]
    if not keys:
        return
    ci = any(r.retrieval_ci for r in rows)
    doc.para("Retrieval over the evaluation captions, image-to-text (i2t) and text-to-image (t2i)"
             + (", with 95% bootstrap intervals over images in brackets:" if ci else ":"))
    table = [[label, *(with_ci(r.retrieval.get(k), r.retrieval_ci.get(k)) for k in keys)] for label, r in zip(labels, rows)]
    if len(rows) >= 2:
        before, after = rows[0], res.tuned()
        table.append(["after − before", *(change_cell(after.changes.get(k), before.retrieval.get(k), after.retrieval.get(k))
                                          for k in keys)])
    doc.table(["model", *(recall_name(k) for k in keys)], table)


MCQ_TYPE_KEYS = ("mcq_affirmation", "mcq_negation", "mcq_hybrid")
CHOICE_COLUMNS = ["presence_accuracy", "absence_accuracy", "mcq_accuracy", "mcq_affirmation", "mcq_negation",
                  "mcq_hybrid", "i2t_r1", "t2i_r1", "flip_rate", "held_out_forms", "both_negated_accuracy"]


def _choice(doc: Doc, res: EvaluationResult) -> None:
    """With a steered model among the rows: every fix side by side, each metric with its paired change against the
    model before, the weights changed, the numbers steering adds and the time to encode 1,000 captions."""
    rows = res.rows
    if not any(r.label == "steered" for r in rows):
        return
    doc.para(
        "Which fix to use: the model before, steered (no weight changed; `steer` stage), fine-tuned, and both (the same "
        "steering on the fine-tuned model). Each cell is the metric, then its change against the model before with "
        "the paired 95% interval over the same images; * marks a change whose interval excludes 0. The flip rate is "
        "better lower; `both negated` is the shortcut control (0.5 for a model that only marks down negators). The "
        "last columns: weights that differ from the model before, numbers the steering adds, and seconds to encode "
        "1,000 evaluation captions on this machine."
    )

    def cell(row: EvaluationRow, key: str) -> str | None:
        value = row.mcq_by_type.get(key[4:]) if key in MCQ_TYPE_KEYS else row.metric(key)
        if value is None or math.isnan(value):
            return None
        c = row.changes.get(key)
        return f"{value:.3f}" if c is None else f"{value:.3f} ({c.change:+.3f} [{c.ci_low:+.3f}, {c.ci_high:+.3f}]{'*' if c.real else ''})"

    names = [k.replace("_accuracy", "").replace("_", " ") for k in CHOICE_COLUMNS]
    doc.table(["model", *names, "weights changed", "steering numbers", "s / 1,000 captions"],
              [[r.label or r.model, *(cell(r, k) for k in CHOICE_COLUMNS),
                "–" if r.weights_changed is None else f"{r.weights_changed:,}", f"{r.steering_values:,}",
                f"{r.seconds_per_1000_captions:.2f}"] for r in rows])



def trained_forms(finetune: TrainResult | None) -> tuple[list[str], bool]:
    """The negation forms the fine-tune trained on, from its result; else the defaults, and False."""
    if finetune is not None and finetune.config.get("forms"):
        return list(finetune.config["forms"]), True
    return list(TRAIN_FORMS), False


def _forms(doc: Doc, labels: list[str], rows: list[EvaluationRow]) -> None:
    """Presence and absence accuracy per negation form and model, the forms trained on marked."""
    names = {f for r in rows for f in r.form_accuracy}
    if not names:
        return
    forms = [f for f in FORMS if f in names] + sorted(names - set(FORMS))
    stage = doc.stages.get("finetune")
    trained, known = trained_forms(stage.result if stage is not None else None)
    doc.para(
        "Negation forms. Object forms negate one object: \"no X\" in place of its mention, or a clause (\"without a "
        "X\", \"a X is missing\") whose affirmative twin (\"with a X\", \"a X is there\") makes a minimal pair. "
        "Sentence forms wrap a whole caption c: \"This is not c\", \"Not c\", \"There is absolutely no c\", \"It is "
        "not true that c\". Each form gives two pairs per caption, on the same drawn objects for every form: the "
        "presence pair sets the true text against the same text negating an object that is in the image; the absence "
        "pair sets the true text negating an absent object against the same text affirming it. Accuracy is the share "
        "of pairs where the true text scores higher; chance is 0.5. "
        + (f"The fine-tune trained on {', '.join(f'`{f}`' for f in trained)} (its `train.json`); the other forms "
           f"were held out of training and test whether what it learnt generalises."
           if known else
           f"The fine-tuning result names no forms, so the table marks the default training forms "
           f"({', '.join(f'`{f}`' for f in trained)}) as trained on; the Fine-tuning section lists the forms it used.")
    )
    short = ["before", "after"] if len(rows) == 2 else labels
    header = ["form", "example", *(f"{m} {side}" for m in short for side in ("presence", "absence")), "trained on"]
    table = [[f, FORMS[f].example if f in FORMS else None,
              *(r.form_accuracy.get(f, {}).get(side) for r in rows for side in ("presence", "absence")),
              "the data's own" if f == GIVEN else "yes" if f in trained else "no (held out)"] for f in forms]
    for title, group in (("trained forms (mean)", [f for f in forms if f in trained]),
                         ("held-out forms (mean)", [f for f in forms if f not in trained])):
        if group:
            table.append([title, None, *(mean_of([r.form_accuracy[f][side] for f in group if side in r.form_accuracy.get(f, {})])
                                         for r in rows for side in ("presence", "absence")), None])
    doc.table(header, table)


def layer_study(doc: Doc, out: StageOutput) -> None:
    """The layer study: block sets trained alike over seeds, the rank correlation and the front-vs-back test."""
    res = open_section(doc, "Layer study: which blocks are worth fine-tuning?", out)
    if res is None:
        return
    c, b = res.train_config, res.baseline
    metrics = list(b)
    doc.para(
        f"Each block set of `{res.model}` was fine-tuned with the same budget ({c['steps']} steps of batch "
        f"{c['batch_size']}, lr {fmt(c['lr'])}) once per training seed ({len(res.seeds)} seeds: "
        f"{', '.join(map(str, res.seeds))}) on `{res.train_data}` and evaluated on {res.images} images of "
        f"`{res.eval_data}`. Cells are mean ± std over seeds, with the mean gain against the model before fine-tuning "
        f"in parentheses; analysis coverage is the share of the selection's combined evidence score that a set's "
        f"blocks hold."
    )
    doc.table(
        ["trained blocks", *(f"{m} (gain)" for m in metrics), "negation gain", "analysis coverage"],
        [["none (before)", *(b[m] for m in metrics), None, None]]
        + [[r.label,
            *(over_seeds(r.values[m], r.std[m], r.gains[m]) for m in metrics),
            f"{r.negation_gain:+.3f} ± {r.negation_gain_std:.3f}", r.analysis_coverage] for r in res.rows],
    )
    if res.rows:
        best = max(res.rows, key=lambda r: r.negation_gain)
        doc.para(f"The largest mean presence/absence gain, {best.negation_gain:+.3f} ± {best.negation_gain_std:.3f}, "
                 f"came from the `{best.set}` set (blocks {', '.join(map(str, best.blocks))}).")
    corr = res.rank_correlation
    if corr:
        doc.para(f"Spearman rank correlation ({corr.between}): ρ = {corr.spearman_rho:.2f} (p = {corr.p_value:.2f}, "
                 f"n = {corr.n}).")
    doc.para(res.front_back.sentence())
    if res.against_chance:
        doc.para(res.against_chance.sentence())
    doc.figures(out.folder, "*.png", lambda p: "Layer study: gains per trained block set.")


def localisation(doc: Doc, out: StageOutput) -> None:
    """Patching and erasure after fine-tuning: per block, the change from before, and whether it sits in the trained
    blocks."""
    res: LocalisationResult | None = open_section(doc, "Localisation after fine-tuning: where did the negation signal move?", out)
    if res is None:
        return
    doc.para(f"Patching and erasure were measured on `{res.model}` before and after fine-tuning (`{res.tuned}`), on the "
             f"same {res.images} analysis images of `{res.data}`, which evaluation never scores. A block's gain is the "
             "rise of the measure across it; the change is after − before, with its 95% interval over images (both "
             f"models resampled alike). Fine-tuned blocks: {', '.join(map(str, res.trained_blocks))} (marked †).")
    changes = [res.patching, res.erasure]
    doc.table(["block", "patching: before → after", "erasure: before → after", "patching change [95% CI]",
               "erasure change [95% CI]"],
              [[f"{k}{' †' if k in res.trained_blocks else ''}",
                *(f"{c.before[k]:+.3f} → {c.after[k]:+.3f}" for c in changes),
                *(f"{c.change[k]:+.3f} [{c.ci_low[k]:+.3f}, {c.ci_high[k]:+.3f}]{' *' if c.certain[k] else ''}"
                  for c in changes)] for k in range(len(res.patching.change))])
    for c in changes:
        doc.para(c.sentence(res.trained_blocks))
    doc.figures(out.folder, "*.png", lambda p: "Per block, the change of each measure after fine-tuning; shaded blocks "
                                               "were fine-tuned.")


RECIPE_METRICS = {"presence_accuracy": "presence", "absence_accuracy": "absence", "held_out": "held-out forms",
                  "flip_rate": "'This is not' flips", "i2t_r1": "i2t R@1", "t2i_r1": "t2i R@1"}


def recipes(doc: Doc, out: StageOutput) -> None:
    """The recipe study: each recipe's metrics against the model before, and the trained × tested form matrix."""
    res: RecipesResult | None = open_section(doc, "Recipe study: what keeps retrieval, and which negation forms generalise", out)
    if res is None:
        return
    c, b = res.train_config, res.baseline
    metrics = list(b)
    doc.para(
        f"Each recipe is a change to the finetune settings (`lr=1e-4`, `forms=no`, `lora_rank=8`, ...). Every recipe "
        f"trained text blocks {', '.join(map(str, res.blocks))} of `{res.model}` on `{res.train_data}` for the same "
        f"{c.get('steps', '?')} steps of batch {c.get('batch_size', '?')}, once per seed ({len(res.seeds)} seeds: "
        f"{', '.join(map(str, res.seeds))}), and was evaluated on {res.images} images of `{res.eval_data}`. Cells are "
        f"mean ± std over seeds, with the change against the model before fine-tuning in brackets. `held_out` is the "
        f"mean accuracy (of presence and absence) over the negation forms the recipe did not train on (for the model "
        f"before, over every form); `flip_rate` is the share of captions where \"This is not ⟨caption⟩\" scores at "
        f"least as high as the caption itself (lower is better). The chosen steps are the checkpoints each seed kept "
        f"on its validation split (the last step when none was held out)."
    )
    doc.table(
        [f"recipe (mean ± std over {len(res.seeds)} seeds)", *(RECIPE_METRICS.get(m, m) for m in metrics), "chosen steps"],
        [["none (before)", *(b[m] for m in metrics), None]]
        + [[r.arm, *(over_seeds(r.values[m], r.std[m], r.values[m] - b[m]) if m in r.values else None
                     for m in metrics), ", ".join(map(str, r.chosen_steps))] for r in res.rows],
    )
    held = [r for r in res.rows if r.values.get("held_out") == r.values.get("held_out")]  # NaN: trained on every form
    if held and "held_out" in b:
        best = max(held, key=lambda r: r.values["held_out"])
        recall = "; ".join(f"{RECIPE_METRICS[k]} {best.values[k] - b[k]:+.3f}" for k in ("i2t_r1", "t2i_r1")
                           if k in best.values and k in b)
        cell = over_seeds(best.values["held_out"], best.std["held_out"], best.values["held_out"] - b["held_out"])
        doc.para(f"The best held-out accuracy, {cell}, came from `{best.arm}`"
                 + (f" (retrieval change: {recall})." if recall else "."))
    forms = list(res.baseline_forms)
    doc.para("Trained forms (rows) × tested forms (columns): the mean of presence and absence accuracy per form "
             "(chance 0.5); * marks a form the recipe trained on, so the unmarked cells of a row show generalisation.")
    doc.table(
        ["trained on", *forms],
        [["(before)", *(res.baseline_forms[f] for f in forms)]]
        + [[f"{r.arm} ({'+'.join(r.trained_forms)})",
            *(f"{r.forms[f]:.3f}{'*' if f in r.trained_forms else ''}" if f in r.forms else None for f in forms)]
           for r in res.rows],
    )
    doc.figures(out.folder, "forms.png", lambda p: (
        "Trained × tested negation forms: the mean of presence and absence accuracy, a red box on each form the "
        "recipe trained on."))
    doc.figures(out.folder, "*.png", lambda p: f"Recipe study: {caption_from_name(p)}.")



def _label(root: Path, spec: str) -> str:
    """A model spec, shown relative to the run folder when the model lives inside it."""
    path = Path(spec)
    return f"`{path.relative_to(root).as_posix()}`" if path.is_relative_to(root) else f"`{spec}`"

