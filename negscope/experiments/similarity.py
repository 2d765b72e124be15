"""`negscope similarity`: the seed Table 1, the template chart and the t-SNE, for one or more models."""

from __future__ import annotations

import csv
from pathlib import Path

from ..data import load_dataset
from ..data.negation import TEMPLATE_NAMES
from ..evaluation.similarity import similarity_study
from ..io import atomic_path, write_json
from ..models import load_bundle
from ..reports.figures import template_bars, tsne_plot
from .common import slug


def run_similarity(
    models: list[str], data: str, out: str | Path, limit: int | None = None, strict: bool = False, seed: int = 0
) -> list[dict]:
    """Run the seed study for every model on `data` and write JSON, CSV and figures to `out`."""
    out = Path(out)
    dataset = load_dataset(data, limit=limit, strict=strict)
    rows, pair_rows = [], []
    for spec in models:
        bundle = load_bundle(spec)
        print(f"similarity: {spec} on {len(dataset)} images of {data}")
        res = similarity_study(bundle, dataset, seed=seed, progress=True)
        row = res.summary()
        row["truncated_captions"] = bundle.truncated
        rows.append(row)
        for p, cap in enumerate(res.captions):
            pair_rows.append(
                [spec, res.image_ids[res.pair_image[p]], cap, *(f"{s:.6f}" for s in res.scores[p])]
            )
        template_bars(res, out / f"templates_{slug(spec)}.png")
        tsne_plot(res, out / f"tsne_{slug(spec)}.png", seed=seed)
    write_json(
        out / "similarity.json",
        {"data": data, "images": len(dataset), "skipped_images": len(dataset.skipped), "seed": seed, "rows": rows},
    )
    with atomic_path(out / "similarity.csv") as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["model", "image_id", "caption", *(f"s_{n}" for n in TEMPLATE_NAMES)])
        w.writerows(pair_rows)
    return rows


def format_table(rows: list[dict]) -> str:
    """The seed Table 1 as Markdown."""
    lines = ["| model | pairs | pos mean ± std | neg mean ± std | flips |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['pairs']} | {r['pos_mean']:.4f} ± {r['pos_std']:.4f} | "
            f"{r['neg_mean']:.4f} ± {r['neg_std']:.4f} | {r['flips']} ({100 * r['flip_rate']:.1f}%) |"
        )
    return "\n".join(lines)
