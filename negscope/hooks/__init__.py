"""Hooks: documented layer names, per-layer capture of text states, and the activation store."""

from .names import EMBED, layer_module, layer_names, resolve_block, resolve_layer

__all__ = ["EMBED", "layer_module", "layer_names", "resolve_block", "resolve_layer"]
