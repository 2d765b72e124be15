"""The in-memory probe sweep on synthetic states: an informative site, a noise site, a baseline, folds made once per
label vector, and both solvers."""

import importlib

import numpy as np
import pytest

from negscope.probes import grouped_splits, sweep

sweep_module = importlib.import_module("negscope.probes.sweep")  # the package attribute `sweep` is the function
linear_module = importlib.import_module("negscope.probes.linear")

N_GROUPS = 60


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    y = np.tile([0, 1], N_GROUPS)
    groups = np.repeat(np.arange(N_GROUPS), 2)
    states = {
        "text.embed": rng.normal(size=(len(y), 4)),
        "text.block.0": np.c_[3.0 * y + rng.normal(scale=0.5, size=len(y)), rng.normal(size=(len(y), 3))],
    }
    units = [f"object {g % 6}" for g in groups]  # a unit that recurs across groups
    return states, y, groups, units


@pytest.mark.parametrize("solver", ["sklearn", "torch"])
def test_sweep_separates_informative_from_noise_sites(data, monkeypatch, solver):
    states, y, groups, texts = data
    outer, inner = [], []
    monkeypatch.setattr(sweep_module, "grouped_splits", lambda *a: outer.append(a) or grouped_splits(*a))
    monkeypatch.setattr(linear_module, "grouped_splits", lambda *a: inner.append(a) or grouped_splits(*a))
    run = sweep(states, y, groups, texts, folds=3, n_boot=100, baselines={"label_copy": y[:, None].astype(float)},
                untrained={0: states}, solver=solver)
    res = run.scores
    # outer folds once; inner folds once per outer fold and label vector (task, control), for every site and copy
    assert len(outer) == 1 and len(inner) == 2 * 3
    assert not np.array_equal(inner[0][0], inner[3][0])  # the control task's labels on the same outer fold
    assert [r.site for r in res.sites] == ["text.embed", "text.block.0"]
    noise, informative = res.sites
    assert informative.accuracy > 0.95 and abs(noise.accuracy - 0.5) < 0.15
    assert res.site("text.block.0") is informative
    for r in res.sites:
        assert r.ci_low <= r.accuracy <= r.ci_high
        assert r.untrained_accuracy == r.accuracy and r.untrained_gain == 0 and r.gain_ci_low == r.gain_ci_high == 0
        np.testing.assert_array_equal(run.correct[r.site], run.untrained[0][r.site])
        assert run.correct[r.site].mean() == r.accuracy and run.control[r.site].mean() == r.control_accuracy
    assert res.baselines["label_copy"].accuracy == 1.0
    assert (res.samples, res.groups, res.chance) == (2 * N_GROUPS, N_GROUPS, 0.5)


def test_explicit_splits_give_the_same_sweep(data):
    states, y, groups, texts = data
    implicit = sweep(states, y, groups, texts, folds=3, n_boot=100, seed=1)
    explicit = sweep(states, y, groups, texts, n_boot=100, seed=1, splits=grouped_splits(y, groups, 3, 1))
    assert explicit.scores == implicit.scores


def test_mismatched_rows_name_the_input(data):
    states, y, groups, texts = data
    with pytest.raises(ValueError, match="control units; give one of each per row"):
        sweep(states, y, groups[:-1], texts)
    with pytest.raises(ValueError, match="states 'short' have 3 rows"):
        sweep({"short": np.zeros((3, 2))}, y, groups, texts, folds=3)


def test_untrained_states_enter_selectivity_and_seeds_average(data):
    states, y, groups, texts = data
    # an "untrained copy" that keeps the informative feature: the trained site gains nothing over it
    untrained = {"text.embed": states["text.embed"], "text.block.0": states["text.block.0"][:, ::-1].copy()}
    runs = [sweep(states, y, groups, texts, folds=3, n_boot=50, seed=s, untrained={7: untrained}).scores for s in (0, 1)]
    for run in runs:
        row = run.site("text.block.0")
        assert row.untrained_accuracy > 0.95 and abs(row.untrained_gain) < 0.05
        assert row.selectivity == pytest.approx(row.accuracy - max(row.control_accuracy, row.untrained_accuracy))
    merged = sweep_module.merge_seeds(runs)
    assert merged.seeds == [0, 1]
    for k, row in enumerate(merged.sites):
        values = [r.sites[k].accuracy for r in runs]
        assert row.accuracy == pytest.approx(np.mean(values)) and row.accuracy_std == pytest.approx(np.std(values, ddof=1))
        assert row.selectivity == pytest.approx(np.mean([r.sites[k].selectivity for r in runs]))


def test_both_solvers_give_the_same_sweep(data):
    states, y, groups, texts = data
    untrained = {site: X[:, ::-1].copy() for site, X in states.items()}
    a, b = (sweep(states, y, groups, texts, folds=3, n_boot=50, untrained={0: untrained}, solver=s).scores
            for s in ("sklearn", "torch"))
    for ra, rb in zip(a.sites, b.sites):
        assert ra.C == rb.C
        for field in ("accuracy", "control_accuracy", "untrained_accuracy"):
            assert getattr(ra, field) == pytest.approx(getattr(rb, field), abs=1e-3)


def test_untrained_copies_give_a_mean_a_spread_and_a_paired_interval_over_images(data):
    states, y, groups, units = data
    rng = np.random.default_rng(5)
    keeps = {"text.embed": states["text.embed"], "text.block.0": states["text.block.0"]}
    noise = {site: rng.normal(size=X.shape) for site, X in states.items()}
    images = groups // 2  # two caption groups per image
    run = sweep(states, y, groups, units, images=images, folds=3, n_boot=200, untrained={0: keeps, 1: noise})
    row = run.scores.site("text.block.0")
    assert row.untrained_copies[0] > 0.95 and abs(row.untrained_copies[1] - 0.5) < 0.2
    assert row.untrained_accuracy == pytest.approx(np.mean(row.untrained_copies))
    assert row.untrained_std == pytest.approx(np.std(row.untrained_copies, ddof=1))
    assert 0 < row.gain_ci_low <= row.untrained_gain <= row.gain_ci_high
    assert run.scores.images == N_GROUPS // 2
