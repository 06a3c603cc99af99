import math

import numpy as np
import pytest

from deeprecipe.lab import DOES_NOT_HOLD, HOLDS, INCONCLUSIVE, Verdict
from deeprecipe.lab.rules import check_diff, check_mean, check_true, check_value, combine
from deeprecipe.lab.stats import betainc, curve_band, diff_ci, format_ci, mean_ci, t_cdf, t_ppf

# Two-sided 95% critical values of Student's t (any statistics table).
T975 = {1: 12.7062047, 2: 4.30265273, 3: 3.18244631, 4: 2.77644511, 9: 2.26215716,
        29: 2.04522964, 100: 1.98397152}


@pytest.mark.parametrize("df,expected", sorted(T975.items()))
def test_t_quantile_matches_tables(df, expected):
    assert t_ppf(0.975, df) == pytest.approx(expected, rel=1e-7)
    assert t_ppf(0.025, df) == pytest.approx(-expected, rel=1e-7)
    assert t_cdf(expected, df) == pytest.approx(0.975, abs=1e-9)


def test_t_quantile_against_scipy_for_many_levels():
    stats = pytest.importorskip("scipy.stats")
    for df in (1, 2.5, 7, 40):
        for q in (0.6, 0.9, 0.995):
            assert t_ppf(q, df) == pytest.approx(stats.t.ppf(q, df), rel=1e-8)
    special = pytest.importorskip("scipy.special")
    for a, b, x in ((0.5, 0.5, 0.3), (2.0, 5.0, 0.9), (10.0, 0.5, 0.99)):
        assert betainc(a, b, x) == pytest.approx(special.betainc(a, b, x), rel=1e-10)


def test_t_quantile_approaches_normal_for_large_df():
    assert t_ppf(0.975, 1e6) == pytest.approx(1.959964, rel=1e-5)


def test_mean_ci_half_width_formula():
    x = np.array([1.0, 2.0, 4.0, 7.0])
    ci = mean_ci(x)
    assert ci.mean == pytest.approx(3.5)
    assert ci.half_width == pytest.approx(T975[3] * x.std(ddof=1) / 2.0, rel=1e-7)
    assert ci.low < 3.5 < ci.high
    assert "±" in format_ci(ci) and "n=4" in format_ci(ci)


def test_mean_ci_single_value_has_no_interval_and_bad_input_raises():
    ci = mean_ci([0.7])
    assert ci.mean == 0.7 and math.isnan(ci.half_width) and ci.low == ci.high == 0.7
    with pytest.raises(ValueError):
        mean_ci([])
    with pytest.raises(ValueError):
        mean_ci([1, 2], confidence=1.5)


def test_diff_ci_paired_is_tighter_than_welch_when_seeds_explain_noise():
    base = np.array([0.1, 0.5, 0.9, 0.3])
    a, b = base + 0.05, base
    paired = diff_ci(a, b, paired=True)
    welch = diff_ci(a, b, paired=False)
    assert paired.mean == pytest.approx(0.05) and welch.mean == pytest.approx(0.05)
    assert paired.half_width == pytest.approx(0.0, abs=1e-12)
    assert welch.half_width > 0.1
    with pytest.raises(ValueError):
        diff_ci([1, 2], [1, 2, 3], paired=True)


def test_curve_band_shapes():
    mean, half = curve_band(np.array([[0.0, 1.0], [2.0, 3.0]]))
    np.testing.assert_allclose(mean, [1.0, 2.0])
    assert np.all(half > 0)
    mean1, half1 = curve_band(np.array([1.0, 2.0]))
    np.testing.assert_allclose(half1, 0.0)


def test_check_mean_three_outcomes():
    assert check_mean("acc", [0.96, 0.97, 0.98], ">=", 0.9).outcome == HOLDS
    assert check_mean("acc", [0.50, 0.52, 0.51], ">=", 0.9).outcome == DOES_NOT_HOLD
    assert check_mean("acc", [0.80, 0.99, 0.90], ">=", 0.9).outcome == INCONCLUSIVE
    # one seed: the value itself decides
    assert check_mean("acc", [0.95], ">", 0.9).outcome == HOLDS
    assert check_mean("acc", [0.85], ">", 0.9).outcome == DOES_NOT_HOLD
    assert check_mean("acc", [float("nan"), 1.0], ">", 0.9).outcome == INCONCLUSIVE
    with pytest.raises(ValueError):
        check_mean("acc", [1.0], "=>", 0.5)


def test_check_diff_and_value_and_true():
    assert check_diff("a-b", [0.9, 0.8, 0.85], [0.7, 0.6, 0.66], ">", 0).outcome == HOLDS
    assert check_diff("a-b", [0.7, 0.6, 0.66], [0.9, 0.8, 0.85], ">", 0).outcome == DOES_NOT_HOLD
    assert check_value("err", 1e-15, "<", 1e-9).outcome == HOLDS
    assert check_value("err", 1e-3, "<", 1e-9).outcome == DOES_NOT_HOLD
    assert check_true("x", False).outcome == DOES_NOT_HOLD


def test_combine_rules():
    h = check_true("a", True, {"a": 1})
    f = check_true("b", False, {"b": 2})
    i = check_mean("c", [0.0, 2.0], ">", 1.0)
    assert i.outcome == INCONCLUSIVE
    assert combine([h, h], "r").verdict == HOLDS
    v = combine([h, f, i], "r")
    assert v.verdict == DOES_NOT_HOLD and v.numbers["a"] == 1 and v.numbers["b"] == 2
    assert "[does not hold] b" in v.rule
    assert combine([h, i], "r").verdict == INCONCLUSIVE
    with pytest.raises(ValueError):
        combine([], "r")


def test_verdict_validation():
    with pytest.raises(ValueError):
        Verdict("maybe", {}, "rule")
    with pytest.raises(ValueError):
        Verdict(HOLDS, {}, "")
    v = Verdict(HOLDS, {"x": np.float32(1.5), "y": float("nan")}, "r")
    d = v.to_dict()
    assert d["numbers"] == {"x": 1.5, "y": "nan"}
    assert Verdict.from_dict(d).verdict == HOLDS
