"""Negation builders: the seed report's seven templates, presence and absence negation, and MCQ.

Objects are found by name, plural or synonym, and negated in their noun phrase (see `phrases`): "no" takes the
determiner slot ("two dogs" -> "no dogs"), or stands before the modifiers when there is none ("red cars" ->
"no red cars"); a caption that does not mention the object raises `NotMentioned`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .phrases import (
    Mention,
    coco_categories,
    indefinite,
    leading_slot_end,
    mentioned,
    mentions,
    noun_phrase,
    plural,
    singular,
    slot_plural,
)
from .records import Dataset, ImageRecord, MCQItem

TEMPLATE_NAMES = (
    "caption",
    "this_is",
    "not",
    "this_is_not",
    "absolutely_no",
    "subject_changed",
    "not_mismatched",
)
MCQ_TYPES = ("affirmation", "negation", "hybrid")
NEGATORS = frozenset({"not", "no", "never", "none", "nothing", "without", "nor", "neither", "n't"})
_NEGATOR = re.compile(r"\b(?:" + "|".join(sorted(NEGATORS - {"n't"})) + r")\b|n't", re.IGNORECASE)
# a subject swapped in after one of these is new to the scene, so it takes the indefinite article
_INDEFINITE_SLOTS = ("", "a", "an", "the", "one")


class NotMentioned(ValueError):
    """The caption mentions the object neither by its name nor by a synonym."""

    def __init__(self, caption: str, name: str):
        super().__init__(f"{name!r} is not mentioned in the caption {caption!r}")
        self.caption, self.name = caption, name


def _body(caption: str) -> str:
    caption = caption.strip().rstrip(".!?;:,").strip()
    if not caption:
        raise ValueError("empty caption; every caption needs at least one word")
    first = caption.split()[0]
    if len(first) == 1 or first[1:].islower():
        caption = caption[0].lower() + caption[1:]
    return caption


def bare(caption: str) -> str:
    """The caption without its leading determiner slot: 'two dogs playing' -> 'dogs playing'."""
    c = _body(caption)
    return c[leading_slot_end(c) :]


def seed_negation(caption: str) -> str:
    """The seed study's negated caption: 'This is not ' + caption."""
    return f"This is not {_body(caption)}"


def _first(caption: str, name: str) -> Mention:
    found = mentions(caption, name)
    if not found:
        raise NotMentioned(caption, name)
    return found[0]


def mention_end(caption: str, name: str) -> int:
    """The index just past the first mention of `name` in `caption`; `NotMentioned` when there is none."""
    return _first(caption, name).end


def _as(words: str, number: bool | None, was: bool | None) -> str:
    if number is True and was is False:
        return plural(words)
    return singular(words) if number is False and was is True else words


def swap_mentions(caption: str, first: str, second: str) -> str:
    """`caption` with the first mentions of `first` and `second` exchanged, determiners and number kept in place."""
    found = [m for n in (first, second) if (m := mentions(caption, n)[:1])]
    if len(found) < 2:
        raise ValueError(f"the caption {caption!r} does not mention both {first!r} and {second!r}")
    (a,), (b,) = found
    out, at = [], 0
    for m, other in sorted(((a, b), (b, a)), key=lambda p: p[0].start):
        words = _as(other.text, m.plural, other.plural)
        before = caption[at : m.start]
        if a_an := re.search(r"\b(?:a|an)(?=\s+$)", before, flags=re.IGNORECASE):
            article = "an" if indefinite(words, "").startswith("an ") else "a"
            article = article.capitalize() if a_an.group()[0].isupper() else article
            before = before[: a_an.start()] + article + before[a_an.end() :]
        out += [before, words]
        at = m.end
    return "".join(out) + caption[at:]


def determiner(caption: str, name: str) -> str | None:
    """The determiner slot of `name`'s first mention in `caption` ('' if bare), or None if it is not mentioned."""
    found = mentions(caption, name)
    return noun_phrase(caption, found[0]).slot if found else None


