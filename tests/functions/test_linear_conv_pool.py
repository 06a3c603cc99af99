"""linear, conv2d (im2col), max/avg pooling: references, gradient checks, PyTorch oracle."""
import numpy as np
import pytest

import deeprecipe.functions as F
from deeprecipe.engine import Parameter, Tensor
from deeprecipe.functions.conv import Conv2d
from deeprecipe.functions.im2col import col2im, col2im_batch, give, im2col, im2col_batch, release_scratch, scratch, take
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


@pytest.mark.parametrize("x_shape", [(4, 3), (2, 3, 3), (1, 3), (1, 1, 3)])  # batch of one: the dot path
@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_gradcheck(rng, x_shape, with_bias):
    arrays = [rng.standard_normal(x_shape), rng.standard_normal((2, 3))]
    if with_bias:
        arrays.append(rng.standard_normal(2))
    check_grads(F.linear, arrays)


@pytest.mark.parametrize("n", [1, 2, 5, 64, 65, 80])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_swapped_forward_gemm_same_result_c_ordered(rng, n, dtype, with_bias):
    # batches 2..64 narrower than the output take the swapped GEMM W @ x.T; the result
    # must be the same numbers, C-ordered, at every batch on both sides of the switch
    x = rng.standard_normal((n, 9)).astype(dtype)
    W = rng.standard_normal((70, 9)).astype(dtype)
    b = rng.standard_normal(70).astype(dtype) if with_bias else None
    y = F.linear(x, W, b).data
    expected = np.einsum("ni,oi->no", x.astype(np.float64), W.astype(np.float64)) + (b if with_bias else 0)
    assert y.dtype == dtype and y.shape == (n, 70) and y.flags.c_contiguous
    np.testing.assert_allclose(y, expected, rtol=1e-12 if dtype == np.float64 else 1e-5, atol=1e-5)


def test_linear_swapped_forward_gradcheck(rng):
    check_grads(F.linear, [rng.standard_normal((3, 4)), rng.standard_normal((6, 4)), rng.standard_normal(6)])


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
@pytest.mark.parametrize("x_shape", [(6, 5), (2, 3, 5), (1, 5), (3, 5)])  # (3, 5): the swapped GEMM
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


CONV_CASES = [  # (x shape, weight shape, stride, padding); each runs in both layouts
    ((2, 3, 5, 6), (4, 3, 3, 3), 1, 0),
    ((2, 3, 5, 6), (4, 3, 3, 3), 2, 1),
    ((1, 2, 6, 5), (3, 2, 2, 3), (2, 1), (1, 0)),
    ((2, 1, 4, 4), (2, 1, 1, 1), 1, 0),
    ((2, 2, 4, 6), (3, 2, 2, 2), 2, 0),
    ((2, 2, 7, 7), (3, 2, 2, 2), 3, 0),  # stride > kernel: pixels no window covers
]


def _pair(v):
    return v if isinstance(v, tuple) else (v, v)


@pytest.fixture(params=["batch-major", "channel-major"])
def conv_layout(request, monkeypatch):
    """Run a conv test under each im2col layout (conv2d picks one by C*kh*kw)."""
    import deeprecipe.functions.conv as conv_module
    monkeypatch.setattr(conv_module, "BATCH_MAJOR_MAX_K", 10**9 if request.param == "batch-major" else 0)
    return request.param


@pytest.mark.parametrize("x_shape,w_shape,stride,padding", CONV_CASES)
def test_conv2d_matches_naive_loops(conv_layout, rng, x_shape, w_shape, stride, padding):
    x, W, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    y = F.conv2d(x, W, b, stride=stride, padding=padding)
    np.testing.assert_allclose(y.data, naive_conv2d(x, W, b, _pair(stride), _pair(padding)), rtol=1e-12, atol=1e-12)
    assert y.data.flags.c_contiguous
    y0 = F.conv2d(x, W, stride=stride, padding=padding)
    np.testing.assert_allclose(y0.data, naive_conv2d(x, W, None, _pair(stride), _pair(padding)), atol=1e-12)


