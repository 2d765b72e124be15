"""`negscope study layers`: fine-tune front, middle, back, all and analysis-selected text blocks alike, and compare."""

from __future__ import annotations

import csv
from pathlib import Path

from ..data import load_dataset
from ..evaluation.suite import evaluate, flat
from ..finetune.run import fine_tune
from ..finetune.trainer import TrainConfig
from ..io import atomic_path, read_json, write_json, write_text
from ..models import load_bundle
from ..reports.figures import study_bars
from ..selection import plan_blocks

SETS = ("front", "middle", "back", "all", "selected")
METRICS = ("presence_accuracy", "absence_accuracy", "mcq_accuracy", "i2t_r1")


def _row(name: str, blocks: list[int], ev: dict, base: dict, coverage: float | None) -> dict:
    after, before = flat(ev), flat(base)
    row = {"set": name, "blocks": blocks, "analysis_coverage": coverage}
    for m in METRICS:
        row[m] = after[m]
        row[f"{m}_gain"] = after[m] - before[m]
    row["negation_gain"] = (row["presence_accuracy_gain"] + row["absence_accuracy_gain"]) / 2
    return row


def run_layer_study(
    model: str,
    data: str,
    out: str | Path,
    eval_data: str = "world",
    eval_limit: int | None = 1000,
    selection: str | Path | None = None,
    cfg: TrainConfig | None = None,
    pool: int = 10000,
) -> dict:
    """Fine-tune each block set with the same budget and seed, evaluate each, and correlate gains with the analysis."""
    from scipy.stats import spearmanr

    out = Path(out)
    cfg = cfg or TrainConfig()
    dataset = load_dataset(eval_data, limit=eval_limit)
    bundle = load_bundle(model)
    sel = read_json(selection) if selection else None
    combined = sel["evidence"]["combined"] if sel else None
    base_path = out / "baseline.json"
    if not base_path.is_file():
        write_json(base_path, evaluate(bundle, dataset))
    base = read_json(base_path)
    rows = []
    for name in SETS:
        if name == "selected" and sel is None:
            continue
        blocks = [b.index for b in plan_blocks(bundle, "auto" if name == "selected" else name, selection)]
        folder = out / name
        done = folder / "evaluation_row.json"
        if not done.is_file():
            print(f"layer study: fine-tuning {name} blocks {blocks}")
            fine_tune(model, data, ",".join(map(str, blocks)), folder, cfg=cfg, pool=pool, resume=True)
            write_json(done, evaluate(load_bundle(str(folder)), dataset))
        coverage = float(sum(combined[k] for k in blocks)) if combined else None
        rows.append(_row(name, blocks, read_json(done), base, coverage))
    corr = None
    if combined and len(rows) >= 3:
        rho, p = spearmanr([r["analysis_coverage"] for r in rows], [r["negation_gain"] for r in rows])
        corr = {"spearman_rho": float(rho), "p_value": float(p), "n": len(rows),
                "between": "share of the analysis score covered by a set's blocks, and its mean presence/absence gain"}
    result = {"model": model, "train_data": data, "eval_data": eval_data, "images": len(dataset),
              "train_config": cfg.__dict__, "baseline": {m: flat(base)[m] for m in METRICS},
              "rows": rows, "rank_correlation": corr}
    write_json(out / "study.json", result)
    write_text(out / "study.md", study_markdown(result))
    with atomic_path(out / "study.csv") as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["set", "blocks", *METRICS, *(f"{m}_gain" for m in METRICS), "analysis_coverage"])
        for r in rows:
            w.writerow([r["set"], " ".join(map(str, r["blocks"])), *(f"{r[m]:.4f}" for m in METRICS),
                        *(f"{r[m + '_gain']:+.4f}" for m in METRICS), r["analysis_coverage"]])
    study_bars(result, out / "study.png")
    return result


def study_markdown(result: dict) -> str:
    """The layer-study table as Markdown, gains against the model before fine-tuning."""
    b = result["baseline"]
    lines = [
        "| trained blocks | presence | absence | MCQ | i2t R@1 | analysis coverage |",
        "|---|---|---|---|---|---|",
        (f"| none (before) | {b['presence_accuracy']:.3f} | {b['absence_accuracy']:.3f} | {b['mcq_accuracy']:.3f} | "
         f"{b['i2t_r1']:.3f} | |"),
    ]
    for r in result["rows"]:
        cov = "" if r["analysis_coverage"] is None else f"{r['analysis_coverage']:.2f}"
        lines.append(
            f"| {r['set']} ({','.join(map(str, r['blocks']))}) | {r['presence_accuracy']:.3f} "
            f"({r['presence_accuracy_gain']:+.3f}) | {r['absence_accuracy']:.3f} ({r['absence_accuracy_gain']:+.3f}) | "
            f"{r['mcq_accuracy']:.3f} ({r['mcq_accuracy_gain']:+.3f}) | {r['i2t_r1']:.3f} ({r['i2t_r1_gain']:+.3f}) | {cov} |"
        )
    c = result["rank_correlation"]
    if c:
        lines.append(f"\nSpearman rank correlation ({c['between']}): ρ = {c['spearman_rho']:.2f} (p = {c['p_value']:.2f}, n = {c['n']}).")
    return "\n".join(lines) + "\n"
