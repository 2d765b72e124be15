"""Model selection on a validation split of the training data: negation accuracy, subject to retrieval kept.

The split is held out of the training images (never the evaluated ones). Every `validate_every` steps the
trainer scores the model on it: presence and absence accuracy in the training forms (one pair of each per
image, on its first caption; a table's own negations instead, where it brings them), their mean (of the one
that exists, when a table brings one kind), and R@1 both ways over all its captions.
A checkpoint is admissible when neither R@1 falls more than `retrieval_tolerance` below the model's before
fine-tuning; the admissible one with the best negation accuracy is kept. When none is admissible, the one
with the best negation accuracy is kept all the same, and the result says so and how little retrieval any
checkpoint lost.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from ..data import Dataset
from ..data.forms import form_pairs, get_forms
from ..evaluation.features import image_features
from ..evaluation.negation import pair_wins
from ..evaluation.retrieval import retrieval
from ..models import ClipBundle

RECALLS = ("i2t_r1", "t2i_r1")


class Validator:
    """Scores a bundle on `dataset` with the image features computed once (the image tower is frozen)."""

    def __init__(self, bundle: ClipBundle, dataset: Dataset, forms: list[str], seed: int = 0,
                 cache: str | Path | None = None):
        self.bundle, self.dataset = bundle, dataset
        first = Dataset(dataset.name, [dataclasses.replace(r, captions=r.captions[:1]) for r in dataset], dataset.categories)
        pairs = form_pairs(first, get_forms(forms), seed=seed)
        self.presence = [t for p in pairs.values() for t in p["presence"]]
        self.absence = [t for p in pairs.values() for t in p["absence"]]
        self.images = image_features(bundle, dataset, cache=cache)

    def score(self, step: int, recall: dict[str, float] | None = None) -> dict[str, float]:
        """Presence, absence and their mean (`negation`), and R@1 both ways, at training step `step`; `recall` gives
        the R@1 instead of measuring it, for a model known to encode every caption of the split as scored before."""
        modes = [(m, m.training) for m in self.bundle.model.modules()]
        self.bundle.model.eval()
        try:
            presence, absence = pair_wins(self.bundle, self.images, self.presence, self.absence)
            if recall is None:
                recall, _ = retrieval(self.bundle, self.images, self.dataset, ks=(1,), n_boot=0)
        finally:
            for module, mode in modes:
                module.training = mode
        scores = {k: float(w.float().mean()) for k, w in (("presence", presence), ("absence", absence)) if len(w)}
        return {"step": step, **scores, "negation": sum(scores.values()) / len(scores), **{k: recall[k] for k in RECALLS}}


@dataclass
class Choice:
    """The validation record kept, whether it kept retrieval, and why it was chosen."""

    record: dict[str, float]
    admissible: bool
    note: str


def retrieval_drop(record: dict[str, float], before: dict[str, float]) -> float:
    """How far the worse of the two R@1 fell below the model's before fine-tuning (negative: it rose)."""
    return max(before[k] - record[k] for k in RECALLS)


def choose(records: list[dict[str, float]], tolerance: float) -> Choice:
    """Among fine-tuned records (`records[0]` is the model before fine-tuning), the best negation accuracy whose R@1
    fell by at most `tolerance` both ways; when none did, the best negation accuracy, marked inadmissible."""
    before, tuned = records[0], records[1:]
    if not tuned:
        raise ValueError("no validation after any training step; lower validate_every below the number of steps")
    ok = [r for r in tuned if retrieval_drop(r, before) <= tolerance + 1e-12]
    if ok:
        best = max(ok, key=lambda r: (r["negation"], -r["step"]))
        return Choice(best, True, f"step {best['step']}: best validation negation accuracy among the {len(ok)} of "
                                  f"{len(tuned)} checkpoints whose R@1 fell by at most {tolerance:g} both ways")
    best = max(tuned, key=lambda r: (r["negation"], -r["step"]))
    least = min(tuned, key=lambda r: retrieval_drop(r, before))
    return Choice(best, False, f"step {best['step']}: no checkpoint kept R@1 within {tolerance:g} of the model before "
                               f"fine-tuning, so the best negation accuracy is kept; its worse R@1 fell by "
                               f"{retrieval_drop(best, before):.3f} (least fall: {retrieval_drop(least, before):.3f} at "
                               f"step {least['step']}; raise retrieval_tolerance or change the recipe)")
