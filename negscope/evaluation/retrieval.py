"""Image-to-text and text-to-image recall at k, with bootstrap intervals over images."""

from __future__ import annotations

from collections.abc import Sequence
from math import comb

import numpy as np
import torch

from ..data import Dataset
from ..models import ClipBundle
from .features import text_lookup
from .paired import RowValues


def retrieval(
    bundle: ClipBundle, image_feats: torch.Tensor, dataset: Dataset, ks: tuple[int, ...] = (1, 5, 10),
    n_boot: int = 1000, seed: int = 0,
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """R@k both ways, and each one's 95% interval from `n_boot` resamples of whole images (an image with its captions;
    0: no intervals); image-to-text counts a hit if any of the image's captions is in the top k."""
    return recall_summary(recall_rows(bundle, image_feats, dataset, ks), n_boot, seed)


def recall_summary(rows: dict[str, RowValues], n_boot: int = 1000, seed: int = 0) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Each recall of `recall_rows`, and its 95% interval from `n_boot` resamples of whole images (0: none)."""
    return {k: v.mean() for k, v in rows.items()}, {k: v.interval(n_boot, seed) for k, v in rows.items()} if n_boot else {}


def recall_rows(
    bundle: ClipBundle, image_feats: torch.Tensor, dataset: Dataset, ks: tuple[int, ...] = (1, 5, 10)
) -> dict[str, RowValues]:
    """Per R@k both ways, its hits: for image-to-text one per image (any of its captions in the top k), for
    text-to-image one per caption, each with its image."""
    captions = [c for r in dataset for c in r.captions]
    feats, row = text_lookup(bundle, captions)
    return recall_hits(image_feats, feats[[row[c] for c in captions]], [i for i, r in enumerate(dataset) for _ in r.captions], ks)


def recall_hits(
    image_feats: torch.Tensor, text_feats: torch.Tensor, owner: Sequence[int] | np.ndarray, ks: tuple[int, ...] = (1, 5, 10)
) -> dict[str, RowValues]:
    """Per R@k both ways, its hits from features: for image-to-text one per image (any of its captions in the top k),
    for text-to-image one per caption, each with its image.

    Args:
        image_feats: (images, width) L2-normalised image features.
        text_feats: (captions, width) L2-normalised caption features.
        owner: per caption, the row of its image.
        ks: the k of each recall.

    Returns:
        {"i2t_r<k>": hits, "t2i_r<k>": hits} as `RowValues`.
    """
    owner = torch.as_tensor(np.asarray(owner))
    sims = image_feats @ text_feats.T
    images = torch.arange(len(image_feats))
    i2t_rank = sims.argsort(dim=1, descending=True)
    t2i_rank = sims.T.argsort(dim=1, descending=True)
    rows: dict[str, RowValues] = {}
    for k in ks:
        rows[f"i2t_r{k}"] = RowValues((owner[i2t_rank[:, :k]] == images.unsqueeze(1)).any(dim=1).numpy(), images.numpy())
        rows[f"t2i_r{k}"] = RowValues((t2i_rank[:, :k] == owner.unsqueeze(1)).any(dim=1).numpy(), owner.numpy())
    return rows


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
