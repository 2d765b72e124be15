"""Evidence per text block, in one shape for every kind: the model's gain over untrained copies, with an interval
over images and the bootstrap draws the selection combines.

A kind of evidence (`KINDS`) measures a curve over sites on some rows (probe predictions, caption pairs), each row
belonging to one image. Block k's gain is the curve's rise from its input site to its output site
(`models.block_gains`). The same curve is measured on untrained copies of the architecture (several seeds) on the
same rows, and the evidence for block k is the model's gain minus the copies' mean gain. `BlockEvidence.measure_curves`
resamples whole images (`negscope.stats`), the model and its copies with the same draws, and resamples the copies
too (with one copy the interval cannot show how much another random draw of weights would differ, so use several);
it keeps the draws so the selection can resample every kind at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..stats import image_resamples

KINDS = ("probes", "attribution", "patching", "erasure")  # every kind of evidence, in the order reports show them


@dataclass
class BlockEvidence:
    """One kind's per-block evidence: gain over the untrained copies with its image-level 95% interval, the model's
    and each copy's own per-block gain, and `draws` (resamples × blocks) of the gain over the copies."""

    measure: str
    images: int
    rows: int
    untrained_seeds: list[int]
    gain: list[float]
    ci_low: list[float]
    ci_high: list[float]
    trained: list[float]
    untrained: list[list[float]]
    draws: list[list[float]]
    resample_seed: int = 0

    @property
    def untrained_mean(self) -> list[float]:
        """Per block, the mean gain over the untrained copies."""
        return np.mean(self.untrained, axis=0).tolist() if self.untrained else [0.0] * len(self.gain)

    @property
    def untrained_spread(self) -> list[float]:
        """Per block, the standard deviation of the untrained copies' gains (0 with one copy)."""
        return np.std(self.untrained, axis=0, ddof=1).tolist() if len(self.untrained) > 1 else [0.0] * len(self.gain)

    @property
    def certain(self) -> list[bool]:
        """Per block, whether the interval of the gain over the copies excludes 0."""
        return [not lo <= 0 <= hi for lo, hi in zip(self.ci_low, self.ci_high)]

    @classmethod
    def measure_curves(
        cls,
        measure: str,
        sites: Sequence[str],
        curves: Callable[[np.ndarray], tuple[np.ndarray, Sequence[np.ndarray]]],
        images: Sequence | np.ndarray,
        untrained_seeds: Sequence[int],
        resamples: int = 200,
        seed: int = 0,
    ) -> BlockEvidence:
        """Measure a kind of evidence from its per-site curves.

        Args:
            measure: what the curve is, in words (e.g. "probe selectivity").
            sites: the sites the curves follow, every site from `text.embed` on, in order.
            curves: maps row indices (with repeats) to (the model's curve over `sites`, one curve per untrained copy).
            images: per row, the id of its image; resamples draw whole images.
            untrained_seeds: the seeds of the untrained copies, in the order `curves` returns them.
            resamples: how many image resamples for the interval and the draws.
            seed: the seed of the draws.

        Returns:
            The `BlockEvidence`.
        """
        from ..models.sites import block_gains  # here, not at the top: importing `models` imports torch

        def gains(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            model, copies = curves(rows)
            own = block_gains(sites, model)
            return own, np.array([block_gains(sites, c) for c in copies]).reshape(len(copies), len(own))

        trained, untrained = gains(np.arange(len(images)))
        gain = trained - (untrained.mean(0) if len(untrained) else 0.0)
        # each draw resamples the images and, among the copies, which random draws of weights stand for "untrained"
        picks = np.random.default_rng([seed, 1]).integers(0, max(len(untrained), 1), size=(resamples, len(untrained)))
        draws = np.array([own - (copy[pick].mean(0) if len(copy) else 0.0)
                          for (own, copy), pick in zip(map(gains, image_resamples(images, resamples, seed)), picks)])
        draws = draws.reshape(-1, len(gain))
        low, high = (np.nanpercentile(draws, q, axis=0) for q in (2.5, 97.5)) if len(draws) else (gain, gain)
        return cls(measure, len(np.unique(np.asarray(images))), len(images), list(untrained_seeds), gain.tolist(),
                   np.asarray(low).tolist(), np.asarray(high).tolist(), trained.tolist(), untrained.tolist(), draws.tolist(), seed)
