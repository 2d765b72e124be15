"""negscope: find where CLIP-style models represent negation, layer by layer, and fix what they get wrong."""

__version__ = "0.1.0"
