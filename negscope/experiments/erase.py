"""`negscope erase`: LEACE erasure of the "negated" concept at each site, on the model and on an untrained copy.

The images are split in two: erasers are fitted on the captions of the first half (each caption and its
presence negation, each "caption, with no X" and "caption, with X"), and the negation effect is measured on
the pairs of the second half, so no caption the eraser saw is scored. Writes `erasure.json` and `erasure.png`.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from ..attribution import erasure as erasure_module
from ..attribution.erasure import ErasureRun, erase_pairs, fit_erasers
from ..data.negation import build_negations
from ..evaluation.features import image_features
from ..models import ClipBundle, load_bundle
from ..reports.attribution_figures import erasure_plot
from ..results import ErasureCurve, ErasurePoint, ErasureResult
from .common import common_dataset, feature_cache
from .config import Common, ErasureConfig


def _curve(bundle: ClipBundle, run: ErasureRun, resamples: int, seed: int) -> ErasureCurve:
    share, ci = run.removed_share(), run.intervals(resamples, seed)
    pres, abs_ = run.drops("presence"), run.drops("absence")
    points = [
        ErasurePoint(site, float(share[j]), float(ci["removed_share"][0][j]), float(ci["removed_share"][1][j]),
                     run.accuracy("presence", j), float(pres[j]), [float(c[j]) for c in ci["presence_drop"]],
                     run.accuracy("absence", j), float(abs_[j]), [float(c[j]) for c in ci["absence_drop"]])
        for j, site in enumerate(run.sites)
    ]
    return ErasureCurve(bundle.spec, run.accuracy("presence"), run.accuracy("absence"), points)


def run_erasure(common: Common, cfg: ErasureConfig, out: str | Path, progress: bool = True) -> ErasureResult:
    """Fit an eraser per site on half the images, measure erasure on the other half, trained and untrained."""
    start = time.time()
    out = Path(out)
    torch.manual_seed(common.seed)
    bundle = load_bundle(common.model)
    dataset = common_dataset(common, cfg.limit, role="analysis")
    if len(dataset) < 2:
        raise ValueError(f"erasure needs at least 2 images (half to fit, half to measure); {common.data} gave {len(dataset)}; raise --limit")
    negs = build_negations(dataset, common.seed)
    fit, held = range(0, len(negs), 2), range(1, len(negs), 2)
    k = cfg.captions_per_image
    texts, labels = [], []
    for i in fit:
        for true, false in negs[i].presence[:k]:
            texts += [true, false]
            labels += [0, 1]
        for true, false in negs[i].absence[:k]:
            texts += [true, false]
            labels += [1, 0]
    pairs = [(i, t, f, kind) for i in held for kind in ("presence", "absence") for t, f in getattr(negs[i], kind)[:k]]

    def measure(model: ClipBundle) -> ErasureCurve:
        erasers = fit_erasers(model, texts, labels, batch_size=cfg.batch_size)
        run = erase_pairs(model, erasers, pairs, image_features(model, dataset, cache=feature_cache(common, out)), batch_size=cfg.batch_size, progress=progress)
        return _curve(model, run, cfg.n_boot, common.seed)

    trained = measure(bundle)
    untrained = measure(bundle.untrained_copy(common.seed))
    kinds = np.array([p[3] for p in pairs])
    result = ErasureResult(
        model=common.model, data=common.data, seed=common.seed, method=erasure_module.__doc__.strip(),
        fit_images=len(fit), fit_texts=len(texts), eval_images=len(held),
        pairs={kind: int((kinds == kind).sum()) for kind in ("presence", "absence")},
        sites=[p.site for p in trained.points], trained=trained, untrained=untrained, seconds=round(time.time() - start, 1),
    )
    result.save(out)
    erasure_plot(result, out / "erasure.png", f"{common.model}: LEACE erasure of 'negated' per site ({len(pairs)} pairs)")
    return result


def format_summary(result: ErasureResult) -> str:
    """Per site, the share of the negation effect erasure removes, trained against untrained."""
    return "\n".join(
        f"{t.site}: removed {t.removed_share:.2f} [{t.ci_low:.2f}, {t.ci_high:.2f}] (untrained {u.removed_share:.2f}); "
        f"presence drop {t.presence_drop:+.3f}, absence drop {t.absence_drop:+.3f}"
        for t, u in zip(result.trained.points, result.untrained.points)
    )
