"""Freeze plans: which text blocks to fine-tune, and `freeze_except` to apply the plan to a model.

A plan is a list of text blocks (`negscope.models.Block`; block k is `text.block.k`); the blocks need not be
contiguous. Besides the planned blocks, fine-tuning always trains the text parts that every block's
output passes through or that the reference Omni-NegCLIP setup trains: the token and position embeddings,
the final layer norm, the text projection and the learned temperature (`ClipBundle.always_trained`; the
trainer clamps the temperature at ln 100). Everything else (other text blocks, the whole image tower and
its projection) is frozen.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from torch import nn

from ..models import Block, ClipBundle
from ..results import SelectionResult
from ..results.selection import block_spec


def _always_trained(bundle: ClipBundle) -> list[nn.Parameter]:
    prefixes = bundle.always_trained
    return [p for n, p in bundle.model.named_parameters() if any(n == a or n.startswith(a + ".") for a in prefixes)]


def freeze_except(bundle: ClipBundle, blocks: Sequence[Block | int]) -> list[str]:
    """Freeze every parameter except text `blocks` (Blocks or block indices) and the always-trained parts; return the trainable names."""
    if not blocks:
        raise ValueError("the freeze plan names no text blocks; give at least one block")
    chosen = sorted({bundle.block(b) for b in blocks})
    model = bundle.model
    for p in model.parameters():
        p.requires_grad_(False)
    for b in chosen:
        for p in bundle.block_module(b).parameters():
            p.requires_grad_(True)
    for p in _always_trained(bundle):
        p.requires_grad_(True)
    return [n for n, p in model.named_parameters() if p.requires_grad]


def plan_blocks(bundle: ClipBundle, spec: str, selection: str | Path | None = None) -> list[Block]:
    """The blocks `--blocks` names: auto (from `selection`, which only auto reads), front/middle/back (thirds), all, or
    '0,1,2'."""
    named = block_spec(spec)
    if selection is not None and named != "auto":
        raise ValueError(f"--selection {selection} is given, but --blocks is {spec.strip()!r} and only --blocks auto "
                         "reads a selection; drop --selection, or pass --blocks auto to train the selected blocks")
    if named == "auto":
        if selection is None:
            raise ValueError("--blocks auto needs --selection DIR/selection.json; run the block selection first")
        chosen = SelectionResult.load(selection).blocks
    elif isinstance(named, str):
        thirds = [list(t) for t in np.array_split(np.array(bundle.blocks, dtype=object), 3)]
        chosen = {"front": thirds[0], "middle": thirds[1], "back": thirds[2], "all": bundle.blocks}[named]
    else:
        chosen = named
    return sorted({bundle.block(b) for b in chosen})
