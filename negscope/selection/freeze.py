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
from ..results.selection import SHORTHANDS


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
    blocks = bundle.blocks
    spec = spec.strip()
    if selection is not None and spec != "auto":
        raise ValueError(f"--selection {selection} is given, but --blocks is {spec!r} and only --blocks auto reads a "
                         "selection; drop --selection, or pass --blocks auto to train the selected blocks")
    if spec == "auto":
        if selection is None:
            raise ValueError("--blocks auto needs --selection DIR/selection.json; run the block selection first")
        chosen = SelectionResult.load(selection).blocks
    elif spec in SHORTHANDS:
        thirds = [list(t) for t in np.array_split(np.array(blocks, dtype=object), 3)]
        chosen = {"front": thirds[0], "middle": thirds[1], "back": thirds[2], "all": blocks}[spec]
    else:
        try:
            chosen = [int(x) for x in spec.split(",") if x.strip()]
        except ValueError:
            raise ValueError(
                f"--blocks {spec!r} is not understood; use auto, {', '.join(SHORTHANDS)} or block indices like 0,1,2"
            ) from None
    if not chosen:
        raise ValueError(f"--blocks {spec!r} names no text blocks; give at least one block index")
    return sorted({bundle.block(b) for b in chosen})
