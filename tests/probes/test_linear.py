"""Probe evaluation: grouped splits, a scikit-learn cross-check, bootstrap intervals and the control task."""

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
    bootstrap_ci,
    control_labels,
    cross_validate,
    grouped_splits,
    negated_task,
    scope_position_task,
    scope_task,
)
from negscope.probes.linear import DEFAULT_CS


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


def test_matches_scikit_learn_on_output_hidden_states(tiny, small_world):
    task = negated_task(small_world, captions_per_image=5)
    tokens = tiny.tokenize(task.texts)
    with torch.inference_mode():
        hidden = tiny.model.text_model(**tokens, output_hidden_states=True).hidden_states[2]
    eos = tokens["attention_mask"].sum(1) - 1
    X = hidden[torch.arange(len(task.texts)), eos].numpy()
    y, groups = np.array(task.labels), np.array(task.groups)
    splits = grouped_splits(y, groups, folds=4)
    ours = cross_validate(X, y, groups, splits, n_boot=100)

    hits = 0
    for train, test in splits:
        inner = StratifiedGroupKFold(n_splits=3, shuffle=True, random_state=0).split(X[train], y[train], groups[train])
        model = make_pipeline(
            StandardScaler(),
            LogisticRegressionCV(Cs=list(DEFAULT_CS), cv=list(inner), l1_ratios=(0.0,), scoring="accuracy",
                                 max_iter=1000, use_legacy_attributes=False),
        ).fit(X[train].astype(np.float64), y[train])
        hits += int((model.predict(X[test].astype(np.float64)) == y[test]).sum())
    assert ours.accuracy == pytest.approx(hits / len(y))
    assert ours.ci_low <= ours.accuracy <= ours.ci_high


def test_probe_is_an_estimator_with_score():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    y = (X[:, 0] > 0).astype(int)
    probe = LinearProbe().fit(X, y, groups=np.arange(120) // 2)
    assert probe.score(X, y) > 0.9 and probe.C_ in DEFAULT_CS
    with pytest.raises(ValueError, match="one class"):
        LinearProbe().fit(X, np.zeros(120, dtype=int))
    with pytest.raises(ValueError, match="caption groups"):
        grouped_splits(y[:4], np.arange(4), folds=5)


def test_predict_before_fit_raises_not_fitted():
    with pytest.raises(NotFittedError, match="LinearProbe"):
        LinearProbe().predict(np.zeros((2, 3)))


def test_bootstrap_resamples_whole_groups():
    correct = np.array([1, 1, 0, 0] * 50, dtype=bool)
    lo_rows, hi_rows = bootstrap_ci(correct, np.arange(200), n_boot=2000)
    lo_pairs, hi_pairs = bootstrap_ci(correct, np.arange(200) // 2, n_boot=2000)
    assert lo_rows < 0.5 < hi_rows and lo_pairs < 0.5 < hi_pairs
    assert hi_pairs - lo_pairs > 1.2 * (hi_rows - lo_rows)
    assert bootstrap_ci(np.ones(10, dtype=bool), np.arange(10)) == (1.0, 1.0)


def test_control_labels_are_one_random_label_per_caption_type():
    types = ["a", "b", "a", "c", "b", "a"] * 30
    y = np.array([0, 1] * 90)
    ctrl = control_labels(types, y, seed=3)
    for t in set(types):
        assert len({ctrl[i] for i, s in enumerate(types) if s == t}) == 1
    many = control_labels([str(i) for i in range(2000)], np.array([0, 1, 1, 1] * 500), seed=0)
    assert 0.7 < many.mean() < 0.8
    np.testing.assert_array_equal(ctrl, control_labels(types, y, seed=3))
