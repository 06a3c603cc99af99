"""Top Hessian eigenvalue by power iteration on losses with a known Hessian."""
import numpy as np
import pytest

import deeprecipe as dr
from deeprecipe import diagnostics as D


def _quadratic(eigs, rng):
    q, _ = np.linalg.qr(rng.normal(size=(len(eigs), len(eigs))))
    return q @ np.diag(eigs) @ q.T


def test_top_eigenvalue_of_a_quadratic(rng):
    A = _quadratic([7.0, 3.0, -2.0, 1.0, 0.5, 0.0], rng)
    a = dr.Parameter(rng.normal(size=4))      # the variable split across two parameters
    b = dr.Parameter(rng.normal(size=(2, 1)))
    At = dr.Tensor(A)

    def loss():
        w = dr.functions.concat([a, b.reshape(2)], dim=0)
        return 0.5 * (w * (At @ w)).sum()

    a0, b0 = a.data.copy(), b.data.copy()
    res = D.top_hessian_eigenvalue(loss, [a, b], iters=500, tol=1e-10, rng=0)
    assert res.converged
    assert res.eigenvalue == pytest.approx(7.0, rel=1e-6)
    v = np.concatenate([res.vector[0], res.vector[1].ravel()])
    np.testing.assert_allclose(np.abs(v @ np.linalg.eigh(A)[1][:, -1]), 1.0, atol=1e-5)
    np.testing.assert_array_equal(a.data, a0)  # parameters restored exactly
    np.testing.assert_array_equal(b.data, b0)
    assert a.grad is None and b.grad is None   # and their gradients untouched


def test_hessian_vector_product_and_negative_dominant_eigenvalue(rng):
    A = _quadratic([-5.0, 2.0, 1.0], rng)
    w = dr.Parameter(rng.normal(size=3))
    At = dr.Tensor(A)

    def loss():
        return 0.5 * (w * (At @ w)).sum()

    v = rng.normal(size=3)
    hv = D.hessian_vector_product(loss, [w], [v])
    np.testing.assert_allclose(hv[0], A @ v, rtol=1e-6)
    # the eigenvalue of largest magnitude is returned with its sign
    assert D.top_hessian_eigenvalue(loss, [w], iters=500, tol=1e-10, rng=1).eigenvalue == pytest.approx(-5.0, rel=1e-6)


def test_sharpness_of_a_small_net_matches_the_exact_hessian(rng):
    from deeprecipe import nn
    from deeprecipe import functions as F
    with dr.default_dtype(np.float64):
        lin = nn.Linear(3, 1)
    x, y = rng.normal(size=(20, 3)), rng.normal(size=(20, 1))
    # MSE of a linear model: the Hessian w.r.t. (W, b) is 2/N [X 1]ᵀ[X 1]
    X1 = np.hstack([x, np.ones((20, 1))])
    top = np.linalg.eigvalsh(2 / 20 * X1.T @ X1)[-1]
    res = D.top_hessian_eigenvalue(lambda: F.mse_loss(lin(dr.Tensor(x)), y), lin, iters=300, tol=1e-9, rng=0)
    assert res.eigenvalue == pytest.approx(top, rel=1e-5)
    # the same through sharpness(), which puts the model in eval mode and restores its mode
    lin.train()
    assert D.sharpness(lin, x, y, "mse", iters=300, tol=1e-9, rng=0).eigenvalue == pytest.approx(top, rel=1e-5)
    assert lin.training


def test_bad_arguments():
    w = dr.Parameter(np.ones(2))
    with pytest.raises(ValueError, match="iters"):
        D.top_hessian_eigenvalue(lambda: (w * w).sum(), [w], iters=0)
    with pytest.raises(TypeError, match="loss Tensor"):
        D.top_hessian_eigenvalue(lambda: 3.0, [w])
    with pytest.raises(ValueError, match="no parameters"):
        D.top_hessian_eigenvalue(lambda: (w * w).sum(), [])
