"""Negation forms: the ways a text can say that something is not there, each giving true/false pairs.

Every form turns a caption and an object into two pairs, for an image the caption describes:

- presence (the object is in the image): (true text, false text that negates the object);
- absence (the object is not in the image): (true text that negates the object, false text that affirms it).

Object forms negate one object: "no X" in place of its mention, or a clause ("without a X", "a X is
missing") whose affirmative twin ("with a X", "a X is there") makes the other side of a minimal pair.
Sentence forms negate a whole caption ("This is not c"): for the presence pair, the true caption; for the
absence pair, the caption with its subject changed to the absent object, which is false, so its negation
is true. Training draws from `TRAIN_FORMS` by default; the others are held out and test generalisation.

A presence pair negates an object the caption mentions (by name, plural or synonym), so a caption that mentions
none of its image's objects gives no presence pair in any form. Data that brings its own negations
(`Dataset.brings_negations`) gives its pairs as the one form `GIVEN` instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .negation import _body, absence_pair, absent_candidates, bare, change_subject, given_pairs, presence_negation
from .phrases import indefinite, mentioned
from .records import Dataset

Pair = tuple[str, str]
Triple = tuple[int, str, str]


Builder = Callable[[str, str, list[str]], Pair]
EXAMPLE = "a red circle next to a blue square"


@dataclass(frozen=True)
class NegationForm:
    """One way of writing a negation. For a caption, an object and the image's objects, `presence` gives (a true
    text, the same text negating the object, which is in the image) and `absence` (a true text negating the object,
    which is not, and the same text affirming it); `example` is the form's negation, made by its own builder when
    first read (the builders load inflect and lemminflect's tables, which importing this module must not)."""

    name: str
    presence: Builder
    absence: Builder
    make_example: Callable[[], str]

    @property
    def example(self) -> str:
        """The form's negation of an example caption."""
        return self.make_example()


def in_place(name: str) -> NegationForm:
    """'no X' in place of the object's mention; the absence pair appends ', with no X' / ', with a X'."""
    return NegationForm(name, lambda c, n, p: (_body(c), presence_negation(c, n)), lambda c, n, p: absence_pair(c, n),
                        lambda: presence_negation(EXAMPLE, "red circle"))


def clause(name: str, negated: str, affirmed: str) -> NegationForm:
    """A clause about the object appended to the caption ('{caption}', '{object}' with its article), negated or not."""

    def text(template: str, caption: str, obj: str) -> str:
        return template.format(caption=_body(caption), object=indefinite(obj))

    return NegationForm(name, lambda c, n, p: (text(affirmed, c, n), text(negated, c, n)),
                        lambda c, n, p: (text(negated, c, n), text(affirmed, c, n)), lambda: text(negated, "a red circle", "blue square"))


def sentence(name: str, template: str, drop_determiner: bool = False) -> NegationForm:
    """A whole caption negated ('{}' in `template`, without its leading determiner when `drop_determiner`); the
    absence pair negates the caption with its subject changed to the absent object."""

    def negate(caption: str) -> str:
        return template.format(bare(caption) if drop_determiner else _body(caption))

    def absence(caption: str, obj: str, present: list[str]) -> Pair:
        changed = change_subject(caption, present, obj)
        return negate(changed), changed

    return NegationForm(name, lambda c, n, p: (_body(c), negate(c)), absence, lambda: negate(EXAMPLE))


FORMS: dict[str, NegationForm] = {
    f.name: f
    for f in (
        in_place("no"),
        sentence("not_true", "It is not true that {}"),
        clause("without", "{caption}, without {object}", "{caption}, with {object}"),
        clause("missing", "{caption}, and {object} is missing", "{caption}, and {object} is there"),
        sentence("this_is_not", "This is not {}"),
        sentence("not", "Not {}"),
        sentence("absolutely_no", "There is absolutely no {}", drop_determiner=True),
    )
}
TRAIN_FORMS = ("no", "not_true")
GIVEN = "given"
HELD_OUT_FORMS = tuple(f for f in FORMS if f not in TRAIN_FORMS)


def get_forms(names: list[str] | tuple[str, ...]) -> list[NegationForm]:
    """The forms called `names`; an unknown name is an error that lists the known ones."""
    unknown = [n for n in names if n not in FORMS]
    if unknown or not names:
        raise ValueError(f"negation form {unknown[0] if unknown else '(none)'!r} is unknown; choose from {', '.join(FORMS)}")
    return [FORMS[n] for n in names]


def form_pairs(dataset: Dataset, forms: list[NegationForm], seed: int = 0) -> dict[str, dict[str, list[Triple]]]:
    """Per form, its presence and absence (image row, true, false) triples: one per caption of an image with objects,
    the negated present and absent objects drawn once per caption and shared by every form, so forms compare paired.
    The present object is drawn among those the caption mentions; a caption mentioning none gives no presence pair.
    Data that brings its own negations gives them, as the one form `GIVEN`, instead."""
    if dataset.brings_negations:
        pairs = [given_pairs(r) for r in dataset]
        return {GIVEN: {kind: [(row, *p) for row, both in enumerate(pairs) for p in both[k]]
                        for k, kind in enumerate(("presence", "absence"))}}
    rng = np.random.default_rng(seed)
    cooccur = dataset.cooccurrence()
    out: dict[str, dict[str, list[Triple]]] = {f.name: {"presence": [], "absence": []} for f in forms}
    for row, rec in enumerate(dataset):
        absent = absent_candidates(rec, cooccur, dataset.categories)
        if not rec.present or not absent:
            continue
        for cap in rec.captions:
            named = mentioned(cap, rec.present)
            x, y = (str(rng.choice(named)) if named else None), str(rng.choice(absent))
            for f in forms:
                if x is not None:
                    out[f.name]["presence"].append((row, *f.presence(cap, x, rec.present)))
                out[f.name]["absence"].append((row, *f.absence(cap, y, rec.present)))
    return out
