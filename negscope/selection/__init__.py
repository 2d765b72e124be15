"""Layer selection: ranked layers and the freeze plan for fine-tuning."""

from .freeze import freeze_except, plan_layers
from .rank import RULES, Evidence, block_scores, load_evidence, rank_layers

__all__ = ["RULES", "Evidence", "block_scores", "freeze_except", "load_evidence", "plan_layers", "rank_layers"]
