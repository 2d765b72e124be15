"""L2 logistic regression along a regularisation path: scikit-learn's Newton-Cholesky, or the same algorithm batched in torch.

Both solve a list of binary problems (X, y in {0, 1}) at a sequence of C values per problem, each solve starting
from the previous solution (or from `init` for the first), and return the coefficients with the intercept last,
and per problem how many of its solves stopped at the iteration cap (counted, never printed as warnings).
The objective is scikit-learn's: mean log-loss + ||w||² / (2 C n), the intercept unpenalised.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from sklearn import config_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

TOL = 1e-4  # scikit-learn's default for LogisticRegression and LogisticRegressionCV
# a torch batch holds at most this many float64 values in its features and Hessians; one batch runs per torch thread
BATCH_VALUES = 2**24


Path = tuple[list[np.ndarray], list[int]]


def sklearn_path(problems: Sequence[tuple[np.ndarray, np.ndarray]], Cs: np.ndarray, init: Sequence[np.ndarray] | None = None,
                 max_iter: int = 1000) -> Path:
    """Per problem, (steps, width + 1) coefficients: `LogisticRegression(solver="newton-cholesky")` warm-started
    along `Cs[:, p]`, as `LogisticRegressionCV` solves its path; and per problem the solves that did not converge."""
    with threadpool_limits(limits=1):  # small dense problems: BLAS threads cost far more than they give
        return _sklearn_fits(problems, Cs, init, max_iter)


def _sklearn_fits(problems, Cs: np.ndarray, init, max_iter: int) -> Path:
    out, unconverged = [], []
    with (config_context(assume_finite=True, skip_parameter_validation=True),  # the callers check their inputs
          warnings.catch_warnings()):
        warnings.simplefilter("ignore", ConvergenceWarning)  # counted from n_iter_ instead
        for p, (X, y) in enumerate(problems):
            model = LogisticRegression(solver="newton-cholesky", warm_start=True, max_iter=max_iter, tol=TOL)
            if init is not None:  # warm_start starts from the fitted attributes, so set them
                model.coef_, model.intercept_ = init[p][None, :-1].copy(), init[p][-1:].copy()
            coefs, capped = np.empty((len(Cs), X.shape[1] + 1)), 0
            for k, C in enumerate(Cs[:, p]):
                model.set_params(C=float(C)).fit(X, y)
                coefs[k, :-1], coefs[k, -1] = model.coef_[0], model.intercept_[0]
                capped += int(model.n_iter_[0] >= max_iter)
            out.append(coefs)
            unconverged.append(capped)
    return out, unconverged


def torch_path(problems: Sequence[tuple[np.ndarray, np.ndarray]], Cs: np.ndarray, init: Sequence[np.ndarray] | None = None,
               max_iter: int = 1000) -> Path:
    """`sklearn_path` by scikit-learn's Newton-Cholesky algorithm (same steps, line search and stopping rule), batched
    in torch over problems of one width, each batch at most `BATCH_VALUES` values.

    The batches run side by side on Python threads, one per torch thread, each with a single-threaded torch: on
    shared cores, torch's own threads wait on each other at every operation (three times slower when measured).
    """
    workers = torch.get_num_threads()
    widths = np.array([X.shape[1] for X, _ in problems])
    chunks = []
    for width in np.unique(widths):
        same = np.flatnonzero(widths == width)
        rows = max(len(problems[p][0]) for p in same)
        size = max(1, min(BATCH_VALUES // ((rows + width + 1) * (width + 1)), -(-len(same) // workers)))
        chunks += np.array_split(same, -(-len(same) // size))

    def solve(chunk: np.ndarray) -> np.ndarray:
        return _newton_batch([problems[p] for p in chunk], Cs[:, chunk],
                             None if init is None else np.stack([init[p] for p in chunk]), max_iter)

    out: list[np.ndarray] = [np.empty(0)] * len(problems)
    unconverged = [0] * len(problems)
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1), ThreadPoolExecutor(workers) as pool:
            for chunk, (coefs, capped) in zip(chunks, pool.map(solve, chunks)):
                for k, p in enumerate(chunk):
                    out[p], unconverged[p] = coefs[:, k], int(capped[k])
    finally:
        torch.set_num_threads(workers)
    return out, unconverged


def _stack(problems: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Zero-padded rows (B, n, width + 1) with a ones column for the intercept, labels (B, n) and row masks (B, n)."""
    rows = max(len(X) for X, _ in problems)
    X = torch.zeros(len(problems), rows, problems[0][0].shape[1] + 1, dtype=torch.float64)
    y = torch.zeros(len(problems), rows, dtype=torch.float64)
    mask = torch.zeros(len(problems), rows, dtype=torch.float64)
    for b, (Xb, yb) in enumerate(problems):
        X[b, : len(Xb), :-1] = torch.from_numpy(np.asarray(Xb, dtype=np.float64))
        X[b, : len(Xb), -1] = 1.0
        y[b, : len(Xb)] = torch.from_numpy(np.asarray(yb, dtype=np.float64))
        mask[b, : len(Xb)] = 1.0
    return X, y, mask


