"""Feature helpers shared by every metric: images once per image, each distinct text once."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..data import Dataset
from ..models import ClipBundle


def image_features(bundle: ClipBundle, dataset: Dataset, progress: bool = False) -> torch.Tensor:
    """One L2-normalised feature row per image of `dataset`."""
    return bundle.encode_image([r.load_pixels() for r in dataset], progress=progress)


def text_lookup(bundle: ClipBundle, texts: Sequence[str], progress: bool = False) -> tuple[torch.Tensor, dict[str, int]]:
    """Features for the distinct texts among `texts`, and each text's row."""
    unique = list(dict.fromkeys(texts))
    feats = bundle.encode_text(unique, progress=progress)
    return feats, {t: i for i, t in enumerate(unique)}
