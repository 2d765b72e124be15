"""The research report: `DIR/report.html` (self-contained) and `DIR/report.md`, built from a run folder's JSON and figures."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data.forms import FORMS, GIVEN, TRAIN_FORMS
from ..io import write_text
from ..results import EvaluationRow, RecipesResult, TrainResult


@dataclass
class Doc:
    """An ordered list of report blocks that renders to both Markdown and HTML."""

    root: Path
    blocks: list[tuple[str, Any]] = field(default_factory=list)
    used: set[Path] = field(default_factory=set)
    stages: dict[str, StageOutput] = field(default_factory=dict)

    def heading(self, text: str, level: int = 2) -> None:
        """Add a section heading."""
        self.blocks.append(("heading", (level, text)))

    def para(self, text: str) -> None:
        """Add a paragraph; `code` spans are kept in both formats."""
        self.blocks.append(("para", text))

    def table(self, header: list[str], rows: list[list[Any]]) -> None:
        """Add a table; floats are shown with three decimals."""
        self.blocks.append(("table", (header, [[fmt(v) for v in r] for r in rows])))

    def figure(self, path: Path, caption: str) -> None:
        """Add an existing PNG with its caption."""
        self.used.add(path)
        self.blocks.append(("figure", (path, caption)))

    def embed(self, path: Path, caption: str) -> None:
        """Add an existing HTML page: inlined in the HTML report, linked from the Markdown one."""
        self.blocks.append(("embed", (path, caption)))

    def figures(self, folder: Path, pattern: str, caption: Callable[[Path], str]) -> None:
        """Add every not-yet-shown PNG in `folder` matching `pattern`, in name order."""
        for path in sorted(folder.glob(pattern)):
            if path not in self.used:
                self.figure(path, caption(path))

    def markdown(self) -> str:
        """The document as Markdown, figures linked by their path relative to the run folder."""
        out = []
        for kind, value in self.blocks:
            if kind == "heading":
                out.append(f"{'#' * value[0]} {value[1]}")
            elif kind == "para":
                out.append(value)
            elif kind == "table":
                header, rows = value
                lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
                lines += ["| " + " | ".join(r) + " |" for r in rows]
                out.append("\n".join(lines))
            elif kind == "embed":
                path, caption = value
                out.append(f"[{caption}]({path.relative_to(self.root).as_posix()})")
            else:
                path, caption = value
                out.append(f"![{caption}]({path.relative_to(self.root).as_posix()})\n\n*{caption}*")
        return "\n\n".join(out) + "\n"

    def html(self, title: str) -> str:
        """The document as one self-contained HTML page, figures embedded as base64 PNG."""
        out = []
        for kind, value in self.blocks:
            if kind == "heading":
                out.append(f"<h{value[0]}>{_inline(value[1])}</h{value[0]}>")
            elif kind == "para":
                out.append(f"<p>{_inline(value)}</p>")
            elif kind == "table":
                header, rows = value
                head = "".join(f"<th>{_inline(h)}</th>" for h in header)
                body = "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>" for r in rows)
                out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
            elif kind == "embed":
                path, caption = value
                page = html.escape(path.read_text(encoding="utf-8"))
                out.append(f'<figure><iframe srcdoc="{page}" style="width:100%;height:32rem;border:1px solid #bbb"></iframe>'
                           f"<figcaption>{_inline(caption)}</figcaption></figure>")
            else:
                path, caption = value
                data = base64.b64encode(path.read_bytes()).decode("ascii")
                out.append(
                    f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
                    f"<figcaption>{_inline(caption)}</figcaption></figure>"
                )
        return (
            f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body>\n" + "\n".join(out) + "\n</body></html>\n"
        )


_CSS = (
    "body{font-family:Georgia,serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#222}"
    "table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}th,td{border:1px solid #bbb;padding:.25rem .5rem;"
    "text-align:right}th{background:#eee}td:first-child,th:first-child{text-align:left}"
    "figure{margin:1.5rem 0}img{max-width:100%}figcaption{font-size:.9rem;color:#444}"
    "code{background:#f3f3f3;padding:0 .2rem}"
)


def fmt(value: Any) -> str:
    """A table cell: floats with three decimals, None as a dash."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.2e}" if 0 < abs(value) < 1e-3 else f"{value:.3f}"
    return str(value)


def over_seeds(mean: float, std: float, change: float) -> str:
    """A cell of a study over seeds: mean ± std, and the change against the model before in brackets."""
    return f"{mean:.3f} ± {std:.3f} ({change:+.3f})"


