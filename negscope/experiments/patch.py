"""`negscope patch`: activation patching between positive and negated captions, per site, both ways, on the model and
on untrained copies of its architecture, with the per-block evidence (gain over the copies, intervals over images)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..attribution import PatchResult, aligned_pairs, both_ways_share, patch_both_ways
from ..attribution import patching as patching_module
from ..data import negation_pairs
from ..reports.attribution_figures import patching_plot
from ..results import CaptionPair, CurvePoint, PatchingResult, PatchRun
from ..results.evidence import BlockEvidence
from .analysis import Analysis
from .common import evidence_line
from .config import Common, PatchingConfig


def _runs(results: dict[str, PatchResult]) -> dict[str, PatchRun]:
    return {d: PatchRun(r.receiver.tolist(), r.donor.tolist(), r.patched.tolist()) for d, r in results.items()}


def _curves(results: dict[str, PatchResult], images: list, common: Common) -> dict[str, list[CurvePoint]]:
    return {d: r.curve(images, common.evidence_resamples, common.seed) for d, r in results.items()}


def patching_evidence(model: dict[str, PatchResult], copies: list[dict[str, PatchResult]], images: list,
                      common: Common) -> BlockEvidence:
    """Per block, the rise across it of the share of the negation effect that EOS patching recreates (directions
    averaged) in the model over the untrained copies' mean, every model resampled on the same images."""
    def curves(rows: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        return both_ways_share(list(model.values()), rows), [both_ways_share(list(c.values()), rows) for c in copies]

    return BlockEvidence.measure_curves("rise of the share of the negation effect recreated by patching the EOS state "
                                        "(forward and reverse averaged)", next(iter(model.values())).sites, curves,
                                        images, common.untrained_seeds, common.evidence_resamples, common.seed)


def run_patching(common: Common, cfg: PatchingConfig, out: str | Path, progress: bool = True) -> PatchingResult:
    """Patch every site's EOS state (and, with `all_tokens`, the token states) both ways on the model, and the EOS
    states on each untrained copy; write patching.json."""
    ctx = Analysis.open(common, out)
    out = Path(out)
    seed = common.seed
    bundle, dataset = ctx.bundle, ctx.dataset(cfg.limit)
    rows, pos, neg = negation_pairs(dataset, cfg.pairs, seed)
    position_sets = ("eos", "context", "all") if cfg.all_tokens else ("eos",)
    aligned = aligned_pairs(bundle, rows, pos, neg) if cfg.all_tokens else None
    img = ctx.image_features(bundle, dataset)
    runs, curves, counts, results = {}, {}, {}, {}
    for positions in position_sets:
        r, p, n = (rows, pos, neg) if positions == "eos" else aligned
        counts[positions] = len(r)
        results[positions] = patch_both_ways(bundle, p, n, img[r], positions, progress)
        runs[positions] = _runs(results[positions])
        curves[positions] = _curves(results[positions], [dataset[i].image_id for i in r], common)
    images = [dataset[i].image_id for i in rows]
    copies = []
    for copy in map(ctx.copy, ctx.copy_seeds):
        copies.append(patch_both_ways(copy, pos, neg, ctx.image_features(copy, dataset)[rows], "eos", progress))
    untrained_curves = [_curves(c, images, common) for c in copies]
    result = PatchingResult(
        model=common.model,
        data=dataset.describe(),
        pairs=cfg.pairs,
        seed=seed,
        n_pairs=counts,
        sites=results["eos"]["forward"].sites,
        method=patching_module.__doc__.strip(),
        directions={"forward": "receiver = positive caption, donor = negated", "reverse": "receiver = negated, donor = positive"},
        curves=curves,
        captions=[CaptionPair(dataset[i].image_id, a, b) for i, a, b in zip(rows, pos, neg)],
        runs=runs,
        seconds=ctx.seconds(),
        untrained_curves=untrained_curves,
        untrained_runs=[_runs(c) for c in copies],
        evidence=patching_evidence(results["eos"], copies, images, common),
    )
    result.save(out)
    patching_plot(curves, out / "patching.png", f"{common.model}: activation patching on {cfg.pairs} pairs ({counts['eos']} pairs)",
                  untrained=untrained_curves[0])
    return result


def format_summary(result: PatchingResult) -> str:
    """One line per direction: the share of the effect recreated by patching each site's EOS state; and each block's
    gain over the untrained copies."""
    return "\n".join([
        *(f"EOS patching, {direction}: " + " ".join(f"{p.site}:{p.share:.2f}" for p in points)
          for direction, points in result.curves["eos"].items()),
        evidence_line(result.evidence),
    ])
