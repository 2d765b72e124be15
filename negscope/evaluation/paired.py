"""Per-row values behind each metric, and the paired change between two models scored on the same rows."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..results.evaluation import PairedChange
from ..stats import Change, cell_mean_interval, mean_interval, paired_change


@dataclass
class RowValues:
    """One metric's value per row (a 0/1 hit, a score) and each row's image. With `cells`, the metric is the mean over
    cells (a negation form's presence or absence pairs) of the mean of each cell's rows; without, the mean of the rows."""

    values: np.ndarray
    images: np.ndarray
    cells: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.values, self.images = np.asarray(self.values, dtype=float), np.asarray(self.images)

    def mean(self) -> float:
        """The metric (NaN without rows)."""
        return _mean(self.values, self.cells) if len(self.values) else float("nan")

    def interval(self, resamples: int = 1000, seed: int = 0) -> list[float]:
        """The metric's 95% interval when whole images are resampled ([] without rows)."""
        if not len(self.values):
            return []
        if self.cells is None:
            return list(mean_interval(self.values, self.images, resamples, seed))
        return list(cell_mean_interval(self.values, self.images, self.cells, resamples, seed))

    @classmethod
    def cell_means(cls, parts: list[RowValues]) -> RowValues:
        """The mean over `parts` of each part's mean, as one metric (no rows without parts)."""
        if not parts:
            return cls(np.zeros(0), np.zeros(0, dtype=int))
        return cls(np.concatenate([p.values for p in parts]), np.concatenate([p.images for p in parts]),
                   np.repeat(np.arange(len(parts)), [len(p.values) for p in parts]))


def _mean(values: np.ndarray, cells: np.ndarray | None) -> float:
    if cells is None:
        return float(values.mean())
    sums, sizes = np.bincount(cells, weights=values), np.bincount(cells)
    return float((sums[sizes > 0] / sizes[sizes > 0]).mean())


def metric_change(before: RowValues, after: RowValues, resamples: int = 1000, seed: int = 0) -> PairedChange:
    """after − before for one metric of two models scored on the same rows, with the 95% interval of that difference
    when whole images are resampled (both models see the same resample).

    Args:
        before: the metric's rows under the first model.
        after: the same rows, in the same order, under the second model.
        resamples: how many image resamples.
        seed: the seed of the draws.

    Returns:
        A `PairedChange`; `real` when its interval excludes 0.
    """
    if before.cells is None:
        change = paired_change(before.values, after.values, before.images, resamples, seed)
    else:
        if before.values.shape != after.values.shape:
            raise ValueError(f"a paired change needs the same rows under both models; got {before.values.shape} and "
                             f"{after.values.shape}")
        diff = after.values - before.values
        low, high = cell_mean_interval(diff, before.images, before.cells, resamples, seed)
        change = Change(before.mean(), after.mean(), after.mean() - before.mean(), low, high)
    return PairedChange(**asdict(change), real=change.real)


def paired_changes(before: dict[str, RowValues], after: dict[str, RowValues], resamples: int = 1000,
                   seed: int = 0) -> dict[str, PairedChange]:
    """Every metric's `metric_change` from `before` to `after` (metrics with rows under both models).

    Args:
        before: per metric, its rows under the first model.
        after: per metric, the same rows under the second model.
        resamples: how many image resamples.
        seed: the seed of the draws.

    Returns:
        Per metric, its paired change.
    """
    return {k: metric_change(before[k], after[k], resamples, seed) for k in before if k in after and len(before[k].values)}
