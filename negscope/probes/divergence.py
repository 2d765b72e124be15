"""How far a caption's state moves under negation: the mean cosine between paired rows of one site."""

from __future__ import annotations

import numpy as np


def mean_pair_cosine(states: np.ndarray, first: np.ndarray, second: np.ndarray) -> float:
    """Mean cosine similarity between rows `first[i]` and `second[i]` of `states`."""
    a = np.asarray(states[first], dtype=np.float64)
    b = np.asarray(states[second], dtype=np.float64)
    if len(a) == 0:
        raise ValueError("no caption pairs given; the divergence needs at least one caption and its negation")
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)).clip(min=1e-12)
    return float(cos.mean())
