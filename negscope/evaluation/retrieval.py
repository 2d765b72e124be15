"""Image-to-text and text-to-image recall at k, with bootstrap intervals over images."""

from __future__ import annotations

from math import comb

import torch

from ..data import Dataset
from ..models import ClipBundle
from ..stats import mean_interval
from .features import text_lookup


def retrieval(
    bundle: ClipBundle, image_feats: torch.Tensor, dataset: Dataset, ks: tuple[int, ...] = (1, 5, 10),
    n_boot: int = 1000, seed: int = 0,
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """R@k both ways, and each one's 95% interval from `n_boot` resamples of whole images (an image with its captions;
    0: no intervals); image-to-text counts a hit if any of the image's captions is in the top k."""
    captions = [c for r in dataset for c in r.captions]
    owner = torch.tensor([i for i, r in enumerate(dataset) for _ in r.captions])
    feats, row = text_lookup(bundle, captions)
    sims = image_feats @ feats[[row[c] for c in captions]].T
    images = torch.arange(len(dataset))
    i2t_rank = sims.argsort(dim=1, descending=True)
    t2i_rank = sims.T.argsort(dim=1, descending=True)
    values: dict[str, float] = {}
    ci: dict[str, list[float]] = {}
    for k in ks:
        for name, hits, groups in (
            (f"i2t_r{k}", (owner[i2t_rank[:, :k]] == images.unsqueeze(1)).any(dim=1), images),
            (f"t2i_r{k}", (t2i_rank[:, :k] == owner.unsqueeze(1)).any(dim=1), owner),
        ):
            values[name] = float(hits.float().mean())
            if n_boot:
                ci[name] = list(mean_interval(hits.numpy(), groups.numpy(), n_boot, seed))
    return values, ci


def recall_chance(dataset: Dataset, ks: tuple[int, ...] = (1, 5, 10)) -> dict[str, float]:
    """Each R@k under random scores: for image-to-text the mean over images of the chance that k captions drawn from
    all of them hold one of the image's own; for text-to-image k over the number of images."""
    sizes = [len(r.captions) for r in dataset]
    total, n = sum(sizes), len(sizes)
    out = {}
    for k in ks:
        out[f"i2t_r{k}"] = sum(1 - comb(total - m, k) / comb(total, k) for m in sizes) / n
        out[f"t2i_r{k}"] = min(k, n) / n
    return out
