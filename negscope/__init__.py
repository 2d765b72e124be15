"""negscope: find where CLIP-style models represent negation, layer by layer, and fix what they get wrong.

The names below are the library's public API. They are imported on first use, so `import negscope` loads
neither torch nor matplotlib and changes no global state; `negscope.__all__` lists them.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API: dict[str, str] = {
    # models: load one, and name its hidden-state sites and trainable blocks
    "load_bundle": "negscope.models",
    "ClipBundle": "negscope.models",
    "Site": "negscope.models",
    "Block": "negscope.models",
    # data: datasets and the negations built from them
    "load_dataset": "negscope.data",
    "world_dataset": "negscope.data",
    "negation_pairs": "negscope.data",
    "build_negations": "negscope.data.negation",
    # capture per-site text states
    "text_states": "negscope.hooks",
    "capture_text_states": "negscope.hooks",
    "write_store": "negscope.hooks",
    "ActivationStore": "negscope.hooks",
    # probe
    "negated_task": "negscope.probes",
    "scope_task": "negscope.probes",
    "scope_position_task": "negscope.probes",
    "surface_features": "negscope.probes",
    "sweep": "negscope.probes",
    "LinearProbe": "negscope.probes",
    # attribute and patch, per site and per attention head
    "token_attributions": "negscope.attribution",
    "layer_attributions": "negscope.attribution",
    "patch_pairs": "negscope.attribution",
    "head_scores": "negscope.attribution",
    "negation_positions": "negscope.attribution",
    # select
    "gather_evidence": "negscope.selection",
    "rank_blocks": "negscope.selection",
    "plan_blocks": "negscope.selection",
    "freeze_except": "negscope.selection",
    # fine-tune
    "fine_tune": "negscope.finetune.run",
    "TrainConfig": "negscope.finetune.config",
    "Trainer": "negscope.finetune.trainer",
    # evaluate
    "image_features": "negscope.evaluation.features",
    "similarity_study": "negscope.evaluation.similarity",
    "evaluate": "negscope.evaluation.suite",
    # whole runs
    "RunConfig": "negscope.experiments.config",
    "load_config": "negscope.experiments.config",
    "run": "negscope.experiments.run",
}

__all__ = list(_API)


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'negscope' has no attribute {name!r}; the public names are negscope.__all__")
    value = getattr(importlib.import_module(_API[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
