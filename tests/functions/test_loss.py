"""Losses and accuracy: references, gradient checks, fused vs composite, PyTorch, errors."""
import numpy as np
import pytest

import deeprecipe.functions as F
from deeprecipe.engine import Parameter, Tensor
from tests.conftest import requires_torch, torch
from tests.functions._torch_compare import check_grads, compare_with_torch

TOLS = [(np.float64, 1e-10), (np.float32, 1e-5)]
REDUCTIONS = ["mean", "sum", "none"]


def _reduce(v, reduction):
    return v.mean() if reduction == "mean" else v.sum() if reduction == "sum" else v


def _log_softmax(x):
    z = x - x.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _probs(rng, shape):
    p = rng.random(shape)
    return p / p.sum(axis=1, keepdims=True)


# ---------------------------------------------------------------------------- cross-entropy
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_forward_matches_reference(rng, reduction):
    x, lab, pr = rng.standard_normal((5, 4)), rng.integers(0, 4, 5), _probs(rng, (5, 4))
    lp = _log_softmax(x)
    np.testing.assert_allclose(F.softmax_cross_entropy(x, lab, reduction).data,
                               _reduce(-lp[np.arange(5), lab], reduction), rtol=1e-12)
    np.testing.assert_allclose(F.cross_entropy(x, pr, reduction).data,
                               _reduce(-(pr * lp).sum(axis=1), reduction), rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_gradcheck(rng, reduction):
    lab = rng.integers(0, 4, 5)
    check_grads(lambda x: F.softmax_cross_entropy(x, lab, reduction), [rng.standard_normal((5, 4))])
    # probability targets are differentiable too
    check_grads(lambda x, t: F.softmax_cross_entropy(x, t, reduction),
                [rng.standard_normal((5, 4)), _probs(rng, (5, 4))])


def test_cross_entropy_is_stable_for_huge_logits():
    x = np.array([[1e4, 0.0, -1e4], [0.0, 1e4, 1e4]])
    loss = F.softmax_cross_entropy(Parameter(x), np.array([1, 2]), reduction="none")
    np.testing.assert_allclose(loss.data, [1e4, np.log(2)], rtol=1e-12)
    loss.sum().backward()


@pytest.mark.parametrize("targets", ["labels", "probs"])
def test_cross_entropy_fused_equals_composite(rng, targets):
    x0 = rng.standard_normal((6, 5))
    t = rng.integers(0, 5, 6) if targets == "labels" else _probs(rng, (6, 5))
    onehot = np.eye(5)[t] if targets == "labels" else t
    a, b = Parameter(x0), Parameter(x0)
    fused = F.softmax_cross_entropy(a, t)
    # composite from basic ops: -(log_softmax gathered by a one-hot mask), batch mean
    z = b - F.max(b, dim=1, keepdims=True)
    logp = z - F.log(F.sum(F.exp(z), dim=1, keepdims=True))
    composite = -F.sum(logp * onehot) / 6
    np.testing.assert_allclose(fused.data, composite.data, rtol=1e-12)
    fused.backward()
    composite.backward()
    np.testing.assert_allclose(a.grad, b.grad, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_equals_log_softmax_then_gather(rng, reduction):
    """The fused op against the two-op composite the issue names: log_softmax, then pick
    each row's label by advanced indexing (gather), negate and reduce."""
    x0, lab = rng.standard_normal((6, 5)) * 3, rng.integers(0, 5, 6)
    a, b = Parameter(x0), Parameter(x0)
    fused = F.softmax_cross_entropy(a, lab, reduction)
    picked = -F.log_softmax(b, dim=1)[np.arange(6), lab]
    composite = picked if reduction == "none" else (F.mean(picked) if reduction == "mean" else F.sum(picked))
    np.testing.assert_allclose(fused.data, composite.data, rtol=1e-12, atol=1e-15)
    gy = rng.standard_normal(fused.shape)
    fused.backward(gy)
    composite.backward(gy)
    np.testing.assert_allclose(a.grad, b.grad, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("bad", [5, -1, 9])
def test_cross_entropy_bad_label_names_it(rng, bad):
    lab = np.array([0, 1, bad, 2])
    with pytest.raises(ValueError, match=rf"label {bad}\b.*5 classes"):
        F.softmax_cross_entropy(rng.standard_normal((4, 5)), lab)
    with pytest.raises(ValueError, match=rf"label {bad}\b"):
        F.nll_loss(rng.standard_normal((4, 5)), lab)


def test_cross_entropy_bad_shapes_and_reduction_raise(rng):
    x = rng.standard_normal((4, 3))
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        F.softmax_cross_entropy(x, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(4, 2\)"):
        F.softmax_cross_entropy(x, _probs(rng, (4, 2)))
    with pytest.raises(ValueError, match="2-D"):
        F.softmax_cross_entropy(rng.standard_normal(3), np.array([0]))
    with pytest.raises(ValueError, match="reduction"):
        F.softmax_cross_entropy(x, np.array([0, 1, 2, 0]), reduction="avg")


@requires_torch
@pytest.mark.parametrize("dtype,tol", TOLS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_and_nll_vs_torch(rng, dtype, tol, reduction):
    TF = torch.nn.functional
    x, lab, pr = rng.standard_normal((6, 4)) * 3, rng.integers(0, 4, 6), _probs(rng, (6, 4))
    compare_with_torch(torch, lambda x, t: F.cross_entropy(x, t, reduction),
                       lambda x, t: TF.cross_entropy(x, t, reduction=reduction), [x, lab], dtype, tol)
    compare_with_torch(torch, lambda x, t: F.cross_entropy(x, t, reduction),
                       lambda x, t: TF.cross_entropy(x, t, reduction=reduction), [x, pr], dtype, tol)
    lp = _log_softmax(x)
    compare_with_torch(torch, lambda x, t: F.nll_loss(x, t, reduction),
                       lambda x, t: TF.nll_loss(x, t, reduction=reduction), [lp, lab], dtype, tol)


# ---------------------------------------------------------------------------- nll / bce
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_forward_and_gradcheck(rng, reduction):
    lp, lab = _log_softmax(rng.standard_normal((5, 3))), rng.integers(0, 3, 5)
    np.testing.assert_allclose(F.nll_loss(lp, lab, reduction).data, _reduce(-lp[np.arange(5), lab], reduction))
    check_grads(lambda x: F.nll_loss(x, lab, reduction), [lp])
    with pytest.raises(TypeError, match="integer"):
        F.nll_loss(lp, lab.astype(float))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_forward_gradcheck_and_stability(rng, reduction):
    x, t = rng.standard_normal((4, 3)) * 3, rng.random((4, 3))
    sig = 1 / (1 + np.exp(-x))
    ref = -(t * np.log(sig) + (1 - t) * np.log(1 - sig))
    np.testing.assert_allclose(F.binary_cross_entropy_with_logits(x, t, reduction).data, _reduce(ref, reduction),
                               rtol=1e-12)
    check_grads(lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction), [x, t])
    big = Parameter(np.array([1000.0, -1000.0]))
    loss = F.binary_cross_entropy_with_logits(big, np.array([0.0, 0.0]), "none")
    np.testing.assert_allclose(loss.data, [1000.0, 0.0])
    loss.sum().backward()
    np.testing.assert_allclose(big.grad, [1.0, 0.0])


# ---------------------------------------------------------------------------- regression
def _away_from(d, points, margin=0.05):
    """Push values of ``d`` away from kinks so finite differences stay on one side."""
    for p in points:
        close = np.abs(d - p) < margin
        d = np.where(close, p + np.where(d >= p, 2 * margin, -2 * margin), d)
    return d


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses_forward_and_gradcheck(rng, reduction):
    x, t = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    d = x - t
    np.testing.assert_allclose(F.mse_loss(x, t, reduction).data, _reduce(d ** 2, reduction), rtol=1e-12)
    np.testing.assert_allclose(F.l1_loss(x, t, reduction).data, _reduce(np.abs(d), reduction), rtol=1e-12)
    hub = np.where(np.abs(d) < 0.5, 0.5 * d ** 2, 0.5 * (np.abs(d) - 0.25))
    np.testing.assert_allclose(F.huber_loss(x, t, reduction, delta=0.5).data, _reduce(hub, reduction), rtol=1e-12)
    check_grads(lambda x, t: F.mse_loss(x, t, reduction), [x, t])
    xs = t + _away_from(d, [0.0, -0.5, 0.5])  # L1 and Huber have kinks there
    check_grads(lambda x, t: F.l1_loss(x, t, reduction), [xs, t])
    check_grads(lambda x, t: F.huber_loss(x, t, reduction, delta=0.5), [xs, t])


@pytest.mark.parametrize("fn", ["mse_loss", "l1_loss", "huber_loss", "binary_cross_entropy_with_logits"])
def test_elementwise_losses_refuse_shape_mismatch(rng, fn):
    with pytest.raises(ValueError, match=r"\(4, 1\).*\(4,\)"):
        getattr(F, fn)(rng.standard_normal((4, 1)), rng.standard_normal(4))
    with pytest.raises(ValueError, match="reduction"):
        getattr(F, fn)(rng.standard_normal(4), rng.standard_normal(4), reduction="max")


def test_losses_keep_float32(rng):
    x = Parameter(rng.standard_normal((4, 3)).astype(np.float32))
    for loss in (F.mse_loss(x, rng.standard_normal((4, 3))), F.cross_entropy(x, np.array([0, 1, 2, 0])),
                 F.binary_cross_entropy_with_logits(x, rng.random((4, 3)))):
        assert loss.dtype == np.float32
        loss.backward()
        assert x.grad.dtype == np.float32


@requires_torch
@pytest.mark.parametrize("dtype,tol", TOLS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_and_bce_vs_torch(rng, dtype, tol, reduction):
    TF = torch.nn.functional
    x, t = rng.standard_normal((5, 3)) * 2, rng.standard_normal((5, 3))
    cases = [
        (lambda x, t: F.mse_loss(x, t, reduction), lambda x, t: TF.mse_loss(x, t, reduction=reduction)),
        (lambda x, t: F.l1_loss(x, t, reduction), lambda x, t: TF.l1_loss(x, t, reduction=reduction)),
        (lambda x, t: F.huber_loss(x, t, reduction, 0.8),
         lambda x, t: TF.huber_loss(x, t, reduction=reduction, delta=0.8)),
    ]
    for ours, theirs in cases:
        compare_with_torch(torch, ours, theirs, [x, t], dtype, tol)
    compare_with_torch(torch, lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction),
                       lambda x, t: TF.binary_cross_entropy_with_logits(x, t, reduction=reduction),
                       [x * 5, rng.random((5, 3))], dtype, tol)


# ---------------------------------------------------------------------------- accuracy
def test_accuracy_labels_one_hot_and_tensors():
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 5.0], [4.0, 0.0, 1.0]])
    labels = np.array([0, 1, 1, 2])
    assert F.accuracy(logits, labels) == 0.5
    assert F.accuracy(Tensor(logits), Tensor(labels)) == 0.5
    assert F.accuracy(Parameter(logits), np.eye(3)[labels]) == 0.5
    assert isinstance(F.accuracy(logits, labels), float)
    with pytest.raises(ValueError, match="labels must have shape"):
        F.accuracy(logits, labels[:3])
    with pytest.raises(ValueError, match="do not match"):
        F.accuracy(logits, np.eye(4)[labels])
