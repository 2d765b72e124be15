"""Paired changes between two models on the same rows: zero for a model against itself, real when the interval of the
difference excludes 0 (even inside the interval of the model before), and the mean of cell means."""

import numpy as np
import pytest

from negscope.evaluation.paired import RowValues, metric_change, paired_changes


def _hits(seed=0, images=200, per_image=2):
    rng = np.random.default_rng(seed)
    return rng.random(images * per_image) < 0.5, np.repeat(np.arange(images), per_image)


def test_a_small_consistent_gain_is_real_though_inside_the_before_interval():
    before, images = _hits()
    after = before.copy()
    after[np.flatnonzero(~before)[:16]] = True  # 16 of 400 rows fixed, none broken: +0.04
    b, a = RowValues(before, images), RowValues(after, images)
    change = metric_change(b, a)
    assert change.change == pytest.approx(0.04) and change.real and change.ci_low > 0
    low, high = b.interval()
    assert low < a.mean() < high  # judged against the before interval, the gain would look like noise


def test_a_reshuffle_with_no_net_gain_is_not_real():
    before, images = _hits()
    after = before.copy()
    fixed, broken = np.flatnonzero(~before)[:30], np.flatnonzero(before)[:30]
    after[fixed], after[broken] = True, False
    change = metric_change(RowValues(before, images), RowValues(after, images))
    assert change.change == 0 and change.ci_low < 0 < change.ci_high and not change.real


def test_a_model_against_itself_and_a_drop():
    before, images = _hits(1)
    same = paired_changes({"m": RowValues(before, images)}, {"m": RowValues(before, images)})["m"]
    assert (same.change, same.ci_low, same.ci_high, same.real) == (0, 0, 0, False)
    worse = metric_change(RowValues(before, images), RowValues(np.zeros_like(before), images))
    assert worse.real and worse.ci_high < 0 and worse.after == 0


def test_cell_means_weigh_each_cell_alike():
    small = RowValues([1, 1], [0, 1])
    large = RowValues([0] * 8, list(range(8)))
    both = RowValues.cell_means([small, large])
    assert both.mean() == 0.5  # not the pooled 0.2
    low, high = both.interval(resamples=200)
    assert low <= 0.5 <= high
    gain = metric_change(both, RowValues.cell_means([small, RowValues([1] * 8, list(range(8)))]), resamples=200)
    assert gain.change == 0.5 and gain.real
    with pytest.raises(ValueError, match="same rows"):
        metric_change(both, RowValues.cell_means([small]))
