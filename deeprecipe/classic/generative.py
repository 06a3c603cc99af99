r"""Gaussian generative classifiers: Bayes' rule over class priors and Gaussian class
conditionals, all parameters by maximum likelihood (seed 002, "Classification").

The model (for classes :math:`C_1..C_K`)::

    P(C_k | x) = P(x | C_k) P(C_k) / Σ_j P(x | C_j) P(C_j)
    P(C_k)     = N_k / N                                         (class frequencies)
    P(x | C_k) = N(x; μ_k, Σ_k)
               = (2π)^{-d/2} |Σ_k|^{-1/2} exp(-½ (x - μ_k)ᵀ Σ_k⁻¹ (x - μ_k))

Maximum likelihood gives μ_k = the class mean and Σ_k = (1/N_k) Σ_{n∈C_k} (x_n - μ_k)(x_n - μ_k)ᵀ.

* ``GaussianGenerative(shared_cov=False)``: one Σ_k per class — a quadratic boundary,
  K·d(d+1)/2 covariance parameters (scikit-learn: ``QuadraticDiscriminantAnalysis``).
* ``GaussianGenerative(shared_cov=True)``: one Σ for all classes, the lecture's fix for
  overfitting; its maximum-likelihood estimate is the weighted average
  Σ = Σ_k (N_k/N) Σ_k.  The quadratic terms xᵀΣ⁻¹x cancel between classes, so
  (the seed's derivation)::

      P(C_1 | x) = σ(z),   z = ln [P(x|C_1) P(C_1) / (P(x|C_2) P(C_2))] = w·x + b,
      w = Σ⁻¹(μ_1 - μ_2),
      b = -½ μ_1ᵀΣ⁻¹μ_1 + ½ μ_2ᵀΣ⁻¹μ_2 + ln(N_1/N_2)

  — a linear boundary, exactly the form of logistic regression (for K > 2 classes: a
  softmax over the linear scores z_k = (Σ⁻¹μ_k)·x - ½μ_kᵀΣ⁻¹μ_k + ln P(C_k)).  This is
  scikit-learn's ``LinearDiscriminantAnalysis``; :meth:`GaussianGenerative.linear_coef`
  returns (w, b).
* ``GaussianNB``: every feature independent given the class (diagonal Σ_k), the naive
  Bayes classifier of the seed.

Densities are evaluated through a Cholesky factor (no explicit inverse) and posteriors with
a log-sum-exp, so they stay finite far from the class means.
"""
from __future__ import annotations

import math

import numpy as np

from ._validation import accuracy, as_features, as_labels, check_fitted

_LOG_2PI = math.log(2.0 * math.pi)


def _logsumexp(a: np.ndarray) -> np.ndarray:
    m = a.max(axis=1, keepdims=True)
    return (m + np.log(np.exp(a - m).sum(axis=1, keepdims=True)))[:, 0]


class _GaussianBase:
    """Shared parts: priors, ``predict_proba`` from the log joint ``ln P(x, C_k)``, ``score``."""

    classes_: np.ndarray | None = None

    def _fit_priors(self, x, y):
        x = as_features(x)
        self.classes_, idx = as_labels(y, len(x))
        counts = np.bincount(idx, minlength=len(self.classes_))
        self.class_count_ = counts.astype(np.int64)
        self.priors_ = counts / counts.sum()
        self.means_ = np.stack([x[idx == k].mean(axis=0) for k in range(len(self.classes_))])
        self.n_features_in_ = x.shape[1]
        return x, idx

    def _log_joint(self, x) -> np.ndarray:  # (N, K): ln N(x; μ_k, Σ_k) + ln P(C_k)
        raise NotImplementedError

    def predict_log_proba(self, x) -> np.ndarray:
        """``ln P(C_k | x)``, shape ``(N, K)`` (columns in the order of ``classes_``)."""
        check_fitted(self, "classes_")
        x = as_features(x, n_features=self.n_features_in_)
        joint = self._log_joint(x)
        return joint - _logsumexp(joint)[:, None]

    def predict_proba(self, x) -> np.ndarray:
        """Posterior ``P(C_k | x)`` by Bayes' rule, shape ``(N, K)``; rows sum to 1."""
        return np.exp(self.predict_log_proba(x))

    def predict(self, x) -> np.ndarray:
        """The class with the largest posterior, shape ``(N,)`` (values from ``classes_``)."""
        check_fitted(self, "classes_")
        x = as_features(x, n_features=self.n_features_in_)
        return self.classes_[np.argmax(self._log_joint(x), axis=1)]

    def score(self, x, y) -> float:
        """Mean accuracy on ``(x, y)``."""
        return accuracy(self, x, y)


