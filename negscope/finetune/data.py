"""Training data for fine-tuning: images with a caption and its negations.

Three kinds of source, chosen by `training_source(spec)`:

- `world` or `world[:N]`: N scenes (default `pool`) of the shapes world's training split
  (`TRAIN_SEED`, never the held-out evaluation split); negations are exact and drawn afresh each step.
- a COCO-format folder: negations are built from its instances file, like the world's.
- a CSV file with a header row and one image per row; `image` is a path relative to the CSV's folder:

  - CC-Neg style: ``image,caption,negated_caption``. The negated caption is false for the image
    (it trains the presence objective).
  - NegationCLIP style: ``image,caption,absence_caption``. The absence caption negates something the
    image does not hold, so it is true (it trains the absence objective).

  A file may carry both columns; it then trains both objectives.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import DataError, Dataset, load_dataset, world_dataset
from ..data.forms import TRAIN_FORMS, get_forms
from ..data.negation import absent_candidates
from ..data.records import ImageRecord
from ..data.world import TRAIN_SEED


@dataclass
class Example:
    """One training row: a caption and, where the source has them, its presence and absence negations."""

    caption: str
    negated: str | None
    absence: str | None


class WorldSource:
    """Images of a `Dataset` (world or COCO) with presence and absence negations drawn on the fly."""

    has_negated = True
    has_absence = True

    def __init__(self, dataset: Dataset, forms: list[str] | tuple[str, ...] = TRAIN_FORMS):
        self.forms = get_forms(forms)
        self.records = [r for r in dataset if r.present]
        self.skipped = len(dataset) - len(self.records)
        if not self.records:
            raise DataError(f"{dataset.name} has no image with an annotated object, so no negation can be built")
        self.cooccur = dataset.cooccurrence()
        self.categories = dataset.categories
        self.name = dataset.name

    def __len__(self) -> int:
        return len(self.records)

    def hold_out(self, n: int) -> Dataset:
        """Take the last `n` images out of training and return them as a validation split."""
        if not 0 < n < len(self.records) - 1:
            raise DataError(f"{self.name} has {len(self.records)} images with objects, too few to hold {n} out for "
                            "validation and train on the rest; lower validation (0 turns it off) or give more images")
        held, self.records = self.records[-n:], self.records[:-n]
        self.cooccur = Dataset(self.name, self.records, self.categories).cooccurrence()
        return Dataset(f"{self.name} (validation)", held, self.categories)

    def example(self, index: int, rng: np.random.Generator) -> Example:
        """A random caption of image `index`, and in a random form of `forms` a present object negated (false) and an
        absent one negated (true)."""
        rec = self.records[index]
        cap = rec.captions[int(rng.integers(len(rec.captions)))]
        present = str(rng.choice(rec.present))
        absent = str(rng.choice(absent_candidates(rec, self.cooccur, self.categories)))
        form = self.forms[int(rng.integers(len(self.forms)))]
        return Example(cap, form.presence(cap, present, rec.present)[1], form.absence(cap, absent, rec.present)[0])

    def pixels(self, index: int) -> np.ndarray:
        """Image `index` as an HxWx3 uint8 array."""
        return self.records[index].load_pixels()


CSV_NEGATED, CSV_ABSENCE = "negated_caption", "absence_caption"


class CsvSource:
    """Rows of a CC-Neg-style or NegationCLIP-style CSV file (see the module docstring)."""

    def __init__(self, path: str | Path):
        path = Path(path)
        if not path.is_file():
            raise DataError(f"CSV file {path} does not exist; check the path given as --data")
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header = set(reader.fieldnames or [])
            rows = list(reader)
        missing = {"image", "caption"} - header
        if missing or not header & {CSV_NEGATED, CSV_ABSENCE}:
            raise DataError(
                f"{path} has columns {sorted(header)}; it needs image,caption and {CSV_NEGATED} (CC-Neg style) "
                f"and/or {CSV_ABSENCE} (NegationCLIP style)"
            )
        self.has_negated, self.has_absence = CSV_NEGATED in header, CSV_ABSENCE in header
        self.records: list[ImageRecord] = []
        self.rows: list[Example] = []
        for line, row in enumerate(rows, start=2):
            texts = [row["caption"]] + [row[c] for c in (CSV_NEGATED, CSV_ABSENCE) if c in header]
            if not all(t and t.strip() for t in texts) or not row["image"]:
                raise DataError(f"{path} line {line} has an empty field; fill it in or delete the row")
            self.records.append(ImageRecord(line, [row["caption"]], [], path=path.parent / row["image"]))
            self.rows.append(Example(row["caption"], row.get(CSV_NEGATED), row.get(CSV_ABSENCE)))
        if not self.rows:
            raise DataError(f"{path} has a header but no rows; add at least one image")
        self.name = path.name

    def __len__(self) -> int:
        return len(self.rows)

    def example(self, index: int, rng: np.random.Generator) -> Example:
        """Row `index` as it is in the file (`rng` is unused: the captions are fixed)."""
        return self.rows[index]

    def pixels(self, index: int) -> np.ndarray:
        """The image of row `index` as an HxWx3 uint8 array."""
        return self.records[index].load_pixels()


Source = WorldSource | CsvSource
_WORLD = re.compile(r"^world(?:\[:(\d+)\])?$")


def training_source(spec: str, pool: int = 10000, forms: list[str] | tuple[str, ...] = TRAIN_FORMS) -> Source:
    """`world` / `world[:N]` (training split), a COCO-format folder, or a CSV file, as a training source; `forms` are
    the negation forms drawn for world and COCO data (a CSV file brings its own negations)."""
    m = _WORLD.match(spec)
    if m:
        n = int(m.group(1) or pool)
        if n <= 0:
            raise DataError(f"data spec {spec!r} asks for no scenes; use world[:N] with N > 0")
        return WorldSource(world_dataset(n, seed=TRAIN_SEED), forms)
    if spec.lower().endswith(".csv"):
        return CsvSource(spec)
    return WorldSource(load_dataset(spec), forms)
