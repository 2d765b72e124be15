import re

import numpy as np
import pytest

from negscope.data.negation import (
    ABSENT_PER_CAPTION,
    NotMentioned,
    _body,
    absence_pair,
    absent_candidates,
    build_negations,
    change_subject,
    determiner,
    mcq_item,
    mention_end,
    presence_negation,
    seed_negation,
    seven_templates,
    spread_absent,
    swap_mentions,
)
from negscope.data.records import Dataset, ImageRecord, ObjectAnn
from negscope.data.world import TRAIN_SEED, captions_for, world_dataset


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
        "There is absolutely no red circle next to a blue square",
        "There is a green cross next to a blue square",
        "This is not a red circle next to a blue square; a yellow square",
    ]


def test_absolutely_no_drops_the_leading_determiner_slot():
    def absolutely_no(caption):
        return seven_templates(caption, caption, caption)["absolutely_no"]

    assert absolutely_no("A man riding a horse.") == "There is absolutely no man riding a horse"
    assert absolutely_no("Two dogs playing!") == "There is absolutely no dogs playing"
    assert absolutely_no("A group of people on a beach") == "There is absolutely no people on a beach"
    assert absolutely_no("His dog sleeps") == "There is absolutely no dog sleeps"
    assert absolutely_no("this is a red circle") == "There is absolutely no this is a red circle"


def test_swap_mentions_and_determiner_on_coco_captions():
    assert swap_mentions("A man riding a horse", "person", "horse") == "A horse riding a man"
    assert swap_mentions("two dogs chase an owl and a cat", "dog", "cat") == "two cats chase an owl and a dog"
    assert swap_mentions("a dog and an elephant", "dog", "elephant") == "an elephant and a dog"
    assert [determiner("A group of people near his two dogs", n) for n in ("person", "dog", "cat")] == [
        "a group of", "his two", None]


def test_change_subject():
    assert change_subject("a photo of a red circle and a blue square", ["blue square", "red circle"], "green cross") == (
        "a photo of a green cross and a blue square"
    )
    assert change_subject("A dog on a couch.", ["cat"], "horse") == "a horse on a couch"


def test_presence_negation():
    assert presence_negation("a photo of a red circle and a blue square", "blue square") == (
        "a photo of a red circle and no blue square"
    )
    assert presence_negation("A man riding a horse.", "person") == "no man riding a horse"


def test_presence_negation_of_an_unmentioned_object_raises():
    with pytest.raises(NotMentioned, match="'dog' is not mentioned") as err:
        presence_negation("A man eating a hot dog.", "dog")
    assert isinstance(err.value, ValueError) and err.value.name == "dog"
    with pytest.raises(NotMentioned):
        mention_end("a red circle", "blue square")


def test_build_negations_skips_and_counts_unmentioned_objects():
    recs = [ImageRecord(1, ["A man eating a hot dog.", "A dog on a couch."],
                        [ObjectAnn("dog", (0, 0, 1, 1)), ObjectAnn("person", (0, 0, 1, 1))])]
    (n,) = build_negations(Dataset("t", recs, ["dog", "person", "couch"]))
    assert n.presence_all == [("a man eating a hot dog", "no man eating a hot dog"),
                              ("a dog on a couch", "no dog on a couch")]
    assert n.unmentioned == 2


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
            assert sum(determiner(false, p) == "no" and determiner(true, p) != "no" for p in present) == 1
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


# The builders before COCO captions were handled, kept verbatim: a model was trained on their world outputs.
def _old_article(name):
    return ("an " if name[:1] in "aeiou" else "a ") + name


def _old_mention(caption, name):
    return re.search(rf"\b(?:(a|an|the|one)\s+)?{re.escape(name)}s?\b", caption, flags=re.IGNORECASE)


def _old_change_subject(caption, present, replacement):
    body = _body(caption)
    hits = [m for m in (_old_mention(body, n) for n in present) if m]
    if hits:
        m = min(hits, key=lambda h: h.start())
        return body[: m.start()] + _old_article(replacement) + body[m.end() :]
    m = re.search(r"\b(?:a|an|the)\s+(\w+)", body, flags=re.IGNORECASE)
    if m:
        return body[: m.start()] + _old_article(replacement) + body[m.end() :]
    return f"{_old_article(replacement)} and {body}"


