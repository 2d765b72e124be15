import sys

import pytest
import torch

from negscope.finetune.lora import add_lora, merge_lora
from negscope.models import Block, load_bundle

CAPTIONS = ["a red circle", "no blue square"]
PLAN = (Block(0), 2)  # a Block and a plain index
LINEARS = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj", "mlp.fc1", "mlp.fc2")


def test_adapters_start_as_identity_and_only_they_train():
    bundle = load_bundle("tiny")
    before = bundle.encode_text(CAPTIONS)
    trainable = add_lora(bundle, PLAN, rank=4)
    assert torch.allclose(bundle.encode_text(CAPTIONS), before, atol=1e-6)
    assert trainable == [n for n, p in bundle.model.named_parameters() if p.requires_grad]
    expected = {f"text_model.encoder.layers.{b}.{m}.{ab}.default.weight"
                for b in (0, 2) for m in LINEARS for ab in ("lora_A", "lora_B")}
    assert set(trainable) == expected


def test_merge_keeps_outputs_and_restores_the_plain_layout(tmp_path, monkeypatch):
    bundle = load_bundle("tiny")
    keys = list(bundle.model.state_dict())
    original = bundle.encode_text(CAPTIONS)
    add_lora(bundle, PLAN, rank=4, alpha=8.0)
    assert bundle.model.text_model.encoder.layers[0].mlp.fc1.scaling["default"] == 2.0
    with torch.no_grad():
        for name, p in bundle.model.named_parameters():
            if ".lora_B." in name:
                p.normal_(std=0.5)
    adapted = bundle.encode_text(CAPTIONS)
    assert not torch.allclose(adapted, original, atol=1e-3)
    merge_lora(bundle)
    assert torch.allclose(bundle.encode_text(CAPTIONS), adapted, atol=1e-5)
    assert list(bundle.model.state_dict()) == keys
    assert not hasattr(bundle.model, "peft_config")
    bundle.save(tmp_path)
    assert not (tmp_path / "adapter_config.json").exists()
    monkeypatch.setitem(sys.modules, "peft", None)  # loading the merged model must not need peft
    again = load_bundle(str(tmp_path))
    assert list(again.model.state_dict()) == keys
    assert torch.allclose(again.encode_text(CAPTIONS), adapted, atol=1e-5)


def test_clear_errors(monkeypatch):
    bundle = load_bundle("tiny")
    with pytest.raises(ValueError, match="rank must be at least 1, got 0; pass rank=1 or more"):
        add_lora(bundle, PLAN, rank=0)
    with pytest.raises(ValueError, match="at least one text block"):
        add_lora(bundle, [], rank=2)
    add_lora(bundle, [1], rank=2)
    with pytest.raises(ValueError, match=r"call merge_lora\(bundle\)"):
        add_lora(bundle, [3], rank=2)
    merge_lora(bundle)
    monkeypatch.setitem(sys.modules, "peft", None)
    with pytest.raises(ImportError, match="pip install 'peft>="):
        add_lora(bundle, [1], rank=2)
    merge_lora(bundle)  # nothing to merge, and no peft needed to find that out
