"""The similarity S(I, T) as a differentiable function of token ids, pooled at given positions."""

from __future__ import annotations

import torch

from ..models import ClipBundle


def similarity_at(
    bundle: ClipBundle, input_ids: torch.Tensor, attention_mask: torch.Tensor, pooled: torch.Tensor, image: torch.Tensor
) -> torch.Tensor:
    """S(I, T) per row, reading the final text state at position `pooled` rather than where the ids say.

    Attribution baselines fill a caption's words with the padding id, which is the end-of-text id for
    CLIP tokenizers; the pooled position is passed in so it stays the one of the caption itself.
    """
    text = bundle.text_embeds({"input_ids": input_ids, "attention_mask": attention_mask}, pooled)
    return (text * image.to(text.device)).sum(-1)
