r"""Linear regression ``y = b + Σ_j w_j x_j`` (seed 004, lecture 1: predicting tomorrow's
views of the channel from earlier days), fitted two ways:

* ``solver='lstsq'`` — the closed form of the mean squared error
  ``L(w, b) = (1/N) Σ_n (y^n − b − w·x^n)²``: the least-squares solution of ``[X 1] θ ≈ y``
  by ``numpy.linalg.lstsq`` (an SVD: stable when columns are nearly collinear, as lagged
  days are; the normal equations ``(AᵀA)⁻¹Aᵀy`` square the condition number and are not used);
* ``solver='gd'`` — gradient descent as in the lecture, ``w ← w − η ∂L/∂w``,
  ``b ← b − η ∂L/∂b``, on the mean absolute error ``L = (1/N) Σ_n |y^n − ŷ^n|`` (the
  lecture's loss, "mean absolute error") or the mean squared error, with the library's engine
  and optimizers.  MAE has no closed form.

``score`` is R², as in scikit-learn; :meth:`LinearRegression.mae` and
:meth:`LinearRegression.mse` give the lecture's losses.
"""
from __future__ import annotations

import numpy as np

from ._engine_fit import gradient_descent
from ._validation import as_features, as_targets, check_fitted

LOSSES = ("mse", "mae")
SOLVERS = ("lstsq", "gd")


class LinearRegression:
    """Least squares (closed form) or gradient descent on MSE / MAE (module docstring).

    Args:
        solver: ``'lstsq'`` (closed form, MSE only) or ``'gd'``.
        loss: ``'mse'`` or ``'mae'`` (``'mae'`` needs ``solver='gd'``).
        fit_intercept: learn the bias b (else b = 0).
        optimizer, lr, max_steps, tol, batch_size, seed, optimizer_kwargs: for
            ``solver='gd'``, as in :class:`~deeprecipe.classic.LogisticRegression`
            (the weights start at zero).  Standardize features of different scales first.

    Fitted: ``coef_`` (d,), ``intercept_`` (float); with gd also ``loss_curve_``,
    ``n_iter_``, ``converged_``, ``grad_max_``; with lstsq ``rank_`` and ``singular_``.
    """

    def __init__(self, solver: str = "lstsq", loss: str = "mse", fit_intercept: bool = True,
                 optimizer: str = "sgd", lr: float = 0.1, max_steps: int = 5000, tol: float = 1e-8,
                 batch_size: int | None = None, seed: int = 0, optimizer_kwargs=None):
        if solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
        if solver == "lstsq" and loss != "mse":
            raise ValueError(f"loss={loss!r} has no closed form: use solver='gd' (gradient descent) for MAE")
        self.solver, self.loss, self.fit_intercept = solver, loss, bool(fit_intercept)
        self.optimizer, self.lr, self.max_steps, self.tol = optimizer, lr, max_steps, float(tol)
        self.batch_size, self.seed = batch_size, int(seed)
        self.optimizer_kwargs = dict(optimizer_kwargs or {})
        self.coef_ = None

    def fit(self, x, y) -> LinearRegression:
        """Fit on ``x`` (N, d) and targets ``y`` (N,); returns ``self``."""
        x = as_features(x)
        y = as_targets(y, len(x))
        self.n_features_in_ = x.shape[1]
        if self.solver == "lstsq":
            a = np.hstack([x, np.ones((len(x), 1))]) if self.fit_intercept else x
            theta, _, self.rank_, self.singular_ = np.linalg.lstsq(a, y, rcond=None)
            self.coef_ = theta[:x.shape[1]].copy()
            self.intercept_ = float(theta[-1]) if self.fit_intercept else 0.0
            return self
        return self._fit_gd(x, y)

    def _fit_gd(self, x, y):
        from .. import F, Parameter, Tensor
        w = Parameter(np.zeros((1, x.shape[1])), name="weight")
        params = [w]
        b = None
        if self.fit_intercept:
            b = Parameter(np.zeros(1), name="bias")
            params.append(b)
        xt, yt = Tensor(x), y[:, None]
        loss_of = F.mse_loss if self.loss == "mse" else F.l1_loss

        def loss_fn(index):
            xb, tb = (xt, yt) if index is None else (x[index], yt[index])
            return loss_of(F.linear(xb, w, b), tb)

        r = gradient_descent(params, loss_fn, len(x), self.optimizer, self.lr, self.max_steps, self.tol,
                             self.batch_size, self.seed, self.optimizer_kwargs)
        self.coef_ = np.array(w.data[0])
        self.intercept_ = float(b.data[0]) if b is not None else 0.0
        self.loss_curve_, self.n_iter_ = r["loss_curve"], r["n_iter"]
        self.converged_, self.grad_max_ = r["converged"], r["grad_max"]
        return self

    def predict(self, x) -> np.ndarray:
        """``b + x·w``, shape (N,)."""
        check_fitted(self, "coef_")
        x = as_features(x, n_features=self.n_features_in_)
        return x @ self.coef_ + self.intercept_

    def mae(self, x, y) -> float:
        """Mean absolute error (1/N) Σ |y − ŷ| — the lecture's L."""
        pred = self.predict(x)
        return float(np.mean(np.abs(as_targets(y, len(pred)) - pred)))

    def mse(self, x, y) -> float:
        """Mean squared error (1/N) Σ (y − ŷ)²."""
        pred = self.predict(x)
        return float(np.mean((as_targets(y, len(pred)) - pred) ** 2))

    def score(self, x, y) -> float:
        """R² = 1 − Σ(y − ŷ)² / Σ(y − ȳ)², as scikit-learn's ``score``."""
        pred = self.predict(x)
        y = as_targets(y, len(pred))
        ss_tot = float(np.sum((y - y.mean()) ** 2))
        ss_res = float(np.sum((y - pred) ** 2))
        return 1.0 - ss_res / ss_tot if ss_tot > 0 else (1.0 if ss_res == 0 else 0.0)
