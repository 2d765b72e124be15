"""The seed study: positive against negated similarity, and the seven prompt templates."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..data import Dataset
from ..data.negation import TEMPLATE_NAMES, change_subject, new_subjects, seven_templates
from ..models import ClipBundle
from ..results.similarity import SeedRow
from .features import image_features, text_lookup


@dataclass
class SimilarityScores:
    """Per-pair scores of one model on one dataset, with the features behind them."""

    model: str
    image_ids: list[int]
    pair_image: np.ndarray
    captions: list[str]
    texts: list[dict[str, str]]
    scores: np.ndarray
    image_feats: torch.Tensor
    pos_feats: torch.Tensor
    neg_feats: torch.Tensor

    @property
    def s_pos(self) -> np.ndarray:
        """S(I, caption) per pair."""
        return self.scores[:, TEMPLATE_NAMES.index("caption")]

    @property
    def s_neg(self) -> np.ndarray:
        """S(I, 'This is not ' + caption) per pair."""
        return self.scores[:, TEMPLATE_NAMES.index("this_is_not")]

    def summary(self) -> SeedRow:
        """The seed Table 1 row: means, standard deviations, flips and per-template means."""
        pos, neg = self.s_pos, self.s_neg
        flips = int((neg >= pos).sum())
        return SeedRow(
            model=self.model,
            pairs=len(pos),
            pos_mean=float(pos.mean()),
            pos_std=float(pos.std()),
            neg_mean=float(neg.mean()),
            neg_std=float(neg.std()),
            flips=flips,
            flip_rate=flips / len(pos),
            templates={name: float(self.scores[:, j].mean()) for j, name in enumerate(TEMPLATE_NAMES)},
        )


@dataclass
class StudyTexts:
    """The study's pairs: each caption's image row, the caption and its seven template texts."""

    pair_image: list[int]
    captions: list[str]
    texts: list[dict[str, str]]


def study_texts(dataset: Dataset, seed: int = 0) -> StudyTexts:
    """Every (image, caption) pair with its seven templates, the changed subject drawn with `seed` (the same for
    every model)."""
    rng = np.random.default_rng(seed)
    cooccur = dataset.cooccurrence()
    out = StudyTexts([], [], [])
    for i, rec in enumerate(dataset):
        extra = dataset[(i + 1) % len(dataset)].captions[0]
        absent = new_subjects(rec, cooccur, dataset.categories)
        for cap in rec.captions:
            changed = change_subject(cap, rec.present, str(rng.choice(absent)))
            out.pair_image.append(i)
            out.captions.append(cap)
            out.texts.append(seven_templates(cap, changed, extra))
    return out


def similarity_study(
    bundle: ClipBundle,
    dataset: Dataset,
    seed: int = 0,
    progress: bool = False,
    image_feats: torch.Tensor | None = None,
    cache: str | Path | None = None,
    pairs: StudyTexts | None = None,
) -> SimilarityScores:
    """Score every (image, caption) pair under the seven templates; image features are computed once (through the
    feature `cache` folder when given), or `image_feats` used; `pairs` is `study_texts(dataset, seed)`, made here
    unless given."""
    pairs = study_texts(dataset, seed) if pairs is None else pairs
    img = image_features(bundle, dataset, progress=progress, cache=cache) if image_feats is None else image_feats
    texts = pairs.texts
    feats, row = text_lookup(bundle, [t for d in texts for t in d.values()], progress=progress)
    index = torch.tensor([[row[d[n]] for n in TEMPLATE_NAMES] for d in texts])
    pi = torch.tensor(pairs.pair_image)
    scores = torch.einsum("pd,ptd->pt", img[pi], feats[index]).numpy()
    return SimilarityScores(
        model=bundle.spec,
        image_ids=[r.image_id for r in dataset],
        pair_image=pi.numpy(),
        captions=pairs.captions,
        texts=texts,
        scores=scores,
        image_feats=img,
        pos_feats=feats[index[:, TEMPLATE_NAMES.index("caption")]],
        neg_feats=feats[index[:, TEMPLATE_NAMES.index("this_is_not")]],
    )
