"""Freeze plans: which text blocks to fine-tune, and `freeze_except` to apply the plan to a model.

A plan names text blocks by index (block k is `text.block.k`, see `negscope.hooks.names`); the blocks need
not be contiguous. Besides the planned blocks, fine-tuning always trains the text parts that every block's
output passes through or that the reference Omni-NegCLIP setup trains: ALWAYS_TRAINED below. Everything
else (other text blocks, the whole image tower and its projection) is frozen.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch import nn

from ..hooks import resolve_block
from ..io import read_json
from ..models import ClipBundle

ALWAYS_TRAINED = (
    "text_model.embeddings",  # token and position embeddings
    "text_model.final_layer_norm",
    "text_projection",
    "logit_scale",  # learned temperature, clamped at ln 100 by the trainer
)
SHORTHANDS = ("front", "middle", "back", "all")


def _always_trained(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    named = dict(model.named_parameters())
    return [(n, p) for n, p in named.items() if any(n == a or n.startswith(a + ".") for a in ALWAYS_TRAINED)]


def freeze_except(bundle: ClipBundle, layers: list[int]) -> list[str]:
    """Freeze every parameter except text blocks `layers` and ALWAYS_TRAINED; return the trainable names."""
    if not layers:
        raise ValueError("the freeze plan names no text blocks; give at least one block index")
    blocks = sorted({resolve_block(bundle, k) for k in layers})
    model = bundle.model
    for p in model.parameters():
        p.requires_grad_(False)
    for k in blocks:
        for p in bundle.text_layers[k].parameters():
            p.requires_grad_(True)
    for _, p in _always_trained(model):
        p.requires_grad_(True)
    return [n for n, p in model.named_parameters() if p.requires_grad]


def read_selection(path: str | Path) -> list[int]:
    """The block indices in a `selection.json` (`{"layers": [...], ...}`)."""
    data = read_json(path)
    layers = data.get("layers") if isinstance(data, dict) else None
    if not isinstance(layers, list) or not all(isinstance(k, int) for k in layers):
        raise ValueError(f"{path} has no 'layers' list of block indices; rerun the layer selection stage")
    return layers


def plan_layers(bundle: ClipBundle, spec: str, selection: str | Path | None = None) -> list[int]:
    """Block indices for `--layers`: auto (from `selection`), front/middle/back (thirds), all, or '0,1,2'."""
    n = len(bundle.text_layers)
    spec = spec.strip()
    if spec == "auto":
        if selection is None:
            raise ValueError("--layers auto needs --selection DIR/selection.json; run the layer selection first")
        layers = read_selection(selection)
    elif spec in SHORTHANDS:
        thirds = [list(map(int, t)) for t in np.array_split(np.arange(n), 3)]
        layers = {"front": thirds[0], "middle": thirds[1], "back": thirds[2], "all": list(range(n))}[spec]
    else:
        try:
            layers = [int(x) for x in spec.split(",") if x.strip()]
        except ValueError:
            raise ValueError(
                f"--layers {spec!r} is not understood; use auto, {', '.join(SHORTHANDS)} or block indices like 0,1,2"
            ) from None
    if not layers:
        raise ValueError(f"--layers {spec!r} names no text blocks; give at least one block index")
    return sorted({resolve_block(bundle, k) for k in layers})
