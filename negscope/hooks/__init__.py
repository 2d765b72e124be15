"""Hooks: documented layer names, per-layer capture of text states, and the activation store."""

from .capture import POOLS, TextStates, capture_text_states, eos_positions, text_states
from .names import EMBED, layer_module, layer_names, resolve_block, resolve_layer
from .store import ActivationStore, write_store

__all__ = [
    "EMBED",
    "POOLS",
    "ActivationStore",
    "TextStates",
    "capture_text_states",
    "eos_positions",
    "layer_module",
    "layer_names",
    "resolve_block",
    "resolve_layer",
    "text_states",
    "write_store",
]
