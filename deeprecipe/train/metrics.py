"""Metrics accumulated over an epoch from the outputs the training step already computed.

No extra forward pass: each metric turns one batch's output and targets into a *sum*
(e.g. the number of correct predictions), the trainer adds the sums up, and the
epoch value is ``total / samples`` — the exact mean over the epoch, as Keras reports
it.  Sums stay backend arrays until the epoch ends, so a GPU run does not synchronize
per step.

``metrics=['accuracy']`` picks the accuracy that fits the loss: argmax for class
logits (labels or probability rows), ``logit > 0`` for binary targets.  A callable
``f(output_array, target_array) -> batch mean`` is accepted too; its name is the
function's ``__name__``.
"""
from __future__ import annotations

import difflib
from typing import Callable

from ..backend import get_array_module


def _argmax_accuracy_sum(out, y):
    xp = get_array_module(out)
    if y.ndim == out.ndim:  # one-hot / probability rows
        y = y.argmax(axis=-1)
    return xp.count_nonzero(out.argmax(axis=-1) == y)


def _binary_accuracy_sum(out, y):
    xp = get_array_module(out)
    return xp.count_nonzero((out > 0) == (y > 0.5))


class Metric:
    """A named batch statistic: ``batch_sum(out, y)`` summed over batches, divided by the
    number of samples (``per_element``: by the number of output elements)."""

    def __init__(self, name: str, batch_sum: Callable, per_element: bool = False):
        self.name = name
        self.batch_sum = batch_sum
        self.per_element = per_element

    def __repr__(self):
        return f"Metric({self.name!r})"


class _MeanMetric(Metric):
    """Wraps a user function returning a batch *mean*; weighted by batch size."""

    def __init__(self, name, fn):
        super().__init__(name, lambda out, y: fn(out, y) * len(out))


METRIC_NAMES = ("accuracy", "acc")


def resolve_metrics(metrics, loss_kind: str) -> list[Metric]:
    """Turn ``fit``'s ``metrics=`` list into :class:`Metric` objects for a loss of ``loss_kind``."""
    if metrics is None:
        return []
    if isinstance(metrics, (str, Metric)) or callable(metrics):
        metrics = [metrics]
    out = []
    for m in metrics:
        if isinstance(m, Metric):
            out.append(m)
        elif isinstance(m, str):
            key = m.lower()
            if key not in METRIC_NAMES:
                near = difflib.get_close_matches(key, METRIC_NAMES, n=1)
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                raise ValueError(f"unknown metric {m!r}{hint}; built in: 'accuracy'; or pass a function "
                                 "f(output, target) -> batch mean")
            if loss_kind == "classes":
                out.append(Metric("accuracy", _argmax_accuracy_sum))
            elif loss_kind == "binary":
                out.append(Metric("accuracy", _binary_accuracy_sum, per_element=True))
            else:
                raise ValueError(
                    f"'accuracy' needs a classification loss (cross_entropy, nll, bce); this loss is "
                    f"{loss_kind}: pass metrics=[] or a function f(output, target)")
        elif callable(m):
            out.append(_MeanMetric(getattr(m, "__name__", "metric"), m))
        else:
            raise TypeError(f"a metric must be a name or a callable, got {type(m).__name__}")
    names = [m.name for m in out]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ValueError(f"metric names must be unique, got {sorted(dup)} twice")
    if any(n in ("loss",) or n.startswith("val_") for n in names):
        raise ValueError("metric names 'loss' and 'val_*' are reserved")
    return out
