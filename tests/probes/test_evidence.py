"""The probes' block evidence: selectivity's rise per block over the untrained copies, resampled by image."""

import numpy as np
import pytest

from negscope.probes import Sweep
from negscope.probes.evidence import selectivity_evidence
from negscope.results import ProbeSweep

SITES = ["text.embed", "text.block.0", "text.block.1"]


def _sweep(rng, model, control, copies, n):
    """Per-row correctness drawn at the given per-site rates."""
    def rows(rates):
        return {site: rng.random(n) < p for site, p in zip(SITES, rates)}
    return Sweep(ProbeSweep(n, n, 0.5, []), rows(model), rows(control), {s: rows(c) for s, c in copies.items()})


def test_block_evidence_is_the_rise_of_selectivity_over_the_copies_with_image_intervals():
    rng = np.random.default_rng(0)
    n = 4000
    images = np.arange(n) // 4
    # the model learns the task in block 0; the copies stay near the control everywhere
    sweeps = [_sweep(rng, [0.55, 0.95, 0.95], [0.5, 0.5, 0.5], {0: [0.55, 0.6, 0.6], 1: [0.55, 0.6, 0.6]}, n)]
    ev = selectivity_evidence([(images, sweeps)], SITES, [0, 1], resamples=100, seed=0)
    assert ev.untrained_seeds == [0, 1] and ev.images == n // 4 and ev.rows == n and len(ev.draws) == 100
    assert ev.gain[0] == pytest.approx(0.35, abs=0.04) and abs(ev.gain[1]) < 0.04
    assert ev.trained[0] == pytest.approx(0.35, abs=0.04)  # selectivity: accuracy − the copies' mean (above control)
    assert ev.certain == [True, False]
    again = selectivity_evidence([(images, sweeps)], SITES, [0, 1], resamples=100, seed=0)
    assert again == ev


def test_tasks_are_averaged_and_resampled_together():
    rng = np.random.default_rng(1)
    n = 2000
    rising = [_sweep(rng, [0.5, 0.9, 0.9], [0.5] * 3, {0: [0.5] * 3}, n)]
    flat = [_sweep(rng, [0.5, 0.5, 0.5], [0.5] * 3, {0: [0.5] * 3}, n)]
    images = np.arange(n) // 2
    ev = selectivity_evidence([(images, rising), (images, flat)], SITES, [0], resamples=50)
    assert ev.gain[0] == pytest.approx(0.2, abs=0.04)
    assert ev.images == n // 2  # an image's rows in both tasks count once
