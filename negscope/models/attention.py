"""A text block's attention, head by head: the parts a backend names and what negscope computes from them.

Every text block negscope reads is pre-norm: x + ls1(attn(ln1(x))), then x + ls2(mlp(ln2(x))), where attn splits
its input into `heads` query, key and value heads, attends (causally where the tower is causal) and writes the
heads' concatenated outputs through one output projection. A backend says where those parts are (`BlockParts`);
`heads_of` recomputes the per-head queries, keys, values, attention and outputs from the attention's input, so
every backend is read the same way whatever attention kernel it runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class BlockParts:
    """One text block's modules and attention weights.

    `attention` is the module whose forward pass runs the attention (its input is ln1's output); `in_weight` and
    `in_bias` stack the query, key and value projections ((3 × width, width) and (3 × width,)); `out_weight` and
    `out_bias` are the output projection; `ls1` and `ls2` scale each branch (identity where the block has no layer
    scale)."""

    attention: nn.Module
    heads: int
    in_weight: torch.Tensor
    in_bias: torch.Tensor
    out_weight: torch.Tensor
    out_bias: torch.Tensor
    ln1: nn.Module
    ln2: nn.Module
    mlp: nn.Module
    ls1: nn.Module
    ls2: nn.Module

    @property
    def head_dim(self) -> int:
        """The width of one head."""
        return self.out_weight.shape[1] // self.heads

    def project_in(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Queries, keys and values of the normalised states `x` (..., width), each (..., heads, head width)."""
        qkv = nn.functional.linear(x, self.in_weight.to(x.dtype), self.in_bias.to(x.dtype))
        return qkv.unflatten(-1, (3, self.heads, self.head_dim)).unbind(-3)

    def project_out(self, z: torch.Tensor, bias: bool = True) -> torch.Tensor:
        """The attention output of per-head outputs `z` (..., heads, head width); without the bias, the change a
        change of `z` makes."""
        return nn.functional.linear(z.flatten(-2), self.out_weight.to(z.dtype),
                                    self.out_bias.to(z.dtype) if bias else None)

    def mlp_branch(self, x: torch.Tensor) -> torch.Tensor:
        """x + ls2(mlp(ln2(x))): the second half of the block."""
        return x + self.ls2(self.mlp(self.ln2(x)))


@dataclass
class HeadStates:
    """One attention call read per head: queries, keys, values and outputs (batch, tokens, heads, head width), and
    the attention (batch, heads, query token, key token)."""

    q: torch.Tensor
    k: torch.Tensor
    v: torch.Tensor
    attention: torch.Tensor
    z: torch.Tensor


def heads_of(parts: BlockParts, x: torch.Tensor, causal: bool) -> HeadStates:
    """Per-head states of the attention whose normalised input is `x` (batch, tokens, width).

    Args:
        parts: the block.
        x: the attention's input (ln1's output).
        causal: whether each token attends only to itself and the tokens before it.

    Returns:
        The `HeadStates`. Keys are masked by causality alone: in a causal tower the rows after the pooled position
        (padding, which a model may also mask as keys) can differ from the model's, and never reach the pooled row.
    """
    q, k, v = parts.project_in(x)
    scores = torch.einsum("bqhd,bkhd->bhqk", q, k) * parts.head_dim ** -0.5
    if causal:
        later = torch.ones(x.shape[1], x.shape[1], dtype=torch.bool, device=x.device).triu(1)
        scores = scores.masked_fill(later, float("-inf"))
    attention = scores.softmax(-1)
    return HeadStates(q, k, v, attention, torch.einsum("bhqk,bkhd->bqhd", attention, v))
