"""Inverted dropout: scaling, expectation, reproducibility, identity cases, errors."""
import numpy as np
import pytest

import deeprecipe.functions as F
from deeprecipe import backend
from deeprecipe.engine import Parameter
from tests.functions._torch_compare import check_grads


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_dropout_keeps_expected_activation(p):
    x = np.full((50, 400), 2.0, dtype=np.float32)
    rng = np.random.default_rng(1)
    means, zero_fracs = [], []
    for _ in range(10):  # 10 draws of 20,000 units
        y = F.dropout(x, p, rng=rng).data
        kept = y != 0
        # kept units are scaled by exactly 1/(1-p), the rest are zero
        np.testing.assert_allclose(y[kept], 2.0 / (1 - p), rtol=1e-6)
        means.append(y.mean())
        zero_fracs.append(1 - kept.mean())
    n = x.size * 10
    # standard error of the mean of 2*Bernoulli(1-p)/(1-p) over n units
    se = 2.0 * np.sqrt(p / (1 - p) / n)
    assert abs(np.mean(means) - 2.0) < 5 * se
    assert abs(np.mean(zero_fracs) - p) < 5 * np.sqrt(p * (1 - p) / n)


def test_dropout_gradient_uses_the_same_mask(rng):
    x = Parameter(rng.standard_normal((8, 16)) + 5.0)  # nonzero everywhere
    y = F.dropout(x, 0.3, rng=3)
    gy = rng.standard_normal(y.shape)
    y.backward(gy)
    np.testing.assert_allclose(x.grad, gy * (y.data / x.data), rtol=1e-12)
    assert set(np.unique(np.round(y.data / x.data, 12))) <= {0.0, round(1 / 0.7, 12)}


def test_dropout_gradcheck_with_fixed_seed(rng):
    # an int seed redraws the same mask on every call, so finite differences are meaningful
    check_grads(lambda x: F.dropout(x, 0.4, rng=7), [rng.standard_normal((3, 5))])


def test_same_seed_same_mask_and_global_seed(rng):
    x = rng.standard_normal((20, 20)).astype(np.float32)
    a = F.dropout(x, 0.5, rng=11).data
    b = F.dropout(x, 0.5, rng=np.random.default_rng(11)).data
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, F.dropout(x, 0.5, rng=12).data)
    backend.seed(5)
    c = F.dropout(x, 0.5).data
    backend.seed(5)
    np.testing.assert_array_equal(c, F.dropout(x, 0.5).data)
    assert a.dtype == np.float32


def test_dropout_identity_when_not_training_or_p_zero(rng):
    x = Parameter(rng.standard_normal((4, 4)))
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x


def test_dropout_p_one_gives_zeros_and_zero_grad(rng):
    x = Parameter(rng.standard_normal((4, 4)))
    y = F.dropout(x, 1.0)
    np.testing.assert_array_equal(y.data, 0)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, 0)


@pytest.mark.parametrize("p", [-0.1, 1.5, "0.5", None, True])
def test_dropout_bad_p_raises(p):
    with pytest.raises(ValueError, match="probability"):
        F.dropout(np.ones(3), p)


def test_dropout_int_input_raises():
    with pytest.raises(TypeError, match="floating-point"):
        F.dropout(np.ones(3, dtype=np.int64), 0.5)
