"""Bootstrap means and the rule that calls a mean gap within noise."""

import numpy as np

from negscope.attribution import mean_with_ci, mean_within_noise


def test_a_gap_whose_interval_holds_zero_is_within_noise():
    rng = np.random.default_rng(0)
    noise = rng.normal(0.0001, 0.01, 54)  # a mean gap of about 0.0001 against a spread a hundred times larger
    ci, within = mean_within_noise(noise, seed=0)
    assert ci == mean_with_ci(noise, seed=0) and ci["ci_low"] < 0 < ci["ci_high"] and within


def test_a_gap_clear_of_zero_is_not_within_noise():
    gaps = np.random.default_rng(0).normal(0.02, 0.01, 54)
    ci, within = mean_within_noise(gaps, seed=0)
    assert 0 < ci["ci_low"] < ci["mean"] < ci["ci_high"] and not within
    assert mean_within_noise(-gaps, seed=0)[1] is False  # a negative gap is as clear of zero


def test_no_gap_at_all_is_within_noise():
    assert mean_within_noise(np.zeros(5))[1] is True
