"""Tests for deeprecipe.functions.activation: closed-form references, float64 gradient
checks for every input, PyTorch as an oracle (random and special values), fused vs
composite, and the numerical edge cases (overflow, inf, NaN, ties)."""
import warnings

import numpy as np
import pytest

import deeprecipe as dr
from deeprecipe import F, Tensor
from tests.conftest import requires_torch, torch
from tests.functions.test_math import Case, check_forward, check_gradcheck, check_torch

tF = torch.nn.functional if torch is not None else None


def np_sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def np_softplus(a, beta=1.0, threshold=20.0):
    return np.where(a * beta > threshold, a, np.log1p(np.exp(a * beta)) / beta)


def np_prelu(a, w):
    wb = w.reshape((1, -1) + (1,) * (a.ndim - 2)) if a.ndim >= 2 else w
    return np.where(a > 0, a, wb * a)


def np_maxout(a, pieces, axis):
    axis %= a.ndim
    shape = a.shape[:axis] + (a.shape[axis] // pieces, pieces) + a.shape[axis + 1:]
    return a.reshape(shape).max(axis=axis + 1)


def np_softmax(a, axis=-1):
    e = np.exp(a)
    return e / e.sum(axis=axis, keepdims=True)


def np_log_softmax(a, axis=-1):
    return a - np.log(np.exp(a).sum(axis=axis, keepdims=True))


# Kinked activations get inputs away from 0 ("nonzero") so finite differences are valid.
NZ = ((3, 4), "nonzero")
A34 = ((3, 4), "any")
A3D = ((2, 3, 4), "any")
T = tF  # shorter in the table

ACTIVATIONS = {
    "sigmoid": Case(F.sigmoid, [A34], np_sigmoid, torch and torch.sigmoid),
    "tanh": Case(F.tanh, [A34], np.tanh, torch and torch.tanh),
    "relu": Case(F.relu, [NZ], lambda a: np.maximum(a, 0), torch and torch.relu),
    "leaky_relu": Case(F.leaky_relu, [NZ], lambda a: np.where(a > 0, a, 0.01 * a), T and T.leaky_relu),
    "leaky_relu_0.2": Case(lambda a: F.leaky_relu(a, 0.2), [NZ], lambda a: np.where(a > 0, a, 0.2 * a),
                           lambda a: T.leaky_relu(a, 0.2)),
    "leaky_relu_negative_slope": Case(lambda a: F.leaky_relu(a, negative_slope=-0.3), [NZ],
                                      lambda a: np.where(a > 0, a, -0.3 * a), lambda a: T.leaky_relu(a, -0.3)),
    "prelu_shared": Case(F.prelu, [((2, 3, 4), "nonzero"), ((1,), "any")], np_prelu, T and T.prelu),
    "prelu_channels": Case(F.prelu, [((2, 3, 4), "nonzero"), ((3,), "any")], np_prelu, T and T.prelu),
    "prelu_2d": Case(F.prelu, [((4, 3), "nonzero"), ((3,), "any")], np_prelu, T and T.prelu),
    "prelu_4d": Case(F.prelu, [((2, 2, 2, 3), "nonzero"), ((2,), "any")], np_prelu, T and T.prelu),
    "prelu_1d": Case(F.prelu, [((5,), "nonzero"), ((1,), "any")], np_prelu, T and T.prelu),
    "elu": Case(F.elu, [NZ], lambda a: np.where(a > 0, a, np.expm1(a)), T and T.elu),
    "elu_alpha": Case(lambda a: F.elu(a, alpha=0.5), [NZ], lambda a: np.where(a > 0, a, 0.5 * np.expm1(a)),
                      lambda a: T.elu(a, alpha=0.5)),
    "softplus": Case(F.softplus, [A34], np_softplus, T and T.softplus),
    # beta * x > threshold happens often here, so both regimes are checked
    "softplus_beta_threshold": Case(lambda a: F.softplus(a, beta=2.0, threshold=1.0), [A34],
                                    lambda a: np_softplus(a, 2.0, 1.0),
                                    lambda a: T.softplus(a, beta=2.0, threshold=1.0)),
    "maxout": Case(lambda a: F.maxout(a, 2), [((2, 4, 3), "any")], lambda a: np_maxout(a, 2, 1)),
    "maxout_last_axis": Case(lambda a: F.maxout(a, 3, dim=-1), [((2, 6), "any")], lambda a: np_maxout(a, 3, -1)),
    "maxout_axis0_all": Case(lambda a: F.maxout(a, 4, dim=0), [((4, 3), "any")], lambda a: np_maxout(a, 4, 0)),
    "softmax": Case(F.softmax, [A34], np_softmax, lambda a: torch.softmax(a, -1)),
    "softmax_axis0": Case(lambda a: F.softmax(a, dim=0), [A3D], lambda a: np_softmax(a, 0),
                          lambda a: torch.softmax(a, 0)),
    "softmax_axis1": Case(lambda a: F.softmax(a, dim=1), [A3D], lambda a: np_softmax(a, 1),
                          lambda a: torch.softmax(a, 1)),
    "log_softmax": Case(F.log_softmax, [A34], np_log_softmax, lambda a: torch.log_softmax(a, -1)),
    "log_softmax_axis0": Case(lambda a: F.log_softmax(a, dim=0), [A3D], lambda a: np_log_softmax(a, 0),
                              lambda a: torch.log_softmax(a, 0)),
    "log_softmax_1d": Case(F.log_softmax, [((5,), "any")], np_log_softmax, lambda a: torch.log_softmax(a, 0)),
    # Tensor methods
    "method_relu": Case(lambda a: a.relu(), [NZ], lambda a: np.maximum(a, 0), lambda a: a.relu()),
    "method_sigmoid": Case(lambda a: a.sigmoid(), [A34], np_sigmoid, lambda a: a.sigmoid()),
    "method_tanh": Case(lambda a: a.tanh(), [A34], np.tanh, lambda a: a.tanh()),
}

CASES = [pytest.param(c, id=k) for k, c in ACTIVATIONS.items()]
TORCH_CASES = [pytest.param(c, id=k) for k, c in ACTIVATIONS.items() if c.tfn is not None]


@pytest.mark.parametrize("case", CASES)
def test_forward_matches_closed_form(case):
    check_forward(case)


@pytest.mark.parametrize("case", CASES)
def test_gradcheck_every_input(case):
    check_gradcheck(case)


@requires_torch
@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", TORCH_CASES)
def test_matches_torch(case, dtype):
    check_torch(case, dtype)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu", "softplus",
                                  "maxout", "softmax", "log_softmax"])
