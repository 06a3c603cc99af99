"""Containers: ``Sequential`` (a chain of modules) and ``Residual`` (x + f(x)).

Residual connections: He et al., "Deep Residual Learning for Image Recognition"
(2015, https://arxiv.org/abs/1512.03385).
"""
from __future__ import annotations

from ... import functions as F
from ..module import Module


class Sequential(Module):
    """Apply modules one after the other (``torch.nn.Sequential``).

    ``Sequential(m0, m1, ...)`` names the children ``"0"``, ``"1"``, ...;
    ``Sequential({"name": m, ...})`` (an ordered mapping) uses the given names.  Supports
    ``len``, iteration, indexing (``seq[0]``, ``seq[-1]``, slices give a new Sequential
    sharing the modules) and ``append``.
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], dict):
            for name, m in modules[0].items():
                self._add(str(name), m)
        else:
            for i, m in enumerate(modules):
                self._add(str(i), m)

    def _add(self, name, m):
        if not isinstance(m, Module):
            raise TypeError(f"Sequential: entry {name!r} is a {type(m).__name__}, not a Module")
        self.add_module(name, m)

    def append(self, module: Module):
        self._add(str(len(self._modules)), module)
        return self

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, idx):
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            return Sequential(*mods[idx])
        if isinstance(idx, str):
            return self._modules[idx]
        try:
            return mods[idx]
        except IndexError:
            raise IndexError(f"Sequential index {idx} out of range for {len(mods)} modules") from None


class Residual(Module):
    """``y = P(x) + f(x)``: a residual (skip) connection around ``fn``.

    ``P`` is ``projection`` when given (e.g. ``Linear(d_in, d_out, bias=False)`` or a
    1×1 ``Conv2d``) for when ``fn`` changes the shape, and the identity otherwise.

    Args:
        fn: the residual branch (a Module).
        projection: optional Module applied to the skip path.
    """

    def __init__(self, fn: Module, projection: Module | None = None):
        super().__init__()
        if not isinstance(fn, Module):
            raise TypeError(f"Residual: fn must be a Module, got {type(fn).__name__}")
        if projection is not None and not isinstance(projection, Module):
            raise TypeError(f"Residual: projection must be a Module or None, got {type(projection).__name__}")
        self.fn = fn
        self.add_module("projection", projection)

    def forward(self, x):
        fx = self.fn(x)
        skip = x if self.projection is None else self.projection(x)
        if tuple(skip.shape) != tuple(fx.shape):
            raise ValueError(
                f"Residual: the branch maps {tuple(x.shape)} to {tuple(fx.shape)} but the skip path gives "
                f"{tuple(skip.shape)}; pass projection= (e.g. Linear(in, out, bias=False)) to match shapes")
        return F.add(skip, fx)
