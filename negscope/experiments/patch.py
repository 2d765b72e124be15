"""`negscope patch`: activation patching between positive and negated captions, per site, both ways."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from ..attribution import aligned_pairs, patch_pairs
from ..attribution import patching as patching_module
from ..data import load_dataset, negation_pairs
from ..evaluation.features import image_features
from ..io import write_json
from ..models import load_bundle
from ..reports.attribution_figures import patching_plot


def run_patching(
    model: str,
    data: str,
    out: str | Path,
    limit: int | None = 200,
    all_tokens: bool = False,
    pairs: str = "presence",
    seed: int = 0,
    progress: bool = True,
) -> dict:
    """Patch every site's EOS state (and, with `all_tokens`, the token states) both ways; write patching.json."""
    start = time.time()
    out = Path(out)
    torch.manual_seed(seed)
    bundle = load_bundle(model)
    dataset = load_dataset(data, limit=limit)
    rows, pos, neg = negation_pairs(dataset, pairs, seed)
    img = image_features(bundle, dataset)
    runs, curves, counts = {}, {}, {}
    for positions in ("eos", "context", "all") if all_tokens else ("eos",):
        r, p, n = (rows, pos, neg) if positions == "eos" else aligned_pairs(bundle, rows, pos, neg)
        counts[positions] = len(r)
        feats = img[r]
        runs[positions], curves[positions] = {}, {}
        for direction, (receivers, donors) in (("forward", (p, n)), ("reverse", (n, p))):
            res = patch_pairs(bundle, receivers, donors, feats, positions=positions, progress=progress)
            runs[positions][direction] = {"receiver": res.receiver, "donor": res.donor, "patched": res.patched}
            curves[positions][direction] = res.curve(seed=seed)
    result = {
        "model": model,
        "data": data,
        "pairs": pairs,
        "seed": seed,
        "n_pairs": counts,
        "sites": res.sites,
        "method": patching_module.__doc__.strip(),
        "directions": {"forward": "receiver = positive caption, donor = negated", "reverse": "receiver = negated, donor = positive"},
        "curves": curves,
        "captions": [{"image_id": dataset[i].image_id, "positive": a, "negated": b} for i, a, b in zip(rows, pos, neg)],
        "runs": runs,
        "seconds": round(time.time() - start, 1),
    }
    write_json(out / "patching.json", result)
    patching_plot(curves, out / "patching.png", f"{model}: activation patching on {pairs} pairs ({counts['eos']} pairs)")
    return result
