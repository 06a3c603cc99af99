"""Weight normalization as a wrapper module.

Salimans & Kingma, "Weight Normalization: A Simple Reparameterization to Accelerate
Training of Deep Neural Networks" (NeurIPS 2016, https://arxiv.org/abs/1602.07868).
"""
from __future__ import annotations

import numpy as np

from ... import functions as F
from ...backend import get_array_module
from ...engine.tensor import Parameter
from ..module import Module


class WeightNorm(Module):
    """Wrap ``module`` so that its weight is ``w = g · v / ‖v‖`` with ``g`` and ``v`` learned
    (torch's ``nn.utils.weight_norm``, as a wrapper).

    The norm is taken over every axis except ``dim`` (``dim=0``: one norm per output unit
    / filter, so ``g`` has shape ``(out, 1, ...)``; ``dim=None``: one norm for the whole
    tensor, ``g`` a scalar).  At construction ``v`` = the current weight and ``g`` = its
    norm, so the wrapped layer computes the same function as before.

    The wrapped module's ``weight`` parameter is removed and replaced, during each
    forward, by the computed tensor; its other parameters (``bias``) stay where they
    are.  Parameters: ``weight_g``, ``weight_v`` (torch's names) and ``module.*``.

    Args:
        module: a layer with a weight parameter read in its ``forward`` (Linear, Conv2d, ...).
        name: the parameter to reparameterize.
        dim: the axis that keeps one norm per index, or ``None``.
    """

    def __init__(self, module: Module, name: str = "weight", dim: int | None = 0):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"WeightNorm wraps a Module, got {type(module).__name__}")
        w = module._parameters.get(name)
        if not isinstance(w, Parameter):
            raise ValueError(f"WeightNorm: {type(module).__name__} has no parameter {name!r}")
        nd = w.ndim
        if dim is not None:
            if not -nd <= dim < nd:
                raise ValueError(f"WeightNorm: dim={dim} is out of range for a weight of shape {w.shape}")
            dim = dim % nd
        self.name = name
        self.dim = dim
        self._axes = tuple(a for a in range(nd) if a != dim)
        del module._parameters[name]
        module.__dict__.pop(name, None)
        self.module = module
        xp = get_array_module(w.data)
        v = w.data.copy()
        if dim is None:
            g = xp.sqrt((v * v).sum()).astype(v.dtype)
        else:
            g = xp.sqrt((v * v).sum(axis=self._axes, keepdims=True)).astype(v.dtype)
        self.weight_g = Parameter(g if not np.isscalar(g) else np.asarray(g, dtype=v.dtype))
        self.weight_v = Parameter(v)

    def compute_weight(self):
        """``g · v / ‖v‖`` as a Tensor (differentiable w.r.t. ``g`` and ``v``)."""
        v = self.weight_v
        norm = F.sqrt(F.sum(v * v, dim=None if self.dim is None else self._axes, keepdims=self.dim is not None))
        return v * (self.weight_g / norm)

    @property
    def weight(self):
        """The effective weight (a Tensor computed from ``g`` and ``v``)."""
        return self.compute_weight()

    def forward(self, *args, **kwargs):
        d = self.module.__dict__
        d[self.name] = self.compute_weight()
        try:
            return self.module(*args, **kwargs)
        finally:
            # drop the computed weight so the wrapper keeps no graph alive between calls
            d.pop(self.name, None)

    def extra_repr(self):
        return f"name={self.name!r}, dim={self.dim}"