def _cholesky(cov: np.ndarray, what: str, n: int) -> np.ndarray:
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        d = cov.shape[0]
        raise ValueError(
            f"the covariance of {what} is singular ({n} samples for {d} features, or a constant or "
            f"duplicated feature); use shared_cov=True, GaussianNB, or reg > 0 "
            f"(adds reg to the covariance diagonal)") from None


def _gaussian_log_density(x: np.ndarray, mean: np.ndarray, chol: np.ndarray) -> np.ndarray:
    """``ln N(x; mean, L Lᵀ)`` for rows of ``x`` ``(N, d)`` → ``(N,)``."""
    diff = (x - mean).T                                             # (d, N)
    z = np.linalg.solve(chol, diff)     # L⁻¹(x - μ) (NumPy has no triangular solve; SciPy is optional)
    maha = np.einsum("dn,dn->n", z, z)
    log_det = 2.0 * np.log(np.diag(chol)).sum()
    return -0.5 * (x.shape[1] * _LOG_2PI + log_det + maha)


class GaussianGenerative(_GaussianBase):
    """Gaussian class-conditional classifier fitted by maximum likelihood (module docstring).

    Args:
        shared_cov: one covariance Σ for all classes (linear boundary, σ(w·x + b)
            posterior) instead of one Σ_k per class (quadratic boundary).
        ddof: the covariance divisor is ``N_k - ddof`` per class (``N - K·ddof`` pooled).
            0 (default) is maximum likelihood, as in the lecture; scikit-learn's
            ``QuadraticDiscriminantAnalysis`` uses ddof=1 (and ``LinearDiscriminantAnalysis``
            ddof=0).
        reg: added to the covariance diagonal (0: none), for singular covariances.

    Fitted attributes: ``classes_`` (K,), ``class_count_`` (K,), ``priors_`` (K,) = N_k/N,
    ``means_`` (K, d), and ``covariance_`` (d, d) when shared or ``covariances_`` (K, d, d).
    """

    def __init__(self, shared_cov: bool = False, ddof: int = 0, reg: float = 0.0):
        if ddof not in (0, 1):
            raise ValueError(f"ddof must be 0 (maximum likelihood) or 1 (unbiased), got {ddof!r}")
        if not reg >= 0:
            raise ValueError(f"reg must be >= 0, got {reg!r}")
        self.shared_cov = bool(shared_cov)
        self.ddof = int(ddof)
        self.reg = float(reg)

    def fit(self, x, y) -> GaussianGenerative:
        """Maximum-likelihood priors, means and covariance(s) from ``x`` (N, d) and labels ``y`` (N,)."""
        x, idx = self._fit_priors(x, y)
        k, d = len(self.classes_), x.shape[1]
        scatter = []
        for c in range(k):
            diff = x[idx == c] - self.means_[c]
            scatter.append(diff.T @ diff)                            # Σ_n (x_n - μ_c)(x_n - μ_c)ᵀ
        eye = self.reg * np.eye(d)
        if self.shared_cov:
            denom = len(x) - k * self.ddof
            if denom <= 0:
                raise ValueError(f"too few samples ({len(x)}) for an unbiased pooled covariance of {k} classes")
            self.covariance_ = sum(scatter) / denom + eye
            self.covariances_ = None
            self._chol = [_cholesky(self.covariance_, "the classes (shared)", len(x))] * k
        else:
            covs = []
            for c in range(k):
                denom = self.class_count_[c] - self.ddof
                if denom <= 0:
                    raise ValueError(f"class {self.classes_[c]!r} has {self.class_count_[c]} sample(s): too few "
                                     f"for its own covariance with ddof={self.ddof}; use shared_cov=True")
                covs.append(scatter[c] / denom + eye)
            self.covariances_ = np.stack(covs)
            self.covariance_ = None
            self._chol = [_cholesky(covs[c], f"class {self.classes_[c]!r}", int(self.class_count_[c]))
                          for c in range(k)]
        return self

    def _log_joint(self, x):
        return np.stack([_gaussian_log_density(x, self.means_[c], self._chol[c]) + math.log(self.priors_[c])
                         for c in range(len(self.classes_))], axis=1)

    @property
    def n_parameters(self) -> int:
        """Free parameters: K-1 priors, K·d means, and d(d+1)/2 per covariance (1 shared or K)."""
        check_fitted(self, "classes_")
        k, d = len(self.classes_), self.n_features_in_
        n_cov = 1 if self.shared_cov else k
        return (k - 1) + k * d + n_cov * d * (d + 1) // 2

    def linear_coef(self):
        """The shared-Σ posterior as a linear model: ``(W, b)`` with ``P(C | x) = softmax(x Wᵀ + b)``.

        Two classes: ``W`` is ``(1, d)`` and ``b`` ``(1,)``, with
        ``P(classes_[1] | x) = σ(x·w + b)``, ``w = Σ⁻¹(μ_1 − μ_0)``,
        ``b = −½μ_1ᵀΣ⁻¹μ_1 + ½μ_0ᵀΣ⁻¹μ_0 + ln(N_1/N_0)`` (scikit-learn's ``coef_``,
        ``intercept_`` convention).  K > 2: ``W`` ``(K, d)`` rows ``Σ⁻¹μ_k``, ``b_k =
        −½μ_kᵀΣ⁻¹μ_k + ln P(C_k)``.  Only for ``shared_cov=True``: with one Σ_k per class
        the log-odds keep the quadratic term and are not linear.
        """
        check_fitted(self, "classes_")
        if not self.shared_cov:
            raise ValueError("linear_coef() needs shared_cov=True: with a covariance per class the "
                             "boundary is quadratic, not linear")
        chol = self._chol[0]
        # Σ⁻¹μ_k for every class, by two triangular solves with the Cholesky factor
        sinv_mu = np.linalg.solve(chol.T, np.linalg.solve(chol, self.means_.T)).T   # (K, d)
        w = sinv_mu
        b = -0.5 * np.einsum("kd,kd->k", self.means_, sinv_mu) + np.log(self.priors_)
        if len(self.classes_) == 2:
            return (w[1] - w[0])[None, :], np.array([b[1] - b[0]])
        return w, b

    @property
    def coef_(self) -> np.ndarray:
        return self.linear_coef()[0]

    @property
    def intercept_(self) -> np.ndarray:
        return self.linear_coef()[1]


