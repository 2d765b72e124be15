"""The similarity S(I, T) as a differentiable function of token ids, pooled at a given end-of-text position."""

from __future__ import annotations

import torch
from torch import nn

from ..models import ClipBundle


def similarity_at(
    bundle: ClipBundle, input_ids: torch.Tensor, attention_mask: torch.Tensor, eos: torch.Tensor, image: torch.Tensor
) -> torch.Tensor:
    """S(I, T) per row, reading the text state at position `eos` (not at the first EOS id, see below)."""
    # CLIP pools at the first EOS id; attribution baselines are filled with PAD, which is the EOS id for CLIP
    # tokenizers, so the pooled position is passed explicitly to keep it the caption's own EOS.
    out = bundle.model.text_model(input_ids=input_ids, attention_mask=attention_mask)
    pooled = out.last_hidden_state[torch.arange(len(eos), device=eos.device), eos]
    text = nn.functional.normalize(bundle.model.text_projection(pooled).float(), dim=-1)
    return (text * image.to(text.device)).sum(-1)


def end_positions(attention_mask: torch.Tensor) -> torch.Tensor:
    """Each row's EOS position: the last real token of right-padded `ClipBundle.tokenize` output."""
    return attention_mask.sum(1) - 1
