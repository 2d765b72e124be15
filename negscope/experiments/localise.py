"""`negscope localise`: patching and erasure measured again on the fine-tuned model, on the same analysis images as on
the model before it; per block, the change of each measure's gain with a paired interval over images, and whether the
change sits in the trained blocks.

Patching is the EOS patching of presence pairs both ways (`attribution.patch_both_ways`), erasure the LEACE eraser fitted on half
the images and measured on the other half (`attribution.erasure.leace_run`); each model is measured with its own erasers. Block k's
gain is the rise of the measure's curve across the block, as in the selection's evidence (`models.block_gains`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..attribution import both_ways_share, patch_both_ways
from ..attribution.erasure import ErasureInputs, leace_run
from ..data import negation_pairs
from ..data.negation import build_negations
from ..models import load_bundle
from ..models.sites import block_gains
from ..reports.figures import localisation_bars
from ..results.localisation import BlockChange, LocalisationResult
from ..results.training import TrainResult
from ..stats import bootstrap
from .analysis import Analysis
from .config import Common, LocalisationConfig


def block_change(measure: str, sites: list[str], curves: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
                 images: list, trained: list[int], resamples: int, seed: int) -> BlockChange:
    """Per block, the gain after fine-tuning minus before, both models resampled on the same images.

    Args:
        measure: what the curve is, in words.
        sites: the curves' sites, every site from `text.embed` on.
        curves: maps row indices (with repeats) to (the curve before, the curve after).
        images: per row, its image id; resamples draw whole images.
        trained: the fine-tuned blocks.
        resamples: image resamples for the intervals.
        seed: the seed of the draws.

    Returns:
        The `BlockChange`.
    """
    def stat(rows: np.ndarray) -> np.ndarray:
        before, after = (block_gains(sites, c) for c in curves(rows))
        change = after - before
        inside = np.isin(np.arange(len(change)), trained)
        gap = change[inside].mean() - change[~inside].mean() if inside.any() and (~inside).any() else np.nan
        return np.concatenate([before, after, change, [gap]])

    value = stat(np.arange(len(images)))
    low, high = bootstrap(stat, images, resamples, seed)
    n = (len(value) - 1) // 3
    return BlockChange(measure, value[:n].tolist(), value[n:2 * n].tolist(), value[2 * n:3 * n].tolist(),
                       low[2 * n:3 * n].tolist(), high[2 * n:3 * n].tolist(), float(value[-1]), [float(low[-1]), float(high[-1])])


def run_localisation(common: Common, cfg: LocalisationConfig, tuned: str | Path, out: str | Path,
                     progress: bool = True) -> LocalisationResult:
    """Measure patching and erasure on `common.model` and on the fine-tuned model in `tuned`; write localisation.json.

    Args:
        common: the shared settings (the model before fine-tuning, the data, the seed, `evidence_resamples`).
        cfg: the stage's settings.
        tuned: the fine-tuned model's folder (with its train.json).
        out: the output folder.
        progress: show progress bars.

    Returns:
        The result.
    """
    ctx = Analysis.open(common, out)
    out, tuned = Path(out), Path(tuned)
    trained = TrainResult.load(TrainResult.path(tuned)).blocks
    dataset = ctx.dataset(cfg.limit)
    models = {"before": ctx.bundle, "after": load_bundle(str(tuned))}
    rows, pos, neg = negation_pairs(dataset, "presence", common.seed)
    patched = {name: list(patch_both_ways(m, pos, neg, ctx.image_features(m, dataset)[rows], "eos", progress).values())
               for name, m in models.items()}
    sites = patched["before"][0].sites
    patching = block_change("rise of the share of the negation effect recreated by patching the EOS state", sites,
                            lambda r: (both_ways_share(patched["before"], r), both_ways_share(patched["after"], r)),
                            [dataset[i].image_id for i in rows], trained, common.evidence_resamples, common.seed)
    inputs = ErasureInputs.split(build_negations(dataset, common.seed), cfg.captions_per_image)
    erased = {name: leace_run(m, inputs, ctx.image_features(m, dataset), cfg.batch_size, progress)
              for name, m in models.items()}
    erasure = block_change("share of the negation effect removed by LEACE erasure", erased["before"].sites,
                           lambda r: (erased["before"].removed_share(r), erased["after"].removed_share(r)),
                           erased["before"].images, trained, common.evidence_resamples, common.seed)
    result = LocalisationResult(model=common.model, tuned=str(tuned), data=dataset.describe(), images=len(dataset),
                                trained_blocks=trained, patching=patching, erasure=erasure, seconds=ctx.seconds())
    result.save(out)
    localisation_bars(result, out / "localisation.png")
    return result


def format_summary(result: LocalisationResult) -> str:
    """Per measure, each block's change with its interval (* where it excludes 0, † on a trained block), then whether
    the change sits in the trained blocks."""
    lines = []
    for change in (result.patching, result.erasure):
        blocks = " ".join(f"{k}{'†' if k in result.trained_blocks else ''}:{c:+.3f} [{lo:+.3f}, {hi:+.3f}]{'*' if s else ''}"
                          for k, (c, lo, hi, s) in enumerate(zip(change.change, change.ci_low, change.ci_high, change.certain)))
        lines += [f"{change.measure}, after − before per block († trained, * interval excludes 0): {blocks}",
                  change.sentence(result.trained_blocks)]
    return "\n".join(lines)