class GaussianNB(_GaussianBase):
    """Naive Bayes with Gaussian features: every feature independent given the class, i.e. a
    diagonal Σ_k, so ``P(x | C_k) = Π_j N(x_j; μ_kj, σ²_kj)`` (seed 002, "All in All").

    Args:
        var_smoothing: ``var_smoothing · max_j Var(x_j)`` is added to every variance, as in
            scikit-learn's ``GaussianNB`` (same default 1e-9), so a feature that is constant
            within a class does not give a zero variance.

    Fitted attributes: ``classes_``, ``class_count_``, ``priors_``, ``means_`` (K, d),
    ``var_`` (K, d) (maximum likelihood, divisor N_k, plus the smoothing).
    """

    def __init__(self, var_smoothing: float = 1e-9):
        if not var_smoothing >= 0:
            raise ValueError(f"var_smoothing must be >= 0, got {var_smoothing!r}")
        self.var_smoothing = float(var_smoothing)

    def fit(self, x, y) -> GaussianNB:
        """Maximum-likelihood priors, per-class means and per-feature variances."""
        x, idx = self._fit_priors(x, y)
        eps = self.var_smoothing * float(np.var(x, axis=0).max())
        self.var_ = np.stack([x[idx == c].var(axis=0) for c in range(len(self.classes_))]) + eps
        if np.any(self.var_ <= 0):
            k, j = np.argwhere(self.var_ <= 0)[0]
            raise ValueError(f"feature {j} is constant within class {self.classes_[k]!r}, and var_smoothing=0; "
                             "use var_smoothing > 0")
        return self

    def _log_joint(self, x):
        out = []
        for c in range(len(self.classes_)):
            v = self.var_[c]
            out.append(-0.5 * (np.log(2.0 * np.pi * v).sum() + (((x - self.means_[c]) ** 2) / v).sum(axis=1))
                       + math.log(self.priors_[c]))
        return np.stack(out, axis=1)

    @property
    def n_parameters(self) -> int:
        """K-1 priors, K·d means and K·d variances."""
        check_fitted(self, "classes_")
        k, d = len(self.classes_), self.n_features_in_
        return (k - 1) + 2 * k * d
