"""Loss functions by name, for ``fit(loss='cross_entropy')`` and the CLI.

Each entry maps a name to a function ``loss(output Tensor, target array) -> scalar
Tensor`` from :mod:`deeprecipe.functions`, plus the *kind* of target it expects, which
decides how inputs are checked and which metrics make sense:

* ``'classes'``: integer labels ``(N,)`` in ``[0, C)`` (or probability rows ``(N, C)``),
  output ``(N, C)`` logits — ``cross_entropy`` (alias ``softmax_cross_entropy``), ``nll``.
* ``'binary'``: targets in [0, 1] of the output's shape, output logits —
  ``bce`` (alias ``binary_cross_entropy_with_logits``).
* ``'regression'``: targets of the output's shape — ``mse``, ``l1``, ``huber``.

A callable is accepted too (kind ``'custom'``: shapes are not checked beyond a forward
pass, and only custom metrics apply).
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Callable

# name -> (attribute of deeprecipe.functions, kind)
_LOSSES = {
    "cross_entropy": ("softmax_cross_entropy", "classes"),
    "softmax_cross_entropy": ("softmax_cross_entropy", "classes"),
    "nll": ("nll_loss", "classes"),
    "nll_loss": ("nll_loss", "classes"),
    "bce": ("binary_cross_entropy_with_logits", "binary"),
    "binary_cross_entropy_with_logits": ("binary_cross_entropy_with_logits", "binary"),
    "mse": ("mse_loss", "regression"),
    "mse_loss": ("mse_loss", "regression"),
    "l1": ("l1_loss", "regression"),
    "l1_loss": ("l1_loss", "regression"),
    "huber": ("huber_loss", "regression"),
    "huber_loss": ("huber_loss", "regression"),
}

LOSS_NAMES = tuple(_LOSSES)


@dataclass(frozen=True)
class LossSpec:
    name: str
    fn: Callable
    kind: str  # 'classes' | 'binary' | 'regression' | 'custom'


def get_loss(loss) -> LossSpec:
    """Resolve ``loss`` (a name from :data:`LOSS_NAMES`, or a callable) to a :class:`LossSpec`."""
    if isinstance(loss, LossSpec):
        return loss
    if callable(loss):
        return LossSpec(getattr(loss, "__name__", type(loss).__name__), loss, "custom")
    if not isinstance(loss, str):
        raise TypeError(f"loss must be a name ({', '.join(LOSS_NAMES)}) or a callable, got {type(loss).__name__}")
    key = loss.lower().replace("-", "_")
    if key not in _LOSSES:
        near = difflib.get_close_matches(key, LOSS_NAMES, n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise ValueError(f"unknown loss {loss!r}{hint}; choose one of {', '.join(LOSS_NAMES)} or pass a callable")
    from .. import functions as F
    attr, kind = _LOSSES[key]
    fn = getattr(F, attr, None)
    if fn is None:  # the op library exports it from functions/loss.py
        from ..functions import loss as _loss_module
        fn = getattr(_loss_module, attr)
    return LossSpec(key, fn, kind)
