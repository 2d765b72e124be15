"""Hooks: capture of text-encoder states at named sites, and the on-disk activation store.

Sites are named TransformerLens style; for a text encoder with L blocks they are, input side first::

    text.embed        token + position embeddings (the non-contextual baseline)
    text.block.0      output of text block 0
    ...
    text.block.{L-1}  output of the last block (before the final layer norm)

Pass a site as its name or as a `negscope.models.Site` (`Block(k).output` is `text.block.k`); bare integers
are refused. `ClipBundle.sites` lists a model's sites and `ClipBundle.site_module` gives the module hooked.
"""

from .capture import POOLS, TextStates, capture_text_states, states_at, text_states
from .store import ActivationStore, write_store

__all__ = [
    "POOLS",
    "ActivationStore",
    "TextStates",
    "capture_text_states",
    "states_at",
    "text_states",
    "write_store",
]