class _Batch:
    """Some of the problems of one solve: their rows, labels, row masks, row counts and L2 strengths."""

    def __init__(self, X: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, lam: torch.Tensor) -> None:
        self.X, self.y, self.mask, self.lam = X, y, mask, lam
        self.n = mask.sum(1)
        self.pen = torch.ones(X.shape[2], dtype=X.dtype)
        self.pen[-1] = 0.0  # the intercept is not penalised

    def subset(self, index: torch.Tensor) -> _Batch:
        return _Batch(self.X[index], self.y[index], self.mask[index], self.lam[index])

    def raw(self, w: torch.Tensor) -> torch.Tensor:
        return (self.X @ w.unsqueeze(-1)).squeeze(-1)

    def loss(self, w: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        pointwise = (torch.logaddexp(z, torch.zeros_like(z)) - self.y * z) * self.mask
        return pointwise.sum(1) / self.n + 0.5 * self.lam * (w * w * self.pen).sum(1)

    def gradient(self, w: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        r = (torch.sigmoid(z) - self.y) * self.mask / self.n[:, None]
        return (r.unsqueeze(1) @ self.X).squeeze(1) + self.lam[:, None] * self.pen * w

    def hessian(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The Hessian, and where scikit-learn would give up Newton: over a quarter of the pointwise terms are 0."""
        e = torch.exp(-z.abs())
        h = e / (1 + e) ** 2 * self.mask / self.n[:, None]  # scikit-learn's form: 0 only once exp underflows
        hess = (self.X * h.unsqueeze(-1)).mT @ self.X
        hess.diagonal(dim1=1, dim2=2).add_(self.lam[:, None] * self.pen)
        return hess, ((h <= 0) & (self.mask > 0)).sum(1) > 0.25 * self.n


def _newton_batch(problems, Cs: np.ndarray, init: np.ndarray | None, max_iter: int) -> tuple[np.ndarray, np.ndarray]:
    """(steps, problems, width + 1) coefficients of problems of one width, solved together step by step, and per
    problem the solves that did not converge."""
    X, y, mask = _stack(problems)
    w = torch.zeros(X.shape[0], X.shape[2], dtype=torch.float64) if init is None else torch.from_numpy(init.copy())
    out, capped = [], np.zeros(len(w), dtype=int)
    for C in torch.from_numpy(np.asarray(Cs, dtype=np.float64)):
        batch = _Batch(X, y, mask, 1.0 / (C * mask.sum(1)))
        start = w.clone()
        z = batch.raw(w)
        loss, grad = batch.loss(w, z), batch.gradient(w, z)
        active, handoff = torch.arange(len(w)), []
        for _ in range(max_iter):  # like scikit-learn, every solve takes at least one Newton step
            sub = batch if len(active) == len(w) else batch.subset(active)
            w[active], z[active], loss[active], grad[active], converged, stuck = _newton_step(
                sub, w[active], z[active], loss[active], grad[active])
            handoff += active[stuck].tolist()
            active = active[~(converged | stuck)]
            if len(active) == 0:
                break
        else:
            capped[active.numpy()] += 1
        for p in handoff:  # where scikit-learn turns to L-BFGS, it solves this C itself
            (coefs,), (stopped,) = _sklearn_fits([problems[p]], C[p].reshape(1, 1).numpy(), [start[p].numpy()], max_iter)
            w[p], capped[p] = torch.from_numpy(coefs[0]), capped[p] + stopped
        out.append(w.clone())
    return torch.stack(out).numpy(), capped


def _newton_step(batch: _Batch, w, z, loss, grad) -> tuple[torch.Tensor, ...]:
    """One Newton step with scikit-learn's backtracking line search: the new coefficients, raw predictions, loss and
    gradient, which problems converged and which are stuck where scikit-learn would turn to L-BFGS."""
    hess, flat = batch.hessian(z)
    step = torch.linalg.solve(hess, -grad.unsqueeze(-1)).squeeze(-1)
    slope = (grad * step).sum(1)
    z_step = (batch.X @ step.unsqueeze(-1)).squeeze(-1)
    t = torch.ones_like(loss)
    new_w, new_z, new_loss = w.clone(), z.clone(), loss.clone()
    descent = ~flat & (slope <= 0)  # false too where the step is not finite
    searching = descent.clone()
    for _ in range(21):
        cand_w, cand_z = w + t[:, None] * step, z + t[:, None] * z_step
        cand_loss = batch.loss(cand_w, cand_z)
        change = cand_loss - loss
        accept = searching & (change <= t * 2.0**-11 * slope)
        tiny = searching & ~accept & (change.abs() <= (loss * 16 * torch.finfo(torch.float64).eps).abs())
        if tiny.any():  # a change at rounding level: accept if the gradient shrinks
            accept |= tiny & (batch.gradient(cand_w, cand_z).abs().sum(1) < grad.abs().sum(1))
        new_w[accept], new_z[accept], new_loss[accept] = cand_w[accept], cand_z[accept], cand_loss[accept]
        searching &= ~accept
        if not searching.any():
            break
        t = torch.where(searching, t / 2, t)
    new_grad = batch.gradient(new_w, new_z)
    decrement = 0.5 * (step.unsqueeze(1) @ hess @ step.unsqueeze(-1)).reshape(-1)
    converged = (new_grad.abs().amax(1) <= TOL) & (decrement <= TOL)
    return new_w, new_z, new_loss, new_grad, converged, ~descent | searching
