"""The probes' evidence per block: the rise of probe selectivity across each block, over the untrained copies,
with an interval over images, from the per-row out-of-fold correctness of every probe."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..results.evidence import BlockEvidence
from .sweep import Sweep

MEASURE = "probe selectivity (accuracy − max(control, untrained)), mean over the informative tasks"


def _stacked(sweeps: Sequence[Sweep], sites: Sequence[str], seeds: Sequence[int]) -> tuple[np.ndarray, ...]:
    """Per-row correctness averaged over the probe seeds: model and control (sites × rows), copies (copies × sites × rows)."""
    model = np.mean([[s.correct[site] for site in sites] for s in sweeps], axis=0)
    control = np.mean([[s.control[site] for site in sites] for s in sweeps], axis=0)
    copies = np.mean([[[s.untrained[k][site] for site in sites] for k in seeds] for s in sweeps], axis=0)
    return model, control, copies.reshape(len(seeds), len(sites), -1)


def selectivity_evidence(
    readings: Sequence[tuple[Sequence, Sequence[Sweep]]],
    sites: Sequence[str],
    untrained_seeds: Sequence[int],
    resamples: int = 200,
    seed: int = 0,
) -> BlockEvidence:
    """Per block, the rise of probe selectivity over the untrained copies, resampling images across every task at once.

    The model's curve is, per site, accuracy − max(control accuracy, the copies' mean accuracy), averaged over the
    tasks; copy k's curve is its own accuracy against the same floor, so the gain over the copies is the rise of the
    model's accuracy over the copies' mean, while `trained` holds the rise of selectivity.

    Args:
        readings: per informative task, (per row, its image id; that task's sweeps, one per probe seed).
        sites: every site from `text.embed` on, in order.
        untrained_seeds: the seeds of the untrained copies the sweeps hold.
        resamples: image resamples of the interval and the draws.
        seed: the seed of the draws.

    Returns:
        The `BlockEvidence` of the probes.
    """
    parts, images, start = [], [], 0
    for ids, sweeps in readings:
        parts.append((start, start + len(ids), *_stacked(sweeps, sites, untrained_seeds)))
        images += [str(i) for i in ids]
        start += len(ids)

    def curves(rows: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        model, copies = [], []
        for first, stop, hits, control, copy in parts:
            r = rows[(rows >= first) & (rows < stop)] - first
            if not len(r):
                continue
            own, floor_copies = hits[:, r].mean(1), copy[:, :, r].mean(2)
            floor = np.maximum(control[:, r].mean(1), floor_copies.mean(0)) if len(copy) else control[:, r].mean(1)
            model.append(own - floor)
            copies.append(floor_copies - floor)
        if not model:
            return np.full(len(sites), np.nan), [np.full(len(sites), np.nan)] * len(untrained_seeds)
        return np.mean(model, axis=0), list(np.mean(copies, axis=0))

    return BlockEvidence.measure_curves(MEASURE, sites, curves, np.array(images), untrained_seeds, resamples, seed)