@pytest.mark.parametrize("x_shape,w_shape,stride,padding", CONV_CASES[:3])
def test_conv2d_gradcheck(conv_layout, rng, x_shape, w_shape, stride, padding):
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])]
    check_grads(lambda x, W, b: F.conv2d(x, W, b, stride, padding), arrays)


def test_conv2d_without_bias_gradcheck(conv_layout, rng):
    arrays = [rng.standard_normal((1, 2, 4, 4)), rng.standard_normal((2, 2, 3, 3))]
    check_grads(lambda x, W: F.conv2d(x, W, padding=1), arrays)


def test_conv2d_skips_input_grad_for_data(conv_layout, rng):
    f = Conv2d((1, 1), (0, 0))
    y = f(Tensor(rng.standard_normal((1, 2, 4, 4))), Parameter(rng.standard_normal((3, 2, 3, 3))))
    gx, gW = f.backward(np.ones(y.shape))
    assert gx is None and gW.shape == (3, 2, 3, 3)


@pytest.mark.parametrize("to_col,to_im", [(im2col, col2im), (im2col_batch, col2im_batch)])
@pytest.mark.parametrize("k,s,p", [((3, 2), (2, 1), (1, 1)), ((3, 3), (1, 1), (1, 1)), ((2, 3), (1, 1), (0, 2)),
                                   ((2, 2), (2, 2), (0, 0)), ((2, 3), (3, 3), (1, 0))])
def test_im2col_col2im_are_adjoint(rng, to_col, to_im, k, s, p):
    # <im2col(x), c> == <x, col2im(c)> for overlapping windows with padding and stride,
    # for windows that tile the image, and for windows with gaps between them
    x = rng.standard_normal((2, 3, 7, 6))
    col = to_col(x, *k, *s, *p)
    c = rng.standard_normal(col.shape)
    lhs = np.sum(col * c)
    rhs = np.sum(x * to_im(c, x.shape, *s, *p))
    assert np.isclose(lhs, rhs, rtol=1e-12)


def test_im2col_layouts_hold_the_same_receptive_fields(rng):
    x = rng.standard_normal((2, 3, 6, 5))
    cm = im2col(x, 3, 2, 2, 1, 1, 0)  # (C, kh, kw, N, oh, ow)
    bm = im2col_batch(x, 3, 2, 2, 1, 1, 0)  # (N, C, kh, kw, oh, ow)
    np.testing.assert_array_equal(cm.transpose(3, 0, 1, 2, 4, 5), bm)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (0, 0)))
    np.testing.assert_array_equal(bm[1, 2, 1, 0], xp[1, 2, 1:1 + 2 * bm.shape[4]:2, 0:bm.shape[5]])


@pytest.mark.parametrize("frozen", ["x", "W", "b", "W and b"])
def test_conv2d_gradients_when_some_inputs_are_frozen(conv_layout, rng, frozen):
    # the op skips the gradients nobody needs (and the col matrix when W is frozen);
    # the ones it returns must not change
    arrays = [rng.standard_normal((2, 4, 5, 6)), rng.standard_normal((3, 4, 3, 3)), rng.standard_normal(3)]
    gy = rng.standard_normal((2, 3, 3, 6))
    full = [Parameter(a) for a in arrays]
    F.conv2d(*full, stride=(2, 1), padding=(1, 1)).backward(gy)
    part = [Tensor(a) if name in frozen.split(" and ") else Parameter(a) for name, a in zip("xWb", arrays)]
    F.conv2d(*part, stride=(2, 1), padding=(1, 1)).backward(gy)
    for p, f in zip(part, full):
        if isinstance(p, Parameter):
            np.testing.assert_allclose(p.grad, f.grad, rtol=1e-12, atol=1e-12)
        else:
            assert p.grad is None


