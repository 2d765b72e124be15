"""The research report: `DIR/report.html` (self-contained) and `DIR/report.md`, built from a run folder's JSON and figures.

It opens with a one-screen summary (`summary`), then one section per stage in pipeline order, and ends with an
appendix of what each stage cost and its cache key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..io import write_text
from .analysis_sections import attribution, erasure, heads, negations, patching, probes, seed_study, selection
from .document import Doc, StageOutput
from .summary import summary
from .tuning_sections import evaluation, layer_study, localisation, recipes, steering, training

__all__ = ["StageOutput", "build_report"]


def appendix(doc: Doc, config: dict | None, stages: dict[str, StageOutput]) -> None:
    """The model, the data, the seed and what each stage cost (seconds summed over its attempts), with its cache key."""
    doc.heading("Appendix: stages, timings and cache keys")
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
                     f"{marker['seconds']:.1f}" if marker else None, marker.get("segments", 1) if marker else None])
    doc.table(["stage", "status", "cache key", "seconds", "attempts"], rows)

SECTIONS: dict[str, Callable[[Doc, StageOutput], None]] = {
    "negations": negations, "similarity": seed_study, "probes": probes, "attribution": attribution, "patching": patching, "erasure": erasure,
    "heads": heads, "selection": selection, "finetune": training, "steer": steering, "evaluate": evaluation, "localisation": localisation, "recipes": recipes, "study": layer_study,
}


def build_report(root: str | Path, stages: list[StageOutput], config: dict | None) -> tuple[Path, Path]:
    """Write `root/report.html` and `root/report.md` from the stages' typed results and figures, in stage order."""
    root = Path(root)
    by_name = {s.name: s for s in stages}
    doc = Doc(root, stages=by_name)
    doc.heading(f"negscope report: {root.name}", 1)
    summary(doc, by_name, config)
    for out in stages:
        SECTIONS[out.name](doc, out)
    appendix(doc, config, by_name)
    return write_text(root / "report.html", doc.html(f"negscope report: {root.name}")), write_text(root / "report.md", doc.markdown())


