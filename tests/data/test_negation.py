import numpy as np
import pytest

from negscope.data.negation import (
    ABSENT_PER_CAPTION,
    _body,
    absence_pair,
    absent_candidates,
    build_negations,
    change_subject,
    determiner,
    mcq_item,
    presence_negation,
    seed_negation,
    seven_templates,
    spread_absent,
)
from negscope.data.records import Dataset, ImageRecord, ObjectAnn
from negscope.data.world import world_dataset


def test_seed_negation():
    assert seed_negation("A cat sitting on a sofa.") == "This is not a cat sitting on a sofa"
    assert seed_negation("a red circle") == "This is not a red circle"
    with pytest.raises(ValueError, match="empty caption"):
        seed_negation("  ")


def test_seven_templates_exact():
    t = seven_templates("a red circle next to a blue square", "a green cross next to a blue square", "a yellow square")
    assert list(t.values()) == [
        "a red circle next to a blue square",
        "This is a red circle next to a blue square",
        "Not a red circle next to a blue square",
        "This is not a red circle next to a blue square",
        "There is absolutely no a red circle next to a blue square",
        "There is a green cross next to a blue square",
        "This is not a red circle next to a blue square; a yellow square",
    ]


def test_change_subject():
    assert change_subject("a photo of a red circle and a blue square", ["blue square", "red circle"], "green cross") == (
        "a photo of a green cross and a blue square"
    )
    assert change_subject("A dog on a couch.", ["cat"], "horse") == "a horse on a couch"


def test_presence_negation():
    assert presence_negation("a photo of a red circle and a blue square", "blue square") == (
        "a photo of a red circle and no blue square"
    )
    assert presence_negation("A man riding a horse.", "person") == "a man riding a horse, with no person"


def test_presence_negation_replaces_any_determiner():
    assert presence_negation("the red circle next to one blue square", "blue square") == "the red circle next to no blue square"
    assert presence_negation("this is red circle and a blue square", "red circle") == "this is no red circle and a blue square"


def test_determiner():
    cap = "there is the red circle, blue cross and one green square"
    assert [determiner(cap, n) for n in ("red circle", "blue cross", "green square", "red cross")] == ["the", "", "one", None]


def test_absence_pair():
    assert absence_pair("a red circle", "orange cross") == ("a red circle, with no orange cross", "a red circle, with an orange cross")


def test_absent_candidates_use_cooccurrence():
    recs = [
        ImageRecord(1, ["x"], [ObjectAnn("dog", (0, 0, 1, 1)), ObjectAnn("frisbee", (0, 0, 1, 1))]),
        ImageRecord(2, ["x"], [ObjectAnn("dog", (0, 0, 1, 1)), ObjectAnn("leash", (0, 0, 1, 1))]),
        ImageRecord(3, ["x"], [ObjectAnn("oven", (0, 0, 1, 1))]),
    ]
    ds = Dataset("t", recs, ["dog", "frisbee", "leash", "oven"])
    assert absent_candidates(recs[0], ds.cooccurrence(), ds.categories) == ["leash"]
    assert absent_candidates(recs[2], ds.cooccurrence(), ds.categories) == ["dog", "frisbee", "leash"]


def test_mcq_item_has_one_true_option():
    rng = np.random.default_rng(0)
    for _ in range(30):
        q = mcq_item(["red circle"], ["blue square"], rng)
        assert len(q.options) == 4 and len(set(q.options)) == 4
        true = q.options[q.answer]
        assert true in {
            "This image features a red circle",
            "This image does not feature a blue square",
            "This image features a red circle but not a blue square",
        }
        for i, o in enumerate(q.options):
            if i != q.answer:
                assert o in {
                    "This image features a blue square",
                    "This image does not feature a red circle",
                    "This image features a blue square but not a red circle",
                }


def test_build_negations_labels_are_exact():
    ds = world_dataset(20)
    for n in build_negations(ds, seed=1):
        present = set(n.record.present)
        for true, false in n.presence:
            negated = false.split("no ", 1)[1]
            assert any(negated.startswith(p) for p in present)
        for true, false in n.absence:
            assert true.rsplit(", with no ", 1)[1] not in present
        assert n.mcq is not None


def test_one_draw_pairs_and_mcq_follow_the_seeded_stream():
    ds = world_dataset(40)
    cooccur = ds.cooccurrence()
    rng = np.random.default_rng(5)
    for rec, n in zip(ds, build_negations(ds, seed=5)):
        absent = absent_candidates(rec, cooccur, ds.categories)
        for k, cap in enumerate(rec.captions):
            assert n.absence[k] == absence_pair(cap, str(rng.choice(absent)))
            assert n.presence[k] == (_body(cap), presence_negation(cap, str(rng.choice(rec.present))))
            assert n.swap[k] == (_body(cap), change_subject(cap, rec.present, str(rng.choice(absent))))
        assert n.mcq == mcq_item(rec.present, absent, rng)


def test_exhaustive_pairs_hold_every_caption_and_object():
    ds = world_dataset(40)
    cooccur = ds.cooccurrence()
    for n in build_negations(ds, seed=2):
        rec = n.record
        absent = absent_candidates(rec, cooccur, ds.categories)
        assert n.presence_all == [(_body(c), presence_negation(c, p)) for c in rec.captions for p in rec.present]
        assert set(n.presence) <= set(n.presence_all)
        assert len(n.absence_all) == len(rec.captions) * min(len(absent), ABSENT_PER_CAPTION)
        named = {true.rsplit(", with no ", 1)[1] for true, _ in n.absence_all}
        assert named <= set(absent) and len(named) == min(len(absent), len(rec.captions) * ABSENT_PER_CAPTION)


def test_spread_absent_takes_turns_without_drawing():
    assert spread_absent(["a", "b"], 3, per_caption=2) == [["a", "b"]] * 3
    assert spread_absent(list("abcde"), 2, per_caption=3) == [["a", "b", "c"], ["d", "e", "a"]]
    assert spread_absent(list("abcdefgh"), 2, per_caption=2) == [["a", "c"], ["e", "g"]]
