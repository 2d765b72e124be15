"""`negscope negations`: the negated captions every stage will read, sampled, with the captions skipped and why."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from ..data.overview import CaptionNegations, negation_overview
from ..io import write_csv, write_text
from ..results.negations import NegationsResult
from .common import common_dataset
from .config import Common, NegationsConfig

COLUMNS = tuple(f.name for f in dataclasses.fields(CaptionNegations))


def run_negations(common: Common, cfg: NegationsConfig, out: str | Path) -> NegationsResult:
    """Build every caption's negations; write negations.json (counts and a sample), negations.md and negations.csv."""
    out = Path(out)
    dataset = common_dataset(common, cfg.limit)
    view = negation_overview(dataset, seed=common.seed)
    rng = np.random.default_rng(common.seed)
    usable = [r for r in view.captions if not r.skipped]
    picks = sorted(rng.choice(len(usable), size=min(cfg.samples, len(usable)), replace=False)) if usable else []
    result = NegationsResult(
        common.data, len(dataset), len(view.captions), len(dataset.skipped), view.skipped, view.unmentioned_pairs,
        view.object_pairs, dataset.brings_negations, sum(r.mcq is not None for r in dataset), common.seed,
        [usable[int(i)] for i in picks],
    )
    result.save(out)
    write_text(out / "negations.md", format_summary(result))
    write_csv(out / "negations.csv", COLUMNS, ([getattr(r, c) for c in COLUMNS] for r in view.captions))
    return result


def format_summary(result: NegationsResult) -> str:
    """The counts, the skips by reason and the sampled captions, as Markdown."""
    source = "the data's own negations" if result.given else "the rule builders"
    lines = [(f"{result.images} images and {result.captions} captions of {result.data}, negated by {source}; "
              f"{result.skipped_images} images missing or unreadable were skipped.")]
    if result.questions:
        lines.append(f"{result.questions} multiple-choice questions.")
    if result.object_pairs:
        lines.append(f"{result.unmentioned_pairs} of {result.object_pairs} (caption, annotated object) pairs do not "
                     "mention the object, so it is never negated in that caption.")
    lines += ["", "| skipped captions (no presence negation) | captions |", "|---|---|"]
    lines += [f"| {reason} | {n} ({100 * n / result.captions:.1f}%) |" for reason, n in result.skipped_captions.items()]
    lines += [f"| total | {sum(result.skipped_captions.values())} ({100 * result.skipped_share:.1f}%) |", ""]
    lines += ["| image | caption | object | presence (false) | absent | absence (true) |", "|---|---|---|---|---|---|"]
    lines += [f"| {r.image_id} | {r.caption} | {r.object or ''} | {r.presence or ''} | {r.absent or ''} | {r.absence or ''} |"
              for r in result.samples]
    return "\n".join(lines) + "\n"
