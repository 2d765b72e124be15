"""`negscope erase`: LEACE erasure of the "negated" concept at each site, on the model, beside two control erasers
of the same rank and untrained copies, with what else erasure breaks and the amnesic check.

The images are split in two: erasers are fitted on the captions of the first half (each caption and its
presence negation, each "caption, with no X" and "caption, with X"), and everything is measured on the second
half, so no caption the eraser saw is scored or probed. Every interval resamples the measured images.
Writes `erasure.json` and `erasure.png`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..attribution import erasure as erasure_module
from ..attribution.erasure import (
    CONTROLS,
    ErasureInputs,
    ErasureRun,
    amnesic_check,
    erase_texts,
    fit_erasers,
    labelled_texts,
    leace_run,
    pair_run,
)
from ..data.negation import build_negations
from ..evaluation.retrieval import recall_hits
from ..hooks.capture import text_states
from ..reports.attribution_figures import erasure_plot
from ..results import AmnesicProbe, ErasureResult, ErasureSite, Share
from ..results.evidence import BlockEvidence
from ..stats import bootstrap, mean_interval, paired_change
from .analysis import Analysis
from .config import Common, ErasureConfig


def _shares(runs: dict[str, ErasureRun], copies: list[ErasureRun], resamples: int, seed: int) -> dict[str, list[Share]]:
    """Per eraser (and "over_untrained": the model's share minus the copies' mean), the removed share per site with
    its interval, every one over the same image resamples."""
    def stat(rows: np.ndarray) -> np.ndarray:
        shares = {name: run.removed_share(rows) for name, run in runs.items()}
        shares["over_untrained"] = shares["leace"] - np.mean([c.removed_share(rows) for c in copies], axis=0)
        return np.stack(list(shares.values()))

    rows = np.arange(len(runs["leace"].true))
    value, (low, high) = stat(rows), bootstrap(stat, runs["leace"].images, resamples, seed)
    names = [*runs, "over_untrained"]
    return {n: [Share(float(v), float(lo), float(hi)) for v, lo, hi in zip(value[i], low[i], high[i])] for i, n in enumerate(names)}


def run_erasure(common: Common, cfg: ErasureConfig, out: str | Path, progress: bool = True) -> ErasureResult:
    """Fit the erasers per site on half the images and measure the rest: the real eraser, its controls, the copies."""
    ctx = Analysis.open(common, out)
    out = Path(out)
    bundle, dataset = ctx.bundle, ctx.dataset(cfg.limit)
    if len(dataset) < 2:
        raise ValueError(f"erasure needs at least 2 images (half to fit, half to measure); {common.data} gave {len(dataset)}; raise --limit")
    negs = build_negations(dataset, common.seed)
    fit, held = range(0, len(negs), 2), range(1, len(negs), 2)
    k = cfg.captions_per_image
    inputs = ErasureInputs.split(negs, k)
    texts, pairs, pair_texts = inputs.texts, inputs.pairs, inputs.pair_texts
    swaps = [(i, t, f, "swap") for i in held for t, f in negs[i].swap[:k]]
    captions = [(i, c) for i in held for c in dataset[i].captions]

    erasers = fit_erasers(bundle, texts, inputs.labels, batch_size=cfg.batch_size, seed=common.seed)
    img = ctx.image_features(bundle, dataset)
    extra = [t for _, a, b, _ in swaps for t in (a, b)] + [c for _, c in captions]
    encoded = erase_texts(bundle, erasers["leace"], pair_texts + extra, batch_size=cfg.batch_size, progress=progress)
    runs = {"leace": pair_run(encoded, pairs, img)}
    for name in CONTROLS:
        runs[name] = pair_run(erase_texts(bundle, erasers[name], pair_texts, batch_size=cfg.batch_size, progress=progress),
                              pairs, img)
    erasers = erasers["leace"]
    seeds = ctx.copy_seeds
    copies = [leace_run(copy, inputs, ctx.image_features(copy, dataset), cfg.batch_size, progress)
              for copy in map(ctx.copy, seeds)]
    real = runs["leace"]
    shares = _shares(runs, copies, cfg.n_boot, common.seed)
    untrained = np.array([c.removed_share() for c in copies])

    swap = pair_run(encoded, swaps, img)
    row = {i: r for r, i in enumerate(held)}
    held_img, owner = img[list(held)], np.array([row[i] for i, _ in captions])
    retrieval = [(hits["i2t_r1"].values, hits["t2i_r1"].values) for hits in
                 (recall_hits(held_img, encoded.features([c for _, c in captions], j), owner, ks=(1,))
                  for j in [None, *range(len(real.sites))])]

    probe_texts, probe_labels, probe_images = labelled_texts(negs, held, k)
    states = text_states(bundle, probe_texts, real.sites, pool="mean", batch_size=cfg.batch_size)
    y, groups = np.array(probe_labels), np.array(probe_images)
    amnesic = amnesic_check(states, erasers, y, groups, common.seed)
    chance = float(max(y.mean(), 1 - y.mean()))

    def change(before: np.ndarray, after: np.ndarray, images: np.ndarray):
        return paired_change(before, after, images, cfg.n_boot, common.seed)

    def accuracy(correct: np.ndarray) -> tuple[float, list[float]]:
        return float(correct.mean()), list(mean_interval(correct, groups, cfg.n_boot, common.seed))

    points = []
    for j, site in enumerate(real.sites):
        kinds = real.kinds
        points.append(ErasureSite(
            site, shares["leace"][j], shares["random"][j], shares["shuffled"][j], untrained[:, j].tolist(),
            float(untrained[:, j].mean()), float(untrained[:, j].std(ddof=1)) if len(copies) > 1 else 0.0,
            shares["over_untrained"][j],
            *(change(real.hits(kind), real.hits(kind, j), real.images[kinds == kind]) for kind in ("presence", "absence")),
            change(swap.hits(), swap.hits(None, j), swap.images),
            change(retrieval[0][0], retrieval[j + 1][0], np.arange(len(held))),
            change(retrieval[0][1], retrieval[j + 1][1], owner),
            AmnesicProbe(*accuracy(amnesic[site][0]), *accuracy(amnesic[site][1]), chance),
        ))
    evidence = BlockEvidence.measure_curves(
        "share of the negation effect removed by LEACE erasure", real.sites,
        lambda rows: (real.removed_share(rows), [c.removed_share(rows) for c in copies]),
        real.images, seeds, common.evidence_resamples, common.seed)
    result = ErasureResult(
        model=common.model, data=dataset.describe(), seed=common.seed, method=erasure_module.__doc__.strip(),
        fit_images=len(fit), fit_texts=len(texts), eval_images=len(held),
        pairs={kind: int((real.kinds == kind).sum()) for kind in ("presence", "absence")} | {"swap": len(swaps)},
        probe_captions=len(probe_texts), untrained_seeds=seeds, sites=real.sites, points=points,
        evidence=evidence, seconds=ctx.seconds(),
    )
    result.save(out)
    erasure_plot(result, out / "erasure.png", f"{common.model}: LEACE erasure of 'negated' per site ({len(pairs)} pairs)")
    return result


def format_summary(result: ErasureResult) -> str:
    """Per site, the share of the negation effect erasure removes against its controls and the untrained copies."""
    return "\n".join(
        f"{p.site}: removed {p.leace.share:.2f} [{p.leace.ci_low:.2f}, {p.leace.ci_high:.2f}] (random {p.random.share:.2f}, "
        f"shuffled {p.shuffled.share:.2f}, untrained {p.untrained_mean:.2f} ± {p.untrained_spread:.2f}); "
        f"amnesic probe {p.amnesic.before:.2f} -> {p.amnesic.after:.2f} (chance {p.amnesic.chance:.2f})"
        for p in result.points
    )