def _old_seven_templates(caption, changed, extra):
    c = _body(caption)
    return {
        "caption": c,
        "this_is": f"This is {c}",
        "not": f"Not {c}",
        "this_is_not": f"This is not {c}",
        "absolutely_no": f"There is absolutely no {re.sub(r'^(?:a|an|the|one) ', '', c)}",  # the one intended change
        "subject_changed": f"There is {_body(changed)}",
        "not_mismatched": f"This is not {c}; {_body(extra)}",
    }


def _old_presence_negation(caption, name):
    body = _body(caption)
    m = _old_mention(body, name)
    return body[: m.start()] + f"no {name}" + body[m.end() :] if m else f"{body}, with no {name}"


def _old_absence_pair(caption, name):
    body = _body(caption)
    return f"{body}, with no {name}", f"{body}, with {_old_article(name)}"


def _old_swap_mentions(caption, first, second):
    spans = sorted((m.start(1), m.end(1), other) for name, other in ((first, second), (second, first))
                   if (m := re.search(rf"\b({re.escape(name)})s?\b", caption, flags=re.IGNORECASE)))
    out, at = [], 0
    for start, end, name in spans:
        out += [caption[at:start], name]
        at = end
    return "".join(out) + caption[at:]


# the world the builders first served: four shapes in five colours, one of each, no sizes or positions
OLD_CATEGORIES = [f"{c} {s}" for c in ("red", "green", "blue", "yellow", "purple")
                  for s in ("circle", "square", "triangle", "cross")]


def _old_world(n, seed):
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        present = [OLD_CATEGORIES[k] for k in rng.choice(len(OLD_CATEGORIES), int(rng.integers(1, 4)), replace=False)]
        records.append(ImageRecord(i, captions_for(present, rng), [ObjectAnn(p, (0.0, 0.0, 1.0, 1.0)) for p in present]))
    return Dataset("old world", records, OLD_CATEGORIES)


@pytest.mark.parametrize("seed", [TRAIN_SEED, 1])
def test_world_outputs_match_the_builders_the_shipped_model_was_trained_on(seed):
    ds = _old_world(100, seed)  # 200 scenes over both seeds
    checked = 0
    for i, rec in enumerate(ds):
        extra = ds[(i + 1) % len(ds)].captions[0]
        absent = [c for c in OLD_CATEGORIES if c not in rec.present]
        for k, cap in enumerate(rec.captions):
            for name in rec.present:
                assert presence_negation(cap, name) == _old_presence_negation(cap, name)
                m = _old_mention(cap, name)
                assert determiner(cap, name) == (m.group(1) or "").lower()
                assert mention_end(cap, name) == m.end()
            for name in absent[k::4]:
                assert absence_pair(cap, name) == _old_absence_pair(cap, name)
                assert change_subject(cap, rec.present, name) == _old_change_subject(cap, rec.present, name)
                changed = change_subject(cap, rec.present, name)
                assert seven_templates(cap, changed, extra) == _old_seven_templates(cap, changed, extra)
                checked += 1
            if len(rec.present) > 1:
                a, b = rec.present[:2]
                assert swap_mentions(cap, a, b) == _old_swap_mentions(cap, a, b)
    assert checked > 2000


def test_both_negated_pairs_differ_only_in_which_object_is_negated():
    ds = world_dataset(30)
    for n in build_negations(ds, seed=3):
        present = set(n.record.present)
        assert len(n.both_negated) == len(n.absence) > 0
        for (true, false), (absence_true, _) in zip(n.both_negated, n.absence):
            assert true == absence_true
            (body, absent), (other, held) = true.rsplit(", with no ", 1), false.rsplit(", with no ", 1)
            assert body == other and absent not in present and held in present
            # a scorer that counts negators gives both texts the same score: the control sits at chance for it
            assert re.findall(r"\bno\b", true) == re.findall(r"\bno\b", false)
