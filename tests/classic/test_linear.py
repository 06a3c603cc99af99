"""Linear regression: closed form against scikit-learn (real data: diabetes), gradient descent
against the closed form, MAE by gradient descent against the least-squares solution.

Tolerances: lstsq vs scikit-learn's LinearRegression 1e-9 relative (both are SVD least squares,
rounding only); gradient descent on MSE stopped at max |∂L/∂θ| ≤ 1e-10 is within 1e-6 of it.
"""
import numpy as np
import pytest

from deeprecipe.classic import LinearRegression, lagged

pytest.importorskip("sklearn")
from sklearn import linear_model  # noqa: E402
from sklearn.datasets import load_diabetes  # noqa: E402


@pytest.fixture(scope="module")
def diabetes():
    x, y = load_diabetes(return_X_y=True)
    return (x - x.mean(0)) / x.std(0), y


def test_lstsq_matches_sklearn(diabetes):
    x, y = diabetes
    ours = LinearRegression().fit(x, y)
    ref = linear_model.LinearRegression().fit(x, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-9)
    assert ours.intercept_ == pytest.approx(ref.intercept_, rel=1e-9)
    assert ours.score(x, y) == pytest.approx(ref.score(x, y), rel=1e-12)
    assert ours.rank_ == x.shape[1] + 1                      # + the intercept column
    no_b = LinearRegression(fit_intercept=False).fit(x, y)
    ref0 = linear_model.LinearRegression(fit_intercept=False).fit(x, y)
    np.testing.assert_allclose(no_b.coef_, ref0.coef_, rtol=1e-9)
    assert no_b.intercept_ == 0.0


def test_lstsq_is_stable_on_nearly_collinear_lags():
    # lagged days of a smooth series are nearly collinear; lstsq still gives the minimum-MSE fit
    t = np.arange(400)
    s = np.sin(t / 30.0) + 1e-6 * np.random.default_rng(0).standard_normal(400)
    x, y = lagged(s, 28)
    m = LinearRegression().fit(x, y)
    normal = np.linalg.lstsq(np.hstack([x, np.ones((len(x), 1))]), y, rcond=None)[0]
    np.testing.assert_allclose(m.predict(x), np.hstack([x, np.ones((len(x), 1))]) @ normal, atol=1e-9)
    assert m.mse(x, y) < 1e-10


def test_gradient_descent_mse_agrees_with_closed_form(diabetes):
    x, y = diabetes
    x = x[:, :4]                          # age, sex, bmi, bp: well conditioned, so GD converges fast
    exact = LinearRegression().fit(x, y)
    gd = LinearRegression(solver="gd", loss="mse", lr=0.2, max_steps=5000, tol=1e-10).fit(x, y / 100.0)
    assert gd.converged_
    np.testing.assert_allclose(gd.coef_ * 100.0, exact.coef_, rtol=1e-6, atol=1e-6)
    assert gd.intercept_ * 100.0 == pytest.approx(exact.intercept_, rel=1e-8)
    assert np.all(np.diff(gd.loss_curve_) <= 1e-15)          # GD on a convex quadratic never goes up


def test_gradient_descent_mae_beats_least_squares_on_mae(diabetes):
    # the MAE minimizer's training MAE is at most that of the least-squares fit
    x, y = diabetes
    y = y / 100.0
    ls = LinearRegression().fit(x, y)
    mae = LinearRegression(solver="gd", loss="mae", optimizer="adam", lr=0.01, max_steps=1000).fit(x, y)
    assert mae.loss_curve_[-1] < mae.loss_curve_[0]
    assert mae.mae(x, y) < ls.mae(x, y)
    assert mae.mse(x, y) >= ls.mse(x, y) - 1e-12             # and least squares is best on MSE


def test_bad_settings():
    with pytest.raises(ValueError, match="no closed form"):
        LinearRegression(solver="lstsq", loss="mae")
    with pytest.raises(ValueError, match="solver"):
        LinearRegression(solver="normal")
    with pytest.raises(ValueError, match="vector of 3 targets"):
        LinearRegression().fit(np.ones((3, 2)), np.ones(4))
    with pytest.raises(RuntimeError, match="not fitted"):
        LinearRegression().predict(np.ones((2, 2)))


# ------------------------------------------------------------------ lagged
def test_lagged_rows_hold_the_previous_days():
    s = np.arange(10.0) * 10
    x, y = lagged(s, 3)
    assert x.shape == (7, 3) and y.shape == (7,)
    np.testing.assert_array_equal(x[0], [20, 10, 0])          # x_1 = yesterday, x_2, x_3
    np.testing.assert_array_equal(y, s[3:])
    x2, y2 = lagged(s, 2, start=3)                             # aligned with the 3-lag model
    np.testing.assert_array_equal(y2, y)
    np.testing.assert_array_equal(x2, x[:, :2])


def test_lagged_never_reads_the_future():
    rng = np.random.default_rng(0)
    s = rng.standard_normal(200)
    for lags in (1, 7, 28, 56):
        x, y = lagged(s, lags, start=56)
        for row in (0, 17, len(y) - 1):
            t = 56 + row
            changed = s.copy()
            changed[t:] = rng.standard_normal(len(s) - t) * 1e6    # rewrite the target day and after
            xc, yc = lagged(changed, lags, start=56)
            np.testing.assert_array_equal(xc[row], x[row])         # the row's inputs do not move
            assert yc[row] != y[row]


def test_lagged_bad_input():
    with pytest.raises(ValueError, match="lags must be a positive integer"):
        lagged(np.arange(10), 0)
    with pytest.raises(ValueError, match="start must be an integer >= lags"):
        lagged(np.arange(10), 3, start=2)
    with pytest.raises(ValueError, match="too short"):
        lagged(np.arange(5), 5)
    with pytest.raises(ValueError, match="1-D"):
        lagged(np.ones((4, 2)), 1)
