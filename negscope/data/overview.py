"""What the stages will read of a dataset: one presence and one absence negation per caption, and what was skipped.

Each caption gets the rule builders' "no" negations (`presence_negation`, `absence_pair`) of an object its image holds
and the caption mentions, and of a plausible absent object; a table that brings its own negations gives those. A
caption gives no presence negation when its image lists no objects, or when it mentions none of them; an image that
is missing or unreadable gives nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from .negation import _body, absence_pair, absent_candidates, presence_negation
from .phrases import mentioned
from .records import Dataset

NO_OBJECTS = "image lists no objects"
NOT_MENTIONED = "caption mentions none of its image's objects"


@dataclass
class CaptionNegations:
    """One caption and the negations the stages would use: `object` negated in `presence` (false), `absent` in
    `absence` (true); None where there is none (or, for a table's own negations, where the object is not named)."""

    image_id: int
    caption: str
    object: str | None = None
    presence: str | None = None
    absent: str | None = None
    absence: str | None = None
    skipped: str | None = None


@dataclass
class Overview:
    """Every caption's negations, the captions skipped by reason, and the (caption, object) pairs not mentioned."""

    captions: list[CaptionNegations] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    unmentioned_pairs: int = 0
    object_pairs: int = 0


def negation_overview(dataset: Dataset, seed: int = 0) -> Overview:
    """Per caption of `dataset`, one presence and one absence negation as the stages build them, or why not."""
    rng = np.random.default_rng(seed)
    cooccur = dataset.cooccurrence()
    out = Overview()
    for rec in dataset:
        if rec.given or rec.mcq:
            out.captions += [CaptionNegations(rec.image_id, g.caption, presence=g.presence, absence=g.absence)
                             for g in rec.given]
            if rec.mcq and not rec.given:
                out.captions.append(CaptionNegations(rec.image_id, rec.captions[0]))
            continue
        absent = absent_candidates(rec, cooccur, dataset.categories)
        for cap in rec.captions:
            named = mentioned(cap, rec.present)
            out.object_pairs += len(rec.present)
            out.unmentioned_pairs += len(rec.present) - len(named)
            row = CaptionNegations(rec.image_id, _body(cap))
            if absent:
                row.absent = str(rng.choice(absent))
                row.absence = absence_pair(cap, row.absent)[0]
            if named:
                row.object = str(rng.choice(named))
                row.presence = presence_negation(cap, row.object)
            else:
                row.skipped = NOT_MENTIONED if rec.present else NO_OBJECTS
            out.captions.append(row)
    out.skipped = dict(Counter(r.skipped for r in out.captions if r.skipped))
    return out
