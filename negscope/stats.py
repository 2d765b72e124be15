"""Resampling statistics on the right unit: whole images, never pairs or rows.

Every interval negscope prints comes from here. A row (a pair, a caption, a probe prediction) belongs to one
image, and a resample draws images with replacement, each bringing all of its rows. The draws depend only on
the image ids, the number of resamples and the seed, so two statistics bootstrapped with the same arguments see
the same resamples; `paired_change` uses that to give the interval of a difference between two models scored
on the same images.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

LEVEL = 0.95


def _units(images: Sequence | np.ndarray | int) -> np.ndarray:
    """Per row, the index of its image (0 … n_images-1); an int n gives every row its own unit."""
    if isinstance(images, (int, np.integer)):
        return np.arange(int(images))
    _, inverse = np.unique(np.asarray(images), return_inverse=True)
    return inverse.ravel()


def _percentiles(draws: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    tail = 100 * (1 - level) / 2
    return np.nanpercentile(draws, tail, axis=0), np.nanpercentile(draws, 100 - tail, axis=0)


def image_draws(images: Sequence | np.ndarray | int, resamples: int = 1000, seed: int = 0) -> np.ndarray:
    """(resamples, n_images) image indices drawn with replacement; the same for the same arguments.

    Args:
        images: per row, the id of its image (any hashable values), or the number of rows when each is its own unit.
        resamples: how many bootstrap resamples.
        seed: the seed of the draws.

    Returns:
        Indices into the sorted distinct image ids, one row of draws per resample.
    """
    units = _units(images)
    n = int(units.max()) + 1 if len(units) else 0
    if n < 1:
        raise ValueError("a bootstrap needs at least one image; raise --limit")
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def image_resamples(images: Sequence | np.ndarray | int, resamples: int = 1000, seed: int = 0) -> Iterator[np.ndarray]:
    """Row indices of each resample: the images of `image_draws`, each bringing all of its rows.

    Args:
        images: per row, the id of its image, or the number of rows when each row is its own unit.
        resamples: how many resamples.
        seed: the seed of the draws.

    Returns:
        An iterator of row-index arrays (with repeats), one per resample.
    """
    units = _units(images)
    order = np.argsort(units, kind="stable")
    sizes = np.bincount(units)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    for drawn in image_draws(units, resamples, seed):
        lengths = sizes[drawn]
        yield order[np.repeat(starts[drawn] - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())]


def bootstrap(
    statistic: Callable[[np.ndarray], np.ndarray | float],
    images: Sequence | np.ndarray | int,
    resamples: int = 1000,
    seed: int = 0,
    level: float = LEVEL,
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of `statistic(rows)` when whole images are resampled.

    Args:
        statistic: maps an array of row indices (with repeats) to a number or an array of numbers.
        images: per row, the id of its image, or the number of rows when each row is its own unit.
        resamples: how many resamples.
        seed: the seed of the draws (`image_draws`).
        level: the interval's coverage.

    Returns:
        (low, high), each shaped like the statistic.
    """
    draws = [np.asarray(statistic(rows), dtype=float) for rows in image_resamples(images, resamples, seed)]
    return _percentiles(np.stack(draws), level)


def mean_interval(
    values: np.ndarray, images: Sequence | np.ndarray | int, resamples: int = 1000, seed: int = 0, level: float = LEVEL
) -> tuple[float, float]:
    """Interval of the mean over rows of `values` (e.g. 0/1 hits) when whole images are resampled; the fast path of
    `bootstrap` for a plain mean, with the same draws.

    Args:
        values: one number per row.
        images: per row, the id of its image (or the number of rows).
        resamples: how many resamples.
        seed: the seed of the draws.
        level: the interval's coverage.

    Returns:
        (low, high) of the mean.
    """
    values = np.asarray(values, dtype=float)
    units = _units(len(values) if isinstance(images, (int, np.integer)) else images)
    if len(units) != len(values):
        raise ValueError(f"got {len(values)} values and {len(units)} image ids; give one image id per value")
    sums, sizes = np.bincount(units, weights=values), np.bincount(units).astype(float)
    drawn = image_draws(units, resamples, seed)
    low, high = _percentiles(sums[drawn].sum(1) / sizes[drawn].sum(1), level)
    return float(low), float(high)


def cell_mean_interval(
    values: np.ndarray, images: Sequence | np.ndarray, cells: np.ndarray, resamples: int = 1000, seed: int = 0,
    level: float = LEVEL,
) -> tuple[float, float]:
    """Interval of the mean over cells of each cell's mean over its rows (e.g. the mean accuracy over negation
    forms) when whole images are resampled; the fast path of `bootstrap` for that statistic, with the same draws.

    Args:
        values: one number per row.
        images: per row, the id of its image.
        cells: per row, the index of its cell (0 … n_cells-1).
        resamples: how many resamples.
        seed: the seed of the draws.
        level: the interval's coverage.

    Returns:
        (low, high) of the mean over the cells that hold rows in a resample.
    """
    units, cells = _units(images), np.asarray(cells)
    n, k = int(units.max()) + 1, int(cells.max()) + 1
    sums, sizes = np.zeros((n, k)), np.zeros((n, k))
    np.add.at(sums, (units, cells), np.asarray(values, dtype=float))
    np.add.at(sizes, (units, cells), 1.0)
    drawn = image_draws(units, resamples, seed)
    weights = np.zeros((resamples, n))
    np.add.at(weights, (np.repeat(np.arange(resamples), n), drawn.ravel()), 1.0)
    cell_sums, cell_sizes = weights @ sums, weights @ sizes
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.nanmean(np.where(cell_sizes > 0, cell_sums / cell_sizes, np.nan), axis=1)
    low, high = _percentiles(means, level)
    return float(low), float(high)


@dataclass(frozen=True)
class Change:
    """A paired change after − before on the same images, with its interval; `real` when the interval excludes 0."""

    before: float
    after: float
    change: float
    ci_low: float
    ci_high: float

    @property
    def real(self) -> bool:
        """Whether the interval of the change excludes 0."""
        return not self.ci_low <= 0 <= self.ci_high


def paired_change(
    before: np.ndarray, after: np.ndarray, images: Sequence | np.ndarray, resamples: int = 1000, seed: int = 0,
    level: float = LEVEL,
) -> Change:
    """The change in the mean of per-row values between two models scored on the same rows, with the interval of
    the difference when whole images are resampled (both models see the same resample).

    Args:
        before: per row, the value under the first model (e.g. a 0/1 hit).
        after: per row, the value under the second model, same rows in the same order.
        images: per row, the id of its image.
        resamples: how many resamples.
        seed: the seed of the draws.
        level: the interval's coverage.

    Returns:
        A `Change`.
    """
    before, after = np.asarray(before, dtype=float), np.asarray(after, dtype=float)
    if before.shape != after.shape:
        raise ValueError(f"a paired change needs the same rows under both models; got {before.shape} and {after.shape}")
    low, high = mean_interval(after - before, images, resamples, seed, level)
    return Change(float(before.mean()), float(after.mean()), float((after - before).mean()), low, high)


def within_noise(low: float | np.ndarray, high: float | np.ndarray) -> bool | np.ndarray:
    """Whether an interval holds 0, so the data do not tell the quantity apart from no effect."""
    return (np.asarray(low) <= 0) & (np.asarray(high) >= 0)