def _inline(text: str) -> str:
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text, quote=False))


def _ci(x: Any) -> str:
    """A 95% interval cell from anything with `ci_low` and `ci_high`."""
    return f"{x.ci_low:.3f}–{x.ci_high:.3f}"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _with_ci(value: float | None, ci: list[float] | None) -> str:
    """A value with its 95% interval in brackets when there is one: `0.592 [0.55, 0.63]`."""
    if value is None:
        return fmt(None)
    return f"{value:.3f} [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else f"{value:.3f}"


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


@dataclass
class StageOutput:
    """What the report reads of one stage: its folder, its typed result (None when absent) and its run marker."""

    name: str
    folder: Path
    result: Any | None
    marker: dict | None = None
    problem: str | None = None


def _section(doc: Doc, title: str, out: StageOutput) -> Any | None:
    """Open a report section: its heading, then the stage's result, or a line saying why there is none."""
    doc.heading(title)
    if out.result is None:
        why = out.problem or f"`{out.folder.relative_to(doc.root).as_posix()}` holds no result"
        doc.para(f"Not run: {why}. Run `negscope run` with the `{out.name}` stage to fill this section.")
    return out.result


def _caption_from_name(path: Path) -> str:
    return path.stem.replace("_", " ")


def model_and_data(doc: Doc, config: dict | None, stages: dict[str, StageOutput]) -> None:
    """The model, the data, the seed and what each stage cost."""
    doc.heading("Model and data")
    if config is None:
        doc.para("Not run: `config.json` is missing. Run `negscope run` to fill this section.")
        return
    sim = stages["similarity"].result if "similarity" in stages else None
    images = f" ({sim.images} images used by the similarity study, {sim.skipped_images} unreadable images skipped)" if sim else ""
    doc.para(
        f"Model `{config['model']}`, data `{config['data']}`{images}, seed {config['seed']}. "
        f"Stages configured: {', '.join(config['stages'])}."
    )
    rows = []
    for name in config["stages"]:
        marker = stages[name].marker if name in stages else None
        rows.append([name, "complete" if marker else "not run", marker.get("key") if marker else None,
                     f"{marker['seconds']:.1f}" if marker else None])
    doc.table(["stage", "status", "cache key", "seconds"], rows)


def negations(doc: Doc, out: StageOutput) -> None:
    """The negated captions the stages read: how many, the captions skipped and why, and a sample."""
    res = _section(doc, "The negated captions every stage reads", out)
    if res is None:
        return
    skipped = "; ".join(f"{reason}: {n} ({_pct(n / res.captions)})" for reason, n in res.skipped_captions.items())
    source = ("the negations the data file brings" if res.given else
              "the rule builders (\"no\" in the object's determiner slot; \", with no X\" for an absent X)")
    doc.para(
        f"{res.captions} captions of {res.images} images of `{res.data}` are negated by {source}; "
        f"{res.skipped_images} missing or unreadable images were skipped. "
        + (f"{res.questions} multiple-choice questions come with the data. " if res.questions else "")
        + (f"Captions that give no presence negation: {skipped}. " if skipped else "Every caption gives a presence negation. ")
        + (f"{res.unmentioned_pairs} of {res.object_pairs} (caption, annotated object) pairs do not mention the "
           "object, which is then never negated in that caption. " if res.object_pairs else "")
        + f"{len(res.samples)} captions drawn at random (seed {res.seed}), with the negations the stages use:"
    )
    doc.table(["caption", "object", "presence (false)", "absent", "absence (true)"],
              [[r.caption, r.object, r.presence, r.absent, r.absence] for r in res.samples])


