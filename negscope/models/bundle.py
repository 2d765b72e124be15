"""`ClipBundle`: a CLIP model with its tokenizer and image processor, and batched encoders."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .sites import Block, Site, all_blocks, all_sites, check_block, check_site


def projected(output: Any) -> torch.Tensor:
    """Projected features from `get_text_features`/`get_image_features`, whatever they return."""
    return output if isinstance(output, torch.Tensor) else output.pooler_output


@dataclass
class ClipBundle:
    """A CLIP model and everything needed to feed it text and images."""

    spec: str
    model: nn.Module
    tokenizer: Any
    image_processor: Any
    truncated: int = 0

    @property
    def device(self) -> torch.device:
        """The device the model's weights live on."""
        return next(self.model.parameters()).device

    @property
    def context_length(self) -> int:
        """The longest token sequence the text encoder accepts."""
        return self.model.config.text_config.max_position_embeddings

    @property
    def text_embeddings(self) -> nn.Module:
        """The text token-plus-position embedding module."""
        return self.model.text_model.embeddings

    @property
    def text_layers(self) -> list[nn.Module]:
        """The text-encoder transformer blocks, input side first."""
        return list(self.model.text_model.encoder.layers)

    @property
    def blocks(self) -> list[Block]:
        """Every trainable text block, input side first."""
        return all_blocks(len(self.text_layers))

    @property
    def sites(self) -> list[Site]:
        """Every hidden-state site of the text encoder: `text.embed`, then each block's output."""
        return all_sites(len(self.text_layers))

    def site(self, site: Site | str) -> Site:
        """`site` checked against this model; an error names the valid sites."""
        return check_site(site, len(self.text_layers), self.spec)

    def block(self, block: Block | int) -> Block:
        """`block` checked against this model; an error names the valid range."""
        return check_block(block, len(self.text_layers), self.spec)

    def site_module(self, site: Site | str) -> nn.Module:
        """The module whose output is `site`: the embeddings, or the block it follows."""
        s = self.site(site)
        return self.text_embeddings if s.block is None else self.text_layers[s.block.index]

    def block_module(self, block: Block | int) -> nn.Module:
        """The module of text block `block`."""
        return self.text_layers[self.block(block).index]

    def save(self, folder: str | Path) -> Path:
        """Save model, tokenizer and image processor in the Hugging Face folder layout."""
        from transformers.utils import logging as hf_logging

        folder = Path(folder)
        hf_logging.disable_progress_bar()
        try:
            self.model.save_pretrained(folder)
        finally:
            hf_logging.enable_progress_bar()
        self.tokenizer.save_pretrained(folder)
        self.image_processor.save_pretrained(folder)
        return folder

    def to(self, device: str | torch.device) -> ClipBundle:
        """Move the model to `device` and return the bundle."""
        self.model.to(device)
        return self

    def tokenize(self, captions: Sequence[str]) -> dict[str, torch.Tensor]:
        """Token ids and attention mask; empty captions are an error, over-long ones are truncated with a warning."""
        captions = list(captions)
        if not captions:
            raise ValueError("no captions given; pass at least one caption")
        for i, c in enumerate(captions):
            if not isinstance(c, str) or not c.strip():
                raise ValueError(f"caption {i} is empty ({c!r}); remove it or give it text")
        ids = self.tokenizer(captions, add_special_tokens=True)["input_ids"]
        ctx, eos = self.context_length, self.tokenizer.eos_token_id
        long = [i for i, t in enumerate(ids) if len(t) > ctx]
        if long:
            self.truncated += len(long)
            warnings.warn(
                f"{len(long)} caption(s) longer than the model's {ctx}-token context were truncated "
                f"({self.truncated} so far), e.g. {captions[long[0]][:60]!r}...",
                stacklevel=2,
            )
            ids = [t[: ctx - 1] + [eos] if len(t) > ctx else t for t in ids]
        width = max(len(t) for t in ids)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.tensor([t + [pad] * (width - len(t)) for t in ids])
        mask = torch.tensor([[1] * len(t) + [0] * (width - len(t)) for t in ids])
        return {"input_ids": input_ids, "attention_mask": mask}

    def preprocess(self, images: Sequence[Any]) -> torch.Tensor:
        """Pixel tensor for the vision tower; images at the model's input size skip resizing."""
        size = self.model.config.vision_config.image_size
        arrays = [np.asarray(im) for im in images]
        if all(a.shape == (size, size, 3) and a.dtype == np.uint8 for a in arrays):
            mean = torch.tensor(self.image_processor.image_mean).view(1, 3, 1, 1)
            std = torch.tensor(self.image_processor.image_std).view(1, 3, 1, 1)
            x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 255.0
            return (x - mean) / std
        return self.image_processor(images=arrays, return_tensors="pt")["pixel_values"]

    def text_embeds(self, tokens: dict[str, torch.Tensor]) -> torch.Tensor:
        """L2-normalised projected text features (differentiable)."""
        tokens = {k: v.to(self.device) for k, v in tokens.items()}
        return nn.functional.normalize(projected(self.model.get_text_features(**tokens)).float(), dim=-1)

    def image_embeds(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """L2-normalised projected image features (differentiable)."""
        out = self.model.get_image_features(pixel_values=pixel_values.to(self.device))
        return nn.functional.normalize(projected(out).float(), dim=-1)

    def encode_text(self, captions: Sequence[str], batch_size: int = 256, progress: bool = False) -> torch.Tensor:
        """L2-normalised text features for `captions`, on CPU, computed in batches."""
        captions = list(captions)
        out = []
        with torch.inference_mode():
            for i in tqdm(range(0, len(captions), batch_size), desc="text", disable=None if progress else True, leave=False):
                out.append(self.text_embeds(self.tokenize(captions[i : i + batch_size])).cpu())
        if not out:
            raise ValueError("no captions given; pass at least one caption")
        return torch.cat(out)

    def encode_image(self, images: Sequence[Any], batch_size: int = 64, progress: bool = False) -> torch.Tensor:
        """L2-normalised image features for HxWx3 arrays or PIL images, on CPU, in batches."""
        images = list(images)
        if not images:
            raise ValueError("no images given; pass at least one image")
        out = []
        with torch.inference_mode():
            for i in tqdm(range(0, len(images), batch_size), desc="images", disable=None if progress else True, leave=False):
                out.append(self.image_embeds(self.preprocess(images[i : i + batch_size])).cpu())
        return torch.cat(out)
