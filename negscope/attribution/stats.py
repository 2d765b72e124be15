"""A pair-level bootstrap kept only for `erasure` until it resamples images through `negscope.stats`; nothing else
imports it."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..stats import bootstrap


def bootstrap_ci(statistic: Callable[[np.ndarray], np.ndarray | float], n: int, resamples: int = 1000, seed: int = 0,
                 level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """`negscope.stats.bootstrap` with every one of `n` rows its own unit."""
    return bootstrap(statistic, n, resamples, seed, level)
