"""The research report: `DIR/report.html` (self-contained) and `DIR/report.md`, built from a run folder's JSON and figures."""

from __future__ import annotations

import base64
import html
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..io import write_text


@dataclass
class Doc:
    """An ordered list of report blocks that renders to both Markdown and HTML."""

    root: Path
    blocks: list[tuple[str, Any]] = field(default_factory=list)
    used: set[Path] = field(default_factory=set)

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
        return f"{value:.3f}"
    return str(value)


def _inline(text: str) -> str:
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text, quote=False))


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _load(path: Path) -> Any | None:
    """A stage's JSON, or None when the stage has not run (or its file is unreadable)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _not_run(doc: Doc, path: Path, stage: str) -> None:
    rel = path.relative_to(doc.root).as_posix()
    doc.para(f"Not run: `{rel}` is missing. Run `negscope run` with the `{stage}` stage to fill this section.")


def _caption_from_name(path: Path) -> str:
    return path.stem.replace("_", " ")


def model_and_data(doc: Doc) -> None:
    """The model, the data, the seed and what each stage cost."""
    doc.heading("Model and data")
    cfg = _load(doc.root / "config.json")
    if cfg is None:
        _not_run(doc, doc.root / "config.json", "any")
        return
    sim = _load(doc.root / "similarity" / "similarity.json")
    images = f" ({sim['images']} images used by the similarity study, {sim['skipped_images']} unreadable images skipped)" if sim else ""
    doc.para(
        f"Model `{cfg['model']}`, data `{cfg['data']}`{images}, seed {cfg['seed']}. "
        f"Stages configured: {', '.join(cfg['stages'])}."
    )
    rows = []
    for stage in cfg["stages"]:
        marker = _load(doc.root / stage / "stage.json")
        rows.append([stage, "complete" if marker else "not run", marker["config_hash"] if marker else None,
                     marker["seconds"] if marker else None])
    doc.table(["stage", "status", "config hash", "seconds"], rows)


def seed_study(doc: Doc) -> None:
    """Seed Table 1, the seven-template means, the template chart and the t-SNE."""
    doc.heading("Do negated captions score like true ones? (seed Table 1)")
    folder = doc.root / "similarity"
    sim = _load(folder / "similarity.json")
    if sim is None:
        _not_run(doc, folder / "similarity.json", "similarity")
        return
    rows = sim["rows"]
    for r in rows:
        doc.para(
            f"For `{r['model']}`, \"This is not ⟨caption⟩\" scores at least as high as the caption itself in "
            f"{r['flips']} of {r['pairs']} image–caption pairs ({_pct(r['flip_rate'])}). The mean similarity moves "
            f"only from {r['pos_mean']:.3f} to {r['neg_mean']:.3f} when the caption is negated."
        )
    doc.table(
        ["model", "pairs", "S(I, c): mean ± std", "S(I, not c): mean ± std", "flips", "flip rate"],
        [[r["model"], r["pairs"], f"{r['pos_mean']:.4f} ± {r['pos_std']:.4f}", f"{r['neg_mean']:.4f} ± {r['neg_std']:.4f}",
          r["flips"], _pct(r["flip_rate"])] for r in rows],
    )
    names = list(rows[0]["templates"]) if rows else []
    doc.para("Mean similarity of each image to its caption under the seven templates (seed report, Algorithm 2):")
    doc.table(["model", *names], [[r["model"], *(r["templates"][n] for n in names)] for r in rows])
    doc.figures(folder, "templates_*.png", lambda p: f"The seven templates scored against a few images ({p.stem[10:]}).")
    doc.figures(folder, "tsne_*.png", lambda p: f"t-SNE of image, caption and negated-caption embeddings ({p.stem[5:]}).")
    doc.figures(folder, "*.png", _caption_from_name)


def probes(doc: Doc) -> None:
    """Per-layer probe accuracy with confidence intervals, controls, baselines and the divergence curve."""
    doc.heading("Where is negation decodable? (linear probes)")
    folder = doc.root / "probes"
    res = _load(folder / "probes.json")
    if res is None:
        _not_run(doc, folder / "probes.json", "probes")
        return
    for task, t in res["tasks"].items():
        layers = t["layers"]
        best = max(layers, key=lambda r: r["selectivity"])
        doc.para(
            f"Task `{task}`: selectivity peaks at `{best['layer']}` (accuracy {best['accuracy']:.3f}, 95% CI "
            f"{best['ci_low']:.3f}–{best['ci_high']:.3f}, control {best['control_accuracy']:.3f})."
        )
        doc.table(
            ["layer", "index", "accuracy", "95% CI", "control", "selectivity"],
            [[r["layer"], r["index"], r["accuracy"], f"{r['ci_low']:.3f}–{r['ci_high']:.3f}", r["control_accuracy"],
              r["selectivity"]] for r in layers],
        )
        if t.get("baselines"):
            doc.table(["baseline", "value"], list(_flatten(t["baselines"])))
    if res.get("divergence"):
        doc.para("Mean cosine between the states of a caption and its negation, per layer (lower = more separated):")
        doc.table(["layer", "index", "mean cosine"], [[r["layer"], r["index"], r["mean_cosine"]] for r in res["divergence"]])
    doc.figures(folder, "*.png", lambda p: f"Probe curve: {_caption_from_name(p)} (accuracy with 95% band, control and baselines).")


def attribution(doc: Doc) -> None:
    """Token attribution heatmaps and per-layer attribution."""
    doc.heading("Which tokens and layers carry the negation? (attribution)")
    folder = doc.root / "attribution"
    res = _load(folder / "attribution.json")
    if res is None:
        _not_run(doc, folder / "attribution.json", "attribution")
        return
    _generic(doc, res)
    doc.figures(folder, "*.png", lambda p: f"Attribution: {_caption_from_name(p)}.")


def patching(doc: Doc) -> None:
    """Activation-patching curves."""
    doc.heading("Which layers cause the negation effect? (activation patching)")
    folder = doc.root / "patching"
    res = _load(folder / "patching.json")
    if res is None:
        _not_run(doc, folder / "patching.json", "patching")
        return
    _generic(doc, res)
    doc.figures(folder, "*.png", lambda p: f"Patching: {_caption_from_name(p)}.")


def selection(doc: Doc) -> None:
    """The selected layers, the rule and the evidence."""
    doc.heading("Selected layers")
    folder = doc.root / "selection"
    res = _load(folder / "selection.json")
    if res is None:
        _not_run(doc, folder / "selection.json", "selection")
        return
    doc.para(f"Selected text blocks: {', '.join(map(str, res['layers']))}. Rule: {res['rule']}")
    _generic(doc, {k: v for k, v in res.items() if k not in ("layers", "rule")})
    doc.figures(folder, "*.png", lambda p: f"Selection: {_caption_from_name(p)}.")


def training(doc: Doc) -> None:
    """Fine-tuning settings and curves."""
    doc.heading("Fine-tuning")
    folder = doc.root / "finetune"
    res = _load(folder / "train.json")
    if res is None:
        _not_run(doc, folder / "train.json", "finetune")
        return
    _generic(doc, res)
    doc.figures(folder, "*.png", lambda p: f"Training: {_caption_from_name(p)}.")


EVAL_COLUMNS = ["presence_accuracy", "absence_accuracy", "mcq_accuracy"]
RETRIEVAL_COLUMNS = ["i2t_r1", "i2t_r5", "i2t_r10", "t2i_r1", "t2i_r5", "t2i_r10"]


def evaluation(doc: Doc) -> None:
    """The before-and-after evaluation table and the change fine-tuning made."""
    doc.heading("Before and after fine-tuning")
    folder = doc.root / "evaluate"
    res = _load(folder / "evaluation.json")
    if res is None:
        _not_run(doc, folder / "evaluation.json", "evaluate")
        return
    rows = res["rows"]
    header = ["model", *EVAL_COLUMNS, *RETRIEVAL_COLUMNS, "flips"]
    table = [[r["model"], *(r[c] for c in EVAL_COLUMNS), *(r["retrieval"][c] for c in RETRIEVAL_COLUMNS), r.get("flips")]
             for r in rows]
    if len(rows) >= 2:
        before, after = rows[0], rows[-1]
        doc.para(
            "Fine-tuning moved presence accuracy from {:.3f} to {:.3f} ({:+.3f}), absence accuracy from {:.3f} to {:.3f} "
            "({:+.3f}) and MCQ accuracy from {:.3f} to {:.3f} ({:+.3f}, chance 0.250); image-to-text R@1 went from "
            "{:.3f} to {:.3f} ({:+.3f}).".format(
                *_change(before, after, "presence_accuracy"), *_change(before, after, "absence_accuracy"),
                *_change(before, after, "mcq_accuracy"), *_change(before["retrieval"], after["retrieval"], "i2t_r1"),
            )
        )
        table.append(["after − before", *(after[c] - before[c] for c in EVAL_COLUMNS),
                      *(after["retrieval"][c] - before["retrieval"][c] for c in RETRIEVAL_COLUMNS),
                      _diff(after.get("flips"), before.get("flips"))])
    doc.table(header, table)
    types_ = sorted({t for r in rows for t in r.get("mcq_by_type", {})})
    if types_:
        doc.para("MCQ accuracy by the type of the correct answer:")
        doc.table(["model", *types_], [[r["model"], *(r["mcq_by_type"].get(t) for t in types_)] for r in rows])
    doc.figures(folder, "*.png", lambda p: f"Evaluation: {_caption_from_name(p)}.")


def layer_study(doc: Doc) -> None:
    """The layer-selection study table."""
    doc.heading("Layer study: which layers are worth fine-tuning?")
    folder = doc.root / "study"
    found = sorted(folder.glob("*.json"))
    found = [p for p in found if p.name != "stage.json"]
    if not found:
        _not_run(doc, folder / "study.json", "study")
        return
    for path in found:
        _generic(doc, _load(path))
    doc.figures(folder, "*.png", lambda p: f"Layer study: {_caption_from_name(p)}.")


SECTIONS = (model_and_data, seed_study, probes, attribution, patching, selection, training, evaluation, layer_study)


def build_report(run_dir: str | Path) -> tuple[Path, Path]:
    """Write `run_dir/report.html` and `run_dir/report.md` from the run's JSON and figures."""
    root = Path(run_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"run folder {root} does not exist; pass the --out folder of a `negscope run`")
    doc = Doc(root)
    doc.heading(f"negscope report: {root.name}", 1)
    for section in SECTIONS:
        section(doc)
    return write_text(root / "report.html", doc.html(f"negscope report: {root.name}")), write_text(root / "report.md", doc.markdown())


