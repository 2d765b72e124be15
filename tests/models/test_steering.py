"""Steered models: the hooks move only negated tokens, the modes do what they say, and a steered folder loads anywhere
a model spec is taken."""

import pytest
import torch

from negscope.models import load_bundle, model_fingerprint
from negscope.models.steering import Steering, SteeringError, negated_positions, steered

POSITIVE = ["a red circle and a blue square", "there is a green cross"]
NEGATED = ["a red circle and no blue square", "this is not a green cross"]


def _vectors(tiny, site="text.block.1", seed=0):
    g = torch.Generator().manual_seed(seed)
    width = tiny.token_embedding.weight.shape[1]
    u = torch.nn.functional.normalize(torch.randn(width, generator=g), dim=0)
    left = torch.randn(width, 1, generator=g)
    return {site: {"direction": u, "gap": torch.tensor([2.0]), "left": left, "right": left.T / left.norm() ** 2,
                   "bias": torch.zeros(width)}}


def test_negated_positions_run_from_the_first_negator_through_the_pooled_token(tiny):
    ids = tiny.tokenize(["a red circle and no blue square", "a red circle"])["input_ids"]
    mask = negated_positions(tiny, ids)
    names = tiny.token_names(ids[0].tolist())
    assert names[int(mask[0].to(torch.int).argmax())] == "no" and mask[0, : names.index("no")].sum() == 0
    assert mask[0, tiny.pool_positions(ids)[0]] and not mask[1].any()


def test_steering_moves_negated_captions_only_and_its_hooks_go_away(tiny):
    steering = Steering("tiny", "probe", "add", 3.0, ["text.block.1"], _vectors(tiny))
    before = tiny.encode_text(POSITIVE + NEGATED)
    with steered(tiny, steering):
        assert tiny.steering is steering and not tiny.packs_prefixes
        during = tiny.encode_text(POSITIVE + NEGATED)
    torch.testing.assert_close(during[:2], before[:2], rtol=0, atol=1e-6)
    assert (during[2:] - before[2:]).abs().max() > 1e-3
    assert tiny.steering is None
    torch.testing.assert_close(tiny.encode_text(NEGATED), before[2:])


def test_project_at_strength_one_leaves_the_model_and_zero_removes_the_component(tiny):
    vectors = _vectors(tiny)
    before = tiny.encode_text(NEGATED)
    with steered(tiny, Steering("tiny", "leace", "project", 1.0, ["text.block.1"], vectors)):
        torch.testing.assert_close(tiny.encode_text(NEGATED), before, rtol=0, atol=1e-6)
    seen = {}
    tokens = tiny.tokenize(NEGATED[:1])
    mask = negated_positions(tiny, tokens["input_ids"])[0]
    with steered(tiny, Steering("tiny", "leace", "project", 0.0, ["text.block.1"], vectors)):
        handle = tiny.hook_site("text.block.1", lambda state: seen.__setitem__("x", state))  # runs after the steering
        tiny.encode_text(NEGATED[:1])
        handle.remove()
    v = vectors["text.block.1"]
    along = ((seen["x"][0] - v["bias"]) @ v["right"].T)[:, 0]  # the component's coordinate (right · left = 1)
    assert along[mask].abs().max() < 1e-4 and along[~mask].abs().min() > 1e-4


def test_a_steered_folder_loads_as_a_model_and_its_fingerprint_covers_the_steering(tmp_path, tiny):
    folder = Steering("tiny", "probe", "add", 2.0, ["text.block.1"], _vectors(tiny)).save(tmp_path / "steered")
    bundle = load_bundle(str(folder))
    assert bundle.spec == str(folder) and bundle.steering.strength == 2.0 and bundle.steering.values == 32 + 1
    with steered(tiny, Steering.load(folder)):
        expected = tiny.encode_text(NEGATED)
    torch.testing.assert_close(bundle.encode_text(NEGATED), expected)
    first = model_fingerprint(str(folder))
    Steering("tiny", "probe", "add", 4.0, ["text.block.1"], _vectors(tiny)).save(folder)
    assert model_fingerprint(str(folder)) != first
    with pytest.raises(SteeringError, match="already steered"):
        Steering.load(folder) and steered(bundle, Steering.load(folder)).__enter__()


def test_bad_steering_says_what_to_fix(tmp_path, tiny):
    with pytest.raises(SteeringError, match="mode 'push' is unknown"):
        Steering("tiny", "probe", "push", 1.0, [], {})
    with pytest.raises(SteeringError, match="lacks text.block.1.left"):
        Steering("tiny", "probe", "project", 1.0, ["text.block.1"], {"text.block.1": {"direction": torch.ones(2)}})
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "steering.json").write_text("{not json")
    with pytest.raises(SteeringError, match="cannot be read.*negscope steer"):
        load_bundle(str(tmp_path / "broken"))
    with pytest.raises(IndexError, match="text.block.9 is out of range"):
        steered(tiny, Steering("tiny", "probe", "add", 1.0, ["text.block.9"], {"text.block.9": _vectors(tiny)["text.block.1"]})).__enter__()
