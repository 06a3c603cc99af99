"""Evaluation metrics on arrays or Tensors (no gradient, plain Python floats)."""
from __future__ import annotations

from ..backend import get_array_module
from ..engine.tensor import Tensor


def count_correct(scores, labels):
    """The number of rows whose highest score (last axis) is the true class, as a backend
    scalar (no device synchronization); ``labels`` are integers or one-hot/probability
    rows.  The one definition of accuracy: :func:`accuracy` and ``fit``'s ``'accuracy'``
    metric both count with it."""
    xp = get_array_module(scores)
    if labels.ndim == scores.ndim:  # one-hot / probability rows
        labels = labels.argmax(axis=-1)
    return xp.count_nonzero(scores.argmax(axis=-1) == labels)


def accuracy(logits, labels) -> float:
    """Fraction of rows whose highest score is the true class.

    Args:
        logits: ``(N, C)`` scores (Tensor or array); any monotone transform (softmax,
            log-softmax) gives the same result.
        labels: integer labels ``(N,)`` or one-hot / probability rows ``(N, C)`` (their
            argmax is the class).

    Returns:
        A float in [0, 1] (``nan`` for an empty batch).
    """
    x = logits.data if isinstance(logits, Tensor) else logits
    y = labels.data if isinstance(labels, Tensor) else labels
    xp = get_array_module(x, y)
    x, y = xp.asarray(x), xp.asarray(y)
    if x.ndim != 2:
        raise ValueError(f"accuracy: logits must be 2-D (N, C), got shape {x.shape}")
    if y.ndim == 2:
        if y.shape != x.shape:
            raise ValueError(f"accuracy: one-hot labels of shape {y.shape} do not match logits of shape {x.shape}")
    elif y.shape != (x.shape[0],):
        raise ValueError(
            f"accuracy: labels must have shape ({x.shape[0]},) or {x.shape}, got {y.shape}")
    if x.shape[0] == 0:
        return float("nan")
    return float(count_correct(x, y)) / x.shape[0]