def test_table_covers_every_activation(name):
    assert callable(getattr(F, name))
    assert any(k == name or k.startswith(name + "_") for k in ACTIVATIONS)


# ---------------------------------------------------------------------------- special values
# the floating-point events NumPy warns about by default (underflow to 0 is fine)
LOUD = dict(over="raise", divide="raise", invalid="raise")
SPECIAL = np.array([-np.inf, -1e6, -30.0, -1.0, -0.0, 0.0, 1e-30, 0.5, 30.0, 1e6, np.inf, np.nan])

SPECIAL_OPS = {
    "sigmoid": (F.sigmoid, lambda t: torch.sigmoid(t)),
    "tanh": (F.tanh, lambda t: torch.tanh(t)),
    "relu": (F.relu, lambda t: torch.relu(t)),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.1), lambda t: tF.leaky_relu(t, 0.1)),
    "elu": (lambda x: F.elu(x, 0.7), lambda t: tF.elu(t, 0.7)),
    "softplus": (lambda x: F.softplus(x, 2.0, 20.0), lambda t: tF.softplus(t, 2.0, 20.0)),
    "prelu": (lambda x: F.prelu(x.reshape(3, 4), Tensor(np.array([0.25, -0.5, 2.0, 0.0], x.dtype))),
              lambda t: tF.prelu(t.reshape(3, 4), torch.tensor([0.25, -0.5, 2.0, 0.0], dtype=t.dtype))),
}


