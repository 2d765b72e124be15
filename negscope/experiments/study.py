"""`negscope study layers`: fine-tune front, middle, back, all and analysis-selected text blocks alike, and compare.

Each set lives in its own folder, keyed by the content of its inputs (model and data fingerprints, the training
settings, the blocks, the evaluation size and the code); a rerun reuses a finished set only while that key matches,
and redoes it otherwise, so changed `--steps`, weights or data never reuse old numbers.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Callable
from pathlib import Path

from ..data import data_fingerprint, load_dataset
from ..evaluation.suite import evaluate
from ..finetune.run import fine_tune
from ..fingerprint import code_fingerprint, digest
from ..io import atomic_path, write_json, write_text
from ..models import load_bundle, model_fingerprint
from ..reports.figures import study_bars
from ..results import EvaluationRow, RankCorrelation, SelectionResult, StudyResult, StudyRow
from ..results.base import build, plain
from ..selection import plan_blocks
from .common import claim, finished
from .config import Common, FinetuneConfig, StudyConfig

SETS = ("front", "middle", "back", "all", "selected")
METRICS = ("presence_accuracy", "absence_accuracy", "mcq_accuracy", "i2t_r1", "t2i_r1")
MARKER = "set.json"


def _keyed_row(folder: Path, key: str, compute: Callable[[], EvaluationRow]) -> EvaluationRow:
    """The evaluation row stored in `folder` under `key`, computed (and stored) when missing or made from other inputs."""
    done = finished(folder, key, MARKER)
    if done:
        return build(EvaluationRow, done["row"])
    claim(folder, key, MARKER)
    row = compute()
    write_json(folder / MARKER, {"key": key, "row": plain(row)})
    return row


def _row(name: str, blocks: list[int], after: EvaluationRow, before: EvaluationRow, coverage: float | None) -> StudyRow:
    values = {m: after.metric(m) for m in METRICS}
    gains = {m: values[m] - before.metric(m) for m in METRICS}
    return StudyRow(name, blocks, coverage, values, gains, (gains["presence_accuracy"] + gains["absence_accuracy"]) / 2)


def run_layer_study(
    common: Common,
    finetune: FinetuneConfig,
    cfg: StudyConfig,
    out: str | Path,
    selection: str | Path | None = None,
    progress: bool = True,
) -> StudyResult:
    """Fine-tune each block set with the same budget and seed, evaluate each, and correlate gains with the analysis."""
    from scipy.stats import spearmanr

    out = Path(out)
    train = dataclasses.replace(finetune, steps=cfg.steps)
    train_data = finetune.train_data or common.data
    dataset = load_dataset(common.data, limit=cfg.limit, strict=common.strict)
    bundle = load_bundle(common.model)
    sel = SelectionResult.load(selection) if selection else None
    base_key = digest({"model": model_fingerprint(common.model), "data": data_fingerprint(common.data),
                       "limit": cfg.limit, "seed": common.seed, "code": code_fingerprint()})
    base = _keyed_row(out / "baseline", base_key, lambda: evaluate(bundle, dataset, seed=common.seed, progress=progress))
    rows = []
    for name in SETS:
        if name == "selected" and sel is None:
            continue
        blocks = [b.index for b in plan_blocks(bundle, "auto" if name == "selected" else name, selection)]
        folder = out / name
        key = digest({"base": base_key, "train_data": data_fingerprint(train_data), "train": dataclasses.asdict(train),
                      "blocks": blocks})

        def train_and_evaluate(folder: Path = folder, blocks: list[int] = blocks, name: str = name) -> EvaluationRow:
            print(f"layer study: fine-tuning {name} blocks {blocks}")
            fine_tune(common.model, train_data, ",".join(map(str, blocks)), folder, cfg=train, seed=common.seed,
                      pool=finetune.pool, resume=True, progress=progress)
            return evaluate(load_bundle(str(folder)), dataset, seed=common.seed, progress=progress)

        after = _keyed_row(folder, key, train_and_evaluate)
        coverage = float(sum(sel.evidence.combined[k] for k in blocks)) if sel else None
        rows.append(_row(name, blocks, after, base, coverage))
    corr = None
    if sel and len(rows) >= 3:
        rho, p = spearmanr([r.analysis_coverage for r in rows], [r.negation_gain for r in rows])
        corr = RankCorrelation(float(rho), float(p), len(rows),
                               "share of the analysis score covered by a set's blocks, and its mean presence/absence gain")
    result = StudyResult(model=common.model, train_data=train_data, eval_data=common.data, images=len(dataset),
                         train_config=dataclasses.asdict(train), baseline={m: base.metric(m) for m in METRICS},
                         rows=rows, rank_correlation=corr)
    result.save(out)
    write_text(out / "study.md", format_summary(result))
    with atomic_path(out / "study.csv") as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["set", "blocks", *METRICS, *(f"{m}_gain" for m in METRICS), "analysis_coverage"])
        for r in rows:
            w.writerow([r.set, " ".join(map(str, r.blocks)), *(f"{r.values[m]:.4f}" for m in METRICS),
                        *(f"{r.gains[m]:+.4f}" for m in METRICS), r.analysis_coverage])
    study_bars(result, out / "study.png")
    return result


def format_summary(result: StudyResult) -> str:
    """The layer-study table as Markdown, gains against the model before fine-tuning."""
    b = result.baseline
    lines = [
        "| trained blocks | presence | absence | MCQ | i2t R@1 | t2i R@1 | analysis coverage |",
        "|---|---|---|---|---|---|---|",
        "| none (before) | " + " | ".join(f"{b[m]:.3f}" for m in METRICS) + " | |",
    ]
    for r in result.rows:
        cov = "" if r.analysis_coverage is None else f"{r.analysis_coverage:.2f}"
        cells = " | ".join(f"{r.values[m]:.3f} ({r.gains[m]:+.3f})" for m in METRICS)
        lines.append(f"| {r.set} ({','.join(map(str, r.blocks))}) | {cells} | {cov} |")
    c = result.rank_correlation
    if c:
        lines.append(f"\nSpearman rank correlation ({c.between}): ρ = {c.spearman_rho:.2f} (p = {c.p_value:.2f}, n = {c.n}).")
    return "\n".join(lines) + "\n"