def seed_study(doc: Doc, out: StageOutput) -> None:
    """Seed Table 1, the seven-template means, the template chart and the t-SNE."""
    sim = _section(doc, "Do negated captions score like true ones? (seed Table 1)", out)
    if sim is None:
        return
    rows, folder = sim.rows, out.folder
    for r in rows:
        doc.para(
            f"For `{r.model}`, \"This is not ⟨caption⟩\" scores at least as high as the caption itself in "
            f"{r.flips} of {r.pairs} image–caption pairs ({_pct(r.flip_rate)}). The mean similarity moves "
            f"only from {r.pos_mean:.3f} to {r.neg_mean:.3f} when the caption is negated."
        )
    doc.table(
        ["model", "pairs", "S(I, c): mean ± std", "S(I, not c): mean ± std", "flips", "flip rate"],
        [[r.model, r.pairs, f"{r.pos_mean:.4f} ± {r.pos_std:.4f}", f"{r.neg_mean:.4f} ± {r.neg_std:.4f}",
          r.flips, _pct(r.flip_rate)] for r in rows],
    )
    names = list(rows[0].templates) if rows else []
    doc.para("Mean similarity of each image to its caption under the seven templates (seed report, Algorithm 2):")
    doc.table(["model", *names], [[r.model, *(r.templates[n] for n in names)] for r in rows])
    doc.figures(folder, "templates_*.png", lambda p: f"The seven templates scored against a few images ({p.stem[10:]}).")
    doc.figures(folder, "tsne_*.png", lambda p: f"t-SNE of image, caption and negated-caption embeddings ({p.stem[5:]}).")
    doc.figures(folder, "*.png", _caption_from_name)


def _grid(grid: list[float] | None) -> str:
    return f"C = {min(grid):g} … {max(grid):g}, " if grid else "a grid of C, "


def probes(doc: Doc, out: StageOutput) -> None:
    """Per-site probe accuracy with confidence intervals, controls, baselines and the divergence curve."""
    res = _section(doc, "Where is negation decodable? (linear probes)", out)
    if res is None:
        return
    folder = out.folder
    doc.para(
        f"Linear probes (L2 logistic regression, its strength chosen by an inner grouped search over "
        f"{_grid(res.settings.get('C_grid'))}"
        f"grouped cross-validation so that a caption and its rewrites never fall on both sides of a split) read the "
        f"pooled state at each site of `{res.model}` on {res.images} images. Each is repeated on an untrained copy of "
        f"the architecture (same tokenizer and data) and on a control task with random labels per caption type. "
        f"Selectivity is accuracy minus the larger of the two; a site's finding is its gain over the untrained copy. "
        f"The surface baselines read only the tokens: any text-labelled task is solvable from them, so they show how "
        f"much a linear read-out could get, not what the model does."
    )
    for task, t in res.tasks.items():
        best = max(t.sites, key=lambda r: r.selectivity)
        bases = "; ".join(f"{name.replace('_', ' ')} {b.accuracy:.3f}" for name, b in t.baselines.items())
        seeds = f" Means over seeds {t.seeds}." if len(t.seeds) > 1 else ""
        doc.para(
            f"Task `{task}` ({' vs '.join(t.classes)}; {t.samples} captions in {t.groups} groups, "
            f"chance {fmt(t.chance)}): selectivity peaks at `{best.site}` ({best.selectivity:+.3f}): accuracy "
            f"{best.accuracy:.3f} (95% CI {best.ci_low:.3f}–{best.ci_high:.3f}), untrained copy "
            f"{fmt(best.untrained_accuracy)}, control {best.control_accuracy:.3f}. Baselines: {bases}.{seeds}"
        )
        sweeps = [("pooled", t)] + ([("object token", t.at_object)] if t.at_object is not None else [])
        doc.table(
            ["position", "site", "accuracy", "± std", "95% CI", "untrained", "control", "gain over untrained",
             "selectivity", "C", "C at grid edge"],
            [[where, r.site, r.accuracy, r.accuracy_std, _ci(r), r.untrained_accuracy, r.control_accuracy,
              r.untrained_gain, r.selectivity, r.C, r.C_at_edge] for where, sw in sweeps for r in sw.sites]
            + [["", f"baseline: {name.replace('_', ' ')} ({b.features})", b.accuracy, b.std, _ci(b), None, None, None,
                None, None, None] for name, b in t.baselines.items()],
        )
        doc.figures(folder, f"probe_{task}.png", lambda p, task=task: (
            f"Probe accuracy for `{task}` per site, trained and untrained, with 95% bands, the control task and the baselines."))
    if res.divergence:
        doc.para("Mean cosine between the EOS states of a caption and its \"This is not\" negation, per site (lower means the site separates them more):")
        doc.table(["site", "mean cosine", "untrained copy"], [[r.site, r.mean_cosine, r.untrained_cosine] for r in res.divergence])
    doc.figures(folder, "divergence.png", lambda p: "Caption–negation cosine per site.")
    doc.figures(folder, "*.png", lambda p: f"Probes: {_caption_from_name(p)}.")


