"""Models: `load_bundle` and the `ClipBundle` it returns; everything model-specific lives here."""

from .bundle import ClipBundle, projected
from .loading import ModelLoadError, load_bundle, tiny_bundle

__all__ = ["ClipBundle", "ModelLoadError", "load_bundle", "projected", "tiny_bundle"]
