"""Evaluation without a graph: the one evaluation loop (``run_eval``) that ``fit``'s
validation, ``evaluate`` and ``predict`` share, in eval mode, restoring the model's mode."""
from __future__ import annotations

import contextlib

import numpy as np

from .. import backend
from ..config import no_grad
from ..engine.tensor import Tensor
from .callbacks.base import CallbackList
from .losses import get_loss
from .metrics import resolve_metrics
from .step import EpochSums, prepare_target
from .validation import check_fit_arrays, check_numeric_finite, model_device, model_dtype, prepare_batch


def iter_batches(x, y, batch_size: int, transform=None):
    """Consecutive slices (views, no copies) of the arrays, in order."""
    n = len(x)
    for i in range(0, n, batch_size):
        xb = x[i:i + batch_size]
        if transform is not None:
            xb = transform(xb)
        yield xb, (None if y is None else y[i:i + batch_size])


@contextlib.contextmanager
def eval_mode(model):
    """Eval mode without a graph for the duration; the model's mode is restored after."""
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            yield
    finally:
        model.train(was_training)


def run_eval(model, batches, loss_fn, metrics, device, dtype, callbacks=None) -> EpochSums:
    """Forward every batch in eval mode without a graph; returns the sums."""
    sums = EpochSums(len(metrics))
    with eval_mode(model):
        for i, (xb, yb) in enumerate(batches):
            if callbacks is not None:
                callbacks.call("on_test_batch_begin", i, {"batch": i, "size": len(xb)})
            xb = prepare_batch(xb, device, dtype)
            yb = prepare_target(yb, device, dtype)
            out = model(Tensor(xb))
            lval = float(loss_fn(out, yb).data)
            sums.add(metrics, out.data, yb, lval, len(xb))
            if callbacks is not None:
                callbacks.call("on_test_batch_end", i, {"batch": i, "size": len(xb), "loss": lval})
    return sums


def evaluate(model, x, y, *, loss="cross_entropy", metrics=("accuracy",), batch_size=256, callbacks=None) -> dict:
    """Mean loss and metrics of ``model`` on ``(x, y)``, in eval mode without a graph.

    Returns ``{'loss': ..., 'accuracy': ...}``.  The model's train/eval mode is restored.
    """
    spec = get_loss(loss)
    mets = resolve_metrics(metrics, spec.kind)
    x, y = np.asarray(x), np.asarray(y)
    check_fit_arrays(model, x, y, spec.kind, "evaluation")
    cbl = CallbackList(callbacks or [])
    cbl.on_test_begin({})
    sums = run_eval(model, iter_batches(x, y, int(batch_size)), spec.fn, mets, model_device(model),
                    model_dtype(model), cbl)
    logs = sums.logs(mets)
    cbl.on_test_end(logs)
    return logs


def predict(model, x, *, batch_size=256) -> np.ndarray:
    """The model's outputs for ``x`` as a NumPy array, in eval mode without a graph."""
    x = np.asarray(x)
    check_numeric_finite(x, "x")
    if len(x) == 0:
        raise ValueError("predict needs at least one sample")
    device, dtype = model_device(model), model_dtype(model)
    outs = []
    try:
        with eval_mode(model):
            for xb, _ in iter_batches(x, None, int(batch_size)):
                outs.append(backend.to_device(model(Tensor(prepare_batch(xb, device, dtype))).data, "cpu"))
    except Exception as e:
        if len(outs) == 0:
            raise ValueError(f"the model cannot take inputs of shape {x.shape[1:]} per sample: "
                             f"{type(e).__name__}: {e}") from e
        raise
    return np.concatenate(outs, axis=0)