def _change(before: dict, after: dict, key: str) -> tuple[float, float, float]:
    return before[key], after[key], after[key] - before[key]


def _diff(a: Any, b: Any) -> Any:
    return a - b if isinstance(a, (int, float)) and isinstance(b, (int, float)) else None


def _flatten(data: Any, prefix: str = ""):
    """(dotted key, scalar) pairs of nested dicts."""
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _flatten(v, f"{prefix}.{k}" if prefix else str(k))
    else:
        yield [prefix, data]


def _generic(doc: Doc, data: Any) -> None:
    """Tables for a JSON result of unknown shape: scalars as a key/value table, lists of dicts as tables."""
    scalars = []
    for key, value in (data or {}).items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            cols = list(dict.fromkeys(k for v in value for k, x in v.items() if not isinstance(x, (dict, list))))
            doc.para(f"`{key}`:")
            doc.table(cols, [[v.get(c) for c in cols] for v in value])
        elif isinstance(value, dict):
            scalars += [r for r in _flatten(value, key) if not isinstance(r[1], list)]
        elif not isinstance(value, list):
            scalars.append([key, value])
        elif all(not isinstance(v, (dict, list)) for v in value):
            scalars.append([key, ", ".join(fmt(v) for v in value)])
    if scalars:
        doc.table(["field", "value"], scalars)