def attribution(doc: Doc, out: StageOutput) -> None:
    """Token attribution (share on negation words, heatmap) and per-site attribution."""
    res = _section(doc, "Which tokens and sites carry the negation? (attribution)", out)
    if res is None:
        return
    folder, tok, lay = out.folder, res.tokens, res.sites
    doc.para(
        f"Integrated gradients ({res.steps} steps) of S(I, T) on the token embeddings of `{res.model}`, over "
        f"{tok.n_texts} captions (the seven templates per image). Completeness holds to a mean |delta| of "
        f"{tok.mean_abs_delta:.2e} (max {tok.max_abs_delta:.2e}). Share of the attribution on negation words "
        f"({', '.join(tok.negation_words)}), by template:"
    )
    doc.table(["template", "mean share", "95% CI", "captions"],
              [[t, v.mean, _ci(v), v.n] for t, v in tok.negation_share.items()])
    doc.figures(folder, "token_negation_share.png", lambda p: "Share of token attribution on negation words, per template.")
    heatmap = folder / "token_heatmap.html"
    if heatmap.is_file():
        doc.embed(heatmap, "Token attribution heatmap: red tokens raise S(I, T), blue tokens lower it.")
    doc.para(
        f"Per-site attribution of the gap S(I, negated) − S(I, positive) over {lay.n_pairs} {lay.pairs} pairs "
        f"(mean gap {lay.mean_gap:.4f}). `eos_share` is the part of the gap's attribution already on the pooled EOS "
        f"state at that site; a block's importance is how much of it the block adds:"
    )
    doc.table(["site", "EOS share", "changed-token share", "total", "mean |delta|"],
              [[r.site, r.eos_share, r.changed_share, r.total, r.mean_abs_delta] for r in lay.states])
    doc.table(["block", "name", "importance", "95% CI"],
              [[b.block, b.name, b.mean, _ci(b)] for b in lay.blocks])
    doc.figures(folder, "layer_attribution.png", lambda p: "Per-site attribution of the negation gap.")
    doc.figures(folder, "*.png", lambda p: f"Attribution: {_caption_from_name(p)}.")


def patching(doc: Doc, out: StageOutput) -> None:
    """Activation-patching curves, both directions."""
    res = _section(doc, "Which sites carry the negation effect? (activation patching)", out)
    if res is None:
        return
    dirs = res.directions
    for positions, curve in res.curves.items():
        doc.para(
            f"Patching the `{positions}` state(s) at one site, on {res.n_pairs[positions]} {res.pairs} pairs of "
            f"`{res.model}`: the share of the similarity change between the captions that the patch recreates "
            f"(forward: {dirs['forward']}; reverse: {dirs['reverse']}), with bootstrap 95% intervals."
        )
        fwd, rev = curve.get("forward", []), curve.get("reverse", [])
        untrained = res.untrained_curves if positions == "eos" and res.untrained_curves else {}
        uf, ur = untrained.get("forward", [None] * len(fwd)), untrained.get("reverse", [None] * len(rev))
        doc.table(["site", "forward share", "95% CI", "reverse share", "95% CI", "untrained forward", "untrained reverse"],
                  [[f.site, f.share, _ci(f), r.share, _ci(r), u and u.share, v and v.share]
                   for f, r, u, v in zip(fwd, rev, uf, ur)])
    doc.figures(out.folder, "*.png", lambda p: "Activation patching: share of the negation effect recreated per site, both directions.")


def erasure(doc: Doc, out: StageOutput) -> None:
    """LEACE erasure per site: the share of the negation effect removed, trained against untrained."""
    res = _section(doc, "Does the model use it? (LEACE erasure)", out)
    if res is None:
        return
    t, u = res.trained, res.untrained
    best = max(zip(t.points, u.points), key=lambda p: p[0].removed_share - p[1].removed_share)
    doc.para(
        f"At each site the linear \"negated\" concept was erased with LEACE (fitted on {res.fit_texts} captions of "
        f"{res.fit_images} images) and the forward pass finished; {res.pairs['presence']} presence and "
        f"{res.pairs['absence']} absence pairs of {res.eval_images} other images were scored. Before erasure the model's "
        f"presence accuracy is {t.presence_accuracy:.3f} and absence accuracy {t.absence_accuracy:.3f} (untrained copy: "
        f"{u.presence_accuracy:.3f}, {u.absence_accuracy:.3f}). The largest removal beyond the untrained copy is at "
        f"`{best[0].site}`: {best[0].removed_share:.2f} (95% CI {best[0].ci_low:.2f}–{best[0].ci_high:.2f}) against "
        f"{best[1].removed_share:.2f}."
    )
    doc.table(["site", "removed share", "95% CI", "untrained copy", "presence after", "presence drop", "absence after",
               "absence drop"],
              [[a.site, a.removed_share, _ci(a), b.removed_share, a.presence_accuracy, a.presence_drop,
                a.absence_accuracy, a.absence_drop] for a, b in zip(t.points, u.points)])
    doc.figures(out.folder, "*.png", lambda p: "Share of the negation effect removed by erasure at each site, trained and untrained.")


