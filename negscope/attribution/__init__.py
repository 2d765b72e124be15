"""Attribution: token-level integrated gradients, per-site attribution and activation patching."""

from .layers import LayerAttribution, aligned_pairs, equal_length_pairs, layer_attributions
from .patching import (
    POSITIONS,
    PatchResult,
    patch_pairs,
    patched_site,
    recreated_share,
)
from .stats import bootstrap_ci, mean_with_ci, mean_within_noise
from .tokens import NEGATION_WORDS, TokenAttribution, pad_baseline, token_attributions

__all__ = [
    "NEGATION_WORDS",
    "POSITIONS",
    "LayerAttribution",
    "PatchResult",
    "TokenAttribution",
    "aligned_pairs",
    "bootstrap_ci",
    "equal_length_pairs",
    "layer_attributions",
    "mean_with_ci",
    "mean_within_noise",
    "pad_baseline",
    "patch_pairs",
    "patched_site",
    "recreated_share",
    "token_attributions",
]
