"""Probing tasks built from the negation builders: `negated`, `scope`, `scope_position`, and the `divergence` pairs.

Every row carries a group id, one per (source image, source caption), so a caption and its rewrites share a
group and grouped folds keep them on one side of every split.

- `negated`: per caption, one positive and one negated form drawn from the seven templates (positive:
  `caption`, `this_is`, `subject_changed`; negated: `not`, `this_is_not`, `absolutely_no`, `not_mismatched`).
  Both classes hold "This is ..." and "There is ..." forms, so a sentence opening alone does not give the label.
  On a data table that brings its own negations: each caption (0) against its given presence negation (1).
- `scope`: which *object* is negated. Per caption naming two objects A and B (A before B in the dataset's
  category list) with the same determiner, four rows: the caption and the caption with A and B swapped, each
  with A negated (label 0) and with B negated (label 1). Each label has "no" once in first and once in second
  position and all four rows share one bag of words, so neither the words nor the negator's position tells
  the label; a probe must bind "no" to an object.
- `scope_position`: which *mention* is negated: the caption with its first-mentioned object negated (label 0)
  and with its second (label 1). The negator's position alone solves it; it is kept as the contrast.
- `divergence`: per caption, the caption (label 0) and "This is not " + caption (label 1), for the per-site cosine.

Every row also names its source image (`images`, the unit of every interval) and its control *unit* (`units`): a
property that recurs across images, to which the control task gives one random label (Hewitt & Liang), so a probe
that memorises the unit can learn the control. `negated`: the caption's first-mentioned object (both rows of a
caption share it, so the control labels are independent of the task's); `scope` and `scope_position`: the negated
object's name. A caption that names no object by name gets the unit "(none)".

Rows of the two scope tasks also carry an `anchor`: the text up to the end of one object's name (A for `scope`,
the first mention for `scope_position`), so a probe can read the state at that object's own last token.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..data import Dataset
from ..data.negation import (
    change_subject,
    determiner,
    given_pairs,
    mention_end,
    new_subjects,
    presence_negation,
    seed_negation,
    seven_templates,
    swap_mentions,
)
from ..data.phrases import mentions

POSITIVE_TEMPLATES = ("caption", "this_is", "subject_changed")
CONTROL_UNITS = {"negated": "the caption's first-mentioned object", "scope": "negated object's name",
                 "scope_position": "negated object's name", "divergence": "none"}
NEGATED_TEMPLATES = ("not", "this_is_not", "absolutely_no", "not_mismatched")


@dataclass
class ProbeTask:
    """Texts with a binary label, a group id, a variant name, a source image and a control unit per row."""

    name: str
    classes: tuple[str, str]
    texts: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    groups: list[int] = field(default_factory=list)
    variants: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    units: list[str] = field(default_factory=list)
    anchors: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def control_unit(self) -> str:
        """What the task's control unit is, in words."""
        return CONTROL_UNITS[self.name]

    def add(self, group: int, image: str, caption: int, rows: list[tuple[str, int, str, str]], anchor: str | None = None) -> None:
        """Append the rewrites (text, label, variant, control unit) of caption `caption` of image `image`, all in `group`.

        With `anchor` (an object name), each row also records its text up to the end of that name's first mention.
        """
        for text, label, variant, unit in rows:
            self.texts.append(text)
            self.labels.append(label)
            self.groups.append(group)
            self.variants.append(variant)
            self.ids.append(f"{image}:{caption}:{variant}")
            self.images.append(image)
            self.units.append(unit)
            if anchor is not None:
                self.anchors.append(text[: mention_end(text, anchor)])

    def checked(self, dataset: Dataset) -> ProbeTask:
        """The task itself, or an error naming the dataset when it produced no rows."""
        if not self.texts:
            raise ValueError(
                f"task {self.name!r} found no usable captions in {dataset.name} ({len(dataset)} images); "
                f"it needs {'captions naming two or more objects' if self.name.startswith('scope') else 'captions'}, "
                "so use more images"
            )
        return self


def mention_order(caption: str, names: list[str]) -> list[str]:
    """The objects among `names` that `caption` mentions (by name, plural or synonym), in order of first mention."""
    hits = [(found[0].start, n) for n in names if (found := mentions(caption, n))]
    return [n for _, n in sorted(hits)]


