"""`negscope similarity`: the seed Table 1, the template chart and the t-SNE, for one or more models."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..data.negation import TEMPLATE_NAMES
from ..evaluation.similarity import similarity_study
from ..io import write_csv
from ..models import load_bundle
from ..reports.figures import template_bars, tsne_plot
from ..results import SimilarityResult
from .common import common_dataset, feature_cache, slug
from .config import Common, SimilarityConfig


def run_similarity(
    common: Common, cfg: SimilarityConfig, out: str | Path, models: list[str] | None = None, progress: bool = True
) -> SimilarityResult:
    """Run the seed study for every model (default: the common one) and write JSON, CSV and figures to `out`."""
    out = Path(out)
    dataset = common_dataset(common, cfg.limit)
    result = SimilarityResult(common.data, len(dataset), len(dataset.skipped), common.seed)
    pair_rows = []
    for spec in models or [common.model]:
        bundle = load_bundle(spec)
        print(f"similarity: {spec} on {len(dataset)} images of {common.data}")
        scores = similarity_study(bundle, dataset, seed=common.seed, progress=progress, cache=feature_cache(common, out))
        result.rows.append(replace(scores.summary(), truncated_captions=bundle.truncated))
        for p, cap in enumerate(scores.captions):
            pair_rows.append([spec, scores.image_ids[scores.pair_image[p]], cap, *(f"{s:.6f}" for s in scores.scores[p])])
        template_bars(scores, out / f"templates_{slug(spec)}.png")
        tsne_plot(scores, out / f"tsne_{slug(spec)}.png", seed=common.seed)
    result.save(out)
    write_csv(out / "similarity.csv", ["model", "image_id", "caption", *(f"s_{n}" for n in TEMPLATE_NAMES)], pair_rows)
    return result


def format_summary(result: SimilarityResult) -> str:
    """The seed Table 1 as Markdown."""
    lines = ["| model | pairs | pos mean ± std | neg mean ± std | flips |", "|---|---|---|---|---|"]
    for r in result.rows:
        lines.append(
            f"| {r.model} | {r.pairs} | {r.pos_mean:.4f} ± {r.pos_std:.4f} | "
            f"{r.neg_mean:.4f} ± {r.neg_std:.4f} | {r.flips} ({100 * r.flip_rate:.1f}%) |"
        )
    return "\n".join(lines)
