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

from dataclasses import dataclass
from collections.abc import Callable

from ..functions import loss as _loss_ops
from ..registry import Registry

#: The loss registry: name -> ``loss(output Tensor, target array) -> scalar Tensor``, with
#: ``info['kind']`` the kind of target (see the module docstring).
LOSSES = Registry("loss")


for _name, _attr, _kind, _aliases in (
        ("cross_entropy", "softmax_cross_entropy", "classes", ("softmax_cross_entropy",)),
        ("nll", "nll_loss", "classes", ("nll_loss",)),
        ("bce", "binary_cross_entropy_with_logits", "binary", ("binary_cross_entropy_with_logits",)),
        ("mse", "mse_loss", "regression", ("mse_loss",)),
        ("l1", "l1_loss", "regression", ("l1_loss",)),
        ("huber", "huber_loss", "regression", ("huber_loss",))):
    LOSSES.register(_name, getattr(_loss_ops, _attr), aliases=_aliases, kind=_kind)

LOSS_NAMES = tuple(LOSSES.names())


@dataclass(frozen=True)
class LossSpec:
    name: str
    fn: Callable
    kind: str  # 'classes' | 'binary' | 'regression' | 'custom'


def get_loss(loss) -> LossSpec:
    """Resolve ``loss`` (a name in :data:`LOSSES`, or a callable) to a :class:`LossSpec`."""
    if isinstance(loss, LossSpec):
        return loss
    if callable(loss):
        return LossSpec(getattr(loss, "__name__", type(loss).__name__), loss, "custom")
    if not isinstance(loss, str):
        raise TypeError(f"loss must be a name ({', '.join(LOSS_NAMES)}) or a callable, got {type(loss).__name__}")
    e = LOSSES.entry(loss)
    return LossSpec(e.name, e.factory, e.info["kind"])
