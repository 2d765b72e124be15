"""Probe evaluation: grouped and nested splits, a `LogisticRegressionCV` cross-check of both solvers, the fit in
the row space, intervals over images and the control task."""

import importlib

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from negscope.probes import (
    LinearProbe,
    control_labels,
    cross_validate,
    grouped_splits,
    negated_task,
    nested_folds,
    scope_position_task,
    scope_task,
)
from negscope.probes.linear import DEFAULT_CS

SOLVERS = ["sklearn", "torch"]


@pytest.mark.parametrize("builder", [negated_task, scope_task, scope_position_task])
def test_no_group_on_both_sides_of_any_split(small_world, builder):
    task = builder(small_world, captions_per_image=3)
    y, groups = np.array(task.labels), np.array(task.groups)
    outer = grouped_splits(y, groups, folds=3)
    assert sorted(np.concatenate([test for _, test in outer]).tolist()) == list(range(len(y)))
    for train, test in outer:
        assert not set(groups[train]) & set(groups[test])
        for itrain, itest in grouped_splits(y[train], groups[train], folds=3, seed=1):
            assert not set(groups[train][itrain]) & set(groups[train][itest])


def reference(X, y, groups, splits, inner_splits=None):
    """The plain probe: per outer split, `LogisticRegressionCV` on inner splits made from that split; (hits, Cs)."""
    hits, chosen = 0, []
    for k, (train, test) in enumerate(splits):
        inner = inner_splits[k] if inner_splits else list(
            StratifiedGroupKFold(n_splits=3, shuffle=True, random_state=0).split(X[train], y[train], groups[train]))
        model = make_pipeline(
            StandardScaler(),
            LogisticRegressionCV(Cs=list(DEFAULT_CS), cv=inner, l1_ratios=(0.0,), scoring="accuracy",
                                 solver="newton-cholesky", max_iter=1000, use_legacy_attributes=False),
        ).fit(X[train].astype(np.float64), y[train])
        hits += int((model.predict(X[test].astype(np.float64)) == y[test]).sum())
        chosen.append(float(model[-1].C_))
    return hits, chosen


@pytest.mark.parametrize("solver", SOLVERS)
def test_matches_scikit_learn_on_output_hidden_states(tiny, small_world, solver):
    task = negated_task(small_world, captions_per_image=5)
    tokens = tiny.tokenize(task.texts)
    with torch.inference_mode():
        hidden = tiny.model.text_model(**tokens, output_hidden_states=True).hidden_states[2]
    eos = tokens["attention_mask"].sum(1) - 1
    X = hidden[torch.arange(len(task.texts)), eos].numpy()
    y, groups = np.array(task.labels), np.array(task.groups)
    splits = grouped_splits(y, groups, folds=4)
    ours = cross_validate([(X, nested_folds(y, groups, splits))], LinearProbe(solver=solver), n_boot=100)[0]

    hits, chosen = reference(X, y, groups, splits)
    assert ours.chosen_C == chosen
    assert ours.accuracy == pytest.approx(hits / len(y))
    assert ours.ci_low <= ours.accuracy <= ours.ci_high


@pytest.mark.parametrize("solver", SOLVERS)
def test_nested_folds_serve_every_feature_set_with_the_reference_choices(solver):
    rng = np.random.default_rng(1)
    groups = np.repeat(np.arange(30), 2)
    y = np.tile([0, 1], 30)
    weak = np.c_[0.6 * y + rng.normal(size=60), rng.normal(size=(60, 3))]  # a weak signal: C is not always an end
    feature_sets = [weak, rng.normal(size=(60, 6)), np.c_[y + rng.normal(scale=0.3, size=60), rng.normal(size=60)]]
    folds = nested_folds(y, groups, grouped_splits(y, groups, folds=3), seed=0)
    scores = cross_validate([(X, folds) for X in feature_sets], LinearProbe(solver=solver), n_boot=50)
    for X, score in zip(feature_sets, scores):
        hits, chosen = reference(X, y, groups, folds.outer, folds.inner)
        assert score.chosen_C == chosen and score.correct.sum() == hits
    # some choice lies inside the grid, so agreeing is more than agreeing on the tie-break at an end
    assert any(min(DEFAULT_CS) < c < max(DEFAULT_CS) for score in scores for c in score.chosen_C)


def test_an_inner_split_with_one_class_predicts_that_class_as_logistic_regression_cv_does():
    rng = np.random.default_rng(0)
    groups = np.arange(40) // 2
    y = (groups == 0).astype(int)  # one group of the second class: some inner training split lacks it
    X = rng.normal(size=(40, 3)) + 2 * y[:, None]
    inner = grouped_splits(y, groups, 3, 0)
    assert any(len(np.unique(y[train])) == 1 for train, _ in inner)
    expected = reference(X, y, groups, [(np.arange(40), np.arange(40))], [inner])
    for solver in SOLVERS:
        probe = LinearProbe(solver=solver).fit(X, y, groups)
        assert ((probe.predict(X) == y).sum(), [probe.C_]) == expected


