"""The full evaluation of one model on one dataset: negation accuracies, MCQ, retrieval and the seed table."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from ..data import Dataset
from ..data.forms import FORMS, form_pairs
from ..data.negation import build_negations
from ..models import ClipBundle
from ..results.evaluation import EvaluationRow
from .features import image_features, shared_texts
from .negation import form_accuracy, mcq_accuracy, negation_breakdown
from .retrieval import retrieval
from .similarity import similarity_study


def evaluate(
    bundle: ClipBundle, dataset: Dataset, seed: int = 0, progress: bool = False, image_feats: torch.Tensor | None = None,
    cache: str | Path | None = None,
) -> EvaluationRow:
    """One evaluation row: negation accuracies, MCQ, retrieval and the seed table fields (`image_feats` reused if
    given, else computed through the feature `cache` folder when given)."""
    if image_feats is not None and len(image_feats) != len(dataset):
        raise ValueError(
            f"image_feats has {len(image_feats)} rows for {len(dataset)} images of {dataset.name}; "
            "pass image_features(bundle, dataset) of this dataset or None"
        )
    with shared_texts(bundle, progress):
        negs = build_negations(dataset, seed=seed)
        feats = image_features(bundle, dataset, progress=progress, cache=cache) if image_feats is None else image_feats
        mcq, by_type = mcq_accuracy(bundle, feats, negs, seed=seed)
        seed_row = similarity_study(bundle, dataset, seed=seed, image_feats=feats).summary()
        recall, recall_ci = retrieval(bundle, feats, dataset, seed=seed)
        forms = form_accuracy(bundle, feats, form_pairs(dataset, list(FORMS.values()), seed=seed))
        breakdown = negation_breakdown(bundle, feats, negs)
    return EvaluationRow(
        **asdict(seed_row) | {"truncated_captions": bundle.truncated},
        images=len(dataset),
        **breakdown,
        mcq_accuracy=mcq,
        mcq_by_type=by_type,
        retrieval=recall,
        retrieval_ci=recall_ci,
        form_accuracy=forms,
    )
