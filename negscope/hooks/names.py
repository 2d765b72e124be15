"""The documented names of the text-encoder points that negscope hooks.

For a text encoder with L blocks the names, in order, are::

    text.embed        token + position embeddings (hidden state 0, the non-contextual baseline)
    text.block.0      output of transformer block 0 (hidden state 1)
    ...
    text.block.{L-1}  output of the last block (hidden state L, before the final layer norm)

A name's position in this list is its hidden-state index, the `index` every result reports; block k of
`ClipBundle.text_layers` is `text.block.k`, which is what freeze plans and `--layers` count.
"""

from __future__ import annotations

from torch import nn

from ..models import ClipBundle

EMBED = "text.embed"


def layer_names(bundle: ClipBundle) -> list[str]:
    """Hook names for the embedding output and every text block, input side first."""
    return [EMBED] + [f"text.block.{k}" for k in range(len(bundle.text_layers))]


def layer_module(bundle: ClipBundle, name: str) -> nn.Module:
    """The module whose output the hook `name` records."""
    return bundle.text_embeddings if name == EMBED else bundle.text_layers[int(name.rsplit(".", 1)[1])]


def resolve_layer(bundle: ClipBundle, layer: int | str) -> tuple[int, str]:
    """(hidden-state index, name) for an index or a name; out-of-range values name the valid range."""
    names = layer_names(bundle)
    if isinstance(layer, str) and not layer.lstrip("-").isdigit():
        if layer not in names:
            raise ValueError(f"unknown layer {layer!r}; valid names are {names[0]}, {names[1]} ... {names[-1]}")
        return names.index(layer), layer
    i = int(layer)
    if not 0 <= i < len(names):
        raise IndexError(
            f"layer index {i} is out of range for {bundle.spec}: valid indices are 0 ({names[0]}) "
            f"to {len(names) - 1} ({names[-1]})"
        )
    return i, names[i]


def resolve_block(bundle: ClipBundle, block: int) -> int:
    """Check a text-block index (as used by freeze plans), naming the valid range if it is out of it."""
    n = len(bundle.text_layers)
    if not 0 <= int(block) < n:
        raise IndexError(f"text block {block} is out of range for {bundle.spec}: it has blocks 0 to {n - 1}")
    return int(block)
