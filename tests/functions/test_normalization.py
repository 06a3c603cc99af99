"""batch_norm, layer_norm, group_norm, instance_norm: references, gradient checks, PyTorch."""
import numpy as np
import pytest

import deeprecipe.functions as F
from deeprecipe.engine import Parameter
from tests.conftest import requires_torch, torch
from tests.functions._torch_compare import check_grads, compare_with_torch

TOLS = [(np.float64, 1e-10), (np.float32, 1e-5)]
# (4, 3, 2, 3): 6 values per example and channel, the general path; (3, 2, 4, 5) and (2, 3, 17):
# at least SPATIAL_MIN of them, the spatial training path of batch norm
SHAPES = [(6, 3), (4, 3, 2, 3), (3, 2, 4, 5), (2, 3, 17)]


def _axes(shape):
    return (0,) + tuple(range(2, len(shape)))


def _bshape(shape):
    return (1, shape[1]) + (1,) * (len(shape) - 2)


def ref_batch_norm_train(x, w, b, eps=1e-5):
    ax = _axes(x.shape)
    mu = x.mean(axis=ax, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=ax, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w.reshape(_bshape(x.shape)) + b.reshape(_bshape(x.shape))


# ---------------------------------------------------------------------------- batch norm
@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_train_forward_and_running_stats(rng, shape):
    x = rng.standard_normal(shape) * 3 + 1
    C = shape[1]
    w, b = rng.standard_normal(C), rng.standard_normal(C)
    rm, rv = np.zeros(C), np.ones(C)
    rm_id, rv_id = id(rm), id(rv)
    y = F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.2)
    np.testing.assert_allclose(y.data, ref_batch_norm_train(x, w, b), rtol=1e-12, atol=1e-12)
    ax = _axes(shape)
    np.testing.assert_allclose(rm, 0.2 * x.mean(axis=ax), rtol=1e-12)
    np.testing.assert_allclose(rv, 0.8 + 0.2 * x.var(axis=ax, ddof=1), rtol=1e-12)  # unbiased
    assert id(rm) == rm_id and id(rv) == rv_id  # updated in place (buffers)


@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_eval_uses_running_stats_and_ignores_the_batch(rng, shape):
    x = rng.standard_normal(shape)
    C = shape[1]
    w, b = rng.standard_normal(C), rng.standard_normal(C)
    rm, rv = rng.standard_normal(C), rng.random(C) + 0.5
    rm0, rv0 = rm.copy(), rv.copy()
    y = F.batch_norm(x, rm, rv, w, b, training=False)
    bs = _bshape(shape)
    expected = (x - rm.reshape(bs)) / np.sqrt(rv.reshape(bs) + 1e-5) * w.reshape(bs) + b.reshape(bs)
    np.testing.assert_allclose(y.data, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(rm, rm0)  # eval never touches the buffers
    np.testing.assert_array_equal(rv, rv0)
    # an example's output does not depend on the rest of the batch
    alone = F.batch_norm(x[1:2], rm, rv, w, b, training=False)
    np.testing.assert_allclose(alone.data, y.data[1:2], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_train_gradcheck(rng, shape, affine):
    C = shape[1]  # batch size >= 4: with 1 the check would be vacuous
    arrays = [rng.standard_normal(shape)]
    if affine:
        arrays += [rng.standard_normal(C), rng.standard_normal(C)]
        check_grads(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), arrays)
    else:
        check_grads(lambda x: F.batch_norm(x, None, None, training=True), arrays)


@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_eval_gradcheck(rng, shape):
    C = shape[1]
    rm, rv = rng.standard_normal(C), rng.random(C) + 0.5
    arrays = [rng.standard_normal(shape), rng.standard_normal(C), rng.standard_normal(C)]
    check_grads(lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=False), arrays)


