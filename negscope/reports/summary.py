"""The report's first screen: how blind the model is to negation, where the evidence points once its controls are
applied, the blocks selected, every metric before and after fine-tuning with its interval and chance level and its
change with the paired interval of that change, the caveats the results themselves raise, and what each metric means."""

from __future__ import annotations

import math
from typing import Any

from ..results import EvaluationRow
from ..results.evidence import KINDS
from .document import Doc, StageOutput, pct
from .tuning_sections import RETRIEVAL_COLUMNS, change_cell, recall_name

METRICS = {  # key: (name, what it measures)
    "presence_accuracy": ("presence accuracy", (
        "share of (image, caption) pairs where the true caption scores above the same caption negating an object the "
        "image holds")),
    "absence_accuracy": ("absence accuracy", (
        "share of pairs where a true caption negating an object the image lacks scores above the same caption "
        "affirming that object")),
    "trained_forms": ("trained forms", "mean of presence and absence accuracy over the negation forms fine-tuning trained on"),
    "held_out_forms": ("held-out forms", "the same mean over the negation forms fine-tuning never saw"),
    "held_out_combinations": ("held-out combinations", (
        "mean of presence and absence accuracy over the pairs that name a category fine-tuning never saw")),
    "seen_combinations": ("seen combinations", "the same mean over the pairs naming only categories fine-tuning saw"),
    "mcq_accuracy": ("MCQ accuracy", (
        "share of multiple-choice questions (one true caption against three foils, some negated) where the true caption "
        "scores highest; by answer type, the same share over the questions whose true answer is of that type")),
    "swap_accuracy": ("swap accuracy", (
        "share of pairs where the caption scores above the same caption naming an object the image lacks instead: "
        "whether the model tells objects apart at all")),
    "both_negated_accuracy": ("both negated (shortcut control)", (
        "share of pairs where \"c, with no X\" for an X the image lacks scores above \"c, with no Y\" for a Y it holds: "
        "both texts carry the negator, so a model that only marks down negated texts scores 0.5")),
    "flip_rate": ("\"This is not\" flip rate", (
        "share of captions c where \"This is not c\" scores at least as high as c (lower is better)")),
    "i2t_r1": ("i2t R@1", (
        "image-to-text recall at k: share of images with one of their own captions among the k best of all captions "
        "(R@5 and R@10 likewise)")),
    "t2i_r1": ("t2i R@1", "text-to-image recall at k: share of captions whose image is among the k best of all images"),
}
NUMBERING = ("**sites and blocks**: a site is a hidden state of the text encoder, `embed` (token and position "
             "embeddings) or k (the output of text block k); blocks are numbered 0, 1, … from the input, so block k is "
             "read from the site before it to site k. Every figure and table uses these numbers.")


def summary(doc: Doc, stages: dict[str, StageOutput], config: dict | None) -> None:
    """The summary screen; a part whose stage has no result is left out (its section says why)."""
    result = {name: out.result for name, out in stages.items()}
    doc.heading("Summary")
    if config is not None:
        doc.para(f"Model `{config['model']}`, data `{config['data']}`, seed {config['seed']}. Stage timings and cache "
                 f"keys are in the appendix.")
    blindness(doc, result.get("similarity"), result.get("evaluate"))
    evidence(doc, result)
    comparison(doc, result.get("evaluate"))
    study = result.get("study")
    if study is not None and study.against_chance is not None:
        doc.para(f"**Does the analysis choose better than chance?** {study.against_chance.sentence()}")
    notes = caveats(result)
    if notes:
        doc.para("Caveats, computed from the results:")
        doc.bullets(notes)
    doc.para("What the metrics mean (chance: the expected value when scores are random):")
    doc.bullets([f"**{name}**: {what}." for name, what in METRICS.values()] + [NUMBERING])