# ------------------------------------------------- reused memory (scratch, take/give)
def test_take_recycles_only_what_was_given_back():
    release_scratch()
    a = take(np, (4, 5), np.float32, "t")
    b = take(np, (4, 5), np.float32, "t")
    assert not np.shares_memory(a, b)  # a is still held: never handed out twice
    give("t", a)
    c = take(np, (2, 9), np.float32, "t")  # fits in a's buffer (80 bytes for 72)
    assert np.shares_memory(a, c) and c.shape == (2, 9) and c.dtype == np.float32
    assert not np.shares_memory(take(np, (4, 5), np.float32, "t"), c)
    give("t", np.ones(3, dtype=np.uint8))  # not from take: ignored, not reused
    assert take(np, (3,), np.uint8, "t").size == 3
    s1 = scratch(np, (3, 4), np.float64, "s")
    assert np.shares_memory(s1, scratch(np, (2, 2), np.float32, "s"))  # same slot: same memory
    release_scratch()


@pytest.mark.parametrize("shape,w_shape", [((1, 40, 5, 5), (1, 40, 3, 3)), ((3, 40, 5, 5), (2, 40, 3, 3))])
def test_conv2d_results_do_not_alias_reused_buffers(rng, shape, w_shape):
    # N = 1 or O = 1 makes the channel-major -> NCHW transposes contiguous views: the
    # outputs and gradients must still be copies, not views of a reused buffer
    outs = []
    for _ in range(2):
        x, W = Parameter(rng.standard_normal(shape)), Parameter(rng.standard_normal(w_shape))
        y = F.conv2d(x, W, padding=1)
        y.backward(np.ones(y.shape))
        outs.append((x, W, y))
    for x, W, y in outs:
        np.testing.assert_allclose(y.data, naive_conv2d(x.data, W.data, None, (1, 1), (1, 1)), atol=1e-12)
        gx = F.conv2d(Tensor(np.ones(y.shape)), Tensor(np.flip(W.data, (2, 3)).transpose(1, 0, 2, 3).copy()),
                      padding=1).data
        np.testing.assert_allclose(x.grad, gx, atol=1e-12)


def _poison_reused_buffers():
    """Fill every scratch and recycled buffer of this thread with 0xFF bytes (NaN as a
    float), so that an op that reads what it did not write shows it."""
    from deeprecipe.functions import buffers
    state = buffers._scratch.__dict__
    bufs = list(state.get("bufs", {}).values()) + [b for free in state.get("free", {}).values() for b in free]
    assert bufs, "the ops reused no memory: nothing to poison"
    for b in bufs:
        b.fill(0xFF)


