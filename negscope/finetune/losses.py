"""Contrastive losses on L2-normalised features."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def clip_loss(image: torch.Tensor, text: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """Symmetric CLIP InfoNCE: matching rows of `image` and `text` are the positives."""
    logits = logit_scale * image @ text.T
    labels = torch.arange(len(image), device=image.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
