"""Per-head analysis: the head hooks, the pooled-row reruns against full forward passes, and the measures."""

import numpy as np
import pytest
import torch

from negscope.attribution import HeadScores, head_maps, head_scores, negation_positions
from negscope.models import random_backbone
from negscope.models.attention import heads_of

POS = ["a red circle and a blue square", "there is a blue square", "a green cross", "two pink hearts"]
NEG = ["a red circle and no blue square", "there is no blue square", "no green cross", "no pink hearts"]
NAMES = [["red circle", "blue square"], ["blue square"], ["green cross"], ["pink heart"]]


@pytest.fixture(scope="module")
def siglip():
    return random_backbone("SigLIP-B/16", width=32)


def _img(bundle):
    dim = bundle.encode_text(POS[:1]).shape[1]
    return torch.nn.functional.normalize(torch.randn(len(POS), dim, generator=torch.Generator().manual_seed(0)), dim=-1)


@pytest.mark.parametrize("which", ["tiny", "siglip"])
def test_head_hooks_read_the_attention_exactly_and_leave_it_unchanged(which, tiny, siglip):
    bundle = tiny if which == "tiny" else siglip
    tokens = bundle.tokenize(POS)
    parts = bundle.block_parts(1)
    seen = {}
    with torch.no_grad():
        clean = bundle.text_embeds(tokens)
        handles = [parts.attention.register_forward_hook(lambda m, a, k, o: seen.__setitem__("out", o[0]), with_kwargs=True),
                   bundle.hook_heads(1, lambda states: seen.__setitem__("states", states) or states.z.clone())]
        same = bundle.text_embeds(tokens)
        for h in handles:
            h.remove()
    torch.testing.assert_close(same, clean, rtol=0, atol=1e-6)
    # up to the pooled position; a causal tower's padding after it, which HF also masks as keys, never reaches it
    upto = torch.arange(tokens["input_ids"].shape[1])[None] <= bundle.pool_positions(tokens["input_ids"])[:, None]
    torch.testing.assert_close(parts.project_out(seen["states"].z)[upto], seen["out"][upto], rtol=0, atol=1e-5)
    assert seen["states"].attention.shape == (len(POS), bundle.heads, tokens["input_ids"].shape[1], tokens["input_ids"].shape[1])


def test_the_attention_is_the_models_own(tiny):
    model = tiny.frozen_copy().model
    model.set_attn_implementation("eager")
    tokens = tiny.tokenize(NEG)
    with torch.no_grad():
        out = model.text_model(**tokens, output_attentions=True, output_hidden_states=True)
        hidden = model.text_model.encoder.layers[2].layer_norm1(out.hidden_states[2])
    ours = heads_of(tiny.block_parts(2), hidden, causal=True).attention
    real = tokens["attention_mask"].bool()
    for b, n in enumerate(real.sum(1).tolist()):  # the model also masks padding keys, after every real token
        torch.testing.assert_close(ours[b, :, :n, :n], out.attentions[2][b, :, :n, :n], rtol=0, atol=1e-6)


def test_an_edit_through_the_hook_changes_the_features(tiny):
    tokens = tiny.tokenize(POS)
    with torch.no_grad():
        clean = tiny.text_embeds(tokens)
        handle = tiny.hook_heads(0, lambda states: torch.zeros_like(states.z))
        zeroed = tiny.text_embeds(tokens)
        handle.remove()
        after = tiny.text_embeds(tokens)
    assert (zeroed - clean).abs().max() > 1e-3
    torch.testing.assert_close(after, clean)


def test_pooled_row_reruns_equal_full_forward_passes_on_a_causal_tower(tiny):
    img = _img(tiny)
    negator, end = negation_positions(tiny, NEG, NAMES)
    fast = head_scores(tiny, POS, NEG, img, negator, end, batch_size=3)
    full = head_scores(tiny, POS, NEG, img, negator, end, batch_size=3, full=True)
    clean = (tiny.encode_text(POS) * img).sum(-1).numpy()
    np.testing.assert_allclose(fast.pos, clean, atol=1e-6)
    for edit in fast.edited:
        for caption in ("pos", "neg"):
            np.testing.assert_allclose(fast.edited[edit][caption], full.edited[edit][caption], atol=1e-5)
    assert np.abs(fast.edited["zero"]["pos"] - fast.pos[:, None, None]).max() > 1e-4


