"""The named backbones: the seed study's five CLIPs and SigLIP, with their published architectures.

`--model ViT-B/32` loads the published weights from where they live (a Hugging Face id or an open_clip
tag); `--model ViT-B/32:random` builds the published architecture with random weights, offline. Random
Hugging Face builds use CLIP's tokenizer, which ships with negscope (SigLIP's own cannot be had offline, so a
random SigLIP takes CLIP's vocabulary); open_clip builds use open_clip's own tokenizer, which ships with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .bundle import ClipBundle, ModelLoadError, seeded

RANDOM = ":random"


def _vit(text: int, text_heads: int, vision: int, vision_layers: int, vision_heads: int, patch: int,
         image: int, projection: int) -> dict[str, Any]:
    return {
        "text_config": {"hidden_size": text, "intermediate_size": 4 * text, "num_hidden_layers": 12,
                        "num_attention_heads": text_heads, "max_position_embeddings": 77, "vocab_size": 49408,
                        "hidden_act": "quick_gelu"},
        "vision_config": {"hidden_size": vision, "intermediate_size": 4 * vision, "num_hidden_layers": vision_layers,
                          "num_attention_heads": vision_heads, "patch_size": patch, "image_size": image,
                          "hidden_act": "quick_gelu"},
        "projection_dim": projection,
    }


@dataclass(frozen=True)
class Backbone:
    """A named backbone: its backend, where its published weights come from, and its architecture."""

    name: str
    backend: str
    weights: str
    config: dict[str, Any] = field(default_factory=dict, repr=False)
    seed_study: bool = True

    @property
    def text(self) -> dict[str, Any]:
        """Text-tower sizes for listings: blocks, width, context."""
        if self.backend == "open_clip":
            t = self.config["text_cfg"]
            return {"blocks": t["layers"], "width": t["width"], "context": t["context_length"]}
        t = self.config["text_config"]
        return {"blocks": t["num_hidden_layers"], "width": t["hidden_size"], "context": t["max_position_embeddings"]}

    @property
    def image_size(self) -> int:
        """The side of the image the published model takes."""
        return self.config["vision_cfg" if self.backend == "open_clip" else "vision_config"]["image_size"]


SIGLIP_TEXT = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12,
               "max_position_embeddings": 64, "vocab_size": 32000}
BACKBONES: dict[str, Backbone] = {b.name: b for b in (
    Backbone("ViT-B/32", "hf-clip", "openai/clip-vit-base-patch32", _vit(512, 8, 768, 12, 12, 32, 224, 512)),
    Backbone("ViT-B/16", "hf-clip", "openai/clip-vit-base-patch16", _vit(512, 8, 768, 12, 12, 16, 224, 512)),
    Backbone("ViT-L/14", "hf-clip", "openai/clip-vit-large-patch14", _vit(768, 12, 1024, 24, 16, 14, 224, 768)),
    Backbone("ViT-L/14@336", "hf-clip", "openai/clip-vit-large-patch14-336", _vit(768, 12, 1024, 24, 16, 14, 336, 768)),
    Backbone("RN50x16", "open_clip", "open_clip:RN50x16:openai", {
        "open_clip": "RN50x16",
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 768, "heads": 12, "layers": 12},
        "vision_cfg": {"image_size": 384, "layers": [6, 8, 18, 8], "width": 96},
    }),
    Backbone("SigLIP-B/16", "hf-siglip", "google/siglip-base-patch16-224", {
        "text_config": SIGLIP_TEXT,
        "vision_config": {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
                          "num_attention_heads": 12, "patch_size": 16, "image_size": 224},
    }, seed_study=False),
)}


def shrunk(config: dict[str, Any], width: int) -> dict[str, Any]:
    """`config` with every tower `width` wide (heads of 32 dims, MLP 4x), its depth, names and sizes kept."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in config.items()}
    for tower in ("text_config", "vision_config"):
        out[tower].update(hidden_size=width, intermediate_size=4 * width, num_attention_heads=max(1, width // 32))
    if "projection_dim" in out:
        out["projection_dim"] = width
    return out


def backbone(name: str) -> Backbone:
    """The registered backbone `name`; an error lists the names."""
    if name not in BACKBONES:
        raise ModelLoadError(f"no backbone named {name!r}; the named backbones are {', '.join(BACKBONES)} (see `negscope models`)")
    return BACKBONES[name]


def random_backbone(name: str, width: int | None = None, seed: int = 0) -> ClipBundle:
    """Backbone `name` built from its published architecture with random weights (towers `width` wide if given)."""
    b = backbone(name)
    spec = f"{name}{RANDOM}"
    if b.backend == "open_clip":
        from .openclip import load_openclip

        if width is not None:
            raise ModelLoadError(f"{name} is built by open_clip at its published widths only; drop the width")
        with seeded(seed):
            bundle = load_openclip(f"open_clip:{b.config['open_clip']}:random")
        bundle.spec = spec
        return bundle
    from .hf import KINDS, random_hf

    return random_hf(KINDS[b.backend], spec, shrunk(b.config, width) if width else b.config, seed)


def listing() -> list[dict[str, Any]]:
    """One row per named backbone, for `negscope models`."""
    return [
        {"name": b.name, "backend": b.backend, "seed study": "yes" if b.seed_study else "no",
         "text blocks": b.text["blocks"], "text width": b.text["width"], "context": b.text["context"],
         "image size": b.image_size, "weights from": b.weights}
        for b in BACKBONES.values()
    ]
