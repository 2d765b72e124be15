import pytest

from negscope.data import world_dataset
from negscope.data.forms import FORMS, HELD_OUT_FORMS, TRAIN_FORMS, form_pairs, get_forms
from negscope.data.negation import presence_negation
from negscope.data.phrases import indefinite

CAPTION = "a red circle next to a blue square"
PRESENT = ["red circle", "blue square"]


def test_training_and_held_out_forms_split_the_registry():
    assert set(TRAIN_FORMS) | set(HELD_OUT_FORMS) == set(FORMS) and not set(TRAIN_FORMS) & set(HELD_OUT_FORMS)
    assert {"this_is_not", "not", "absolutely_no", "without", "missing"} <= set(HELD_OUT_FORMS)


@pytest.mark.parametrize("name", list(FORMS))
def test_every_pair_differs_and_names_the_object(name):
    form = FORMS[name]
    true, false = form.presence(CAPTION, "blue square", PRESENT)
    assert true != false and "blue square" in false
    true, false = form.absence(CAPTION, "green cross", PRESENT)
    assert true != false and "green cross" in true and "green cross" in false


def test_object_forms_are_minimal_pairs_and_sentence_forms_wrap_the_caption():
    assert FORMS["no"].presence(CAPTION, "blue square", PRESENT) == (CAPTION, "a red circle next to no blue square")
    assert FORMS["without"].absence(CAPTION, "green cross", PRESENT) == (
        f"{CAPTION}, without a green cross", f"{CAPTION}, with a green cross")
    assert FORMS["missing"].presence(CAPTION, "red circle", PRESENT)[1] == f"{CAPTION}, and a red circle is missing"
    # a sentence form negates the whole caption; its true absence text negates a caption made false
    assert FORMS["this_is_not"].presence(CAPTION, "red circle", PRESENT) == (CAPTION, f"This is not {CAPTION}")
    true, false = FORMS["this_is_not"].absence(CAPTION, "green cross", PRESENT)
    assert false == "a green cross next to a blue square" and true == f"This is not {false}"


def test_form_pairs_share_the_drawn_objects_across_forms():
    data = world_dataset(6)
    pairs = form_pairs(data, get_forms(["no", "without"]), seed=3)
    n = sum(len(r.captions) for r in data if r.present)
    assert all(len(p[k]) == n for p in pairs.values() for k in ("presence", "absence"))
    for (row, caption, no_false), (row2, without_true, _) in zip(pairs["no"]["presence"], pairs["without"]["presence"]):
        assert row == row2
        # the same present object, affirmed in the other form
        (name,) = [p for p in data[row].present if without_true.endswith(f", with {indefinite(p)}")]
        assert no_false == presence_negation(caption, name)
    assert form_pairs(data, get_forms(["no"]), seed=3)["no"] == pairs["no"]


def test_unknown_form_names_the_known_ones():
    with pytest.raises(ValueError, match="'nope' is unknown; choose from no, not_true"):
        get_forms(["nope"])


def test_a_caption_that_mentions_no_object_gives_no_presence_pair_in_any_form():
    from negscope.data import Dataset, ImageRecord, ObjectAnn

    box = (0.0, 0.0, 1.0, 1.0)
    data = Dataset("hand", [ImageRecord(1, ["A man rides his horse.", "A sunny beach."],
                                        [ObjectAnn("person", box), ObjectAnn("horse", box)])], ["person", "horse", "dog"])
    pairs = form_pairs(data, list(FORMS.values()))
    assert all(len(p["presence"]) == 1 and len(p["absence"]) == 2 for p in pairs.values())
    assert pairs["no"]["presence"][0][2] in ("no man rides his horse", "a man rides no horse")