@pytest.mark.parametrize("which", ["tiny", "siglip"])
def test_patching_a_caption_with_itself_changes_nothing(which, tiny, siglip):
    bundle = tiny if which == "tiny" else siglip
    negator, end = negation_positions(bundle, NEG, NAMES)
    same = head_scores(bundle, NEG, NEG, _img(bundle), negator, end)
    np.testing.assert_allclose(same.edited["patch"]["pos"], np.broadcast_to(same.pos[:, None, None], same.edited["patch"]["pos"].shape),
                               atol=1e-5)


def test_a_head_cut_off_from_the_residual_carries_nothing(tiny):
    cut = tiny.frozen_copy()
    parts = cut.block_parts(1)
    with torch.no_grad():
        parts.attention.out_proj.weight[:, parts.head_dim:2 * parts.head_dim] = 0  # head 1 of block 1 writes nothing
    img = _img(cut)
    negator, end = negation_positions(cut, NEG, NAMES)
    scores = head_scores(cut, POS, NEG, img, negator, end)
    measures = scores.measures()
    for name in ("patching", "zero", "mean"):
        assert measures[name][1, 1] == pytest.approx(0, abs=1e-5), name
        assert np.abs(measures[name]).max() > 1e-3, name


def test_negation_positions_find_the_negator_and_the_end_of_what_it_negates(tiny):
    text = "a photo of no small pink circle on the right beside two purple circles"
    negator, end = negation_positions(tiny, [text, "This is not a dog"], [["purple circle", "pink circle"], []])
    names = [tiny.token_names(tiny.tokenize([t])["input_ids"][0].tolist()) for t in (text, "This is not a dog")]
    assert names[0][negator[0]] == "no" and names[0][end[0]] == "circle" and end[0] - negator[0] == 3
    assert names[1][negator[1]] == "not" and names[1][end[1]] == "dog"
    with pytest.raises(ValueError, match="hold no negator word.*'a dog'"):
        negation_positions(tiny, ["a dog"], [[]])


def test_head_maps_against_identical_copies_find_nothing_and_against_none_keep_the_model(tiny):
    img = _img(tiny)
    negator, end = negation_positions(tiny, NEG, NAMES)
    scores = head_scores(tiny, POS, NEG, img, negator, end)
    maps = head_maps(scores, [scores, scores], images=[0, 0, 1, 1], resamples=30)
    for m in maps.values():
        assert np.abs(np.asarray(m.difference)).max() == 0 and not m.certain.any()
    alone = head_maps(scores, [], images=[0, 0, 1, 1], resamples=30)
    np.testing.assert_allclose(alone["zero"].difference, scores.measures()["zero"])


def test_measures_follow_their_definitions():
    pos, neg = np.array([1.0, 2.0]), np.array([0.0, 1.0])
    shape = (2, 1, 1)
    edited = {"patch": {"pos": np.full(shape, 0.5), "neg": np.full(shape, 1.0)},
              "zero": {"pos": np.full(shape, 0.5), "neg": np.full(shape, 0.5)},
              "mean": {"pos": pos[:, None, None], "neg": neg[:, None, None]}}
    m = HeadScores(pos, neg, edited, {"pooled": np.ones(shape), "object": np.full(shape, np.nan)}).measures()
    # patching: forward recreates (0.5 - 1) + (0.5 - 2) = -2 of a gap -2 (share 1); reverse (1 - 0) + (1 - 1) of 2: 0.5
    assert m["patching"][0, 0] == pytest.approx(0.75)
    assert m["zero"][0, 0] == pytest.approx(1.0) and m["mean"][0, 0] == pytest.approx(0.0)
    assert m["attention_pooled"][0, 0] == 1.0 and np.isnan(m["attention_object"][0, 0])
