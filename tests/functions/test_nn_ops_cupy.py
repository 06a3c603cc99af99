"""The neural-network ops on CuPy give what they give on NumPy (skipped without a GPU).

Every op is run on the same float64 inputs on both backends; outputs and every input
gradient must agree, and results must stay on the GPU.
"""
import numpy as np
import pytest

import deeprecipe.functions as F
from deeprecipe import backend
from deeprecipe.engine import Parameter, Tensor

cp = backend.cupy_module()
pytestmark = pytest.mark.skipif(cp is None, reason="CuPy with a GPU is not available")


def _run(fn, arrays, device):
    leaves = []
    for a in arrays:
        a = backend.to_device(np.asarray(a), device)
        leaves.append(Parameter(a) if a.dtype.kind == "f" else Tensor(a))
    y = fn(*leaves)
    gy = backend.to_device(np.random.default_rng(0).standard_normal(y.shape), device)
    y.backward(gy)
    return y, [p.grad for p in leaves if isinstance(p, Parameter)]


def _same_on_gpu(fn, arrays):
    y_cpu, g_cpu = _run(fn, arrays, "cpu")
    y_gpu, g_gpu = _run(fn, arrays, "cuda")
    assert backend.is_cupy_array(y_gpu.data)
    np.testing.assert_allclose(backend.to_device(y_gpu.data, "cpu"), y_cpu.data, rtol=1e-9, atol=1e-9)
    for k, (a, b) in enumerate(zip(g_cpu, g_gpu)):
        assert backend.is_cupy_array(b), f"gradient {k} left the GPU"
        np.testing.assert_allclose(backend.to_device(b, "cpu"), a, rtol=1e-9, atol=1e-9,
                                   err_msg=f"gradient of input {k}")


rng = np.random.default_rng(0)
X4 = rng.standard_normal((4, 3, 6, 6))
CASES = {
    "linear": (F.linear, [rng.standard_normal((5, 4)), rng.standard_normal((3, 4)), rng.standard_normal(3)]),
    "conv2d": (lambda x, W, b: F.conv2d(x, W, b, stride=2, padding=1),
               [X4, rng.standard_normal((2, 3, 3, 3)), rng.standard_normal(2)]),
    "max_pool_tiles": (lambda x: F.max_pool2d(x, 2), [X4]),
    "max_pool_overlap": (lambda x: F.max_pool2d(x, 3, 2, 1), [X4]),
    "avg_pool_overlap": (lambda x: F.avg_pool2d(x, 3, 1, 1), [X4]),
    "avg_pool_tiles": (lambda x: F.avg_pool2d(x, 3), [X4]),
    "batch_norm_train": (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                         [X4, rng.standard_normal(3), rng.standard_normal(3)]),
    "layer_norm": (lambda x, w, b: F.layer_norm(x, (6, 6), w, b),
                   [X4, rng.standard_normal((6, 6)), rng.standard_normal((6, 6))]),
    "group_norm": (lambda x: F.group_norm(x, 3), [X4]),
    "instance_norm": (lambda x, w: F.instance_norm(x, w), [X4, rng.standard_normal(3)]),
    "dropout": (lambda x: F.dropout(x, 0.3, rng=5), [X4]),
    "cross_entropy_labels": (lambda x, t: F.cross_entropy(x, t),
                             [rng.standard_normal((5, 4)), np.array([0, 3, 1, 1, 2])]),
    "cross_entropy_probs": (lambda x, t: F.cross_entropy(x, t, "sum"),
                            [rng.standard_normal((5, 4)), np.full((5, 4), 0.25)]),
    "nll_loss": (lambda x, t: F.nll_loss(x, t, "none"), [rng.standard_normal((5, 4)), np.array([0, 3, 1, 1, 2])]),
    "bce_with_logits": (F.binary_cross_entropy_with_logits, [rng.standard_normal((5, 4)), rng.random((5, 4))]),
    "mse": (F.mse_loss, [rng.standard_normal((5, 4)), rng.standard_normal((5, 4))]),
    "l1": (F.l1_loss, [rng.standard_normal((5, 4)), rng.standard_normal((5, 4))]),
    "huber": (lambda x, t: F.huber_loss(x, t, delta=0.5), [rng.standard_normal((5, 4)), rng.standard_normal((5, 4))]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_op_on_cupy_matches_numpy(name):
    fn, arrays = CASES[name]
    _same_on_gpu(fn, arrays)


def test_batch_norm_eval_and_running_stats_on_cupy():
    x = X4
    rm, rv = np.zeros(3), np.ones(3)
    grm, grv = cp.zeros(3), cp.ones(3)
    F.batch_norm(x, rm, rv, training=True)
    F.batch_norm(cp.asarray(x), grm, grv, training=True)
    np.testing.assert_allclose(grm.get(), rm, rtol=1e-12)
    np.testing.assert_allclose(grv.get(), rv, rtol=1e-12)
    _same_on_gpu(lambda x: F.batch_norm(x, cp.asarray(rm) if backend.is_cupy_array(x.data) else rm,
                                        cp.asarray(rv) if backend.is_cupy_array(x.data) else rv), [x])


def test_accuracy_on_cupy():
    logits = rng.standard_normal((6, 3))
    labels = np.array([0, 1, 2, 0, 1, 2])
    assert F.accuracy(cp.asarray(logits), cp.asarray(labels)) == F.accuracy(logits, labels)
