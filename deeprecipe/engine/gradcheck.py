"""Numerical gradient checking by central differences (use float64 inputs)."""
from __future__ import annotations

import numpy as np

from ..backend import to_device
from ..config import no_grad
from .tensor import Tensor


def numerical_grad(f, inputs, index, eps=1e-6, out_grad=None):
    """Central-difference gradient of ``sum(f(*inputs) * out_grad)`` w.r.t. ``inputs[index]``."""
    x = inputs[index].data
    g = np.zeros(x.shape, dtype=np.float64)
    it = np.nditer(to_device(x, "cpu"), flags=["multi_index"])
    with no_grad():  # only values are needed: recording a graph per evaluation is waste
        for _ in it:
            i = it.multi_index
            old = x[i].copy() if hasattr(x[i], "copy") else x[i]
            x[i] = old + eps
            yp = _scalar(f(*inputs), out_grad)
            x[i] = old - eps
            ym = _scalar(f(*inputs), out_grad)
            x[i] = old
            g[i] = (yp - ym) / (2 * eps)
    return g


def _scalar(y, out_grad):
    y = to_device(y.data if isinstance(y, Tensor) else y, "cpu").astype(np.float64)
    return float((y * out_grad).sum()) if out_grad is not None else float(y.sum())


def gradcheck(f, inputs, eps=1e-6, rtol=1e-6, atol=1e-8, seed=0, raise_on_fail=True):
    """Compare analytic gradients of ``f`` with central differences for every input that
    requires grad.

    ``f`` maps Tensors to a Tensor.  The output is contracted with a fixed random
    weighting (so every output element matters, not just their sum).  Returns the largest
    relative error; raises ``AssertionError`` naming the input when above tolerance.
    """
    rng = np.random.default_rng(seed)
    y = f(*inputs)
    w = rng.standard_normal(y.shape)
    for t in inputs:
        t.grad = None
    y.backward(grad=to_device(w.astype(y.dtype), y.device))
    worst = 0.0
    for k, t in enumerate(inputs):
        if not (isinstance(t, Tensor) and t.requires_grad):
            continue
        if t.dtype != np.float64:
            raise TypeError("gradcheck needs float64 inputs to be meaningful")
        analytic = np.zeros(t.shape) if t.grad is None else to_device(t.grad, "cpu")
        numeric = numerical_grad(f, inputs, k, eps, w)
        err = np.abs(analytic - numeric)
        denom = np.maximum(np.abs(numeric), np.abs(analytic))
        rel = float(np.max(err / np.maximum(denom, atol / rtol))) if err.size else 0.0
        worst = max(worst, rel)
        if raise_on_fail and not np.all(err <= atol + rtol * denom):
            j = np.unravel_index(np.argmax(err - rtol * denom), err.shape)
            raise AssertionError(
                f"gradient check failed for input {k} (shape {t.shape}) at {j}: analytic "
                f"{analytic[j]!r} vs numeric {numeric[j]!r} (max rel err {rel:.3g})")
    return worst