@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_fused_equals_composite(rng, shape):
    C = shape[1]
    x0, w0, b0 = rng.standard_normal(shape), rng.standard_normal(C), rng.standard_normal(C)
    ps = [Parameter(a) for a in (x0, w0, b0)]
    y = F.batch_norm(ps[0], None, None, ps[1], ps[2], training=True)
    qs = [Parameter(a) for a in (x0, w0, b0)]
    ax, bs = _axes(shape), _bshape(shape)
    mu = F.mean(qs[0], dim=ax, keepdims=True)
    xc = qs[0] - mu
    var = F.mean(xc * xc, dim=ax, keepdims=True)
    yc = xc / F.sqrt(var + 1e-5) * F.reshape(qs[1], bs) + F.reshape(qs[2], bs)
    np.testing.assert_allclose(y.data, yc.data, rtol=1e-12, atol=1e-12)
    gy = rng.standard_normal(shape)
    y.backward(gy)
    yc.backward(gy)
    for p, q in zip(ps, qs):
        np.testing.assert_allclose(p.grad, q.grad, rtol=1e-10, atol=1e-12)


def test_batch_norm_single_value_per_channel_raises_in_training(rng):
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        F.batch_norm(rng.standard_normal((1, 3)), np.zeros(3), np.ones(3), training=True)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        F.batch_norm(rng.standard_normal((1, 3, 1, 1)), None, None, training=True)
    # evaluation with one example is fine
    F.batch_norm(rng.standard_normal((1, 3)), np.zeros(3), np.ones(3), training=False)


def test_batch_norm_bad_arguments_raise(rng):
    x = rng.standard_normal((4, 3))
    with pytest.raises(ValueError, match="running_mean and running_var are needed"):
        F.batch_norm(x, None, None, training=False)
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\)"):
        F.batch_norm(x, None, None, np.ones(4), training=True)
    with pytest.raises(ValueError, match="at least 2-D"):
        F.batch_norm(rng.standard_normal(4), None, None, training=True)


@requires_torch
@pytest.mark.parametrize("dtype,tol", TOLS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_vs_torch_with_running_stats_over_steps(rng, dtype, tol, shape, training):
    C = shape[1]
    w, b = rng.standard_normal(C), rng.standard_normal(C)
    rm, rv = np.zeros(C, dtype), np.ones(C, dtype)
    trm = torch.zeros(C, dtype=torch.float64 if dtype == np.float64 else torch.float32)
    trv = torch.ones_like(trm)
    for step in range(3):  # running stats compound over steps
        x = rng.standard_normal(shape) * (step + 1) + step
        compare_with_torch(
            torch,
            lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=training, momentum=0.3, eps=1e-3),
            lambda x, w, b: torch.nn.functional.batch_norm(x, trm, trv, w, b, training=training,
                                                           momentum=0.3, eps=1e-3),
            [x, w, b], dtype, tol)
        np.testing.assert_allclose(rm, trm.numpy(), rtol=tol, atol=tol)
        np.testing.assert_allclose(rv, trv.numpy(), rtol=tol, atol=tol)
    if not training:
        np.testing.assert_array_equal(rm, 0)


# ---------------------------------------------------------------------------- layer norm
@pytest.mark.parametrize("normalized_shape", [4, (3, 4)])
def test_layer_norm_forward_and_gradcheck(rng, normalized_shape):
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
    x = rng.standard_normal((2, 3, 4)) * 2 + 1
    w, b = rng.standard_normal(ns), rng.standard_normal(ns)
    ax = tuple(range(3 - len(ns), 3))
    mu = x.mean(axis=ax, keepdims=True)
    expected = (x - mu) / np.sqrt(x.var(axis=ax, keepdims=True) + 1e-5) * w + b
    np.testing.assert_allclose(F.layer_norm(x, normalized_shape, w, b).data, expected, rtol=1e-12, atol=1e-12)
    check_grads(lambda x, w, b: F.layer_norm(x, normalized_shape, w, b), [x, w, b])
    check_grads(lambda x: F.layer_norm(x, normalized_shape), [x])


