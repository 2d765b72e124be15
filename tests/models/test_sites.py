"""Sites and blocks: the documented names of both index spaces, their one conversion, and capture at a site."""

import numpy as np
import pytest
import torch

from negscope.hooks import text_states
from negscope.models import EMBED, Block, Site, block_gains, load_bundle

CAPTIONS = ["a red circle", "there is a blue square and a green cross", "This is not a photo of a yellow triangle"]


def test_tiny_site_and_block_names(tiny):
    assert [s.name for s in tiny.sites] == ["text.embed", "text.block.0", "text.block.1", "text.block.2", "text.block.3"]
    assert [b.name for b in tiny.blocks] == ["text.block.0", "text.block.1", "text.block.2", "text.block.3"]
    assert [b.index for b in tiny.blocks] == [0, 1, 2, 3]
    assert tiny.heads == 2 and tiny.block_parts(Block(3)).head_dim == 16


def test_world_site_and_block_names():
    world = load_bundle("world")
    assert [s.name for s in world.sites] == ["text.embed"] + [f"text.block.{k}" for k in range(12)]
    assert [b.name for b in world.blocks] == [f"text.block.{k}" for k in range(12)]
    assert [b.index for b in world.blocks] == list(range(12))
    assert world.heads == 4 and world.causal_text


def test_block_output_and_site_block_are_inverse(tiny):
    for b in tiny.blocks:
        assert b.output.block == b and b.output.name == b.name
    assert Site(EMBED).block is None
    assert Block(0).input == Site(EMBED) and Block(3).input == Block(2).output
    assert tiny.site_point(Block(2).output) == (tiny.block_module(Block(2)), False)
    assert tiny.site_point(EMBED) == (tiny.model.text_model.embeddings, False)


def test_integers_are_refused_as_sites(tiny):
    with pytest.raises(TypeError, match="a site is named, not numbered"):
        Site(3)
    with pytest.raises(TypeError, match="a site is named, not numbered"):
        tiny.site(3)
    with pytest.raises(ValueError, match="unknown site 'block.3'"):
        Site("block.3")


def test_out_of_range_sites_and_blocks_name_the_valid_range(tiny):
    with pytest.raises(IndexError, match=r"text.block.4 is out of range for tiny: its sites are text.embed and text.block.0 to text.block.3"):
        tiny.site("text.block.4")
    with pytest.raises(IndexError, match="text block 4 is out of range for tiny: it has blocks 0 to 3"):
        tiny.block(4)
    with pytest.raises(IndexError, match="blocks 0 to 3"):
        tiny.block(Block(7))
    with pytest.raises(IndexError, match="text block 4 is out of range"):
        tiny.hook_heads(4, lambda states: None)
    with pytest.raises(ValueError, match="non-negative integer"):
        Block(-1)


def test_block_gains_read_each_block_across_its_own_sites(tiny):
    values = np.array([[0.0, 0.5, 0.5, 0.75, 1.0]])
    np.testing.assert_allclose(block_gains(tiny.sites, values), [[0.5, 0.0, 0.25, 0.25]])
    with pytest.raises(ValueError, match="every site from text.embed on"):
        block_gains(["text.block.0", "text.block.1"], [0.0, 1.0])


def test_capture_at_a_named_site_is_the_hidden_state_after_that_block(tiny):
    states = text_states(tiny, CAPTIONS, sites=["text.block.0"])
    assert list(states) == ["text.block.0"]
    tokens = tiny.tokenize(CAPTIONS)
    with torch.inference_mode():
        hidden = tiny.model.text_model(**tokens, output_hidden_states=True).hidden_states
    eos = tokens["attention_mask"].sum(1) - 1
    # Hugging Face counts hidden states with the embeddings first: hidden_states[1] is the output of block 0.
    torch.testing.assert_close(states["text.block.0"], hidden[1][torch.arange(len(CAPTIONS)), eos])