@pytest.mark.parametrize("solver", SOLVERS)
def test_probe_is_an_estimator_with_score(solver):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    y = (X[:, 0] > 0).astype(int)
    probe = LinearProbe(solver=solver).fit(X, y, groups=np.arange(120) // 2)
    assert probe.score(X, y) > 0.9 and probe.C_ in DEFAULT_CS
    assert np.array_equal(probe.predict(X), probe.decision_function(X) > 0)
    with pytest.raises(ValueError, match="one class"):
        LinearProbe(solver=solver).fit(X, np.zeros(120, dtype=int))
    with pytest.raises(ValueError, match="probes are binary"):
        LinearProbe(solver=solver).fit(X, np.arange(120) % 3)
    with pytest.raises(ValueError, match="caption groups"):
        LinearProbe(solver=solver).fit(X[:8], y[:8], groups=np.arange(8) // 4)
    with pytest.raises(ValueError, match="caption groups"):
        grouped_splits(y[:4], np.arange(4), folds=5)
    with pytest.raises(ValueError, match="one class"):
        cross_validate([(X, nested_folds(np.zeros(120), np.arange(120), grouped_splits(y, np.arange(120))))])
    with pytest.raises(ValueError, match="NaN or infinite"):
        LinearProbe(solver=solver).fit(np.where(X > 2, np.nan, X), y)
    with pytest.raises(ValueError, match="'lbfgs' is not one of sklearn, torch"):
        LinearProbe(solver="lbfgs").fit(X, y)


def test_predict_before_fit_raises_not_fitted():
    with pytest.raises(NotFittedError, match="LinearProbe"):
        LinearProbe().predict(np.zeros((2, 3)))


def test_control_labels_are_one_random_label_per_unit():
    types = ["a", "b", "a", "c", "b", "a"] * 30
    y = np.array([0, 1] * 90)
    ctrl = control_labels(types, y, seed=3)
    for t in set(types):
        assert len({ctrl[i] for i, s in enumerate(types) if s == t}) == 1
    many = control_labels([str(i) for i in range(2000)], np.array([0, 1, 1, 1] * 500), seed=0)
    assert abs(many.mean() - 0.75) < 0.001
    # few units of unequal size: each label still covers about its share of rows in the task, within one unit
    units = np.repeat(["a", "b", "c", "d", "e"], [50, 10, 30, 70, 40])
    for seed in range(5):
        few = control_labels(units, np.array([0, 1] * 100), seed)
        assert abs(few.mean() - 0.5) <= 70 / 200 / 2 + 1e-9 and len(set(few)) == 2
    np.testing.assert_array_equal(ctrl, control_labels(types, y, seed=3))


def _control_accuracy(X, units, y, groups, seed=0):
    folds = nested_folds(control_labels(units, y, seed), groups, grouped_splits(y, groups, 5, seed), seed=seed)
    return cross_validate([(X, folds)], LinearProbe(seed=seed), n_boot=50, seed=seed)[0].accuracy


def test_the_control_task_can_be_learned_and_can_fail():
    # units recur across caption groups, as object names do across images; the task's labels are balanced
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(120), 2)
    y = np.tile([0, 1], 120)
    units = np.array([f"unit{k}" for k in rng.integers(0, 12, size=len(y))])
    one_hot = (units[:, None] == np.unique(units)[None, :]).astype(float)
    noise = rng.normal(size=one_hot.shape)
    for seed in (0, 1):
        ctrl = control_labels(units, y, seed)
        chance = max(ctrl.mean(), 1 - ctrl.mean())  # the majority rate of the control labels
        assert chance < 0.6  # the labels dealt over the 12 units cover about half the rows each
        assert _control_accuracy(one_hot, units, y, groups, seed) > 0.95  # a representation that memorises units learns it
        assert _control_accuracy(noise, units, y, groups, seed) < chance + 0.05  # one that does not stays at chance


def test_fits_in_the_row_space_match_fits_in_feature_space(monkeypatch):
    linear = importlib.import_module("negscope.probes.linear")
    rng = np.random.default_rng(3)
    y = np.arange(40) % 2
    X = rng.normal(size=(40, 200))
    X[:, 0] += 0.8 * (2 * y - 1)
    reduced = LinearProbe(Cs=(1e-3, 1e-2, 1e-1, 1.0)).fit(X, y)
    monkeypatch.setattr(linear, "_row_space", lambda Z: None)
    full = LinearProbe(Cs=(1e-3, 1e-2, 1e-1, 1.0)).fit(X, y)
    assert reduced.C_ == full.C_
    np.testing.assert_allclose(reduced.decision_function(X), full.decision_function(X), rtol=1e-3, atol=1e-3)


def test_accuracy_intervals_resample_whole_images():
    y = np.tile([0, 1], 100)
    groups = np.arange(len(y)) // 2
    flipped = np.random.default_rng(0).random(20)[groups // 5] < 0.3  # the feature lies on whole images: errors cluster
    X = np.where(flipped, 1 - y, y)[:, None] + 0.1 * np.random.default_rng(1).normal(size=(len(y), 1))
    outer = grouped_splits(y, groups, 5)
    by_group = cross_validate([(X, nested_folds(y, groups, outer))], n_boot=500)[0]
    by_image = cross_validate([(X, nested_folds(y, groups, outer, images=groups // 5))], n_boot=500)[0]
    assert by_image.accuracy == by_group.accuracy
    assert by_image.ci_high - by_image.ci_low > by_group.ci_high - by_group.ci_low
