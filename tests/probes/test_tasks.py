"""Probing tasks, the bag-of-words counts and the divergence cosine."""

import numpy as np
import pytest

from negscope.data import Dataset, ImageRecord, ObjectAnn
from negscope.probes import (
    divergence_pairs,
    mean_pair_cosine,
    mention_order,
    negated_task,
    scope_task,
    token_counts,
)
from negscope.probes.tasks import NEGATED_TEMPLATES, POSITIVE_TEMPLATES


def test_negated_task_pairs_one_positive_and_one_negated_form(small_world):
    task = negated_task(small_world, captions_per_image=2)
    assert len(task) == 2 * 2 * len(small_world)
    for k in range(0, len(task), 2):
        assert task.groups[k] == task.groups[k + 1] and task.labels[k : k + 2] == [0, 1]
        assert task.variants[k] in POSITIVE_TEMPLATES and task.variants[k + 1] in NEGATED_TEMPLATES
    assert len(set(task.ids)) == len(task)


def test_scope_task_negates_first_or_second_mention_with_one_bag_of_words(tiny, small_world):
    task = scope_task(small_world, captions_per_image=5)
    assert len(task) > 0 and task.labels[:2] == [0, 1]
    counts = token_counts(tiny, task.texts)
    for k in range(0, len(task), 2):
        first, second = task.texts[k], task.texts[k + 1]
        assert first != second and task.groups[k] == task.groups[k + 1]
        assert first.index("no ") < second.index("no ")
        np.testing.assert_array_equal(counts[k], counts[k + 1])


def test_mention_order_and_empty_scope():
    assert mention_order("a blue square next to a red circle", ["red circle", "blue square", "green cross"]) == [
        "blue square", "red circle"]
    rec = ImageRecord(0, ["a red circle"], [ObjectAnn("red circle", (0, 0, 1, 1))], pixels=np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(ValueError, match="two or more objects"):
        scope_task(Dataset("one", [rec], ["red circle"]))


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
