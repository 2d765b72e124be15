"""Data: COCO-format folders, the shapes world, negation builders and negation pairs."""

from __future__ import annotations

import re
from pathlib import Path

from ..fingerprint import tree_fingerprint
from .coco import DEFAULT_SPLIT, coco_split, coco_splits, export_coco, load_coco
from .pairs import PAIR_KINDS, negation_pairs
from .records import DataError, Dataset, GivenNegation, ImageRecord, MCQItem, ObjectAnn
from .splits import ROLES, WORLD_SEEDS, check_role, role_part, shared_images, shared_part, world_split
from .tables import is_table, load_table
from .world import world_dataset

__all__ = [
    "PAIR_KINDS",
    "ROLES",
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
    "shared_images",
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
                 prefer: str = DEFAULT_SPLIT, role: str | None = None) -> Dataset:
    """Load 'world' (1,000 scenes, or `limit`), 'world:N' (or 'world[:N]'), one split of a COCO-format folder (`split`,
    else `prefer` when present, else the only one; see `coco`) or a CSV/JSONL table (see `tables`), capped at `limit`
    images.

    Args:
        spec: the data spec.
        limit: at most this many images (the first of the part read).
        strict: stop at the first unreadable image instead of skipping it.
        split: the COCO split evaluated.
        prefer: the COCO split read when `split` is None and the folder holds it (without `role`).
        role: 'evaluation', 'analysis' or 'training': only that role's images, none of which another role reads
            (see `splits`), described in `Dataset.split`; None reads the whole source (the world's held-out scenes).

    Returns:
        The dataset.
    """
    if limit is not None and limit <= 0:
        raise DataError(f"limit {limit} must be a positive number of images")
    if role is not None:
        check_role(role)
    n = world_count(spec, limit or 1000)
    if n is not None:
        if role is None:
            return world_dataset(min(n, limit) if limit else n)
        data = world_dataset(min(n, limit) if limit else n, seed=WORLD_SEEDS[role])
        data.split = world_split(role)
        return data
    if is_table(spec):
        return load_table(spec, strict=strict, part=shared_part(role) if role else None).limit(limit)
    if not Path(spec).exists():
        raise DataError(f"data {spec!r} is neither 'world:N', an existing COCO-format folder nor a .csv or .jsonl "
                        "table; check the path")
    if role is None:
        return load_coco(spec, strict=strict, split=split, limit=limit, prefer=prefer)
    root, evaluated, _ = coco_split(spec, split)
    read, part = role_part(role, list(coco_splits(root)), evaluated)
    return load_coco(root, strict=strict, split=read, limit=limit, part=part)


def data_fingerprint(spec: str) -> str:
    """What `load_dataset(spec)` would read, as a content hash: the world spec itself, or the folder's files."""
    return spec if _WORLD.match(spec) else tree_fingerprint(spec)