@requires_torch
@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(SPECIAL_OPS))
def test_special_values_match_torch_without_warnings(name, dtype):
    """±inf, NaN, ±0, huge and tiny inputs: PyTorch's values and gradients, no warning."""
    fn, tfn = SPECIAL_OPS[name]
    x = Tensor(SPECIAL.astype(dtype), requires_grad=True)
    t = torch.tensor(SPECIAL.astype(dtype), requires_grad=True)
    g = np.linspace(0.5, 2.0, SPECIAL.size).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = fn(x)
        y.backward(g.reshape(y.shape))
    ty = tfn(t)
    ty.backward(torch.tensor(g.reshape(y.shape)))
    tol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_never_overflows_and_keeps_relative_accuracy(dtype):
    x = Tensor(np.array([-1e4, -1000.0, -88.0, -40.0, 0.0, 40.0, 1000.0, 1e4], dtype), requires_grad=True)
    with np.errstate(**LOUD), warnings.catch_warnings():
        warnings.simplefilter("error")
        y = F.sigmoid(x)
        y.sum().backward()
    assert y.dtype == dtype and x.grad.dtype == dtype
    assert y.data[0] == 0 and y.data[1] == 0 and y.data[4] == 0.5 and y.data[-1] == 1 and y.data[-2] == 1
    # tiny values are accurate in relative terms, not flushed to 1 - 1 = 0
    exact = np.exp(-40.0) / (1 + np.exp(-40.0))
    np.testing.assert_allclose(y.data[3], exact, rtol=1e-6 if dtype == np.float32 else 1e-14)
    assert np.all(np.isfinite(x.grad)) and x.grad[0] == 0 and x.grad[-1] == 0


def test_softplus_is_stable_for_any_threshold():
    x = Tensor(np.array([-1000.0, -40.0, 0.0, 500.0, 1000.0]), requires_grad=True)
    with np.errstate(**LOUD):
        y = F.softplus(x, threshold=1e9)  # the linear shortcut never applies
        y.sum().backward()
    np.testing.assert_allclose(y.data, [0.0, np.exp(-40.0), np.log(2.0), 500.0, 1000.0], rtol=1e-12)
    np.testing.assert_allclose(x.grad, [0.0, np.exp(-40.0), 0.5, 1.0, 1.0], rtol=1e-12)
    # the default threshold returns x itself above 20 (PyTorch)
    assert F.softplus(Tensor(np.array([25.0]))).data[0] == 25.0


def test_log_softmax_and_softmax_are_stable_for_huge_logits():
    x = Tensor(np.array([[1000.0, 0.0, -1000.0], [-1e300, -1e300, -1e300]]), requires_grad=True)
    with np.errstate(**LOUD):
        y = F.log_softmax(x)
        s = F.softmax(x)
        (y.sum() + s.sum()).backward()
    np.testing.assert_array_equal(y.data[0], [0.0, -1000.0, -2000.0])
    np.testing.assert_allclose(y.data[1], np.log([1 / 3] * 3), rtol=1e-12)
    np.testing.assert_array_equal(s.data[0], [1.0, 0.0, 0.0])
    assert np.all(np.isfinite(x.grad))