def selection(doc: Doc, out: StageOutput) -> None:
    """The selected blocks, the rule and the evidence."""
    res = _section(doc, "Selected text blocks", out)
    if res is None:
        return
    ev = res.evidence
    doc.para(
        f"Selected text blocks: {', '.join(map(str, res.blocks))}, covering {ev.coverage_of_plan:.3f} of the combined "
        f"evidence. Rule: {res.rule}. Evidence used (each as its gain over an untrained copy"
        f"{'' if res.over_untrained else ', of which none was positive'}): {', '.join(ev.kinds)}"
        + (f"; missing: {', '.join(ev.missing)}." if ev.missing else ".")
    )
    inclusion = ev.stability.inclusion
    doc.table(["rank", "block", "score", *ev.kinds, "inclusion (bootstrap)"],
              [[i + 1, r.name, r.score, *(r.by_kind.get(k) for k in ev.kinds),
                inclusion[r.block] if r.block < len(inclusion) else None] for i, r in enumerate(res.ranking)])
    doc.figures(out.folder, "*.png", lambda p: "Per-block evidence and the selected blocks.")


def training(doc: Doc, out: StageOutput) -> None:
    """Fine-tuning settings, the loss summary, the curves, a sample of the training log and the checkpoint choice."""
    res = _section(doc, "Fine-tuning", out)
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
    doc.figures(out.folder, "*.png", lambda p: f"Training: {_caption_from_name(p)}.")


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


def _recall_name(key: str) -> str:
    """`i2t_r1` as `i2t R@1`."""
    direction, k = key.split("_r")
    return f"{direction} R@{k}"


def evaluation(doc: Doc, out: StageOutput) -> None:
    """The before-and-after evaluation table, retrieval with intervals, every negation form, and the change made."""
    res = _section(doc, "Before and after fine-tuning", out)
    if res is None:
        return
    rows = res.rows
    labels = [_label(doc.root, r.model) for r in rows]
    if len(rows) == 2:
        labels = [f"before: {labels[0]}", f"after: {labels[1]}"]
    doc.para(f"Evaluated on `{res.data}` ({rows[0].images if rows else 0} images, seed {res.seed}).")
    table = [[label, *(r.metric(c) for c in EVAL_COLUMNS), r.flips] for label, r in zip(labels, rows)]
    if len(rows) >= 2:
        before, after = rows[0], rows[-1]

        def recall(key: str) -> str:
            b, a = before.retrieval.get(key), after.retrieval.get(key)
            if b is None or a is None:
                return "–"
            return f"{_with_ci(b, before.retrieval_ci.get(key))} to {_with_ci(a, after.retrieval_ci.get(key))} ({a - b:+.3f})"

        cis = " (95% bootstrap intervals over images in brackets)" if before.retrieval_ci or after.retrieval_ci else ""
        doc.para(
            "Fine-tuning moved presence accuracy from {:.3f} to {:.3f} ({:+.3f}), absence accuracy from {:.3f} to {:.3f} "
            "({:+.3f}) and MCQ accuracy from {:.3f} to {:.3f} ({:+.3f}, chance 0.250); image-to-text R@1 went from "
            "{} and text-to-image R@1 from {}{}.".format(
                *_change(before, after, "presence_accuracy"), *_change(before, after, "absence_accuracy"),
                *_change(before, after, "mcq_accuracy"), recall("i2t_r1"), recall("t2i_r1"), cis,
            )
        )
        table.append(["after − before", *(f"{after.metric(c) - before.metric(c):+.3f}" for c in EVAL_COLUMNS),
                      f"{after.flips - before.flips:+d}"])
    doc.table(["model", *EVAL_COLUMNS, "flips"], table)
    _retrieval(doc, labels, rows)
    types_ = sorted({t for r in rows for t in r.mcq_by_type})
    if types_:
        doc.para("MCQ accuracy by the type of the correct answer:")
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
    doc.figures(out.folder, "*.png", lambda p: f"Evaluation: {_caption_from_name(p)}.")