def negated_task(dataset: Dataset, captions_per_image: int = 1, seed: int = 0) -> ProbeTask:
    """Positive vs negated forms of each caption, one of each drawn from the seven templates."""
    rng = np.random.default_rng(seed)
    cooccur = dataset.cooccurrence()
    task = ProbeTask("negated", ("positive", "negated"))
    if dataset.brings_negations:
        return _given_negated(dataset, captions_per_image, task)
    for i, rec in enumerate(dataset):
        extra = dataset[(i + 1) % len(dataset)].captions[0]
        absent = new_subjects(rec, cooccur, dataset.categories)
        for j, cap in enumerate(rec.captions[:captions_per_image]):
            forms = seven_templates(cap, change_subject(cap, rec.present, str(rng.choice(absent))), extra)
            pos, neg = str(rng.choice(POSITIVE_TEMPLATES)), str(rng.choice(NEGATED_TEMPLATES))
            obj = next(iter(mention_order(cap, rec.present)), "(none)")
            task.add(len(task.groups) // 2, str(rec.image_id), j, [(forms[pos], 0, pos, obj), (forms[neg], 1, neg, obj)])
    return task.checked(dataset)


def _given_negated(dataset: Dataset, captions_per_image: int, task: ProbeTask) -> ProbeTask:
    """The `negated` task from the negations a data table brings: each caption against its presence negation."""
    for rec in dataset:
        for j, (caption, negated) in enumerate(given_pairs(rec)[0][:captions_per_image]):
            obj = next(iter(mention_order(caption, rec.present)), "(none)")
            task.add(len(task.groups) // 2, str(rec.image_id), j, [(caption, 0, "caption", obj), (negated, 1, "given", obj)])
    return task.checked(dataset)


def _two_alike(dataset: Dataset, captions_per_image: int):
    """(record, caption index, caption, [first, second mention]) for captions naming two objects with one determiner."""
    for rec in dataset:
        used = 0
        for j, cap in enumerate(rec.captions):
            order = mention_order(cap, rec.present)
            if len(order) < 2 or used == captions_per_image or determiner(cap, order[0]) != determiner(cap, order[1]):
                continue
            used += 1
            yield rec, j, cap, order[:2]


def scope_task(dataset: Dataset, captions_per_image: int = 1) -> ProbeTask:
    """Which object is negated, the one earlier (0) or later (1) in the category list, each at either position."""
    rank = {c: i for i, c in enumerate(dataset.categories)}
    task = ProbeTask("scope", ("earlier category negated", "later category negated"))
    for group, (rec, j, cap, pair) in enumerate(_two_alike(dataset, captions_per_image)):
        a, b = sorted(pair, key=lambda n: rank.get(n, len(rank)))
        rows = [
            (presence_negation(text, neg), label, f"{order}:{'ab'[label]}", neg)
            for order, text in (("kept", cap), ("swapped", swap_mentions(cap, a, b)))
            for label, neg in enumerate((a, b))
        ]
        task.add(group, str(rec.image_id), j, rows, anchor=a)
    return task.checked(dataset)


def scope_position_task(dataset: Dataset, captions_per_image: int = 1) -> ProbeTask:
    """Which mention is negated: the first (0) or the second (1), in captions naming two or more alike."""
    task = ProbeTask("scope_position", ("first", "second"))
    for group, (rec, j, cap, order) in enumerate(_two_alike(dataset, captions_per_image)):
        rows = [(presence_negation(cap, order[0]), 0, "first", order[0]),
                (presence_negation(cap, order[1]), 1, "second", order[1])]
        task.add(group, str(rec.image_id), j, rows, anchor=order[0])
    return task.checked(dataset)


def divergence_pairs(dataset: Dataset, captions_per_image: int = 1) -> ProbeTask:
    """Rows alternating caption (0) and 'This is not ' + caption (1), one pair per group."""
    task = ProbeTask("divergence", ("caption", "this_is_not"))
    for rec in dataset:
        for j, cap in enumerate(rec.captions[:captions_per_image]):
            rows = [(cap, 0, "caption", ""), (seed_negation(cap), 1, "this_is_not", "")]
            task.add(len(task.groups) // 2, str(rec.image_id), j, rows)
    return task.checked(dataset)