def blindness(doc: Doc, similarity: Any | None, evaluate: Any | None) -> None:
    """The headline: how often "This is not c" scores like c, and the negation accuracies before fine-tuning."""
    parts = []
    if similarity is not None and similarity.rows:
        r = similarity.rows[0]
        parts.append(f"For `{r.model}`, \"This is not ⟨caption⟩\" scores at least as high as the caption itself in "
                     f"{r.flips:,} of {r.pairs:,} image–caption pairs ({pct(r.flip_rate)}); the mean similarity only "
                     f"moves from {r.pos_mean:.3f} to {r.neg_mean:.3f}.")
    if evaluate is not None and evaluate.rows:
        b = evaluate.rows[0]
        swap = "" if math.isnan(b.swap_accuracy) else f", while telling objects apart in {pct(b.swap_accuracy)} of swap pairs"
        parts.append(f"Before fine-tuning it prefers the true text in {pct(b.presence_accuracy)} of presence pairs and "
                     f"{pct(b.absence_accuracy)} of absence pairs, where chance is 50%{swap}.")
    if parts:
        doc.para("**Blindness to negation.** " + " ".join(parts))


def evidence(doc: Doc, result: dict[str, Any]) -> None:
    """Per kind of evidence, whether it decided the plan or was within noise, its leading block, and the blocks selected."""
    selection = result.get("selection")
    if selection is None:
        return
    ev = selection.evidence
    rows = []
    for kind in KINDS:
        if (r := ev.by_kind.get(kind)) is not None:
            top = max(range(len(r.gain)), key=r.gain.__getitem__)
            rows.append([kind, f"block {top}", f"{r.gain[top]:+.3f} [{r.ci_low[top]:+.3f}, {r.ci_high[top]:+.3f}]",
                         f"decided the plan (weight {r.weight:.2f})" if r.entered else "within noise: weight 0"])
        elif any(what.startswith(f"{kind}:") for what in ev.excluded):
            rows.append([kind, None, None, "left out: every part uninformative (below)"])
        else:
            rows.append([kind, None, None, "missing"])
    rows += [[what, None, None, why] for what, why in ev.excluded.items()]
    decided = (f"The plan was decided by {', '.join(ev.kinds)}" + (f"; {', '.join(ev.within_noise)} "
               f"{'was' if len(ev.within_noise) == 1 else 'were'} within noise and weighed nothing." if ev.within_noise else ".")
               if selection.certain else
               "**No kind of evidence gains over the untrained copies beyond noise at any block**, so the plan is made from "
               "the model's own gains: the selection is not evidence of learned negation.")
    doc.para(f"**Where the evidence points.** Each kind of evidence credits a text block with its gain over untrained "
             f"copies of the architecture, with a 95% interval over images; a block counts only where that interval lies "
             f"above zero. {decided} The table gives each kind's leading block.")
    doc.table(["evidence", "leading block", "gain over untrained [95% CI]", "status"], rows)
    inclusion = ev.stability.inclusion
    kept = min(inclusion[b] for b in selection.blocks) if inclusion else None
    doc.para(f"**Selected text blocks: {', '.join(map(str, selection.blocks))}.** They hold {ev.coverage_of_plan:.2f} of the "
             f"combined evidence (rule: {selection.rule.split(':')[0]})"
             + (f"; each is kept in at least {pct(kept)} of {ev.stability.resamples} joint resamples of every kind's "
                "images." if kept is not None else "."))


def values(row: EvaluationRow) -> dict[str, float | None]:
    """Every summary metric of one evaluation row that it measured."""
    out = {k: row.metric(k) for k in ("presence_accuracy", "absence_accuracy", "mcq_accuracy", "swap_accuracy",
                                      "both_negated_accuracy", "flip_rate", "held_out_combinations", "seen_combinations",
                                      "trained_forms", "held_out_forms")}
    out |= {f"mcq_{t}": v for t, v in row.mcq_by_type.items()}
    out |= {k: row.retrieval[k] for k in RETRIEVAL_COLUMNS if k in row.retrieval}
    return {k: v for k, v in out.items() if v is not None and not math.isnan(v)}


def name_of(key: str) -> str:
    """A metric's name in the summary: `i2t_r5` as `i2t R@5`, `mcq_negated` as `MCQ, negated answer`."""
    if key in METRICS:
        return METRICS[key][0]
    if key.startswith("mcq_"):
        return f"MCQ, {key[4:].replace('_', ' ')} answer"
    return recall_name(key)


