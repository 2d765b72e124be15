"""Attribution: token-level integrated gradients, per-site attribution and activation patching."""

from .layers import LayerAttribution, aligned_pairs, equal_length_pairs, layer_attributions
from .patching import (
    POSITIONS,
    PatchResult,
    both_ways_share,
    patch_both_ways,
    patch_pairs,
    patched_site,
    recreated_share,
)
from .tokens import NEGATION_WORDS, TokenAttribution, pad_baseline, token_attributions

__all__ = [
    "NEGATION_WORDS",
    "POSITIONS",
    "LayerAttribution",
    "PatchResult",
    "TokenAttribution",
    "aligned_pairs",
    "both_ways_share",
    "equal_length_pairs",
    "layer_attributions",
    "pad_baseline",
    "patch_both_ways",
    "patch_pairs",
    "patched_site",
    "recreated_share",
    "token_attributions",
]
