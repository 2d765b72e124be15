"""Bootstrap confidence intervals over examples (pairs or captions)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def bootstrap_ci(
    statistic: Callable[[np.ndarray], np.ndarray | float],
    n: int,
    resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of `statistic(rows)` over `resamples` draws of `n` row indices with replacement."""
    if n < 1:
        raise ValueError("bootstrap needs at least one example; raise --limit")
    rng = np.random.default_rng(seed)
    draws = np.stack([np.asarray(statistic(rng.integers(0, n, n)), dtype=float) for _ in range(resamples)])
    tail = 100 * (1 - level) / 2
    return np.percentile(draws, tail, axis=0), np.percentile(draws, 100 - tail, axis=0)


def mean_with_ci(values: np.ndarray, resamples: int = 1000, seed: int = 0) -> dict[str, float]:
    """Mean of `values` (one per example) with its bootstrap 95% interval and the count."""
    values = np.asarray(values, dtype=float)
    low, high = bootstrap_ci(lambda idx: values[idx].mean(), len(values), resamples, seed)
    return {"mean": float(values.mean()), "ci_low": float(low), "ci_high": float(high), "n": len(values)}


def mean_within_noise(values: np.ndarray, resamples: int = 1000, seed: int = 0) -> tuple[dict[str, float], bool]:
    """`mean_with_ci(values)`, and whether that mean is within noise: true when its bootstrap 95% interval holds 0
    (ci_low <= 0 <= ci_high), so the examples do not tell it apart from no effect at that level."""
    ci = mean_with_ci(values, resamples, seed)
    return ci, ci["ci_low"] <= 0 <= ci["ci_high"]
