"""Reductions: sum, mean, max, min over ``dim`` (torch's name; ``axis=`` is a deprecated alias).

The backward of max/min shares the gradient equally between tied extrema (as torch's
``amax``/``amin``).
"""
from __future__ import annotations

import builtins

from ..backend import get_array_module
from ..engine.function import Function
from ._util import AXIS_UNSET, expand_reduced, normalize_axis, resolve_dim


class Sum(Function):
    def __init__(self, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.shape = x.shape
        return x.sum(axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy):
        xp = get_array_module(gy)
        return xp.broadcast_to(expand_reduced(gy, self.shape, self.axis, self.keepdims), self.shape)


class Mean(Function):
    def __init__(self, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.shape = x.shape
        y = x.mean(axis=self.axis, keepdims=self.keepdims)
        self.count = x.size // builtins.max(y.size, 1) if x.size else 1
        return y

    def backward(self, gy):
        xp = get_array_module(gy)
        g = expand_reduced(gy, self.shape, self.axis, self.keepdims) / self.count
        return xp.broadcast_to(g, self.shape)


class _MinMax(Function):
    def __init__(self, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        if x.size == 0:
            raise ValueError(f"{type(self).__name__.lower()}: cannot reduce an empty array of shape {x.shape}")
        self.x = x
        self.y = self.reduce(x, axis=self.axis, keepdims=True)
        if self.keepdims:
            return self.y
        return get_array_module(x).squeeze(self.y, axis=normalize_axis(self.axis, x.ndim))

    def backward(self, gy):
        # Ties share the gradient equally (as PyTorch's amax/amin do).
        gy = expand_reduced(gy, self.x.shape, self.axis, self.keepdims)
        mask = self.x == self.y
        # count in the gradient's dtype: an int64 count would promote float32 to float64
        count = mask.sum(axis=self.axis, keepdims=True, dtype=gy.dtype)
        return gy * mask / count


class Max(_MinMax):
    @staticmethod
    def reduce(x, axis, keepdims=False):
        return x.max(axis=axis, keepdims=keepdims)


class Min(_MinMax):
    @staticmethod
    def reduce(x, axis, keepdims=False):
        return x.min(axis=axis, keepdims=keepdims)


def sum(x, dim=None, keepdims=False, *, axis=AXIS_UNSET):  # noqa: A001 - torch's name
    """Sum over ``dim`` (an int or a tuple; None: all)."""
    return Sum(resolve_dim("sum", dim, axis, None), keepdims)(x)


def mean(x, dim=None, keepdims=False, *, axis=AXIS_UNSET):
    """Mean over ``dim`` (an int or a tuple; None: all)."""
    return Mean(resolve_dim("mean", dim, axis, None), keepdims)(x)


def max(x, dim=None, keepdims=False, *, axis=AXIS_UNSET):  # noqa: A001 - torch's name
    """Maximum over ``dim``; the gradient is shared equally between tied maxima."""
    return Max(resolve_dim("max", dim, axis, None), keepdims)(x)


def min(x, dim=None, keepdims=False, *, axis=AXIS_UNSET):  # noqa: A001 - torch's name
    """Minimum over ``dim``; the gradient is shared equally between tied minima."""
    return Min(resolve_dim("min", dim, axis, None), keepdims)(x)