@pytest.mark.parametrize("op", [
    lambda x, W, b: F.conv2d(x, W, b, stride=1, padding=1),
    lambda x, W, b: F.conv2d(x, W, b, stride=(2, 1), padding=(1, 2)),
    lambda x, W, b: F.conv2d(x, W, b, stride=2, padding=0),
    lambda x, W, b: F.max_pool2d(F.conv2d(x, W, b, padding=1), 2) * 1.0,
    lambda x, W, b: F.max_pool2d(F.conv2d(x, W, b), 2),
])
def test_ops_fully_overwrite_reused_buffers(conv_layout, rng, op):
    arrays = [rng.standard_normal((3, 4, 7, 6)), rng.standard_normal((5, 4, 3, 3)), rng.standard_normal(5)]
    gys = []

    def run():
        leaves = [Parameter(a) for a in arrays]
        y = op(*leaves)
        if not gys:
            gys.append(rng.standard_normal(y.shape))
        y.backward(gys[0])
        return [y.data] + [p.grad for p in leaves]

    release_scratch()
    first = run()  # fresh buffers; then every reused one is poisoned before the rerun
    _poison_reused_buffers()
    for a, b in zip(first, run()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", ["conv", "pool"])
def test_saved_buffers_survive_two_graphs_and_retained_graphs(conv_layout, rng, kind):
    # the col matrix / pooling masks are recycled after backward: two graphs alive at
    # once, and a graph kept with retain_graph=True, must each keep their own
    W = Parameter(rng.standard_normal((3, 4, 3, 3)))
    f = (lambda x: F.conv2d(x, W, padding=1)) if kind == "conv" else (lambda x: F.max_pool2d(x, 2))
    xs = [Parameter(rng.standard_normal((2, 4, 6, 6))) for _ in range(2)]
    ys = [f(x) for x in xs]
    gy = rng.standard_normal(ys[0].shape)
    ys[0].backward(gy, retain_graph=True)
    first = (xs[0].grad.copy(), W.grad.copy() if kind == "conv" else None)
    ys[1].backward(gy)  # recycles its buffers ...
    f(Parameter(rng.standard_normal((2, 4, 6, 6)))).backward(gy)  # ... which this graph may take
    xs[0].grad = None
    W.grad = None
    ys[0].backward(gy)  # the retained graph still computes the same gradients
    np.testing.assert_array_equal(xs[0].grad, first[0])
    if kind == "conv":
        np.testing.assert_array_equal(W.grad, first[1])


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
def test_conv2d_vs_torch(conv_layout, rng, dtype, tol, x_shape, w_shape, stride, padding):
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


POOL_CASES = [  # (x shape, kernel, stride, padding); max pooling 2x2/2 (first, last) has its own path
    ((2, 3, 4, 6), 2, None, 0),
    ((1, 2, 6, 6), 3, 3, 0),
    ((2, 2, 5, 7), 3, 2, 1),
    ((1, 2, 5, 5), 3, 1, 1),
    ((1, 1, 6, 5), (2, 3), (1, 2), (1, 0)),
    ((1, 1, 5, 5), 2, None, 0),  # kernel == stride but 5 not divisible: the last row/column is dropped
]


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("x_shape,k,s,p", POOL_CASES)
def test_pool_matches_naive_loops(rng, kind, x_shape, k, s, p):
    x = rng.standard_normal(x_shape)
    fn = F.max_pool2d if kind == "max" else F.avg_pool2d
    np.testing.assert_allclose(fn(x, k, s, p).data, naive_pool(x, k, s, p, kind), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("x_shape,k,s,p", POOL_CASES)
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


@requires_torch
@pytest.mark.parametrize("x_shape,k,s,p", [POOL_CASES[0], POOL_CASES[5], POOL_CASES[2], POOL_CASES[3]])
def test_max_pool_ties_match_torch(rng, x_shape, k, s, p):
    # small integers make most windows hold ties (in every position: row, column, both);
    # torch gives the gradient to the first maximum in row-major order, as we must
    x = rng.integers(0, 3, x_shape).astype(np.float64)
    compare_with_torch(torch, lambda x: F.max_pool2d(x, k, s, p),
                       lambda x: torch.nn.functional.max_pool2d(x, k, s, p), [x], np.float64, 1e-12)


@pytest.mark.parametrize("k", [2, 3])
def test_max_pool_window_with_nan_passes_no_gradient(rng, k):
    x = rng.standard_normal((2, 3, 2 * k, 2 * k))
    x[1, 2, 0, k - 1] = np.nan  # inside the first window of that channel
    xt = Parameter(x)
    y = F.max_pool2d(xt, k)
    assert np.isnan(y.data[1, 2, 0, 0]) and np.isfinite(np.delete(y.data.ravel(), 1 * 12 + 2 * 4)).all()
    y.sum().backward()
    g = xt.grad
    np.testing.assert_array_equal(g[1, 2, :k, :k], 0)
    # every other window passes its gradient to exactly its maximum
    win = g.reshape(2, 3, 2, k, 2, k).sum(axis=(3, 5))
    expected = np.ones((2, 3, 2, 2))
    expected[1, 2, 0, 0] = 0
    np.testing.assert_array_equal(win, expected)
    xs = np.where(np.isnan(x), -np.inf, x).reshape(2, 3, 2, k, 2, k)
    is_max = xs == xs.max(axis=(3, 5), keepdims=True)
    assert np.all(g.reshape(2, 3, 2, k, 2, k)[~is_max] == 0)


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
