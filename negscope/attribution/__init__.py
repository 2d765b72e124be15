"""Attribution: token-level integrated gradients, per-site attribution, activation patching and attention heads."""

from .heads import HeadScores, head_maps, head_scores, negation_positions
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
    "HeadScores",
    "LayerAttribution",
    "PatchResult",
    "TokenAttribution",
    "aligned_pairs",
    "both_ways_share",
    "equal_length_pairs",
    "head_maps",
    "head_scores",
    "layer_attributions",
    "negation_positions",
    "pad_baseline",
    "patch_both_ways",
    "patch_pairs",
    "patched_site",
    "recreated_share",
    "token_attributions",
]
