"""Data: COCO-format folders, the shapes world, negation builders and negation pairs."""

from __future__ import annotations

import re
from pathlib import Path

from ..fingerprint import tree_fingerprint
from .coco import DEFAULT_SPLIT, export_coco, load_coco
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
    "world_count",
    "world_dataset",
]

_WORLD = re.compile(r"^world(?:\[:(\d+)\]|:(\d+))?$")


def world_count(spec: str, default: int) -> int | None:
    """The number of scenes a world spec ('world', 'world:N' or 'world[:N]') asks for (`default` for 'world'), or
    None when `spec` names other data."""
    m = _WORLD.match(spec)
    if not m:
        return None
    n = int(m.group(1) or m.group(2) or default)
    if n <= 0:
        raise DataError(f"data spec {spec!r} asks for no images; use world:N with N > 0")
    return n


def load_dataset(spec: str, limit: int | None = None, strict: bool = False, split: str | None = None,
                 prefer: str = DEFAULT_SPLIT) -> Dataset:
    """Load 'world' (1,000 held-out scenes, or `limit`), 'world:N' (or 'world[:N]'), one split of a COCO-format folder
    (`split`, else `prefer` when present, else the only one; see `coco`) or a CSV/JSONL table (see `tables`), capped
    at `limit` images."""
    if limit is not None and limit <= 0:
        raise DataError(f"limit {limit} must be a positive number of images")
    n = world_count(spec, limit or 1000)
    if n is not None:
        return world_dataset(min(n, limit) if limit else n)
    if is_table(spec):
        return load_table(spec, strict=strict).limit(limit)
    if not Path(spec).exists():
        raise DataError(f"data {spec!r} is neither 'world:N', an existing COCO-format folder nor a .csv or .jsonl "
                        "table; check the path")
    return load_coco(spec, strict=strict, split=split, limit=limit, prefer=prefer)


def data_fingerprint(spec: str) -> str:
    """What `load_dataset(spec)` would read, as a content hash: the world spec itself, or the folder's files."""
    return spec if _WORLD.match(spec) else tree_fingerprint(spec)
