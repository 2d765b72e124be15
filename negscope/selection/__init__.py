"""Block selection: ranked text blocks and the freeze plan for fine-tuning."""

from .freeze import freeze_except, plan_blocks
from .rank import RULES, Evidence, gather_evidence, rank_blocks

__all__ = ["RULES", "Evidence", "freeze_except", "gather_evidence", "plan_blocks", "rank_blocks"]
