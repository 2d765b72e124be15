"""Models: `load_bundle` and the `ClipBundle` it returns; everything model-specific lives here."""

from .bundle import ClipBundle, projected
from .loading import ModelLoadError, load_bundle, model_fingerprint, tiny_bundle
from .sites import EMBED, Block, Site

__all__ = ["EMBED", "Block", "ClipBundle", "Site", "ModelLoadError", "load_bundle", "model_fingerprint", "projected", "tiny_bundle"]
