"""The Hessian's spectrum: full matrix and eigen-decomposition for small nets, Lanczos,
Hutchinson's trace and the spectral density for big ones (PyHessian's set: Yao et al.
2020, https://arxiv.org/abs/1912.07145).

Every function takes either a :class:`HessianOperator` or ``(closure, params)`` (then one
operator is opened for the call, so all products share one forward pass), and works on
flat float64 vectors.  Random vectors come from ``rng`` (seed or Generator).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ...backend import get_rng
from .operator import HessianOperator


class _Op:
    """Open an operator for the call unless one was given (then leave it open)."""

    def __init__(self, op_or_closure, params, method):
        self.given = isinstance(op_or_closure, HessianOperator)
        self.op = op_or_closure if self.given else HessianOperator(op_or_closure, params, method=method)

    def __enter__(self):
        return self.op

    def __exit__(self, *exc):
        if not self.given:
            self.op.close()


# ---------------------------------------------------------------------------- full Hessian
def full_hessian(closure, params=None, method: str = "auto") -> np.ndarray:
    """The ``(n, n)`` float64 Hessian, one exact product per column (n up to a few thousand).

    Symmetric to round-off (not symmetrized here: ``H - H.T`` measures the rounding).
    """
    with _Op(closure, params, method) as op:
        H = np.empty((op.n, op.n))
        e = np.zeros(op.n)
        for i in range(op.n):
            e[i] = 1.0
            H[:, i] = op.matvec_flat(e)
            e[i] = 0.0
        return H


class HessianEigen(NamedTuple):
    eigenvalues: np.ndarray   # ascending
    eigenvectors: np.ndarray  # columns, unit norm, flat parameter order
    loss: float
    grad_norm: float


def hessian_eigen(closure, params=None, method: str = "auto") -> HessianEigen:
    """Eigen-decomposition of the full Hessian (symmetrized ``(H + Hᵀ)/2``), with the loss
    and gradient norm at the point."""
    with _Op(closure, params, method) as op:
        H = full_hessian(op)
        w, V = np.linalg.eigh(0.5 * (H + H.T))
        return HessianEigen(w, V, op.loss, float(np.linalg.norm(op.flatten(op.grad))))


def _tolerance(eigenvalues, tol):
    lam = np.asarray(eigenvalues, dtype=np.float64)
    if tol is None:  # eigenvalues within rounding of 0 count as 0: n·u·max|λ| (as matrix_rank)
        tol = lam.size * np.finfo(np.float64).eps * float(np.max(np.abs(lam), initial=0.0))
    return lam, tol


def minimum_ratio(eigenvalues, tol: float | None = None) -> float:
    """Share of positive eigenvalues, ``#(λ > tol) / #λ`` (the lecture's "minimum ratio",
    seed 004: 1 at a local minimum).  ``tol`` defaults to rounding level."""
    lam, tol = _tolerance(eigenvalues, tol)
    return float(np.count_nonzero(lam > tol)) / lam.size


def critical_point_index(eigenvalues, tol: float | None = None) -> int:
    """Index of a critical point: the number of negative eigenvalues (``λ < -tol``)."""
    lam, tol = _tolerance(eigenvalues, tol)
    return int(np.count_nonzero(lam < -tol))


# ---------------------------------------------------------------------------- Lanczos
class LanczosResult(NamedTuple):
    alpha: np.ndarray  # diagonal of the tridiagonal T (m,)
    beta: np.ndarray   # off-diagonal (m-1,)
    Q: np.ndarray      # (n, m) orthonormal Lanczos vectors


def lanczos(op: HessianOperator, iters: int, v0=None, rng=None, reorthogonalize: bool = True) -> LanczosResult:
    """``iters`` steps of Lanczos on ``op`` from ``v0`` (random Gaussian if None), with full
    re-orthogonalization (two Gram-Schmidt passes: exact arithmetic's orthogonality, so
    Ritz values do not repeat).  Stops early at an invariant subspace."""
    n = op.n
    m = min(int(iters), n)
    if m < 1:
        raise ValueError(f"iters must be >= 1, got {iters}")
    v = get_rng(rng).standard_normal(n) if v0 is None else np.asarray(v0, dtype=np.float64).copy()
    nv = np.linalg.norm(v)
    if nv == 0:
        raise ValueError("the Lanczos start vector is zero")
    Q = np.zeros((n, m))
    alpha, beta = np.zeros(m), np.zeros(max(m - 1, 0))
    q = v / nv
    for j in range(m):
        Q[:, j] = q
        w = op.matvec_flat(q)
        alpha[j] = q @ w
        w -= alpha[j] * q
        if j > 0:
            w -= beta[j - 1] * Q[:, j - 1]
        if reorthogonalize:
            for _ in range(2):
                w -= Q[:, :j + 1] @ (Q[:, :j + 1].T @ w)
        if j == m - 1:
            break
        b = np.linalg.norm(w)
        if b <= 1e-12 * max(1.0, abs(alpha[j])):  # invariant subspace: T is exact
            return LanczosResult(alpha[:j + 1], beta[:j], Q[:, :j + 1])
        beta[j] = b
        q = w / b
    return LanczosResult(alpha, beta, Q)


def _tridiag(alpha, beta):
    return np.diag(alpha) + np.diag(beta, 1) + np.diag(beta, -1)


class Eigenpairs(NamedTuple):
    eigenvalues: np.ndarray   # (k,)
    eigenvectors: np.ndarray  # (n, k) Ritz vectors


def lanczos_eigen(closure, params=None, k: int = 1, which: str = "top", iters: int | None = None, rng=None,
                  method: str = "auto") -> Eigenpairs:
    """The ``k`` largest (``which="top"``, descending) or smallest (``"bottom"``, ascending)
    eigenvalues and Ritz vectors by Lanczos with ``iters`` steps (default ``max(4k, 30)``)."""
    if which not in ("top", "bottom"):
        raise ValueError(f"which must be 'top' or 'bottom', got {which!r}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    with _Op(closure, params, method) as op:
        res = lanczos(op, iters if iters is not None else max(4 * k, 30), rng=rng)
        theta, S = np.linalg.eigh(_tridiag(res.alpha, res.beta))
        order = np.argsort(theta)[::-1] if which == "top" else np.argsort(theta)
        order = order[:k]
        return Eigenpairs(theta[order], res.Q @ S[:, order])


# ---------------------------------------------------------------------------- trace, density
class TraceEstimate(NamedTuple):
    trace: float
    stderr: float   # standard error of the mean over the probe vectors
    samples: np.ndarray


def hutchinson_trace(closure, params=None, samples: int = 100, rng=None, method: str = "auto") -> TraceEstimate:
    """Hutchinson's estimator ``tr H ≈ mean(vᵀHv)`` over Rademacher ``v`` (Hutchinson
    1990; variance ``2 Σ_{i≠j} H_ij²`` per probe)."""
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    gen = get_rng(rng)
    with _Op(closure, params, method) as op:
        vals = np.empty(samples)
        for i in range(samples):
            v = gen.integers(0, 2, op.n) * 2.0 - 1.0
            vals[i] = v @ op.matvec_flat(v)
    se = float(vals.std(ddof=1) / math.sqrt(samples)) if samples > 1 else math.nan
    return TraceEstimate(float(vals.mean()), se, vals)


class SpectralDensity(NamedTuple):
    nodes: np.ndarray    # (n_vectors, m) Ritz values of each run
    weights: np.ndarray  # (n_vectors, m) squared first components; each row sums to 1

    def evaluate(self, grid, sigma: float) -> np.ndarray:
        """The density on ``grid``: each node a Gaussian of width ``sigma``, averaged over runs."""
        grid = np.asarray(grid, dtype=np.float64)
        d = grid[:, None, None] - self.nodes[None]
        g = np.exp(-0.5 * (d / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
        return (g * self.weights[None]).sum(axis=2).mean(axis=1)

    def moment(self, k: int) -> float:
        """``∫ λ^k φ(λ) dλ`` of the unsmoothed density (``tr(H^k)/n`` in expectation)."""
        return float((self.weights * self.nodes ** k).sum(axis=1).mean())


def spectral_density(closure, params=None, iters: int = 30, n_vectors: int = 1, rng=None,
                     method: str = "auto") -> SpectralDensity:
    """Spectral density by stochastic Lanczos quadrature (Ghorbani, Krishnan & Xiao 2019,
    https://arxiv.org/abs/1901.10159; Lin, Saad & Yang 2016): from ``n_vectors`` random
    Rademacher starts, ``iters`` Lanczos steps each; node ``θ_j`` (Ritz value) with weight
    ``τ_j = (first component of T's j-th eigenvector)²``.  Gauss quadrature: the moments
    ``Σ τ_j θ_j^k`` equal ``v̂ᵀH^k v̂`` exactly for ``k < 2·iters``."""
    gen = get_rng(rng)
    with _Op(closure, params, method) as op:
        nodes, weights = [], []
        m = min(iters, op.n)
        for _ in range(n_vectors):
            v = gen.integers(0, 2, op.n) * 2.0 - 1.0
            res = lanczos(op, m, v0=v)
            theta, S = np.linalg.eigh(_tridiag(res.alpha, res.beta))
            tau = S[0] ** 2
            pad = m - theta.size  # an early stop: pad with zero-weight nodes
            nodes.append(np.concatenate([theta, np.full(pad, theta[-1])]))
            weights.append(np.concatenate([tau, np.zeros(pad)]))
        return SpectralDensity(np.array(nodes), np.array(weights))
