"""linear, conv2d (im2col), max/avg pooling: references, gradient checks, PyTorch oracle."""
import numpy as np
import pytest

import deeprecipe.functions as F
from deeprecipe.engine import Parameter, Tensor
from deeprecipe.functions.conv import Conv2d
from deeprecipe.functions.im2col import col2im, im2col
from deeprecipe.functions.linear import Linear
from tests.conftest import requires_torch, torch
from tests.functions._torch_compare import check_grads, compare_with_torch

TOLS = [(np.float64, 1e-10), (np.float32, 1e-5)]


# ---------------------------------------------------------------------------- linear
@pytest.mark.parametrize("x_shape", [(4, 3), (2, 3, 3)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_forward_matches_formula(rng, x_shape, with_bias):
    x = rng.standard_normal(x_shape)
    W = rng.standard_normal((5, 3))
    b = rng.standard_normal(5) if with_bias else None
    y = F.linear(x, W, b)
    expected = np.einsum("...i,oi->...o", x, W) + (b if with_bias else 0)
    assert y.shape == x_shape[:-1] + (5,)
    np.testing.assert_allclose(y.data, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("x_shape", [(4, 3), (2, 3, 3)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_gradcheck(rng, x_shape, with_bias):
    arrays = [rng.standard_normal(x_shape), rng.standard_normal((2, 3))]
    if with_bias:
        arrays.append(rng.standard_normal(2))
    check_grads(F.linear, arrays)


def test_linear_computes_only_needed_grads(rng):
    # the first layer's input is data: its gradient (a GEMM) must not be computed
    x = Tensor(rng.standard_normal((4, 3)))
    W = Parameter(rng.standard_normal((2, 3)))
    f = Linear()
    y = f(x, W)
    gx, gW = f.backward(np.ones(y.shape))
    assert gx is None
    np.testing.assert_allclose(gW, np.ones((4, 2)).T @ x.data)
    W.requires_grad = False
    x2 = Parameter(x.data)
    f2 = Linear()
    f2(x2, W)
    gx2, gW2 = f2.backward(np.ones(y.shape))
    assert gW2 is None
    np.testing.assert_allclose(gx2, np.ones((4, 2)) @ W.data)


def test_linear_bad_shapes_raise(rng):
    W = rng.standard_normal((2, 3))
    with pytest.raises(ValueError, match="in_features=3"):
        F.linear(rng.standard_normal((4, 5)), W)
    with pytest.raises(ValueError, match="bias must have shape"):
        F.linear(rng.standard_normal((4, 3)), W, rng.standard_normal(3))
    with pytest.raises(ValueError, match="2-D"):
        F.linear(rng.standard_normal((4, 3)), rng.standard_normal(3))


@requires_torch
@pytest.mark.parametrize("dtype,tol", TOLS)
@pytest.mark.parametrize("x_shape", [(6, 5), (2, 3, 5)])
def test_linear_vs_torch(rng, dtype, tol, x_shape):
    arrays = [rng.standard_normal(x_shape), rng.standard_normal((4, 5)), rng.standard_normal(4)]
    compare_with_torch(torch, F.linear, torch.nn.functional.linear, arrays, dtype, tol)


# ---------------------------------------------------------------------------- conv2d
def naive_conv2d(x, W, b, stride, padding):
    sh, sw = stride
    ph, pw = padding
    N, C, H, Wd = x.shape
    O, _, kh, kw = W.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh, ow = (H + 2 * ph - kh) // sh + 1, (Wd + 2 * pw - kw) // sw + 1
    y = np.zeros((N, O, oh, ow))
    for n in range(N):
        for o in range(O):
            for i in range(oh):
                for j in range(ow):
                    y[n, o, i, j] = np.sum(xp[n, :, i * sh:i * sh + kh, j * sw:j * sw + kw] * W[o])
    if b is not None:
        y += b[None, :, None, None]
    return y


CONV_CASES = [  # (x shape, weight shape, stride, padding)
    ((2, 3, 5, 6), (4, 3, 3, 3), 1, 0),
    ((2, 3, 5, 6), (4, 3, 3, 3), 2, 1),
    ((1, 2, 6, 5), (3, 2, 2, 3), (2, 1), (1, 0)),
    ((2, 1, 4, 4), (2, 1, 1, 1), 1, 0),
    ((2, 2, 4, 6), (3, 2, 2, 2), 2, 0),
]


def _pair(v):
    return v if isinstance(v, tuple) else (v, v)


@pytest.mark.parametrize("x_shape,w_shape,stride,padding", CONV_CASES)
def test_conv2d_matches_naive_loops(rng, x_shape, w_shape, stride, padding):
    x, W, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    y = F.conv2d(x, W, b, stride=stride, padding=padding)
    np.testing.assert_allclose(y.data, naive_conv2d(x, W, b, _pair(stride), _pair(padding)), rtol=1e-12, atol=1e-12)
    assert y.data.flags.c_contiguous
    y0 = F.conv2d(x, W, stride=stride, padding=padding)
    np.testing.assert_allclose(y0.data, naive_conv2d(x, W, None, _pair(stride), _pair(padding)), atol=1e-12)


@pytest.mark.parametrize("x_shape,w_shape,stride,padding", CONV_CASES[:3])
def test_conv2d_gradcheck(rng, x_shape, w_shape, stride, padding):
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])]
    check_grads(lambda x, W, b: F.conv2d(x, W, b, stride, padding), arrays)


def test_conv2d_without_bias_gradcheck(rng):
    arrays = [rng.standard_normal((1, 2, 4, 4)), rng.standard_normal((2, 2, 3, 3))]
    check_grads(lambda x, W: F.conv2d(x, W, padding=1), arrays)


def test_conv2d_skips_input_grad_for_data(rng):
    f = Conv2d((1, 1), (0, 0))
    y = f(Tensor(rng.standard_normal((1, 2, 4, 4))), Parameter(rng.standard_normal((3, 2, 3, 3))))
    gx, gW = f.backward(np.ones(y.shape))
    assert gx is None and gW.shape == (3, 2, 3, 3)


def test_im2col_col2im_are_adjoint(rng):
    # <im2col(x), c> == <x, col2im(c)> for overlapping windows with padding and stride
    x = rng.standard_normal((2, 3, 7, 6))
    col = im2col(x, 3, 2, 2, 1, 1, 1)
    c = rng.standard_normal(col.shape)
    lhs = np.sum(col * c)
    rhs = np.sum(x * col2im(c, x.shape, 2, 1, 1, 1))
    assert np.isclose(lhs, rhs, rtol=1e-12)


def test_conv2d_bad_input_raises(rng):
    with pytest.raises(ValueError, match="channels"):
        F.conv2d(rng.standard_normal((1, 3, 5, 5)), rng.standard_normal((2, 4, 3, 3)))
    with pytest.raises(ValueError, match="larger than the padded"):
        F.conv2d(rng.standard_normal((1, 1, 2, 2)), rng.standard_normal((1, 1, 3, 3)))
    with pytest.raises(ValueError, match="4-D"):
        F.conv2d(rng.standard_normal((3, 5, 5)), rng.standard_normal((2, 3, 3, 3)))
    with pytest.raises(TypeError, match="stride"):
        F.conv2d(rng.standard_normal((1, 1, 5, 5)), rng.standard_normal((1, 1, 3, 3)), stride=1.5)


@requires_torch
@pytest.mark.parametrize("dtype,tol", TOLS)
@pytest.mark.parametrize("x_shape,w_shape,stride,padding", CONV_CASES)
def test_conv2d_vs_torch(rng, dtype, tol, x_shape, w_shape, stride, padding):
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])]
    compare_with_torch(torch, lambda x, W, b: F.conv2d(x, W, b, stride, padding),
                       lambda x, W, b: torch.nn.functional.conv2d(x, W, b, stride, padding), arrays, dtype, tol)


