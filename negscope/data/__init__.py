"""Data: COCO-format folders, the shapes world, negation builders and negation pairs."""

from __future__ import annotations

import re
from pathlib import Path

from ..fingerprint import tree_fingerprint
from .coco import export_coco, load_coco
from .pairs import PAIR_KINDS, negation_pairs
from .records import DataError, Dataset, GivenNegation, ImageRecord, MCQItem, ObjectAnn
from .tables import is_table, load_table
from .world import world_dataset

__all__ = [
    "PAIR_KINDS",
    "DataError",
    "Dataset",
    "GivenNegation",
    "ImageRecord",
    "MCQItem",
    "ObjectAnn",
    "data_fingerprint",
    "export_coco",
    "load_coco",
    "load_dataset",
    "load_table",
    "negation_pairs",
    "world_dataset",
]

_WORLD = re.compile(r"^world(?:\[:(\d+)\])?$")


def load_dataset(spec: str, limit: int | None = None, strict: bool = False) -> Dataset:
    """Load 'world' (1,000 held-out scenes, or `limit`), 'world[:N]', a COCO-format folder or a CSV/JSONL table (see
    `tables`), capped at `limit` images."""
    if limit is not None and limit <= 0:
        raise DataError(f"limit {limit} must be a positive number of images")
    m = _WORLD.match(spec)
    if m:
        n = int(m.group(1) or limit or 1000)
        n = min(n, limit) if limit else n
        if n <= 0:
            raise DataError(f"data spec {spec!r} asks for no images; use world[:N] with N > 0")
        return world_dataset(n)
    if is_table(spec):
        return load_table(spec, strict=strict).limit(limit)
    if not Path(spec).exists():
        raise DataError(f"data {spec!r} is neither 'world[:N]', an existing COCO-format folder nor a .csv or .jsonl "
                        "table; check the path")
    return load_coco(spec, strict=strict).limit(limit)


def data_fingerprint(spec: str) -> str:
    """What `load_dataset(spec)` would read, as a content hash: the world spec itself, or the folder's files."""
    return spec if _WORLD.match(spec) else tree_fingerprint(spec)