def change_subject(caption: str, present: list[str], replacement: str) -> str:
    """Replace the caption's main subject (its earliest mentioned object) with `replacement`, in its number."""
    body = _body(caption)
    hits = [found[0] for n in present if (found := mentions(body, n))]
    if hits:
        m = min(hits, key=lambda h: h.start)
        p = noun_phrase(body, m)
        number = m.plural if m.plural is not None else slot_plural(p.slot)
        if p.slot in _INDEFINITE_SLOTS and not number:
            return body[: p.start] + indefinite(body[p.modifiers : m.start] + replacement, replacement) + body[m.end :]
        return body[: m.start] + (plural(replacement) if number else replacement) + body[m.end :]
    m = re.search(r"\b(?:a|an|the)\s+(\w+)", body, flags=re.IGNORECASE)
    if m:
        return body[: m.start()] + indefinite(replacement) + body[m.end() :]
    return f"{indefinite(replacement)} and {body}"


def seven_templates(caption: str, changed: str, extra: str) -> dict[str, str]:
    """The seed report's seven prompts for `caption`; `changed` has its subject swapped, `extra` is a mismatched explanation."""
    c = _body(caption)
    return {
        "caption": c,
        "this_is": f"This is {c}",
        "not": f"Not {c}",
        "this_is_not": f"This is not {c}",
        "absolutely_no": f"There is absolutely no {bare(c)}",
        "subject_changed": f"There is {_body(changed)}",
        "not_mismatched": f"This is not {c}; {_body(extra)}",
    }


def presence_negation(caption: str, name: str) -> str:
    """Negate every mention of `name`, an object in the image, so that the caption becomes false."""
    body = _body(caption)
    found = mentions(body, name)
    if not found:
        raise NotMentioned(body, name)
    for m in reversed(found):
        p = noun_phrase(body, m)
        no = "No" if p.slot and body[p.start].isupper() else "no"
        body = body[: p.start] + f"{no} " + body[p.modifiers :]
    return body


def negation_scope(text: str, names: Sequence[str] = ()) -> tuple[int, int] | None:
    """Where `text`'s first negator ends and where what it negates ends, as character offsets: the end of the first
    mention of one of `names` after the negator, or of the text when none follows; None for a text without a negator.

    Args:
        text: a negated caption.
        names: the objects it may negate (the image's objects).

    Returns:
        (end of the negator, end of its scope), or None.
    """
    negator = _NEGATOR.search(text)
    if negator is None:
        return None
    after = sorted((m.start, m.end) for n in names for m in mentions(text, n) if m.start >= negator.end())
    return negator.end(), after[0][1] if after else len(text.rstrip(" .!?;:,"))


def absence_pair(caption: str, name: str) -> tuple[str, str]:
    """For `name` absent from the image: the true 'caption, with no X' and the false 'caption, with X'."""
    body = _body(caption)
    return f"{body}, with no {name}", f"{body}, with {indefinite(name)}"


def absent_candidates(record: ImageRecord, cooccur: dict[str, set[str]], categories: list[str]) -> list[str]:
    """Plausible absent objects: categories that co-occur with a present one but are not in this image."""
    present = set(record.present)
    near = sorted(set().union(*(cooccur.get(p, set()) for p in present)) - present) if present else []
    return near or [c for c in categories if c not in present]


def _statement(kind: str, yes: str, no: str) -> str:
    if kind == "affirmation":
        return f"This image features {indefinite(yes)}"
    if kind == "negation":
        return f"This image does not feature {indefinite(no)}"
    return f"This image features {indefinite(yes)} but not {indefinite(no)}"


def mcq_item(present: list[str], absent: list[str], rng: np.random.Generator) -> MCQItem:
    """A NegBench-style question: one true statement and three false ones, in random order."""
    if not present or not absent:
        raise ValueError("an MCQ item needs at least one present and one absent object")
    p, a = str(rng.choice(present)), str(rng.choice(absent))
    kind = str(rng.choice(MCQ_TYPES))
    true = (_statement(kind, p, a), kind)
    p2 = str(rng.choice(present))
    a2 = str(rng.choice(absent))
    wrong = [
        (_statement("affirmation", a2, p2), "affirmation"),
        (_statement("negation", a2, p2), "negation"),
        (_statement("hybrid", a2, p2), "hybrid"),
    ]
    options = [true] + wrong
    order = rng.permutation(4)
    return MCQItem(
        options=[options[i][0] for i in order],
        option_types=[options[i][1] for i in order],
        answer=int(np.argmax(order == 0)),
    )


