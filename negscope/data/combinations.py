"""Held-out combinations: world categories that fine-tuning never sees, so a test caption naming one is new to it.

A world category is a combination of attribute words ("red circle": a colour and a shape). About one in
`HELD_OUT_SHARE` of the categories is held out of fine-tuning: its pool (`seen_world_dataset`) holds only scenes
without a held-out category, and its negations name only the remaining categories, while pretraining still sees
every category (as web data would). The pool also leaves out scenes of a lone kind of object: their captions are
so few (a category in a dozen phrasings) that a third of the test split's would occur in it word for word, while a
caption naming two kinds or more almost never recurs. The held-out set is chosen from the category names alone, deterministically: in
the order the categories are listed, a category is held out when none of its words is yet held out in this pass and
each of its words still occurs in a category that is kept, so every colour and every shape stays seen in other
combinations. Evaluation reports accuracy on pairs naming a held-out category apart from the rest, and
`seen_share` measures how many test texts occur word for word in what fine-tuning read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from .phrases import mentions, singular
from .records import Dataset, ImageRecord
from .world import CATEGORIES, TRAIN_SEED, painted, scene_text

HELD_OUT_SHARE = 0.2
MIN_KINDS = 2


def held_out_categories(categories: Sequence[str] = CATEGORIES, share: float = HELD_OUT_SHARE) -> tuple[str, ...]:
    """The categories fine-tuning never sees: about `share` of them, each of whose words stays in a kept category.

    Args:
        categories: the category names, attribute words separated by spaces (the world's by default).
        share: the share of categories to hold out.

    Returns:
        The held-out categories, in the order of `categories` (fewer than `share` asks when no more can be held out
        with every word kept elsewhere).
    """
    if not 0 < share < 1:
        raise ValueError(f"held-out share {share} must lie between 0 and 1")
    target = max(1, round(len(categories) * share))
    held: list[str] = []
    while len(held) < target:
        taken: set[str] = set()
        before = len(held)
        for name in categories:
            words = set(name.split())
            if len(held) == target or name in held or words & taken:
                continue
            kept = [set(c.split()) for c in categories if c != name and c not in held]
            if all(any(w in k for k in kept) for w in words):
                held.append(name)
                taken |= words
        if len(held) == before:
            break
    return tuple(c for c in categories if c in held)


def seen_categories(categories: Sequence[str] = CATEGORIES) -> list[str]:
    """The categories fine-tuning may see: `categories` less `held_out_categories(categories)`."""
    held = set(held_out_categories(categories))
    return [c for c in categories if c not in held]


def holds_held_out(record: ImageRecord, held: Iterable[str]) -> bool:
    """Whether the image holds an object of a category in `held`."""
    return not set(record.present).isdisjoint(held)


def names_held_out(text: str, held: Sequence[str], categories: Sequence[str] = CATEGORIES) -> bool:
    """Whether `text` mentions a category of `held` (by name, plural or synonym; see `phrases.mentions`) other than
    as part of a longer category name of `categories` ("red square" in "no red square frames").

    Args:
        text: the text.
        held: the held-out categories.
        categories: every category name.

    Returns:
        Whether it names one.
    """
    for name in held:
        longer = [m for c in categories if name in c and c != name for m in mentions(text, c)]
        if any(not any(o.start <= m.start and m.end <= o.end for o in longer) for m in mentions(text, name)):
            return True
    return False


def seen_world_dataset(n: int, seed: int = TRAIN_SEED) -> Dataset:
    """The first `n` world scenes of `seed` that hold no held-out category and at least `MIN_KINDS` kinds of object,
    with only the seen categories listed (so absent objects drawn for them are seen categories too): the fine-tuning
    pool.

    Args:
        n: how many scenes.
        seed: the world seed (the training split's by default).

    Returns:
        The scenes, with their image ids (the skipped ids are those holding a held-out category or a lone kind).
    """
    if n <= 0:
        raise ValueError(f"a pool of {n} scenes holds none; ask for at least one")
    held = held_out_categories()
    records: list[ImageRecord] = []
    index = 0
    while len(records) < n:
        objects, captions = scene_text(index, seed)
        record = ImageRecord(index, captions, objects)
        if not holds_held_out(record, held) and len(set(record.present)) >= MIN_KINDS:
            records.append(painted(record, seed))
        index += 1
    return Dataset(name=f"world[{n} scenes, no held-out combination, two kinds or more]@{seed}", records=records,
                   categories=seen_categories())


# what a negation may change in a caption: the slot before an object (its determiner or count, "no" in its place)
# and the number of the noun and verb that follow
SLOT_WORDS = frozenset({"a", "an", "the", "one", "two", "pair", "of", "some", "no", "is", "are"})


def caption_key(text: str) -> tuple[str, ...]:
    """`text`'s words with determiners, counts and number set aside: two captions whose negations in one form can be
    the same text word for word share it ("a red circle" and "two red circles" both give "no red circles").

    Args:
        text: a caption.

    Returns:
        Its other words, singular, in order.
    """
    return tuple(singular(w) for w in re.findall(r"[a-z]+", text.lower()) if w not in SLOT_WORDS)


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def seen_share(test_texts: Iterable[str], pool_texts: Iterable[str]) -> float:
    """The share of `test_texts` (each occurrence counted) that occur word for word in `pool_texts`, case and runs of
    white space aside (the tokenizers lower-case and split on white space).

    Args:
        test_texts: the texts tested, e.g. the test split's captions.
        pool_texts: the texts read in training.

    Returns:
        The share, NaN when `test_texts` is empty.
    """
    pool = {_norm(t) for t in pool_texts}
    hits = [_norm(t) in pool for t in test_texts]
    return sum(hits) / len(hits) if hits else float("nan")
