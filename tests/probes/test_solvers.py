"""The regularisation paths: scikit-learn's warm-started `LogisticRegression` is `LogisticRegressionCV`'s own path,
and the batched torch Newton solver follows it, in batches, on threads and past the points where Newton gives up."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegressionCV

from negscope.probes import solvers
from negscope.probes.linear import DEFAULT_CS

CS = np.array(DEFAULT_CS)


def problem(rng, rows, width, signal=1.0):
    y = np.arange(rows) % 2
    X = rng.normal(size=(rows, width))
    X[:, 0] += signal * (2 * y - 1)
    return X, y.astype(float)


@pytest.fixture(scope="module")
def problems():
    rng = np.random.default_rng(0)
    return [problem(rng, 40, 3), problem(rng, 31, 3, signal=0.3), problem(rng, 25, 5), problem(rng, 60, 5, signal=0.0)]


def test_sklearn_path_is_the_path_of_logistic_regression_cv():
    X, y = problem(np.random.default_rng(1), 50, 4, signal=0.5)
    train, test = np.arange(35), np.arange(35, 50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cv = LogisticRegressionCV(Cs=list(CS), cv=[(train, test)], l1_ratios=(0.0,), solver="newton-cholesky",
                                  scoring="accuracy", use_legacy_attributes=False).fit(X, y)
    ours = solvers.sklearn_path([(X[train], y[train])], CS[:, None])[0][0]
    np.testing.assert_allclose(ours, cv.coefs_paths_[0, 0, :, 0, :], rtol=0, atol=1e-12)


def test_torch_path_follows_sklearn_path_with_mixed_shapes_cs_and_starts(problems):
    Cs = np.stack([CS, CS[::-1], CS, np.full(len(CS), 0.5)], axis=1)  # one C per step and problem
    init = [np.full(X.shape[1] + 1, 0.1) for X, _ in problems]
    for start in (None, init):
        expected, _ = solvers.sklearn_path(problems, Cs, start)
        for ours, theirs in zip(solvers.torch_path(problems, Cs, start)[0], expected):
            assert ours.shape == theirs.shape
            np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-8)


def test_torch_batches_and_threads_do_not_change_the_coefficients(problems, monkeypatch):
    whole, _ = solvers.torch_path(problems, np.repeat(CS[:, None], len(problems), 1))
    monkeypatch.setattr(solvers, "BATCH_VALUES", 1)  # one problem per batch
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        split, _ = solvers.torch_path(problems, np.repeat(CS[:, None], len(problems), 1))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    for a, b in zip(whole, split):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def test_torch_hands_a_solve_to_sklearn_where_newton_gives_up(monkeypatch):
    X, y = problem(np.random.default_rng(2), 40, 2)
    # so large a start that most pointwise Hessian terms underflow to 0: scikit-learn turns to L-BFGS at once
    start, Cs = [np.array([1000.0, 0.0, 0.0])], np.array([[1.0], [10.0]])
    theirs = solvers.sklearn_path([(X, y)], Cs, start)[0][0]
    calls = []
    fits = solvers._sklearn_fits
    monkeypatch.setattr(solvers, "_sklearn_fits", lambda *a: calls.append(a[1].tolist()) or fits(*a))
    ours = solvers.torch_path([(X, y)], Cs, start)[0][0]
    assert calls == [[[1.0]]]
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


@pytest.mark.parametrize("path", [solvers.sklearn_path, solvers.torch_path])
def test_solves_that_run_out_of_iterations_are_counted_not_printed(problems, path):
    Cs = np.array([[1e-4, 1e-4], [1e6, 1e6]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        _, capped = path(problems[:2], Cs, max_iter=1)
        _, converged = path(problems[:2], Cs)
    assert capped[0] >= 1 and converged == [0, 0]
