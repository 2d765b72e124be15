"""Negation directions and the choice of steering on a validation split."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from negscope.probes import negated_task
from negscope.steering import candidates, fit_directions, search, steering_for


@pytest.fixture(scope="module")
def directions(tiny, small_world):
    task = negated_task(small_world)
    return task, fit_directions(tiny, task.texts, task.labels, task.groups, ["text.embed", "text.block.2"])


def test_directions_are_unit_vectors_along_which_negated_captions_lie_further(tiny, directions):
    task, dirs = directions
    from negscope.hooks import text_states

    states = text_states(tiny, task.texts, sites=["text.block.2"])["text.block.2"].double()
    labels = np.asarray(task.labels)
    for source in ("probe", "leace"):
        v = dirs[source]["text.block.2"]
        assert v["direction"].norm() == pytest.approx(1.0) and v["gap"].item() > 0
        along = (states @ v["direction"]).numpy()
        assert along[labels == 1].mean() - along[labels == 0].mean() == pytest.approx(v["gap"].item())
    leace = dirs["leace"]["text.block.2"]
    assert leace["left"].shape == (states.shape[1], 1) and leace["right"].shape == (1, states.shape[1])


def test_directions_need_both_classes(tiny):
    with pytest.raises(ValueError, match="both positive .0. and negated .1."):
        fit_directions(tiny, ["a dog", "a cat"], [1, 1], [0, 1])


class Scripted:
    """A validator whose scores follow the steering installed: negation rises with strength, R@1 falls past 2."""

    def __init__(self, bundle):
        self.bundle = bundle
        self.dataset = [SimpleNamespace(captions=["a dog", "no cat here"])]

    def score(self, step, recall=None):
        s = self.bundle.steering.strength if self.bundle.steering else 0.0
        site = self.bundle.steering.sites[0] if self.bundle.steering else ""
        bonus = 0.01 if site == "text.block.2" else 0.0
        return {"step": step, "negation": 0.5 + 0.1 * s + bonus, "i2t_r1": 0.9 - (0.05 if s > 2 else 0.0),
                "t2i_r1": 0.9}


def test_the_choice_is_the_best_negation_whose_retrieval_held(tiny, directions):
    _, dirs = directions
    grid = candidates(["text.embed", "text.block.2"])
    assert len(grid) == 3 * 2 * 4 and {c["mode"] for c in grid} == {"add", "project"}
    choice = search(tiny, Scripted(tiny), dirs, grid, tolerance=0.01)
    assert choice.admissible and choice.chosen["strength"] == 2.0 and choice.chosen["sites"] == ["text.block.2"]
    # coarse to fine: 6 (source, mode, site) at their middle strength, then the best 3 at their other 3 strengths
    assert choice.records[0]["source"] is None and len(choice.records) == 1 + 6 + 3 * 3 and tiny.steering is None
    assert "15 of 24 candidates scored" in choice.note
    every = search(tiny, Scripted(tiny), dirs, grid, tolerance=0.01, refine=None)
    assert len(every.records) == 1 + len(grid) and every.chosen == choice.chosen
    loose = search(tiny, Scripted(tiny), dirs, grid, tolerance=0.1)
    assert loose.chosen["strength"] == 8.0 and loose.chosen["mode"] == "project"
    strict = search(tiny, Scripted(tiny), dirs, [c for c in grid if c["strength"] > 2], tolerance=0.01)
    assert not strict.admissible and "no candidate kept R@1" in strict.note


def test_a_candidate_becomes_a_steering_with_its_vectors(tiny, directions):
    _, dirs = directions
    s = steering_for("tiny", dirs, {"source": "leace", "mode": "project", "sites": ["text.embed"], "strength": 4.0})
    assert s.values == 3 * tiny.token_embedding.weight.shape[1]
    before = tiny.encode_text(["there is no red circle"])
    from negscope.models.steering import steered

    with steered(tiny, s):
        assert not torch.allclose(tiny.encode_text(["there is no red circle"]), before)
