"""The recipe study's result: fine-tuning recipes compared under one budget, and the trained × tested form matrix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .base import Result


@dataclass
class RecipeRow:
    """One recipe (settings changed from the finetune section): its metrics and per-form accuracies, mean ± std over
    seeds. `forms` maps each tested negation form to the mean of its presence and absence accuracy."""

    arm: str
    overrides: dict[str, Any]
    trained_forms: list[str]
    values: dict[str, float]
    std: dict[str, float]
    forms: dict[str, float]
    forms_std: dict[str, float]
    chosen_steps: list[int]


@dataclass
class RecipesResult(Result):
    """`recipes.json`: every recipe trained on the same blocks, steps and data, once per seed, and the model before."""

    kind = "recipes"
    filename = "recipes.json"

    model: str
    train_data: str
    eval_data: str
    images: int
    blocks: list[int]
    train_config: dict[str, Any]
    seeds: list[int]
    baseline: dict[str, float]
    baseline_forms: dict[str, float]
    rows: list[RecipeRow]