def comparison(doc: Doc, evaluate: Any | None) -> None:
    """Every metric before and after fine-tuning, with its 95% interval and its chance level, and its change with the
    paired interval of the change."""
    if evaluate is None or len(evaluate.rows) < 2:
        return
    before, after = evaluate.rows[0], evaluate.tuned()
    b, a = values(before), values(after)

    def cell(row: EvaluationRow, key: str, value: float | None) -> str:
        ci = row.interval(key)
        return "–" if value is None else f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else f"{value:.3f}"

    rows = [[name_of(k), _chance(before, k), cell(before, k, b[k]), cell(after, k, a.get(k)),
             change_cell(after.changes.get(k), b[k], a.get(k))] for k in b]
    doc.para(f"**Before → after fine-tuning** on {before.images:,} images of `{evaluate.data}` (95% intervals over images "
             f"in brackets; trained forms: {', '.join(f'`{f}`' for f in evaluate.trained_forms)}). "
             + ("Both models are scored on the same images, so each change has a paired interval: that of after − "
                "before when whole images are resampled. A change is real only when that interval excludes 0; "
                "otherwise it is within noise." if after.changes else
                "The result holds no paired intervals of the changes, so no change is called real (rerun evaluate)."))
    doc.table(["metric", "chance", "before", "after", "change [paired 95% interval]"], rows)


def _chance(row: EvaluationRow, key: str) -> str:
    chance = row.chance.get("mcq_accuracy" if key.startswith("mcq_") else key)
    return "–" if chance is None else f"{chance:.3f}"


def caveats(result: dict[str, Any]) -> list[str]:
    """What the results say about their own reliability, each as one sentence."""
    notes = []
    selection, attribution, evaluate, study = (result.get(k) for k in ("selection", "attribution", "evaluate", "study"))
    if selection is not None:
        notes += [f"Left out of the selection, {what}: {why}." for what, why in selection.evidence.excluded.items()]
    if attribution is not None:
        notes += attribution.caveats()
    if evaluate is not None and len(evaluate.rows) >= 2:
        notes += change_caveats(evaluate.rows[0], evaluate.tuned())
        if study is not None and "i2t_r1" in study.baseline and study.images != evaluate.rows[0].images:
            notes.append(f"The layer study evaluates on its own {study.images:,} images, so its \"before\" figures differ "
                         f"from those above (i2t R@1 {study.baseline['i2t_r1']:.3f} against "
                         f"{evaluate.rows[0].retrieval.get('i2t_r1', float('nan')):.3f} on {evaluate.rows[0].images:,}): "
                         f"recall among fewer captions is easier. Compare its rows with its own baseline.")
    if evaluate is not None and evaluate.seen_share:
        notes.append(f"{pct(evaluate.seen_share['captions'])} of the evaluated captions and "
                     f"{pct(evaluate.seen_share['negations'])} of their negated texts occur word for word in the "
                     f"fine-tuning data, which holds out scenes of a lone kind of object and every scene with one of "
                     f"these categories: {', '.join(evaluate.held_out)}.")
    return notes


def change_caveats(before: EvaluationRow, after: EvaluationRow) -> list[str]:
    """Metrics that end no better than chance, and metrics that fine-tuning made worse, really (the paired interval of
    the change lies below 0)."""
    notes = []
    b, a = values(before), values(after)
    for key in ("presence_accuracy", "absence_accuracy", "mcq_accuracy", *RETRIEVAL_COLUMNS):
        if key not in a or key not in b:
            continue
        chance, ci_after, change = after.chance.get(key), after.interval(key), after.changes.get(key)
        if chance is not None and ci_after and ci_after[0] <= chance:
            notes.append(f"{name_of(key)} after fine-tuning, {a[key]:.3f} [{ci_after[0]:.3f}, {ci_after[1]:.3f}], is not "
                         f"above chance ({chance:.3f}).")
        if change is not None and change.real and change.change < 0:
            notes.append(f"{name_of(key)} fell from {b[key]:.3f} to {a[key]:.3f}: a real drop, the paired interval of "
                         f"the change [{change.ci_low:+.3f}, {change.ci_high:+.3f}] lies below 0.")
    return notes
