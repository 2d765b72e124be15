"""Image-to-text and text-to-image recall at k."""

from __future__ import annotations

import torch

from ..data import Dataset
from ..models import ClipBundle
from .features import text_lookup


def retrieval(
    bundle: ClipBundle, image_feats: torch.Tensor, dataset: Dataset, ks: tuple[int, ...] = (1, 5, 10)
) -> dict[str, float]:
    """R@k both ways; image-to-text counts a hit if any of the image's captions is in the top k."""
    captions = [c for r in dataset for c in r.captions]
    owner = torch.tensor([i for i, r in enumerate(dataset) for _ in r.captions])
    feats, row = text_lookup(bundle, captions)
    text_feats = feats[[row[c] for c in captions]]
    sims = image_feats @ text_feats.T
    out: dict[str, float] = {}
    i2t_rank = sims.argsort(dim=1, descending=True)
    t2i_rank = sims.T.argsort(dim=1, descending=True)
    for k in ks:
        top = owner[i2t_rank[:, :k]] == torch.arange(len(dataset)).unsqueeze(1)
        out[f"i2t_r{k}"] = float(top.any(dim=1).float().mean())
        out[f"t2i_r{k}"] = float((t2i_rank[:, :k] == owner.unsqueeze(1)).any(dim=1).float().mean())
    return out
