"""`negscope patch`: activation patching between positive and negated captions, per site, both ways."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from ..attribution import aligned_pairs, patch_pairs
from ..attribution import patching as patching_module
from ..data import negation_pairs
from ..evaluation.features import image_features
from ..models import ClipBundle, load_bundle
from ..reports.attribution_figures import patching_plot
from ..results import CaptionPair, CurvePoint, PatchingResult, PatchRun
from .common import common_dataset, feature_cache
from .config import Common, PatchingConfig


def both_ways(bundle: ClipBundle, pos: list[str], neg: list[str], feats: torch.Tensor, positions: str, seed: int,
              progress: bool = False) -> tuple[dict[str, PatchRun], dict[str, list[CurvePoint]], list[str]]:
    """Patch positive into negated captions and back: the runs and curves by direction, and the sites."""
    runs, curves = {}, {}
    for direction, (receivers, donors) in (("forward", (pos, neg)), ("reverse", (neg, pos))):
        res = patch_pairs(bundle, receivers, donors, feats, positions=positions, progress=progress)
        runs[direction] = PatchRun(res.receiver.tolist(), res.donor.tolist(), res.patched.tolist())
        curves[direction] = res.curve(seed=seed)
    return runs, curves, res.sites


def run_patching(common: Common, cfg: PatchingConfig, out: str | Path, progress: bool = True) -> PatchingResult:
    """Patch every site's EOS state (and, with `all_tokens`, the token states) both ways; write patching.json."""
    start = time.time()
    out = Path(out)
    seed = common.seed
    torch.manual_seed(seed)
    bundle = load_bundle(common.model)
    dataset = common_dataset(common, cfg.limit, role="analysis")
    rows, pos, neg = negation_pairs(dataset, cfg.pairs, seed)
    position_sets = ("eos", "context", "all") if cfg.all_tokens else ("eos",)
    aligned = aligned_pairs(bundle, rows, pos, neg) if cfg.all_tokens else None
    cache = feature_cache(common, out)
    img = image_features(bundle, dataset, cache=cache)
    runs, curves, counts = {}, {}, {}
    for positions in position_sets:
        r, p, n = (rows, pos, neg) if positions == "eos" else aligned
        counts[positions] = len(r)
        runs[positions], curves[positions], sites = both_ways(bundle, p, n, img[r], positions, seed, progress)
    copy = bundle.untrained_copy(seed)
    untrained_runs, untrained_curves, _ = both_ways(copy, pos, neg, image_features(copy, dataset, cache=cache)[rows], "eos", seed, progress)
    result = PatchingResult(
        model=common.model,
        data=common.data,
        pairs=cfg.pairs,
        seed=seed,
        n_pairs=counts,
        sites=sites,
        method=patching_module.__doc__.strip(),
        directions={"forward": "receiver = positive caption, donor = negated", "reverse": "receiver = negated, donor = positive"},
        curves=curves,
        captions=[CaptionPair(dataset[i].image_id, a, b) for i, a, b in zip(rows, pos, neg)],
        runs=runs,
        seconds=round(time.time() - start, 1),
        untrained_curves=untrained_curves,
        untrained_runs=untrained_runs,
    )
    result.save(out)
    patching_plot(curves, out / "patching.png", f"{common.model}: activation patching on {cfg.pairs} pairs ({counts['eos']} pairs)",
                  untrained=untrained_curves)
    return result


def format_summary(result: PatchingResult) -> str:
    """One line per direction: the share of the effect recreated by patching each site's EOS state."""
    return "\n".join(
        f"EOS patching, {direction}: " + " ".join(f"{p.site}:{p.share:.2f}" for p in points)
        for direction, points in result.curves["eos"].items()
    )