def _retrieval(doc: Doc, labels: list[str], rows: list[EvaluationRow]) -> None:
    """Recall at 1, 5 and 10 both ways, with 95% intervals where the result holds them, and the change made."""
    keys = [k for k in RETRIEVAL_COLUMNS if any(k in r.retrieval for r in rows)]
    if not keys:
        return
    ci = any(r.retrieval_ci for r in rows)
    doc.para("Retrieval over the evaluation captions, image-to-text (i2t) and text-to-image (t2i)"
             + (", with 95% bootstrap intervals over images in brackets:" if ci else ":"))
    table = [[label, *(_with_ci(r.retrieval.get(k), r.retrieval_ci.get(k)) for k in keys)] for label, r in zip(labels, rows)]
    if len(rows) >= 2:
        before, after = rows[0], rows[-1]
        table.append(["after − before", *(f"{after.retrieval[k] - before.retrieval[k]:+.3f}"
                                          if k in after.retrieval and k in before.retrieval else None for k in keys)])
    doc.table(["model", *(_recall_name(k) for k in keys)], table)


def _trained_forms(doc: Doc) -> tuple[list[str], bool]:
    """The negation forms the fine-tune trained on, from its result; else the defaults, and False."""
    stage = doc.stages.get("finetune")
    res = stage.result if stage is not None else None
    if res is not None and res.config.get("forms"):
        return list(res.config["forms"]), True
    return list(TRAIN_FORMS), False


def _forms(doc: Doc, labels: list[str], rows: list[EvaluationRow]) -> None:
    """Presence and absence accuracy per negation form and model, the forms trained on marked."""
    names = {f for r in rows for f in r.form_accuracy}
    if not names:
        return
    forms = [f for f in FORMS if f in names] + sorted(names - set(FORMS))
    trained, known = _trained_forms(doc)
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
            table.append([title, None, *(_mean([r.form_accuracy[f][side] for f in group if side in r.form_accuracy.get(f, {})])
                                         for r in rows for side in ("presence", "absence")), None])
    doc.table(header, table)


def layer_study(doc: Doc, out: StageOutput) -> None:
    """The layer study: block sets trained alike over seeds, the rank correlation and the front-vs-back test."""
    res = _section(doc, "Layer study: which blocks are worth fine-tuning?", out)
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
        + [[f"{r.set} ({','.join(map(str, r.blocks))})",
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
    doc.figures(out.folder, "*.png", lambda p: "Layer study: gains per trained block set.")


RECIPE_METRICS = {"presence_accuracy": "presence", "absence_accuracy": "absence", "held_out": "held-out forms",
                  "flip_rate": "'This is not' flips", "i2t_r1": "i2t R@1", "t2i_r1": "t2i R@1"}


def recipes(doc: Doc, out: StageOutput) -> None:
    """The recipe study: each recipe's metrics against the model before, and the trained × tested form matrix."""
    res: RecipesResult | None = _section(doc, "Recipe study: what keeps retrieval, and which negation forms generalise", out)
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
    doc.figures(out.folder, "*.png", lambda p: f"Recipe study: {_caption_from_name(p)}.")


SECTIONS: dict[str, Callable[[Doc, StageOutput], None]] = {
    "negations": negations, "similarity": seed_study, "probes": probes, "attribution": attribution, "patching": patching, "erasure": erasure,
    "selection": selection, "finetune": training, "evaluate": evaluation, "recipes": recipes, "study": layer_study,
}


def build_report(root: str | Path, stages: list[StageOutput], config: dict | None) -> tuple[Path, Path]:
    """Write `root/report.html` and `root/report.md` from the stages' typed results and figures, in stage order."""
    root = Path(root)
    by_name = {s.name: s for s in stages}
    doc = Doc(root, stages=by_name)
    doc.heading(f"negscope report: {root.name}", 1)
    model_and_data(doc, config, by_name)
    for out in stages:
        SECTIONS[out.name](doc, out)
    return write_text(root / "report.html", doc.html(f"negscope report: {root.name}")), write_text(root / "report.md", doc.markdown())


def _label(root: Path, spec: str) -> str:
    """A model spec, shown relative to the run folder when the model lives inside it."""
    path = Path(spec)
    return f"`{path.relative_to(root).as_posix()}`" if path.is_relative_to(root) else f"`{spec}`"


def _change(before: EvaluationRow, after: EvaluationRow, key: str) -> tuple[float, float, float]:
    return before.metric(key), after.metric(key), after.metric(key) - before.metric(key)
