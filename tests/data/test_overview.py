"""What the stages read: one presence and absence negation per caption, and the captions skipped by reason."""

from negscope.data import Dataset, GivenNegation, ImageRecord, ObjectAnn
from negscope.data.overview import NO_OBJECTS, NOT_MENTIONED, negation_overview

BOX = (0.0, 0.0, 1.0, 1.0)


def _data():
    return Dataset("hand", [
        ImageRecord(1, ["Two dogs play with a frisbee.", "A grassy park on a sunny day."],
                    [ObjectAnn("dog", BOX), ObjectAnn("frisbee", BOX)]),
        ImageRecord(2, ["An empty beach at dawn."], []),
        ImageRecord(3, ["A man rides his horse."], [ObjectAnn("person", BOX), ObjectAnn("horse", BOX)]),
    ], ["dog", "frisbee", "horse", "person", "cat"])


def test_every_caption_is_negated_or_skipped_with_its_reason():
    view = negation_overview(_data())
    assert [r.skipped for r in view.captions] == [None, NOT_MENTIONED, NO_OBJECTS, None]
    assert view.skipped == {NOT_MENTIONED: 1, NO_OBJECTS: 1}
    assert (view.object_pairs, view.unmentioned_pairs) == (6, 2)  # the park caption names neither dog nor frisbee
    first, _, beach, rider = view.captions
    assert first.presence in ("no dogs play with a frisbee", "two dogs play with no frisbee")
    assert first.absence == f"two dogs play with a frisbee, with no {first.absent}" and first.absent not in ("dog", "frisbee")
    assert rider.presence in ("no man rides his horse", "a man rides no horse")  # "man" names a person
    assert beach.presence is None and beach.absence.startswith("an empty beach at dawn, with no ")


def test_given_negations_are_shown_as_the_data_brings_them():
    rec = ImageRecord(1, ["a dog"], [], given=[GivenNegation("a dog", presence="no dog", absence="a dog, no cat")])
    (row,) = negation_overview(Dataset("t", [rec], [])).captions
    assert (row.caption, row.object, row.presence, row.absence, row.skipped) == ("a dog", None, "no dog", "a dog, no cat", None)
