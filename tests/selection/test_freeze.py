import json

import pytest

from negscope.models import Block, load_bundle
from negscope.selection import freeze_except, plan_blocks


@pytest.fixture
def bundle():
    return load_bundle("tiny")


def _block(k: int) -> list[str]:
    parts = [f"self_attn.{p}_proj.{w}" for p in ("k", "v", "q", "out") for w in ("weight", "bias")]
    parts += [f"{m}.{w}" for m in ("layer_norm1", "mlp.fc1", "mlp.fc2", "layer_norm2") for w in ("weight", "bias")]
    return [f"text_model.encoder.layers.{k}.{p}" for p in parts]


def test_trainable_names_for_a_non_contiguous_plan(bundle):
    names = freeze_except(bundle, [Block(2), 0])
    expected = {
        "logit_scale",
        "text_model.embeddings.token_embedding.weight",
        "text_model.embeddings.position_embedding.weight",
        *_block(0),
        *_block(2),
        "text_model.final_layer_norm.weight",
        "text_model.final_layer_norm.bias",
        "text_projection.weight",
    }
    assert set(names) == expected and len(names) == len(expected)
    trainable = {n for n, p in bundle.model.named_parameters() if p.requires_grad}
    assert trainable == expected
    assert not any(p.requires_grad for p in bundle.model.vision_model.parameters())


def test_out_of_range_block_names_the_valid_range(bundle):
    with pytest.raises(IndexError, match="blocks 0 to 3"):
        freeze_except(bundle, [0, 4])
    with pytest.raises(ValueError, match="no text blocks"):
        freeze_except(bundle, [])


def test_block_shorthands_and_lists(bundle, tmp_path, write_selection):
    blocks = lambda *ks: [Block(k) for k in ks]
    assert plan_blocks(bundle, "front") == blocks(0, 1)
    assert plan_blocks(bundle, "middle") == blocks(2)
    assert plan_blocks(bundle, "back") == blocks(3)
    assert plan_blocks(bundle, "all") == blocks(0, 1, 2, 3)
    assert plan_blocks(bundle, "3,0") == blocks(0, 3)
    sel = write_selection(tmp_path, [3, 1])
    assert plan_blocks(bundle, "auto", sel) == blocks(1, 3)
    with pytest.raises(ValueError, match="--blocks auto needs --selection"):
        plan_blocks(bundle, "auto")
    with pytest.raises(ValueError, match="not understood"):
        plan_blocks(bundle, "first")
    with pytest.raises(IndexError, match="blocks 0 to 3"):
        plan_blocks(bundle, "0,9")
    sel.write_text(json.dumps({"layers": [1]}))
    with pytest.raises(ValueError, match="not 'selection'; point at the selection stage"):
        plan_blocks(bundle, "auto", sel)
    sel.write_text(json.dumps({"kind": "selection", "schema": 0, "blocks": [1]}))
    with pytest.raises(ValueError, match="schema 0.*rerun the selection stage"):
        plan_blocks(bundle, "auto", sel)


def test_a_selection_is_refused_with_blocks_other_than_auto(bundle, tmp_path, write_selection):
    sel = write_selection(tmp_path, [1])
    with pytest.raises(ValueError, match="--blocks is 'front' and only --blocks auto reads a selection"):
        plan_blocks(bundle, "front", sel)
