"""Negation forms: the ways a text can say that something is not there, each giving true/false pairs.

Every form turns a caption and an object into two pairs, for an image the caption describes:

- presence (the object is in the image): (true text, false text that negates the object);
- absence (the object is not in the image): (true text that negates the object, false text that affirms it).

Object forms negate one object: "no X" in place of its mention, or a clause ("without a X", "a X is
missing") whose affirmative twin ("with a X", "a X is there") makes the other side of a minimal pair.
Sentence forms negate a whole caption ("This is not c"): for the presence pair, the true caption; for the
absence pair, the caption with its subject changed to the absent object, which is false, so its negation
is true. Training draws from `TRAIN_FORMS` by default; the others are held out and test generalisation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .negation import _body, absence_pair, absent_candidates, change_subject, presence_negation
from .records import Dataset
from .world import article

Pair = tuple[str, str]
Triple = tuple[int, str, str]


@dataclass(frozen=True)
class NegationForm:
    """One way of writing a negation; `presence` and `absence` give (true, false) text pairs."""

    name: str
    example: str
    sentence: bool
    negate: Callable[[str, str], str]
    affirm: Callable[[str, str], str] | None = None

    def presence(self, caption: str, name: str, present: list[str]) -> Pair:
        """For `name` in the image: (a true text, the same text negating `name`)."""
        if self.sentence:
            return _body(caption), self.negate(caption, name)
        if self.affirm is None:
            return _body(caption), presence_negation(caption, name)
        return self.affirm(caption, name), self.negate(caption, name)

    def absence(self, caption: str, name: str, present: list[str]) -> Pair:
        """For `name` not in the image: (a true text negating `name`, the same text affirming it)."""
        if self.sentence:
            changed = change_subject(caption, present, name)
            return self.negate(changed, name), changed
        if self.affirm is None:
            return absence_pair(caption, name)
        return self.negate(caption, name), self.affirm(caption, name)


def _sentence(template: str) -> Callable[[str, str], str]:
    return lambda caption, name: template.format(_body(caption))


def _clause(template: str) -> Callable[[str, str], str]:
    return lambda caption, name: template.format(_body(caption), article(name))


FORMS: dict[str, NegationForm] = {
    f.name: f
    for f in (
        NegationForm("no", "no red circle next to a blue square", False, lambda c, n: presence_negation(c, n)),
        NegationForm("not_true", "It is not true that a red circle ...", True, _sentence("It is not true that {}")),
        NegationForm("without", "a red circle, without a blue square", False, _clause("{}, without {}"),
                     _clause("{}, with {}")),
        NegationForm("missing", "a red circle, and a blue square is missing", False, _clause("{}, and {} is missing"),
                     _clause("{}, and {} is there")),
        NegationForm("this_is_not", "This is not a red circle ...", True, _sentence("This is not {}")),
        NegationForm("not", "Not a red circle ...", True, _sentence("Not {}")),
        NegationForm("absolutely_no", "There is absolutely no red circle ...", True,
                     _sentence("There is absolutely no {}")),
    )
}
TRAIN_FORMS = ("no", "not_true")
HELD_OUT_FORMS = tuple(f for f in FORMS if f not in TRAIN_FORMS)


def get_forms(names: list[str] | tuple[str, ...]) -> list[NegationForm]:
    """The forms called `names`; an unknown name is an error that lists the known ones."""
    unknown = [n for n in names if n not in FORMS]
    if unknown or not names:
        raise ValueError(f"negation form {unknown[0] if unknown else '(none)'!r} is unknown; choose from {', '.join(FORMS)}")
    return [FORMS[n] for n in names]


def form_pairs(dataset: Dataset, forms: list[NegationForm], seed: int = 0) -> dict[str, dict[str, list[Triple]]]:
    """Per form, its presence and absence (image row, true, false) triples: one per caption of an image with objects,
    the negated present and absent objects drawn once per caption and shared by every form, so forms compare paired."""
    rng = np.random.default_rng(seed)
    cooccur = dataset.cooccurrence()
    out: dict[str, dict[str, list[Triple]]] = {f.name: {"presence": [], "absence": []} for f in forms}
    for row, rec in enumerate(dataset):
        if not rec.present:
            continue
        absent = absent_candidates(rec, cooccur, dataset.categories)
        for cap in rec.captions:
            x, y = str(rng.choice(rec.present)), str(rng.choice(absent))
            for f in forms:
                out[f.name]["presence"].append((row, *f.presence(cap, x, rec.present)))
                out[f.name]["absence"].append((row, *f.absence(cap, y, rec.present)))
    return out
