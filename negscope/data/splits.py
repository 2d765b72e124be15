"""Which images each role reads from a data source, so that no image is both evaluated and analysed or trained on.

Three roles read data: `evaluation` (what `negscope evaluate` scores), `analysis` (probes, attribution, patching,
erasure: the evidence that picks the blocks) and `training` (fine-tuning). Their images never overlap:

- the shapes world gives each role its own scenes: evaluation seed 1 (the held-out scenes), training seed 0 (the
  scenes the world model was pretrained on), analysis seed 2;
- a COCO-format folder that holds train2017 beside the split evaluated: evaluation reads its split whole, and
  train2017 is dealt between analysis (the 1st of every 4 images in id order) and training (the other 3);
- any other source (a COCO folder with one split, or evaluated on train2017; a table) is dealt between all three:
  its images in id order (a table's in the order it first names them), the 1st of every 4 to analysis, the 2nd to
  training, the 3rd and 4th to evaluation.

A stage's `limit` then takes the first images of its role's part. `shared_images` counts the images two datasets
have in common, by content, to refuse training data that holds evaluation images.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from .records import Dataset, ImageRecord
from .world import ANALYSIS_SEED, EVAL_SEED, TRAIN_SEED

ROLES = ("evaluation", "analysis", "training")
TRAIN_SPLIT = "train2017"
DEAL = 4
WORLD_SEEDS = {"evaluation": EVAL_SEED, "analysis": ANALYSIS_SEED, "training": TRAIN_SEED}
SHARED = {"analysis": (0,), "training": (1,), "evaluation": (2, 3)}
TRAIN_DEAL = {"analysis": (0,), "training": (1, 2, 3)}
ORDINALS = ("1st", "2nd", "3rd", "4th")


@dataclass(frozen=True)
class Part:
    """One role's images of a source: those whose place in id order, modulo `DEAL`, is in `take` (None: all)."""

    role: str
    take: tuple[int, ...] | None
    others: str

    def holds(self, rank: int) -> bool:
        """Whether the image at place `rank` (0-based, in id order) belongs to this part."""
        return self.take is None or rank % DEAL in self.take

    def describe(self) -> str:
        """The part in words, e.g. 'analysis split: the 1st of every 4 images in id order; ...'."""
        if self.take is None:
            return f"{self.role} split: every image; {self.others}"
        places = " and ".join(ORDINALS[t] for t in self.take)
        return f"{self.role} split: the {places} of every {DEAL} images in id order; {self.others}"


def role_part(role: str, splits: list[str], split: str) -> tuple[str, Part]:
    """The split of a COCO folder holding `splits` that `role` reads, and its part, when `split` is evaluated."""
    check_role(role)
    if TRAIN_SPLIT in splits and split != TRAIN_SPLIT:
        if role == "evaluation":
            return split, Part(role, None, f"analysis and training read {TRAIN_SPLIT}")
        other = "training" if role == "analysis" else "analysis"
        return TRAIN_SPLIT, Part(role, TRAIN_DEAL[role], f"{other} reads the rest; {split} is evaluated")
    return split, shared_part(role)


def shared_part(role: str) -> Part:
    """`role`'s part of a source that every role reads."""
    check_role(role)
    others = " and ".join(r for r in ROLES if r != role)
    return Part(role, SHARED[role], f"{others} read the other images")


def world_split(role: str) -> str:
    """How the world's scenes for `role` are chosen, in words."""
    check_role(role)
    others = ", ".join(f"{r} seed {WORLD_SEEDS[r]}" for r in ROLES if r != role)
    return f"{role} split: scenes of seed {WORLD_SEEDS[role]} ({others})"


def check_role(role: str) -> None:
    """A `ValueError` unless `role` is one of `ROLES`."""
    if role not in ROLES:
        raise ValueError(f"data role {role!r} is unknown; choose from {', '.join(ROLES)}")


def _file_digest(record: ImageRecord) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(record.path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return "file:" + h.hexdigest()


def _pixel_digest(record: ImageRecord) -> str:
    pixels = np.ascontiguousarray(record.load_pixels())
    return "pixels:" + hashlib.blake2b(repr(pixels.shape).encode() + pixels.tobytes(), digest_size=16).hexdigest()


def shared_images(a: Dataset, b: Dataset) -> int:
    """How many distinct images `a` and `b` have in common, by content: images held in memory by their pixels, image
    files by their bytes (a file is read only when a file of the other dataset has its size).

    Args:
        a: one dataset.
        b: the other.

    Returns:
        The number of images found in both.
    """
    def sizes(ds: Dataset) -> dict[int, list[ImageRecord]]:
        by_size: dict[int, list[ImageRecord]] = defaultdict(list)
        for rec in ds:
            if rec.pixels is None and rec.path is not None and rec.path.is_file():
                by_size[rec.path.stat().st_size].append(rec)
        return by_size

    def digests(ds: Dataset, mine: dict[int, list[ImageRecord]], theirs: dict[int, list[ImageRecord]]) -> set[str]:
        files = {_file_digest(r) for size, recs in mine.items() if size in theirs for r in recs}
        return files | {_pixel_digest(r) for r in ds if r.pixels is not None}

    size_a, size_b = sizes(a), sizes(b)
    return len(digests(a, size_a, size_b) & digests(b, size_b, size_a))
