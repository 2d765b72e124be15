"""Negation pairs: one presence or seed pair per usable image, in image order."""

import pytest

from negscope.data import PAIR_KINDS, negation_pairs
from negscope.data.negation import build_negations, seed_negation
from negscope.data.records import Dataset, ImageRecord


def test_presence_pairs_take_each_image_first_presence_negation(small_world):
    rows, pos, neg = negation_pairs(small_world, "presence", seed=0)
    negs = build_negations(small_world, seed=0)
    assert rows == [i for i, n in enumerate(negs) if n.presence]
    assert [(p, n) for p, n in zip(pos, neg)] == [negs[i].presence[0] for i in rows]
    assert all(p != n for p, n in zip(pos, neg))


def test_seed_pairs_cover_every_image(small_world):
    rows, pos, neg = negation_pairs(small_world, "seed")
    assert rows == list(range(len(small_world)))
    assert pos == [r.captions[0] for r in small_world]
    assert neg == [seed_negation(c) for c in pos]


def test_bad_kind_and_images_without_objects_are_refused(small_world):
    assert PAIR_KINDS == ("presence", "seed")
    with pytest.raises(ValueError, match="pair kind 'absence' is unknown"):
        negation_pairs(small_world, "absence")
    bare = Dataset("bare", [ImageRecord(0, ["a cat on a mat"], [])], ["cat"])
    with pytest.raises(ValueError, match="no presence pairs .* use pairs='seed'"):
        negation_pairs(bare, "presence")
    assert negation_pairs(bare, "seed")[0] == [0]
