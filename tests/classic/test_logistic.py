"""Logistic regression by gradient descent with the library's engine, against scikit-learn's
LogisticRegression on real data (breast cancer, wine).

Tolerances: gradient descent stops at max |∂L/∂θ| ≤ 1e-9 (unpenalized) / 1e-8 (L2); on these
strongly convex problems that puts the weights within 1e-5 relative of scikit-learn's L-BFGS
solution (tol 1e-12) and the probabilities within 1e-6 absolute.
"""
import numpy as np
import pytest

from deeprecipe.classic import GaussianGenerative, LogisticRegression

pytest.importorskip("sklearn")
from sklearn import linear_model  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_wine  # noqa: E402


def _standardized(loader):
    x, y = loader(return_X_y=True)
    return (x - x.mean(0)) / x.std(0), y


def _sk_logistic(x, y, **kw):
    """scikit-learn's fit at tight tolerance (``penalty=`` is deprecated in its newest versions
    but is the spelling every version since 1.2 understands)."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return linear_model.LogisticRegression(tol=1e-12, max_iter=10_000, **kw).fit(x, y)


def test_unpenalized_binary_matches_sklearn():
    x, y = _standardized(load_breast_cancer)
    x = x[:, :2]                       # mean radius, mean texture: not separable, a unique optimum
    ours = LogisticRegression(lr=2.0, max_steps=5000, tol=1e-9).fit(x, y)
    assert ours.converged_ and ours.grad_max_ <= 1e-9
    ref = _sk_logistic(x, y, penalty=None)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-5)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-5)
    np.testing.assert_allclose(ours.predict_proba(x), ref.predict_proba(x), atol=1e-6)
    assert np.array_equal(ours.predict(x), ref.predict(x))


def test_l2_binary_matches_sklearn_with_c_equal_one_over_lambda_n():
    x, y = _standardized(load_breast_cancer)
    lam = 0.01
    ours = LogisticRegression(l2=lam, lr=1.0, max_steps=20_000, tol=1e-8).fit(x, y)
    assert ours.converged_
    ref = _sk_logistic(x, y, C=1.0 / (lam * len(x)))
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.predict_proba(x), ref.predict_proba(x), atol=1e-6)


def test_multiclass_softmax_matches_sklearn():
    x, y = _standardized(load_wine)
    lam = 0.01
    ours = LogisticRegression(l2=lam, lr=4.0, max_steps=20_000, tol=1e-8).fit(x, y)
    assert ours.converged_ and ours.coef_.shape == (3, x.shape[1])
    ref = _sk_logistic(x, y, C=1.0 / (lam * len(x)))
    # softmax weights are defined up to a common shift per feature; the L2 term picks the
    # zero-sum solution in both, so they compare directly
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.predict_proba(x), ref.predict_proba(x), atol=1e-6)


def test_first_gradient_step_is_the_seeds_formula():
    # from w = 0, b = 0: f = 1/2 everywhere, ∂L/∂w_i = −(1/N) Σ_n (ŷ^n − f(x^n)) x_i^n
    x, y = _standardized(load_breast_cancer)
    lr = 0.3
    m = LogisticRegression(lr=lr, max_steps=1, tol=0.0).fit(x, y)
    grad_w = -np.mean((y - 0.5)[:, None] * x, axis=0)
    grad_b = -np.mean(y - 0.5)
    np.testing.assert_allclose(m.coef_[0], -lr * grad_w, rtol=1e-12)
    assert m.intercept_[0] == pytest.approx(-lr * grad_b, rel=1e-12)
    assert m.loss_curve_[0] == pytest.approx(np.log(2.0), rel=1e-12)


def test_same_function_set_as_shared_gaussian_and_minibatch_adam():
    # The discriminative fit reaches a training loss no worse than the generative (w, b)'s.
    x, y = _standardized(load_breast_cancer)
    x = x[:, :5]
    g = GaussianGenerative(shared_cov=True).fit(x, y)
    w, b = g.linear_coef()
    z = x @ w[0] + b[0]
    ce_gen = np.mean(np.logaddexp(0, -z) * y + np.logaddexp(0, z) * (1 - y))
    m = LogisticRegression(lr=2.0, max_steps=300, tol=1e-8).fit(x, y)
    assert m.loss_curve_[-1] <= ce_gen + 1e-9
    mb = LogisticRegression(optimizer="adam", lr=0.05, max_steps=300, batch_size=64, seed=3).fit(x, y)
    again = LogisticRegression(optimizer="adam", lr=0.05, max_steps=300, batch_size=64, seed=3).fit(x, y)
    assert np.array_equal(mb.coef_, again.coef_)              # seeded mini-batches
    assert mb.score(x, y) > 0.9 and not mb.converged_


def test_bad_settings_raise_clear_errors():
    x = np.array([[0.0], [1.0], [2.0], [3.0]])
    with pytest.raises(ValueError, match="lr must be positive"):
        LogisticRegression(lr=0).fit(x, [0, 0, 1, 1])
    with pytest.raises(ValueError, match="unknown optimizer|no optimizer|optimizer"):
        LogisticRegression(optimizer="nope").fit(x, [0, 0, 1, 1])
    with pytest.raises(FloatingPointError, match="lr="):
        LogisticRegression(lr=1e200, max_steps=5).fit(x * 1e200, [0, 0, 1, 1])
    with pytest.raises(ValueError, match="non-integer"):
        LogisticRegression().fit(x, [0.5, 0, 1, 1])
