"""Gaussian generative classifiers against scikit-learn on real data, and the seed's identity
P(C1|x) = σ(w·x + b) for a shared covariance.

Oracle tolerances (float64 throughout): posteriors within 1e-10 absolute, covariances and
linear coefficients within 1e-9 relative — differences are rounding only (scikit-learn goes
through an SVD/eigendecomposition, this library through a Cholesky factor).
"""
import numpy as np
import pytest

from deeprecipe.classic import GaussianGenerative, GaussianNB

sklearn = pytest.importorskip("sklearn")
from sklearn import discriminant_analysis as da  # noqa: E402
from sklearn import naive_bayes as nb  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_wine  # noqa: E402


def _standardized(loader):
    x, y = loader(return_X_y=True)
    return (x - x.mean(0)) / x.std(0), y


@pytest.fixture(scope="module")
def cancer():
    return _standardized(load_breast_cancer)


@pytest.fixture(scope="module")
def wine():
    return _standardized(load_wine)


def test_shared_covariance_equals_lda(cancer):
    x, y = cancer
    ours = GaussianGenerative(shared_cov=True).fit(x, y)
    lda = da.LinearDiscriminantAnalysis(solver="lsqr", store_covariance=True).fit(x, y)
    np.testing.assert_allclose(ours.covariance_, lda.covariance_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.predict_proba(x), lda.predict_proba(x), atol=1e-10)
    np.testing.assert_allclose(ours.coef_, lda.coef_, rtol=1e-9)
    np.testing.assert_allclose(ours.intercept_, lda.intercept_, rtol=1e-9)
    assert np.array_equal(ours.predict(x), lda.predict(x))
    assert ours.score(x, y) == pytest.approx(lda.score(x, y))


def test_shared_covariance_multiclass_equals_lda_softmax(wine):
    x, y = wine
    ours = GaussianGenerative(shared_cov=True).fit(x, y)
    lda = da.LinearDiscriminantAnalysis(solver="lsqr").fit(x, y)
    np.testing.assert_allclose(ours.predict_proba(x), lda.predict_proba(x), atol=1e-10)
    w, b = ours.linear_coef()                            # softmax over linear scores
    z = x @ w.T + b
    p = np.exp(z - z.max(1, keepdims=True))
    np.testing.assert_allclose(p / p.sum(1, keepdims=True), ours.predict_proba(x), atol=1e-12)


def test_shared_posterior_is_sigmoid_of_linear_score(cancer):
    x, y = cancer
    g = GaussianGenerative(shared_cov=True).fit(x, y)
    w, b = g.linear_coef()
    # the seed's closed form: w = Σ⁻¹(μ1 − μ0), b = −½μ1ᵀΣ⁻¹μ1 + ½μ0ᵀΣ⁻¹μ0 + ln(N1/N0)
    sinv = np.linalg.inv(g.covariance_)
    m0, m1 = g.means_
    np.testing.assert_allclose(w[0], sinv @ (m1 - m0), rtol=1e-8)
    b_ref = -0.5 * m1 @ sinv @ m1 + 0.5 * m0 @ sinv @ m0 + np.log(g.class_count_[1] / g.class_count_[0])
    assert b[0] == pytest.approx(b_ref, rel=1e-8)
    p = 1.0 / (1.0 + np.exp(-(x @ w[0] + b[0])))
    assert np.max(np.abs(p - g.predict_proba(x)[:, 1])) < 1e-12


def test_separate_covariances_equal_qda(cancer, wine):
    for x, y in (cancer, wine):
        qda = da.QuadraticDiscriminantAnalysis(store_covariance=True, tol=1e-12).fit(x, y)
        # scikit-learn's divisor for the class covariances has been N_k − 1 or N_k depending on its
        # version: exactly one of our two estimators must reproduce it, and then the posteriors.
        matches = [ddof for ddof in (0, 1) if np.allclose(
            GaussianGenerative(ddof=ddof).fit(x, y).covariances_, np.array(qda.covariance_), rtol=1e-9, atol=1e-12)]
        assert len(matches) == 1
        ours = GaussianGenerative(shared_cov=False, ddof=matches[0]).fit(x, y)
        np.testing.assert_allclose(ours.predict_proba(x), qda.predict_proba(x), atol=1e-10)
        assert np.array_equal(ours.predict(x), qda.predict(x))


def test_naive_bayes_equals_sklearn(cancer, wine):
    for x, y in (cancer, wine):
        ours = GaussianNB().fit(x, y)
        ref = nb.GaussianNB().fit(x, y)
        np.testing.assert_allclose(ours.var_, ref.var_, rtol=1e-12)
        np.testing.assert_allclose(ours.means_, ref.theta_, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(ours.predict_proba(x), ref.predict_proba(x), atol=1e-10)


def test_parameter_counts_and_separate_model_has_no_linear_form(cancer):
    x, y = cancer
    d = x.shape[1]
    shared = GaussianGenerative(shared_cov=True).fit(x, y)
    separate = GaussianGenerative().fit(x, y)
    assert shared.n_parameters == 1 + 2 * d + d * (d + 1) // 2
    assert separate.n_parameters == 1 + 2 * d + 2 * d * (d + 1) // 2
    assert GaussianNB().fit(x, y).n_parameters == 1 + 4 * d
    with pytest.raises(ValueError, match="shared_cov=True"):
        separate.linear_coef()


def test_string_labels_and_bad_input():
    rng = np.random.default_rng(0)
    x = np.vstack([rng.standard_normal((20, 2)), rng.standard_normal((20, 2)) + 3])
    y = np.array(["water"] * 20 + ["normal"] * 20)
    g = GaussianGenerative(shared_cov=True).fit(x, y)
    assert list(g.classes_) == ["normal", "water"] and g.score(x, y) > 0.9
    with pytest.raises(RuntimeError, match="not fitted"):
        GaussianNB().predict(x)
    with pytest.raises(ValueError, match="3 features but the model was fitted on 2"):
        g.predict(np.ones((2, 3)))
    with pytest.raises(ValueError, match="non-finite"):
        GaussianGenerative().fit(np.array([[np.nan, 1.0], [1.0, 2.0]]), [0, 1])
    with pytest.raises(ValueError, match="1 class"):
        GaussianGenerative().fit(x, np.zeros(40))
    # 3 samples of class 1 in 5 dimensions: its own covariance is singular; the error says what to do
    x5 = rng.standard_normal((13, 5))
    with pytest.raises(ValueError, match="singular.*shared_cov=True"):
        GaussianGenerative().fit(x5, [0] * 10 + [1] * 3)
    GaussianGenerative(reg=1e-3).fit(x5, [0] * 10 + [1] * 3)       # regularized: fine
