"""`negscope evaluate`: every negation metric for one or more models, and a before/after table."""

from __future__ import annotations

import csv
from pathlib import Path

from ..data import load_dataset
from ..evaluation.suite import evaluate, flat
from ..io import atomic_path, write_json, write_text
from ..models import load_bundle

TABLE_COLUMNS = (
    "presence_accuracy", "absence_accuracy", "mcq_accuracy", "swap_accuracy",
    "i2t_r1", "i2t_r5", "i2t_r10", "t2i_r1", "t2i_r5", "t2i_r10", "pos_mean", "neg_mean", "flip_rate",
)


def comparison_markdown(rows: list[dict]) -> str:
    """Markdown table of the main metrics, with the change against the first row."""
    rows = [flat(r) for r in rows]
    head = "| model | " + " | ".join(TABLE_COLUMNS) + " |"
    lines = [head, "|" + "---|" * (len(TABLE_COLUMNS) + 1)]
    for r in rows:
        lines.append(f"| {r['model']} | " + " | ".join(f"{r[c]:.3f}" for c in TABLE_COLUMNS) + " |")
    for r in rows[1:]:
        lines.append(
            f"| Δ {r['model']} vs {rows[0]['model']} | "
            + " | ".join(f"{r[c] - rows[0][c]:+.3f}" for c in TABLE_COLUMNS) + " |"
        )
    return "\n".join(lines) + "\n"


def run_evaluate(
    models: list[str], data: str, out: str | Path, limit: int | None = None, strict: bool = False, seed: int = 0
) -> list[dict]:
    """Evaluate every model on `data`; write evaluation.json, comparison.md and comparison.csv to `out`."""
    out = Path(out)
    dataset = load_dataset(data, limit=limit, strict=strict)
    rows = []
    for spec in models:
        print(f"evaluate: {spec} on {len(dataset)} images of {data}")
        rows.append(evaluate(load_bundle(spec), dataset, seed=seed, progress=True))
    write_json(out / "evaluation.json", {"data": data, "seed": seed, "skipped_images": len(dataset.skipped), "rows": rows})
    write_text(out / "comparison.md", comparison_markdown(rows))
    with atomic_path(out / "comparison.csv") as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["model", *TABLE_COLUMNS])
        w.writerows([r["model"], *(f"{flat(r)[c]:.6f}" for c in TABLE_COLUMNS)] for r in rows)
    return rows