# ---------------------------------------------------------------------------- pooling
def naive_pool(x, k, s, p, kind):
    kh, kw = _pair(k)
    sh, sw = _pair(s if s is not None else k)
    ph, pw = _pair(p)
    fill = -np.inf if kind == "max" else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    N, C, H, W = x.shape
    oh, ow = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    y = np.zeros((N, C, oh, ow))
    for i in range(oh):
        for j in range(ow):
            win = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            y[:, :, i, j] = win.max(axis=(2, 3)) if kind == "max" else win.mean(axis=(2, 3))
    return y


POOL_CASES = [  # (x shape, kernel, stride, padding); the first two take the reshape fast path
    ((2, 3, 4, 6), 2, None, 0),
    ((1, 2, 6, 6), 3, 3, 0),
    ((2, 2, 5, 7), 3, 2, 1),
    ((1, 2, 5, 5), 3, 1, 1),
    ((1, 1, 6, 5), (2, 3), (1, 2), (1, 0)),
    ((1, 1, 5, 5), 2, None, 0),  # kernel == stride but 5 not divisible: general path
]


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("x_shape,k,s,p", POOL_CASES)
def test_pool_matches_naive_loops(rng, kind, x_shape, k, s, p):
    x = rng.standard_normal(x_shape)
    fn = F.max_pool2d if kind == "max" else F.avg_pool2d
    np.testing.assert_allclose(fn(x, k, s, p).data, naive_pool(x, k, s, p, kind), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("x_shape,k,s,p", POOL_CASES[:5])
def test_pool_gradcheck(rng, kind, x_shape, k, s, p):
    fn = F.max_pool2d if kind == "max" else F.avg_pool2d
    check_grads(lambda x: fn(x, k, s, p), [rng.standard_normal(x_shape)])


@pytest.mark.parametrize("x_shape,k,s,p", [POOL_CASES[0], POOL_CASES[3]])
def test_max_pool_gradient_goes_to_first_maximum_on_ties(x_shape, k, s, p):
    x = Parameter(np.zeros(x_shape))  # every window is a tie
    F.max_pool2d(x, k, s, p).sum().backward()
    expected = np.zeros(x_shape)
    kh, kw = _pair(k)
    sh, sw = _pair(s if s is not None else k)
    ph, pw = _pair(p)
    oh, ow = (x_shape[2] + 2 * ph - kh) // sh + 1, (x_shape[3] + 2 * pw - kw) // sw + 1
    for i in range(oh):
        for j in range(ow):
            # first real (unpadded) pixel of the window, in row-major order
            r, c = max(i * sh - ph, 0), max(j * sw - pw, 0)
            expected[:, :, r, c] += 1
    np.testing.assert_array_equal(x.grad, expected)


def test_max_pool_propagates_nan():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 1] = np.nan
    assert np.isnan(F.max_pool2d(x, 2).data[0, 0, 0, 0])
    assert np.isnan(F.max_pool2d(x, 3, 1, 1).data[0, 0, 0, 0])


def test_pool_bad_arguments_raise(rng):
    x = rng.standard_normal((1, 1, 4, 4))
    with pytest.raises(ValueError, match="half the kernel"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match="4-D"):
        F.avg_pool2d(rng.standard_normal((4, 4)), 2)
    with pytest.raises(ValueError, match="larger than"):
        F.max_pool2d(x, 5)


@requires_torch
@pytest.mark.parametrize("dtype,tol", TOLS)
@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("x_shape,k,s,p", POOL_CASES)
def test_pool_vs_torch(rng, dtype, tol, kind, x_shape, k, s, p):
    ours = F.max_pool2d if kind == "max" else F.avg_pool2d
    theirs = torch.nn.functional.max_pool2d if kind == "max" else torch.nn.functional.avg_pool2d
    compare_with_torch(torch, lambda x: ours(x, k, s, p), lambda x: theirs(x, k, s, p),
                       [rng.standard_normal(x_shape)], dtype, tol)
