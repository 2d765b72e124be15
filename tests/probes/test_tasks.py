"""Probing tasks, the bag-of-words counts and the divergence cosine."""

import numpy as np
import pytest

from negscope.data import Dataset, ImageRecord, ObjectAnn
from negscope.probes import (
    divergence_pairs,
    mean_pair_cosine,
    mention_order,
    negated_task,
    scope_position_task,
    scope_task,
    token_counts,
)
from negscope.probes.baselines import bigram_counts, negator_position
from negscope.probes.tasks import NEGATED_TEMPLATES, POSITIVE_TEMPLATES


def test_negated_task_pairs_one_positive_and_one_negated_form(small_world):
    task = negated_task(small_world, captions_per_image=2)
    assert len(task) == 2 * 2 * len(small_world)
    for k in range(0, len(task), 2):
        assert task.groups[k] == task.groups[k + 1] and task.labels[k : k + 2] == [0, 1]
        assert task.variants[k] in POSITIVE_TEMPLATES and task.variants[k + 1] in NEGATED_TEMPLATES
    assert len(set(task.ids)) == len(task)


def test_scope_position_task_negates_first_or_second_mention_with_one_bag_of_words(tiny, small_world):
    task = scope_position_task(small_world, captions_per_image=5)
    assert len(task) > 0 and task.labels[:2] == [0, 1]
    counts = token_counts(tiny, task.texts)
    for k in range(0, len(task), 2):
        first, second = task.texts[k], task.texts[k + 1]
        assert first != second and task.groups[k] == task.groups[k + 1]
        assert first.index("no ") < second.index("no ")
        np.testing.assert_array_equal(counts[k], counts[k + 1])


def test_scope_task_binds_the_label_to_an_object_not_a_position(tiny, small_world):
    task = scope_task(small_world, captions_per_image=5)
    assert len(task) % 4 == 0 and len(task) > 0
    counts, position = token_counts(tiny, task.texts), negator_position(tiny, task.texts)
    for k in range(0, len(task), 4):
        texts, labels = task.texts[k : k + 4], task.labels[k : k + 4]
        assert len(set(texts)) == 4 and len(set(task.groups[k : k + 4])) == 1 and labels == [0, 1, 0, 1]
        for row in range(k + 1, k + 4):
            np.testing.assert_array_equal(counts[k], counts[row])
        # each label has its negator once early and once late
        for label in (0, 1):
            at = sorted(position[k + i, 1] for i in range(4) if labels[i] == label)
            assert at[0] < at[1]
        # the anchor is the text up to the earlier category, the same object in all four rows
        names = {a.split()[-2] + " " + a.split()[-1] for a in task.anchors[k : k + 4]}
        assert len(names) == 1 and all(t.startswith(a) for t, a in zip(texts, task.anchors[k : k + 4]))


def test_position_and_words_do_not_solve_the_scope_task_but_solve_scope_position(tiny):
    from negscope.data import world_dataset
    from negscope.probes import cross_validate, grouped_splits, nested_folds

    data = world_dataset(240)
    accuracy = {}
    for task in (scope_task(data), scope_position_task(data)):
        y, groups = np.array(task.labels), np.array(task.groups)
        folds = nested_folds(y, groups, grouped_splits(y, groups, 3))
        for name, X in (("position", negator_position(tiny, task.texts)), ("words", token_counts(tiny, task.texts)),
                        ("bigrams", bigram_counts(tiny, task.texts))):
            accuracy[task.name, name] = cross_validate([(X, folds)], n_boot=10)[0].accuracy
    assert abs(accuracy["scope", "position"] - 0.5) < 0.06 and accuracy["scope", "words"] == 0.5
    assert accuracy["scope_position", "position"] > 0.95
    # "no red circle" names the negated object, whose rank in the category list a linear model reads in part
    assert accuracy["scope", "bigrams"] > 0.6


def test_surface_features_count_pairs_and_find_the_negator(tiny):
    bigrams = bigram_counts(tiny, ["a red circle", "a red red"])
    assert bigrams.shape == (2, 6) and bigrams.sum(1).tolist() == [4.0, 4.0] and bigrams.max() == 1.0
    position = negator_position(tiny, ["no red circle", "a red circle", "This is not a circle"])
    assert position[:, 0].tolist() == [1.0, 0.0, 1.0]
    assert position[0, 1] == pytest.approx(1 / 5) and position[2, 1] == pytest.approx(3 / 7)


def test_mention_order_and_empty_scope():
    assert mention_order("a blue square next to a red circle", ["red circle", "blue square", "green cross"]) == [
        "blue square", "red circle"]
    rec = ImageRecord(0, ["a red circle"], [ObjectAnn("red circle", (0, 0, 1, 1))], pixels=np.zeros((2, 2, 3), np.uint8))
    for builder in (scope_task, scope_position_task):
        with pytest.raises(ValueError, match="two or more objects"):
            builder(Dataset("one", [rec], ["red circle"]))


def test_token_counts_count_tokens(tiny):
    counts = token_counts(tiny, ["a red circle", "a a red"])
    assert counts.shape[0] == 2 and counts.sum(1).tolist() == [5.0, 5.0]
    assert counts.max() == 2.0


def test_divergence_pairs_and_cosine(small_world):
    pairs = divergence_pairs(small_world)
    assert pairs.texts[1] == "This is not " + pairs.texts[0]
    states = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0], [0.0, -1.0]])
    assert mean_pair_cosine(states, np.array([0, 2]), np.array([1, 3])) == pytest.approx((2**-0.5 - 1) / 2)
    with pytest.raises(ValueError, match="no caption pairs"):
        mean_pair_cosine(states, np.array([], int), np.array([], int))


def test_negated_task_uses_the_negations_a_table_brings():
    from negscope.data import GivenNegation

    recs = [ImageRecord(i, [f"a dog {i}"], [], given=[GivenNegation(f"a dog {i}", presence=f"no dog {i}")]) for i in range(3)]
    task = negated_task(Dataset("t", recs, []))
    assert task.texts == ["a dog 0", "no dog 0", "a dog 1", "no dog 1", "a dog 2", "no dog 2"]
    assert task.labels == [0, 1] * 3 and task.variants == ["caption", "given"] * 3


def test_mention_order_finds_synonyms_and_plurals():
    assert mention_order("Two boys chase a dog past the buses.", ["bus", "dog", "person"]) == ["person", "dog", "bus"]
    assert mention_order("A hot dog on a plate.", ["dog"]) == []


def test_every_row_names_its_image_and_a_control_unit_that_recurs_across_images():
    from negscope.data import world_dataset
    from negscope.probes import grouped_splits

    world = world_dataset(240)
    for builder in (negated_task, scope_task, scope_position_task):
        task = builder(world)
        assert len(task.images) == len(task.units) == len(task) and set(task.images) <= {str(r.image_id) for r in world}
        units, y = np.array(task.units), np.array(task.labels)
        assert len(set(units)) < len(task) / 2  # units recur ...
        for train, test in grouped_splits(y, np.array(task.groups), 5):
            assert np.isin(units[test], units[train]).mean() > 0.8  # ... across the folds, so a probe can memorise them
    scope = scope_task(world)
    for k in range(0, len(scope), 4):  # the unit is the negated object: two objects, each negated twice
        assert len(set(scope.units[k : k + 4])) == 2 and scope.units[k] != scope.units[k + 1]