def test_relu_handles_minus_inf_exactly_and_gradient_zero_at_zero():
    x = Tensor(np.array([-np.inf, -1.0, 0.0, 2.0, np.inf], np.float32), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = F.relu(x)
        y.backward(np.ones(5, np.float32))
    np.testing.assert_array_equal(y.data, [0, 0, 0, 2, np.inf])
    np.testing.assert_array_equal(x.grad, [0, 0, 0, 1, 1])
    assert y.dtype == np.float32


def test_maxout_gradient_goes_to_first_winner_on_ties():
    x = Tensor(np.array([[1.0, 1.0, 0.0, 2.0, 3.0, 3.0]]), requires_grad=True)
    y = F.maxout(x, 2)
    np.testing.assert_array_equal(y.data, [[1.0, 2.0, 3.0]])
    y.backward(np.array([[10.0, 20.0, 30.0]]))
    np.testing.assert_array_equal(x.grad, [[10.0, 0, 0, 20.0, 30.0, 0]])


def test_maxout_groups_are_consecutive_along_axis_of_images():
    x = np.random.default_rng(0).standard_normal((2, 6, 3, 3))
    y = F.maxout(Tensor(x), 3)  # channels 0-2 -> 0, 3-5 -> 1
    assert y.shape == (2, 2, 3, 3)
    np.testing.assert_array_equal(y.data[:, 1], x[:, 3:6].max(axis=1))


@pytest.mark.parametrize("make, error, message", [
    (lambda: F.maxout(Tensor(np.ones((2, 5))), 2), ValueError, r"\(2, 5\).*pieces=2"),
    (lambda: F.maxout(Tensor(np.ones((2, 4))), 0), ValueError, "positive integer"),
    (lambda: F.maxout(Tensor(np.ones((2, 4))), 2, dim=3), ValueError, "axis"),
    (lambda: F.prelu(Tensor(np.ones((2, 3))), Tensor(np.ones(2))), ValueError, r"\(2,\).*\(2, 3\)"),
    (lambda: F.prelu(Tensor(np.ones((2, 3))), Tensor(np.ones((1, 3)))), ValueError, "1-D"),
    (lambda: F.prelu(Tensor(np.ones(4)), Tensor(np.ones(4))), ValueError, "prelu"),
    (lambda: F.softmax(Tensor(np.float64(1.0))), ValueError, "scalar"),
    (lambda: F.softmax(Tensor(np.ones(3)), dim=1), ValueError, "axis"),
    (lambda: F.log_softmax(Tensor(np.ones(3)), dim=0.5), TypeError, "dim"),
    (lambda: F.softplus(Tensor(np.ones(3)), beta=0), ValueError, "beta"),
    (lambda: F.leaky_relu(Tensor(np.ones(3)), negative_slope="0.1"), TypeError, "negative_slope"),
    (lambda: F.sigmoid(Tensor(np.arange(3))), TypeError, "floating-point"),
    (lambda: F.softmax(Tensor(np.arange(3))), TypeError, "floating-point"),
])
def test_bad_arguments_raise_clear_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


ALL_FLOAT32 = [F.sigmoid, F.tanh, F.relu, lambda x: F.leaky_relu(x, np.float64(0.1)),
               lambda x: F.prelu(x, Tensor(np.full(4, 0.25, np.float32), requires_grad=True)),
               lambda x: F.elu(x, np.float64(0.5)), lambda x: F.softplus(x, np.float64(2.0), np.float64(5.0)),
               lambda x: F.maxout(x, 2), F.softmax, F.log_softmax]


@pytest.mark.parametrize("fn", ALL_FLOAT32)
def test_float32_stays_float32_in_values_and_gradients(fn):
    x = Tensor(np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    y = fn(x)
    assert y.dtype == np.float32
    y.backward(np.ones(y.shape, np.float32))
    assert x.grad.dtype == np.float32


# ---------------------------------------------------------------------------- fused vs composite
def _composite_softmax(x, axis):
    e = F.exp(x - F.max(x, dim=axis, keepdims=True))
    return e / F.sum(e, dim=axis, keepdims=True)


@pytest.mark.parametrize("axis", [-1, 0, 1])
@pytest.mark.parametrize("fused, composite", [
    (F.softmax, _composite_softmax),
    (F.log_softmax, lambda x, axis: F.log(F.softmax(x, dim=axis))),
    (F.log_softmax, lambda x, axis: F.log(_composite_softmax(x, axis))),
], ids=["softmax", "log_softmax_vs_log_softmax", "log_softmax_vs_log_composite"])
def test_fused_equals_composite(fused, composite, axis):
    a = np.random.default_rng(0).standard_normal((3, 4, 2)) * 3
    w = np.random.default_rng(1).standard_normal((3, 4, 2))
    x1, x2 = Tensor(a, requires_grad=True), Tensor(a, requires_grad=True)
    y1, y2 = fused(x1, dim=axis), composite(x2, axis)
    np.testing.assert_allclose(y1.data, y2.data, rtol=1e-12, atol=1e-14)
    y1.backward(w)
    y2.backward(w)
    np.testing.assert_allclose(x1.grad, x2.grad, rtol=1e-10, atol=1e-13)


def test_sigmoid_and_softplus_are_consistent_with_each_other():
    # d softplus / dx = sigmoid(x): two ops whose backward paths differ
    a = np.linspace(-8, 8, 17)
    x = Tensor(a, requires_grad=True)
    F.softplus(x).sum().backward()
    np.testing.assert_allclose(x.grad, F.sigmoid(Tensor(a)).data, rtol=1e-13)


def test_backward_does_not_write_into_the_incoming_gradient():
    """Gradient arrays may be shared (engine contract): an op's backward must not modify gy."""
    x = Tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    w = Tensor(np.array([0.1, 0.2, 0.3]), requires_grad=True)
    for fn in [F.sigmoid, F.tanh, F.relu, F.leaky_relu, F.elu, F.softplus, F.softmax, F.log_softmax,
               lambda t: F.maxout(t, 2), lambda t: F.prelu(t.T, w)]:
        y = fn(x)
        g = np.random.default_rng(1).standard_normal(y.shape)
        g_before = g.copy()

        class Feed(dr.Function):  # hands the test's own array g to fn's backward as gy
            def forward(self, a):
                return a.copy()

            def backward(self, gy):
                return g  # noqa: B023 - used within this iteration

        Feed()(y).backward(np.ones(y.shape))
        np.testing.assert_array_equal(g, g_before)
        assert x.grad is not None
