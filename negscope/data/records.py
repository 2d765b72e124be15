"""The per-image record every data source yields."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


class DataError(ValueError):
    """Bad input data: the message names the input at fault and the fix."""


@dataclass(frozen=True)
class ObjectAnn:
    """One annotated object: its category name and COCO box (x, y, width, height)."""

    name: str
    box: tuple[float, float, float, float]


@dataclass(frozen=True)
class GivenNegation:
    """Negations a data file brings for one caption, used instead of the rule builders: `presence` negates an object
    the image holds (false), `absence` one it lacks (true), and `absence_false` is `absence` affirming it (false)."""

    caption: str
    presence: str | None = None
    absence: str | None = None
    absence_false: str | None = None


@dataclass
class MCQItem:
    """One multiple-choice question with exactly one true option; a type is '' where the source does not give it."""

    options: list[str]
    option_types: list[str]
    answer: int

    @property
    def answer_type(self) -> str:
        """The type of the correct option."""
        return self.option_types[self.answer]


@dataclass
class ImageRecord:
    """One image with its captions and objects, and any negations or question its data file brings; pixels live in
    memory or at `path`."""

    image_id: int
    captions: list[str]
    objects: list[ObjectAnn]
    path: Path | None = None
    pixels: np.ndarray | None = field(default=None, repr=False)
    given: list[GivenNegation] = field(default_factory=list)
    mcq: MCQItem | None = None

    @property
    def present(self) -> list[str]:
        """Distinct object category names, in annotation order."""
        return list(dict.fromkeys(o.name for o in self.objects))

    def key(self) -> str:
        """What identifies this image's pixels: a hash of them when in memory, else the file's path, size and
        modification time."""
        h = hashlib.blake2b(digest_size=16)
        if self.pixels is not None:
            h.update(repr(self.pixels.shape).encode())
            h.update(np.ascontiguousarray(self.pixels))
        else:
            st = self.path.stat() if self.path is not None and self.path.is_file() else None
            h.update(repr((str(self.path.resolve()) if self.path else None, st and st.st_size, st and st.st_mtime_ns)).encode())
        return h.hexdigest()

    def load_pixels(self) -> np.ndarray:
        """Return the image as an HxWx3 uint8 array, naming the file if it cannot be read."""
        if self.pixels is not None:
            return self.pixels
        from PIL import Image, UnidentifiedImageError

        if self.path is None or not self.path.is_file():
            raise DataError(
                f"image {self.path} for image id {self.image_id} is missing; restore the file "
                "or remove its entry from the annotation files"
            )
        try:
            with Image.open(self.path) as img:
                return np.asarray(img.convert("RGB"))
        except (UnidentifiedImageError, OSError) as err:
            raise DataError(
                f"image {self.path} for image id {self.image_id} cannot be read ({err}); "
                "replace the file or remove its entry from the annotation files"
            ) from err


@dataclass
class Dataset:
    """A list of image records plus the category vocabulary they draw on; `split` says which part of its source the
    records are, when they are one role's part (see `data.splits`)."""

    name: str
    records: list[ImageRecord]
    categories: list[str]
    skipped: list[str] = field(default_factory=list)
    split: str = ""

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self):
        return iter(self.records)

    def __getitem__(self, index: int) -> ImageRecord:
        return self.records[index]

    @property
    def brings_negations(self) -> bool:
        """Whether the data file gave negations or questions, which every stage then uses instead of the rules."""
        return any(r.given or r.mcq for r in self.records)

    def limit(self, n: int | None) -> Dataset:
        """The first `n` records (all when `n` is None)."""
        if n is None:
            return self
        if n <= 0:
            raise DataError(f"limit {n} must be a positive number of images")
        return Dataset(self.name, self.records[:n], self.categories, self.skipped, self.split)

    def describe(self) -> str:
        """The data named for a result: its name, the split it is and its number of images."""
        return f"{self.name} ({self.split}; {len(self)} images)" if self.split else f"{self.name} ({len(self)} images)"

    def cooccurrence(self) -> dict[str, set[str]]:
        """For each category, the categories seen in the same image somewhere in the dataset."""
        seen: dict[str, set[str]] = {c: set() for c in self.categories}
        for rec in self.records:
            names = rec.present
            for a in names:
                seen.setdefault(a, set()).update(n for n in names if n != a)
        return seen
