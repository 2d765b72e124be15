"""Training data for fine-tuning: images with a caption and its negations.

Two kinds of source, chosen by `training_source(spec)`:

- `WorldSource`: the shapes world (`world` or `world:N`: N scenes, default `pool`, of its training split
  `TRAIN_SEED`, never the held-out evaluation split) or a COCO-format folder. Negations are drawn afresh each
  step from the objects each caption mentions, in the configured forms.
- `GivenSource`: a table that brings its own negations (`data.tables`), e.g. CC-Neg style (`presence`, a false
  caption: the presence objective) or NegationCLIP style (`absence`, a true caption: the absence objective).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data import DataError, Dataset, ImageRecord, load_dataset, world_count, world_dataset
from ..data.forms import TRAIN_FORMS, get_forms
from ..data.negation import absent_candidates
from ..data.phrases import mentioned
from ..data.world import TRAIN_SEED

TRAIN_SPLIT = "train2017"


@dataclass
class Example:
    """One training row: a caption and, where the source has them, its presence and absence negations."""

    caption: str
    negated: str | None
    absence: str | None


class WorldSource:
    """Images of a `Dataset` (world or COCO) with presence and absence negations drawn on the fly; an image none of
    whose captions mentions an annotated object is left out and counted in `skipped`."""

    has_negated = True
    has_absence = True
    skip_reason = "none of their captions mentions an annotated object"

    def __init__(self, dataset: Dataset, forms: list[str] | tuple[str, ...] = TRAIN_FORMS):
        self.forms = get_forms(forms)
        named = [(r, [(c, n) for c in r.captions if (n := mentioned(c, r.present))]) for r in dataset if r.present]
        self.records = [r for r, caps in named if caps]
        self.named = [caps for _, caps in named if caps]
        self.skipped = len(dataset) - len(self.records)
        if not self.records:
            raise DataError(f"{dataset.name} has no image whose captions mention an annotated object, so no negation "
                            "can be built; give data with instances, or a table with its own negations")
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
        held, self.records, self.named = self.records[-n:], self.records[:-n], self.named[:-n]
        self.cooccur = Dataset(self.name, self.records, self.categories).cooccurrence()
        return Dataset(f"{self.name} (validation)", held, self.categories)

    def example(self, index: int, rng: np.random.Generator) -> Example:
        """A random caption of image `index` that mentions an object, and in a random form of `forms` a mentioned
        object negated (false) and an absent one negated (true)."""
        rec, named = self.records[index], self.named[index]
        cap, objects = named[int(rng.integers(len(named)))]
        present = str(rng.choice(objects))
        absent = str(rng.choice(absent_candidates(rec, self.cooccur, self.categories)))
        form = self.forms[int(rng.integers(len(self.forms)))]
        return Example(cap, form.presence(cap, present, rec.present)[1], form.absence(cap, absent, rec.present)[0])

    @property
    def images(self) -> list[ImageRecord]:
        """The image of each index."""
        return self.records

    def pixels(self, index: int) -> np.ndarray:
        """Image `index` as an HxWx3 uint8 array."""
        return self.records[index].load_pixels()


class GivenSource:
    """The rows of a data table that brings its own negations, as they are in the file."""

    skip_reason = "their image is missing or unreadable"

    def __init__(self, dataset: Dataset):
        self.rows = [(r, g) for r in dataset for g in r.given]
        if not self.rows:
            raise DataError(f"{dataset.name} brings no caption negations to train on (a question table only tests); "
                            "give a table with presence and/or absence columns")
        self.has_negated = bool(self.rows[0][1].presence)
        self.has_absence = bool(self.rows[0][1].absence)
        self.skipped = len(dataset.skipped)
        self.name = dataset.name

    def __len__(self) -> int:
        return len(self.rows)

    def example(self, index: int, rng: np.random.Generator) -> Example:
        """Row `index` as it is in the file (`rng` is unused: the captions are fixed)."""
        _, given = self.rows[index]
        return Example(given.caption, given.presence, given.absence)

    @property
    def images(self) -> list[ImageRecord]:
        """The image of each row."""
        return [r for r, _ in self.rows]

    def pixels(self, index: int) -> np.ndarray:
        """The image of row `index` as an HxWx3 uint8 array."""
        return self.rows[index][0].load_pixels()


Source = WorldSource | GivenSource
def training_source(spec: str, pool: int = 10000, forms: list[str] | tuple[str, ...] = TRAIN_FORMS) -> Source:
    """`world` / `world:N` (training split), a COCO-format folder (its train2017 split when it has several), or a data
    table, as a training source; `forms` are the negation forms drawn for world and COCO data (a table brings its own
    negations)."""
    n = world_count(spec, pool)
    if n is not None:
        return WorldSource(world_dataset(n, seed=TRAIN_SEED), forms)
    dataset = load_dataset(spec, prefer=TRAIN_SPLIT)
    return GivenSource(dataset) if dataset.brings_negations else WorldSource(dataset, forms)
