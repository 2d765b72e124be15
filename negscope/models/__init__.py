"""Models: `load_bundle` and the `ClipBundle` interface it returns; everything model-specific lives here."""

from .backbones import BACKBONES, random_backbone
from .bundle import ClipBundle, ModelLoadError, seeded
from .loading import WORLD_DIR, load_bundle, model_fingerprint, new_bundle, tiny_bundle
from .sites import EMBED, Block, Site, block_gains

__all__ = [
    "BACKBONES",
    "EMBED",
    "WORLD_DIR",
    "Block",
    "ClipBundle",
    "ModelLoadError",
    "Site",
    "block_gains",
    "load_bundle",
    "model_fingerprint",
    "new_bundle",
    "random_backbone",
    "seeded",
    "tiny_bundle",
]
