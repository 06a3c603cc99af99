"""Gradient norms per parameter and per layer (read from ``p.grad`` after a backward pass).

Vanishing gradients (deep sigmoid nets: the first layer's norm orders of magnitude below
the last layer's) and exploding ones show up here first.  Nothing is computed that the
backward pass did not already leave in ``.grad``: one dot product per parameter.
"""
from __future__ import annotations

import math
from collections import OrderedDict

from ._norms import sq_norms
from .layers import named_params, params_by_layer


def grad_norms(model) -> OrderedDict[str, float]:
    """``param_name -> ||grad||_2`` for every parameter that has a gradient, in registration order.

    Parameters whose ``.grad`` is ``None`` (frozen, or not reached by the backward pass) are left out.
    """
    named = [(n, p) for n, p in named_params(model) if p.grad is not None]
    return OrderedDict((n, math.sqrt(s)) for (n, _), s in zip(named, sq_norms([p.grad for _, p in named])))


def grad_norms_by_layer(model) -> OrderedDict[str, float]:
    """``layer -> ||concatenated grads of the layer's parameters||_2``, input side first.

    A layer is a module owning parameters (see :mod:`deeprecipe.diagnostics.layers`); layers
    none of whose parameters has a gradient are left out.  ``first_last_ratio`` of this dict
    is the vanishing-gradient signal of the ``deep-sigmoid`` claim.
    """
    out = OrderedDict()
    for layer, named in params_by_layer(model).items():
        grads = [p.grad for _, p in named if p.grad is not None]
        if grads:
            out[layer] = math.sqrt(sum(sq_norms(grads)))
    return out


def global_grad_norm(model) -> float:
    """L2 norm of all gradients together (what clip-by-global-norm compares with its threshold)."""
    return math.sqrt(sum(sq_norms([p.grad for _, p in named_params(model) if p.grad is not None])))