ABSENT_PER_CAPTION = 4


def spread_absent(candidates: list[str], captions: int, per_caption: int = ABSENT_PER_CAPTION) -> list[list[str]]:
    """Each caption's absent objects: every candidate if at most `per_caption`, else `per_caption` taken in turn."""
    n = len(candidates)
    if n <= per_caption:
        return [list(candidates) for _ in range(captions)]
    slots = captions * per_caption
    # captions take turns through the list, spaced evenly when it holds more than they can cover, so no draw is needed
    picks = [candidates[m * max(n, slots) // slots % n] for m in range(slots)]
    return [picks[k * per_caption : (k + 1) * per_caption] for k in range(captions)]


def new_subjects(record: ImageRecord, cooccur: dict[str, set[str]], categories: list[str]) -> list[str]:
    """Objects to swap in as a caption's new subject: `absent_candidates`, or the COCO categories for data that lists
    no objects (a table), whose swapped captions then are only likely false."""
    return absent_candidates(record, cooccur, categories) or list(coco_categories())


@dataclass
class ImageNegations:
    """One drawn presence, absence and swap pair per caption, every presence and `spread_absent` pair, and an MCQ."""

    record: ImageRecord
    presence: list[tuple[str, str]]
    absence: list[tuple[str, str]]
    swap: list[tuple[str, str]]
    mcq: MCQItem | None
    presence_all: list[tuple[str, str]]
    absence_all: list[tuple[str, str]]
    unmentioned: int = 0  # (caption, present object) pairs left out of presence_all: the caption does not name it
    both_negated: list[tuple[str, str]] = field(default_factory=list)  # the shortcut control: see `build_negations`


def given_pairs(record: ImageRecord) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The presence and absence (true, false) pairs of the negations the record's data file brings."""
    presence = [(g.caption, g.presence) for g in record.given if g.presence]
    absence = [(g.absence, g.absence_false) for g in record.given if g.absence and g.absence_false]
    return presence, absence


def build_negations(dataset: Dataset, seed: int = 0) -> list[ImageNegations]:
    """Per image: one drawn presence, absence and swap pair per caption, every presence and absence pair, and an MCQ.

    A presence pair negates an object the caption mentions, drawn among those; a caption that mentions none gives no
    presence pair. A both-negated pair (the shortcut control) sets the absence pair's true text against the same
    caption negating a present object in the same words ("c, with no X_absent" against "c, with no X_present"): a
    model that only marks down texts that hold a negator scores it at chance. Its present objects are drawn from
    their own generator, so the other draws stay those of a build without it. An image whose data file brings negations or a question (`ImageRecord.given`, `.mcq`) gets those
    instead of the rules'."""
    rng, control = np.random.default_rng(seed), np.random.default_rng([seed, 1])
    cooccur = dataset.cooccurrence()
    out = []
    for rec in dataset:
        if rec.given or rec.mcq:
            presence, absence = given_pairs(rec)
            out.append(ImageNegations(rec, presence, absence, [], rec.mcq, presence, absence))
            continue
        present = rec.present
        absent = absent_candidates(rec, cooccur, dataset.categories)
        named = [mentioned(cap, present) for cap in rec.captions]
        presence, absence, swap, both = [], [], [], []
        for cap, names in zip(rec.captions, named):
            if absent:
                absence.append(absence_pair(cap, str(rng.choice(absent))))
                if present:
                    both.append((absence[-1][0], absence_pair(cap, str(control.choice(present)))[0]))
            if present and absent:
                if names:
                    presence.append((_body(cap), presence_negation(cap, str(rng.choice(names)))))
                swap.append((_body(cap), change_subject(cap, present, str(rng.choice(absent)))))
        mcq = mcq_item(present, absent, rng) if present and absent else None
        presence_all = [(_body(cap), presence_negation(cap, p)) for cap, names in zip(rec.captions, named) for p in names]
        spread = spread_absent(absent, len(rec.captions))
        absence_all = [absence_pair(cap, a) for cap, names in zip(rec.captions, spread) for a in names]
        unmentioned = len(rec.captions) * len(present) - len(presence_all)
        out.append(ImageNegations(rec, presence, absence, swap, mcq, presence_all, absence_all, unmentioned, both))
    return out
