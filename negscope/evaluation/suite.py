"""The full evaluation of one model on one dataset: negation accuracies, MCQ, retrieval and the seed table."""

from __future__ import annotations

import torch

from ..data import Dataset
from ..data.negation import build_negations
from ..models import ClipBundle
from .features import image_features
from .negation import absence_accuracy, mcq_accuracy, presence_accuracy, swap_accuracy
from .retrieval import retrieval
from .similarity import similarity_study


def evaluate(
    bundle: ClipBundle, dataset: Dataset, seed: int = 0, progress: bool = False, image_feats: torch.Tensor | None = None
) -> dict:
    """One evaluation row: negation accuracies, MCQ, retrieval and the seed table fields (`image_feats` reused if given)."""
    if image_feats is not None and len(image_feats) != len(dataset):
        raise ValueError(
            f"image_feats has {len(image_feats)} rows for {len(dataset)} images of {dataset.name}; "
            "pass image_features(bundle, dataset) of this dataset or None"
        )
    negs = build_negations(dataset, seed=seed)
    feats = image_features(bundle, dataset, progress=progress) if image_feats is None else image_feats
    mcq, by_type = mcq_accuracy(bundle, feats, negs, seed=seed)
    seed_table = similarity_study(bundle, dataset, seed=seed, image_feats=feats).summary()
    seed_table.pop("model")
    return {
        "model": bundle.spec,
        "images": len(dataset),
        "presence_accuracy": presence_accuracy(bundle, feats, negs),
        "absence_accuracy": absence_accuracy(bundle, feats, negs),
        "swap_accuracy": swap_accuracy(bundle, feats, negs),
        "mcq_accuracy": mcq,
        "mcq_by_type": by_type,
        "retrieval": retrieval(bundle, feats, dataset),
        **seed_table,
    }


def flat(row: dict) -> dict:
    """An evaluation row with its retrieval figures lifted to the top level, for tables."""
    return {**row, **row.get("retrieval", {})}
