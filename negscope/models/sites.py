"""The two index spaces of a text encoder, each with one name: hidden-state *sites* and trainable *blocks*.

For a text encoder with L blocks the sites, input side first, are::

    text.embed        token + position embeddings (the non-contextual baseline)
    text.block.0      output of block 0
    ...
    text.block.{L-1}  output of the last block (before the final layer norm)

Capture, probes, attribution and patching speak of sites; selection and fine-tuning speak of blocks.
`Block(k).output` is the site `text.block.k` and `Site.block` goes back; nothing else converts. Bare integers
are refused where a site is meant, so a hidden-state index can never be mistaken for a block index.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

EMBED = "text.embed"
_BLOCK = re.compile(r"^text\.block\.(\d+)$")


@dataclass(frozen=True, order=True)
class Block:
    """A trainable text-encoder block, counted from the input side."""

    index: int

    def __post_init__(self) -> None:
        if isinstance(self.index, bool) or not isinstance(self.index, int) or self.index < 0:
            raise ValueError(f"a text block index must be a non-negative integer, not {self.index!r}")

    @property
    def name(self) -> str:
        """The block's name, `text.block.k`, which is also the name of its output site."""
        return f"text.block.{self.index}"

    @property
    def input(self) -> Site:
        """The site this block reads: the previous block's output, or `text.embed` for block 0."""
        return Site(EMBED) if self.index == 0 else Block(self.index - 1).output

    @property
    def output(self) -> Site:
        """The site holding this block's output."""
        return Site(self.name)

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, order=True, init=False)
class Site:
    """A hidden state of the text encoder: `text.embed` or `text.block.k` (the output of block k)."""

    depth: int
    name: str

    def __init__(self, name: str) -> None:
        if isinstance(name, Site):
            name = name.name
        if not isinstance(name, str):
            raise TypeError(
                f"a site is named, not numbered: pass {EMBED!r} or 'text.block.K' (or Block(K).output), not {name!r}"
            )
        m = _BLOCK.match(name)
        if name != EMBED and not m:
            raise ValueError(f"unknown site {name!r}; sites are {EMBED!r} and 'text.block.K' for block K")
        object.__setattr__(self, "depth", 0 if m is None else int(m.group(1)) + 1)
        object.__setattr__(self, "name", name)

    @property
    def block(self) -> Block | None:
        """The block whose output this site is, or None for `text.embed`."""
        return None if self.depth == 0 else Block(self.depth - 1)

    def __str__(self) -> str:
        return self.name


def all_blocks(n_blocks: int) -> list[Block]:
    """Every block of an encoder with `n_blocks` blocks, input side first."""
    return [Block(k) for k in range(n_blocks)]


def all_sites(n_blocks: int) -> list[Site]:
    """`text.embed` and every block's output site, input side first."""
    return [Site(EMBED)] + [b.output for b in all_blocks(n_blocks)]


def check_site(site: Site | str, n_blocks: int, model: str = "the model") -> Site:
    """`site` as a Site, or an error naming the valid sites when the model has no such site."""
    s = Site(site)
    if s.depth > n_blocks:
        raise IndexError(f"{s.name} is out of range for {model}: its sites are {EMBED} and text.block.0 to text.block.{n_blocks - 1}")
    return s


def check_block(block: Block | int, n_blocks: int, model: str = "the model") -> Block:
    """`block` as a Block, or an error naming the valid range when the model has no such block."""
    b = block if isinstance(block, Block) else Block(block)
    if b.index >= n_blocks:
        raise IndexError(f"text block {b.index} is out of range for {model}: it has blocks 0 to {n_blocks - 1}")
    return b


def block_gains(sites: Sequence[Site | str], values: np.ndarray) -> np.ndarray:
    """Per block, `values` at its output site minus at its input site; the last axis of `values` follows `sites`."""
    names = [Site(s).name for s in sites]
    expected = [s.name for s in all_sites(len(names) - 1)]
    if names != expected:
        raise ValueError(f"block gains need every site from {EMBED} on, in order ({', '.join(expected)}), not {names}")
    v = np.asarray(values, dtype=float)
    column = {name: j for j, name in enumerate(names)}
    blocks = all_blocks(len(names) - 1)
    return v[..., [column[b.output.name] for b in blocks]] - v[..., [column[b.input.name] for b in blocks]]
