"""Training data for fine-tuning: images with a caption and its negations, never an image that is evaluated.

Two kinds of source, chosen by `training_source(spec, evaluation=...)`:

- `WorldSource`: the shapes world (`world` or `world:N`: N scenes, default `pool`, of its training split
  `TRAIN_SEED`, never the held-out evaluation split, and none holding a held-out combination: see
  `data.combinations`) or a COCO-format folder. Negations are drawn afresh each
  step from the objects each caption mentions, in the configured forms.
- `GivenSource`: a table that brings its own negations (`data.tables`), e.g. CC-Neg style (`presence`, a false
  caption: the presence objective) or NegationCLIP style (`absence`, a true caption: the absence objective).

Training data that is the evaluated data itself is read through its training split (`data.splits`); other training
data is refused when it holds an image the evaluation reads.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import DataError, Dataset, ImageRecord, load_dataset, shared_images, world_count
from ..data.coco import coco_split, coco_splits
from ..data.combinations import caption_key, seen_world_dataset
from ..data.forms import TRAIN_FORMS, get_forms
from ..data.negation import absent_candidates
from ..data.phrases import mentioned
from ..data.splits import TRAIN_SPLIT, role_part, world_split
from ..data.tables import is_table


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
    scorable = True
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
        self.name = dataset.describe()

    def __len__(self) -> int:
        return len(self.records)

    @property
    def image_count(self) -> int:
        """The number of distinct images trained on."""
        return len(self.records)

    def with_forms(self, forms: list[str] | tuple[str, ...]) -> WorldSource:
        """A copy of this source that draws `forms`, sharing its images and the objects their captions mention (a
        validation split held out of the copy leaves this source whole)."""
        other = copy.copy(self)
        other.forms = get_forms(forms)
        return other

    def hold_out(self, n: int) -> Dataset:
        """Take the last `n` images out of training and return them as a validation split."""
        _check_hold_out(self, n)
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

    def texts(self, like: Iterable[str] | None = None) -> set[str]:
        """Every text `example` can give: each caption that mentions an object and, in each form, its negation of every
        object it mentions (false) and of every absent candidate (true); seconds per thousand images.

        Args:
            like: when given, only the texts of captions that share a `caption_key` with one of these: every text
                that is word for word a caption of `like` or one of its negations, in a fraction of the time.

        Returns:
            The texts.
        """
        keys = None if like is None else {caption_key(t) for t in like}
        out: set[str] = set()
        done: set[tuple[str, tuple[str, ...]]] = set()
        for rec, named in zip(self.records, self.named):
            absent = absent_candidates(rec, self.cooccur, self.categories)
            for cap, objects in named:
                if (cap, tuple(rec.present)) in done or keys is not None and caption_key(cap) not in keys:
                    continue
                done.add((cap, tuple(rec.present)))
                out.add(cap)
                for form in self.forms:
                    out.update(form.presence(cap, o, rec.present)[1] for o in objects)
                    out.update(form.absence(cap, o, rec.present)[0] for o in absent)
        return out

    def pixels(self, index: int) -> np.ndarray:
        """Image `index` as an HxWx3 uint8 array."""
        return self.records[index].load_pixels()


class GivenSource:
    """The rows of a data table that brings its own negations, as they are in the file; `scorable` when some row
    gives a pair a validation split can score (a presence negation, or an absence one with `absence_false`)."""

    skip_reason = "their image is missing or unreadable"

    def __init__(self, dataset: Dataset):
        self.rows = [(r, g) for r in dataset for g in r.given]
        if not self.rows:
            raise DataError(f"{dataset.name} brings no caption negations to train on (a question table only tests); "
                            "give a table with presence and/or absence columns")
        self.has_negated = bool(self.rows[0][1].presence)
        self.has_absence = bool(self.rows[0][1].absence)
        self.scorable = any(g.presence or (g.absence and g.absence_false) for _, g in self.rows)
        self.skipped = len(dataset.skipped)
        self.name = dataset.describe()

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def image_count(self) -> int:
        """The number of distinct images trained on."""
        return len({id(r) for r, _ in self.rows})

    def hold_out(self, n: int) -> Dataset:
        """Take the last `n` images, with all their rows, out of training and return them as a validation split."""
        _check_hold_out(self, n)
        records = list({id(r): r for r, _ in self.rows}.values())
        held = records[-n:]
        out = {id(r) for r in held}
        self.rows = [(r, g) for r, g in self.rows if id(r) not in out]
        return Dataset(f"{self.name} (validation)", held, [])

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


def _check_hold_out(source: Source, n: int) -> None:
    if not 0 < n < source.image_count - 1:
        raise DataError(f"{source.name} has {source.image_count} images to train on, too few to hold {n} out for "
                        "validation and train on the rest; lower validation (0 turns it off) or give more images")


def same_source(spec: str, evaluation: str, split: str | None = None) -> bool:
    """Whether training data `spec` is the evaluated data `evaluation` (with its COCO `split`) itself: the same
    table, or the same COCO folder where `spec` names the split its training split comes from (train2017 when the
    folder has it beside the evaluated split, else the evaluated split); world specs all name the shapes world."""
    if world_count(spec, 1) is not None or world_count(evaluation, 1) is not None:
        return world_count(spec, 1) is not None and world_count(evaluation, 1) is not None
    if spec == evaluation:
        return True
    if is_table(spec) or is_table(evaluation) or not (Path(spec).is_dir() and Path(evaluation).is_dir()):
        return Path(spec).resolve() == Path(evaluation).resolve()
    root, named, _ = coco_split(spec, prefer=TRAIN_SPLIT)
    eval_root, evaluated, _ = coco_split(evaluation, split)
    trained, _ = role_part("training", list(coco_splits(eval_root)), evaluated)
    return root.resolve() == eval_root.resolve() and named == trained


def training_dataset(spec: str, pool: int = 10000, evaluation: str | None = None, split: str | None = None) -> Dataset:
    """The images fine-tuning reads from `spec`, none of which the evaluation of `evaluation` scores.

    Args:
        spec: the training data: `world` / `world:N` (the training scenes), a COCO-format folder or a data table.
        pool: world scenes read for `world`.
        evaluation: the evaluated data spec (None: `spec` is not checked against any).
        split: the COCO split evaluated.

    Returns:
        For the world, its first N training scenes that hold no held-out combination and two kinds of object or more
        (`data.combinations`); else
        `spec`'s training split when it is `evaluation` itself (see `data.splits`); else all of `spec` (a COCO
        folder's train2017 when it has several splits).

    Raises:
        DataError: `spec` is other data that holds images `evaluation` scores; the message gives their number.
    """
    n = world_count(spec, pool)
    if n is not None:
        dataset = seen_world_dataset(n)
        dataset.split = world_split("training") + "; scenes holding a held-out combination left out"
        return dataset
    if evaluation is not None and same_source(spec, evaluation, split):
        return load_dataset(evaluation, split=split, role="training")
    dataset = load_dataset(spec, prefer=TRAIN_SPLIT)
    if evaluation is not None and world_count(evaluation, 1) is None:
        shared = shared_images(dataset, load_dataset(evaluation, split=split, role="evaluation"))
        if shared:
            raise DataError(f"training data {spec} shares {shared} image(s) with the evaluation data {evaluation}, so "
                            f"fine-tuning would train on images it is scored on; drop --train-data (train_data) to "
                            f"train on a part of {evaluation} kept apart from evaluation, or give training data "
                            "without those images")
    return dataset


def training_source(spec: str, pool: int = 10000, forms: list[str] | tuple[str, ...] = TRAIN_FORMS,
                    evaluation: str | None = None, split: str | None = None) -> Source:
    """`training_dataset(spec, pool, evaluation, split)` as a training source; `forms` are the negation forms drawn
    for world and COCO data (a table brings its own negations). A world source is built once per process (a study's
    runs share it, whatever their forms) and each call gets its own copy, so holding out a validation split changes
    only that copy."""
    n = world_count(spec, pool)
    if n is not None:
        return _world_source(n).with_forms(forms)
    dataset = training_dataset(spec, pool, evaluation, split)
    return GivenSource(dataset) if dataset.brings_negations else WorldSource(dataset, forms)


@functools.lru_cache(maxsize=1)
def _world_source(pool: int) -> WorldSource:
    return WorldSource(training_dataset(f"world:{pool}", pool))
