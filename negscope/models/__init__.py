"""Models: `load_bundle` and the `ClipBundle` it returns; everything model-specific lives here."""

from .bundle import ClipBundle, projected
from .loading import ModelLoadError, load_bundle, model_fingerprint, tiny_bundle
from .sites import EMBED, Block, Site, block_gains

__all__ = [
    "EMBED",
    "Block",
    "ClipBundle",
    "ModelLoadError",
    "Site",
    "block_gains",
    "load_bundle",
    "model_fingerprint",
    "projected",
    "tiny_bundle",
]
