"""Optional LoRA adapters (`peft`) on chosen text blocks, merged back into plain weights before saving.

`add_lora` wraps every linear layer of the chosen blocks in place, so the bundle keeps working as before;
`merge_lora` folds the adapters in and restores the original layout, so `bundle.save` needs no peft to load.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from ..models import Block, ClipBundle

PEFT_REQUIREMENT = "peft>=0.18"


def _lora_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    try:
        from peft.tuners.lora import LoraLayer
    except ImportError:  # without peft there can be no adapters
        return []

    return [(name, module) for name, module in model.named_modules() if isinstance(module, LoraLayer)]


def add_lora(bundle: ClipBundle, blocks: Sequence[Block | int], rank: int, alpha: float | None = None) -> list[str]:
    """Add zero-start LoRA adapters to each linear layer of text `blocks`, freeze all else; return trainable names."""
    if rank < 1:
        raise ValueError(f"LoRA rank must be at least 1, got {rank}; pass rank=1 or more")
    if not blocks:
        raise ValueError("LoRA needs at least one text block; name the blocks to adapt")
    try:
        from peft import LoraConfig, inject_adapter_in_model
    except ImportError as err:  # missing, or too old for transformers 5 (peft 0.16-0.17 import its removed names)
        raise ImportError(f"LoRA adapters need {PEFT_REQUIREMENT} ({err}); pip install '{PEFT_REQUIREMENT}'") from err
    model, chosen = bundle.model, [bundle.block_module(b) for b in sorted({bundle.block(b) for b in blocks})]
    if _lora_layers(model):
        raise ValueError("the model already has LoRA adapters; call merge_lora(bundle) before adding new ones")
    if any(isinstance(m, nn.MultiheadAttention) for block in chosen for m in block.modules()):
        raise ValueError(f"LoRA cannot adapt the fused attention of {bundle.spec!r}; fine-tune it without LoRA")
    inside = {id(m) for block in chosen for m in block.modules() if isinstance(m, nn.Linear)}
    targets = [name for name, m in model.named_modules() if id(m) in inside]
    if not targets:
        raise ValueError(f"text blocks {sorted(bundle.block(b).index for b in blocks)} hold no linear layers to adapt")
    config = LoraConfig(r=rank, lora_alpha=rank if alpha is None else alpha, lora_dropout=0.0, target_modules=targets)
    inject_adapter_in_model(config, model)  # lora_B starts at zero, so the adapted model computes exactly what it did
    model.requires_grad_(False)
    for _, layer in _lora_layers(model):
        for part in ("lora_A", "lora_B"):
            getattr(layer, part).requires_grad_(True)
    return [name for name, p in model.named_parameters() if p.requires_grad]


def merge_lora(bundle: ClipBundle) -> None:
    """Fold every LoRA adapter into its base layer's weights and put the plain layers back in place."""
    model = bundle.model
    for name, layer in _lora_layers(model):
        layer.merge()
        parent, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent), child, layer.get_base_layer())
    if hasattr(model, "peft_config"):  # peft's record of the adapters, as peft's own unload removes it
        del model.peft_config
