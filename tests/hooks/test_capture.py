"""Capture: equality with output_hidden_states, pooling, dtype, site selection, hook removal."""

import pytest
import torch

from negscope.hooks import capture_text_states, text_states
from negscope.models import Block

CAPTIONS = ["a red circle", "there is a blue square and a green cross", "This is not a photo of a yellow triangle"]


@pytest.fixture
def bundle(tiny):
    return tiny


def _hidden(bundle, captions):
    tokens = bundle.tokenize(captions)
    with torch.inference_mode():
        out = bundle.model.text_model(**tokens, output_hidden_states=True)
    return tokens, out.hidden_states


def test_states_equal_hidden_states(bundle):
    tokens, hidden = _hidden(bundle, CAPTIONS)
    with capture_text_states(bundle, pools=("eos", "mean", "tokens")) as cap:
        bundle.encode_text(CAPTIONS, batch_size=2)
    names = [s.name for s in bundle.sites]
    assert len(hidden) == len(names)
    eos_pos = tokens["attention_mask"].sum(1) - 1
    mask = tokens["attention_mask"].float()
    eos, mean, toks = cap.pooled("eos"), cap.pooled("mean"), cap.tokens()
    for i, name in enumerate(names):
        h = hidden[i]
        torch.testing.assert_close(eos[name], h[torch.arange(len(CAPTIONS)), eos_pos])
        torch.testing.assert_close(mean[name], (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True))
        for j, t in enumerate(toks[name]):
            torch.testing.assert_close(t, h[j, : int(mask[j].sum())])
    assert len(cap) == len(CAPTIONS)


def test_last_eos_state_gives_clip_pooler(bundle):
    tokens = bundle.tokenize(CAPTIONS)
    last = text_states(bundle, CAPTIONS, sites=[bundle.blocks[-1].output])
    with torch.inference_mode():
        pooled = bundle.model.text_model(**tokens).pooler_output
    torch.testing.assert_close(bundle.model.text_model.final_layer_norm(last["text.block.3"]), pooled)


def test_dtype_subset_and_order(bundle):
    states = text_states(bundle, CAPTIONS, sites=["text.block.2", "text.embed"], dtype=torch.float16)
    assert list(states) == ["text.embed", "text.block.2"]
    assert all(x.dtype == torch.float16 and x.shape == (3, 32) and not x.requires_grad for x in states.values())


def test_hooks_removed_after_exception(bundle):
    modules = [bundle.site_point(s)[0] for s in bundle.sites] + [bundle.token_embedding]
    before = [(len(m._forward_hooks), len(m._forward_pre_hooks)) for m in modules]
    with pytest.raises(RuntimeError, match="boom"), capture_text_states(bundle) as cap:
        bundle.encode_text(CAPTIONS)
        raise RuntimeError("boom")
    assert [(len(m._forward_hooks), len(m._forward_pre_hooks)) for m in modules] == before
    bundle.encode_text(CAPTIONS)
    assert len(cap) == len(CAPTIONS)


def test_clear_drops_states(bundle):
    with capture_text_states(bundle) as cap:
        bundle.encode_text(CAPTIONS)
        cap.clear()
        bundle.encode_text(CAPTIONS[:1])
    assert cap.pooled()["text.embed"].shape[0] == 1


def test_clear_errors_name_the_fix(bundle):
    with pytest.raises(TypeError, match="a site is named, not numbered"):
        text_states(bundle, CAPTIONS, sites=[1])
    with pytest.raises(IndexError, match="text.block.0 to text.block.3"):
        text_states(bundle, CAPTIONS, sites=[Block(4).output])
    with pytest.raises(ValueError, match="unknown site"):
        text_states(bundle, CAPTIONS, sites=["text.block.9x"])
    with pytest.raises(ValueError, match="sites is empty"):
        text_states(bundle, CAPTIONS, sites=[])
    with pytest.raises(ValueError, match="no captions"):
        text_states(bundle, [])
    with pytest.raises(ValueError, match="pools"), capture_text_states(bundle, pools=("max",)):
        pass
    with capture_text_states(bundle) as cap:
        pass
    with pytest.raises(ValueError, match="nothing was captured"):
        cap.pooled()


def test_states_at_reads_each_captions_own_position(tiny):
    from negscope.hooks import states_at

    captions = ["a red circle and no blue square", "no blue square"]
    at = tiny.prefix_ends(["a red circle", "no blue square"])
    tokens = tiny.tokenize(captions)["input_ids"]
    assert tiny.token_names([int(tokens[0, at[0]]), int(tokens[1, at[1]])]) == ["circle", "square"]
    got = states_at(tiny, captions, at, sites=["text.block.1"], batch_size=1)["text.block.1"]
    with capture_text_states(tiny, ["text.block.1"], pools=("tokens",)) as cap:
        tiny.encode_text(captions)
    rows = cap.tokens()["text.block.1"]
    torch.testing.assert_close(got, torch.stack([rows[0][at[0]], rows[1][at[1]]]))
    with pytest.raises(ValueError, match="outside caption 1"):
        states_at(tiny, captions, [1, 40])
    with pytest.raises(ValueError, match="one position per caption"):
        states_at(tiny, captions, [1])