def test_layer_norm_bad_shape_raises(rng):
    with pytest.raises(ValueError, match="trailing dimensions"):
        F.layer_norm(rng.standard_normal((2, 3)), (2,))
    with pytest.raises(ValueError, match="weight must have shape"):
        F.layer_norm(rng.standard_normal((2, 3)), 3, np.ones(2))


@requires_torch
@pytest.mark.parametrize("dtype,tol", TOLS)
def test_layer_norm_vs_torch(rng, dtype, tol):
    arrays = [rng.standard_normal((2, 3, 4)), rng.standard_normal((3, 4)), rng.standard_normal((3, 4))]
    compare_with_torch(torch, lambda x, w, b: F.layer_norm(x, (3, 4), w, b),
                       lambda x, w, b: torch.nn.functional.layer_norm(x, (3, 4), w, b), arrays, dtype, tol)


# ---------------------------------------------------------------------------- group / instance norm
def test_group_norm_forward_and_gradcheck(rng):
    x = rng.standard_normal((2, 4, 2, 3))
    w, b = rng.standard_normal(4), rng.standard_normal(4)
    xg = x.reshape(2, 2, -1)
    xhat = ((xg - xg.mean(-1, keepdims=True)) / np.sqrt(xg.var(-1, keepdims=True) + 1e-5)).reshape(x.shape)
    expected = xhat * w[None, :, None, None] + b[None, :, None, None]
    np.testing.assert_allclose(F.group_norm(x, 2, w, b).data, expected, rtol=1e-12, atol=1e-12)
    check_grads(lambda x, w, b: F.group_norm(x, 2, w, b), [x, w, b])
    check_grads(lambda x: F.group_norm(x, 4), [x])


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (3, 2, 6)])
def test_instance_norm_forward_matches_formula(rng, shape):
    x = rng.standard_normal(shape) * 3 + 2
    C = shape[1]
    w, b = rng.standard_normal(C), rng.standard_normal(C)
    ax = tuple(range(2, len(shape)))  # each (example, channel) over its spatial positions
    xhat = (x - x.mean(axis=ax, keepdims=True)) / np.sqrt(x.var(axis=ax, keepdims=True) + 1e-5)
    bs = _bshape(shape)
    np.testing.assert_allclose(F.instance_norm(x, w, b).data, xhat * w.reshape(bs) + b.reshape(bs),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(F.instance_norm(x).data, xhat, rtol=1e-12, atol=1e-12)


def test_instance_norm_gradcheck_and_errors(rng):
    x = rng.standard_normal((2, 3, 2, 2))
    check_grads(lambda x, w, b: F.instance_norm(x, w, b), [x, rng.standard_normal(3), rng.standard_normal(3)])
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        F.instance_norm(rng.standard_normal((2, 3, 1, 1)))
    with pytest.raises(ValueError, match="divisor"):
        F.group_norm(x, 2)


@requires_torch
@pytest.mark.parametrize("dtype,tol", TOLS)
@pytest.mark.parametrize("groups", [1, 2, 6])
def test_group_norm_vs_torch(rng, dtype, tol, groups):
    arrays = [rng.standard_normal((3, 6, 2, 3)) * 2 + 1, rng.standard_normal(6), rng.standard_normal(6)]
    compare_with_torch(torch, lambda x, w, b: F.group_norm(x, groups, w, b),
                       lambda x, w, b: torch.nn.functional.group_norm(x, groups, w, b), arrays, dtype, tol)


@requires_torch
@pytest.mark.parametrize("dtype,tol", TOLS)
def test_instance_norm_vs_torch(rng, dtype, tol):
    arrays = [rng.standard_normal((3, 4, 3, 2)), rng.standard_normal(4), rng.standard_normal(4)]
    compare_with_torch(torch, lambda x, w, b: F.instance_norm(x, w, b),
                       lambda x, w, b: torch.nn.functional.instance_norm(x, weight=w, bias=b), arrays, dtype, tol)
