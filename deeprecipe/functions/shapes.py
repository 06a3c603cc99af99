"""Shape operations: reshape, transpose/permute, broadcasting, indexing, concat/stack,
where and dtype casts — each a :class:`~deeprecipe.engine.Function` whose backward routes
the gradient back to the input's layout.
"""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module
from ..engine.function import Function
from ..engine.tensor import Tensor, as_tensor
from ._util import AXIS_UNSET, resolve_dim, sum_to_array
from .arithmetic import _pair


class Reshape(Function):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.in_shape = x.shape
        try:
            return x.reshape(self.shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape an array of shape {x.shape} into {self.shape}") from None

    def backward(self, gy):
        return gy.reshape(self.in_shape)


def reshape(x, *shape):
    """Reshape to ``shape`` (one ``-1`` allowed); accepts ``reshape(x, (2, 3))`` or ``reshape(x, 2, 3)``."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    if isinstance(x, Tensor) and x.shape == shape:
        return x
    return Reshape(shape)(x)


class Transpose(Function):
    def __init__(self, axes):
        self.axes = axes

    def forward(self, x):
        xp = get_array_module(x)
        if self.axes is not None and sorted(a % x.ndim for a in self.axes) != list(range(x.ndim)):
            raise ValueError(f"transpose: axes {self.axes} are not a permutation of the {x.ndim} axes")
        return xp.transpose(x, self.axes)

    def backward(self, gy):
        xp = get_array_module(gy)
        if self.axes is None:
            return xp.transpose(gy)
        inv = np.argsort([a % gy.ndim for a in self.axes])
        return xp.transpose(gy, tuple(int(i) for i in inv))


def transpose(x, axes=None):
    """Permute axes (reverse them when ``axes`` is None), as ``numpy.transpose``."""
    return Transpose(None if axes is None else tuple(axes))(x)


def permute(x, *axes):
    """``transpose`` with the axes given as separate arguments (PyTorch's spelling)."""
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    return transpose(x, axes)


class BroadcastTo(Function):
    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        self.in_shape = x.shape
        try:
            return get_array_module(x).broadcast_to(x, self.shape)
        except ValueError:
            raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {self.shape}") from None

    def backward(self, gy):
        return sum_to_array(gy, self.in_shape)


class SumTo(Function):
    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        self.in_shape = x.shape
        try:
            ok = np.broadcast_shapes(self.shape, x.shape) == x.shape
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"sum_to: shape {x.shape} cannot be summed to {self.shape}")
        return sum_to_array(x, self.shape)

    def backward(self, gy):
        return get_array_module(gy).broadcast_to(gy, self.in_shape)


def broadcast_to(x, shape):
    """Broadcast to ``shape``; the gradient is summed back."""
    x = as_tensor(x)
    if x.shape == tuple(shape):
        return x
    return BroadcastTo(shape)(x)


def sum_to(x, shape):
    """Sum ``x`` down to ``shape`` (the adjoint of ``broadcast_to``)."""
    x = as_tensor(x)
    if x.shape == tuple(shape):
        return x
    return SumTo(shape)(x)


class GetItem(Function):
    def __init__(self, index):
        self.index = index

    def forward(self, x):
        self.in_shape = x.shape
        try:
            return x[self.index]
        except IndexError as e:
            raise IndexError(f"getitem: {e} (tensor of shape {x.shape})") from None

    def backward(self, gy):
        xp = get_array_module(gy)
        gx = xp.zeros(self.in_shape, dtype=gy.dtype)
        if _selects_each_once(self.index):
            gx[self.index] = gy  # slices, ints and boolean masks never repeat an element
        else:
            # add.at accumulates repeated integer indices (x[[0, 0]]); assignment would not
            xp.add.at(gx, self.index, gy)
        return gx


def _selects_each_once(index) -> bool:
    """Whether ``index`` (basic indexing or boolean masks) selects every element at most once."""
    for i in index if isinstance(index, tuple) else (index,):
        if i is None or i is Ellipsis or isinstance(i, slice):
            continue
        if isinstance(i, (int, np.integer)) and not isinstance(i, bool):
            continue
        if getattr(i, "dtype", None) == np.bool_ and getattr(i, "ndim", 0) > 0:
            continue
        return False
    return True


def getitem(x, index):
    """Basic and advanced indexing, ``x[index]``; repeated indices accumulate gradient."""
    if isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, tuple):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return GetItem(index)(x)


class Concat(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, *xs):
        xp = get_array_module(*xs)
        self.sizes = [x.shape[self.axis] for x in xs]
        try:
            return xp.concatenate(xs, axis=self.axis)
        except ValueError:
            raise ValueError(f"concat: shapes {[x.shape for x in xs]} do not match off axis {self.axis}") from None

    def backward(self, gy):
        xp = get_array_module(gy)
        cuts = np.cumsum(self.sizes)[:-1].tolist()
        return tuple(xp.split(gy, cuts, axis=self.axis))


class Stack(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, *xs):
        xp = get_array_module(*xs)
        try:
            return xp.stack(xs, axis=self.axis)
        except ValueError:
            raise ValueError(f"stack: all inputs need one shape, got {[x.shape for x in xs]}") from None

    def backward(self, gy):
        xp = get_array_module(gy)
        n = gy.shape[self.axis]
        return tuple(xp.take(gy, i, axis=self.axis) for i in range(n))


def concat(xs, dim=0, *, axis=AXIS_UNSET):
    """Join tensors along an existing dimension ``dim`` (``torch.cat``)."""
    if not xs:
        raise ValueError("concat: needs at least one tensor")
    return Concat(resolve_dim("concat", dim, axis, 0))(*xs)


def stack(xs, dim=0, *, axis=AXIS_UNSET):
    """Join tensors along a new dimension ``dim`` (``torch.stack``)."""
    if not xs:
        raise ValueError("stack: needs at least one tensor")
    return Stack(resolve_dim("stack", dim, axis, 0))(*xs)


class Where(Function):
    def __init__(self, cond):
        self.cond = cond

    def forward(self, x0, x1):
        xp = get_array_module(x0, x1)
        self.shape0, self.shape1 = x0.shape, x1.shape
        try:
            return xp.where(self.cond, x0, x1)
        except ValueError:
            raise ValueError(
                f"where: condition {self.cond.shape}, x {x0.shape} and y {x1.shape} cannot be broadcast") from None

    def backward(self, gy):
        zero = gy.dtype.type(0)
        xp = get_array_module(gy)
        g0 = g1 = None
        if self.inputs[0].requires_grad:
            g0 = sum_to_array(xp.where(self.cond, gy, zero), self.shape0)
        if self.inputs[1].requires_grad:
            g1 = sum_to_array(xp.where(self.cond, zero, gy), self.shape1)
        return g0, g1


def where(condition, x, y):
    """``x`` where ``condition`` is true, else ``y`` (broadcast); gradient routed accordingly."""
    if isinstance(condition, Tensor):
        condition = condition.data
    x, y = _pair(x, y)
    xp = get_array_module(x.data, y.data)
    return Where(xp.asarray(condition).astype(bool, copy=False))(x, y)


class AsType(Function):
    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, x):
        self.in_dtype = x.dtype
        return x.astype(self.dtype)

    def backward(self, gy):
        return gy.astype(self.in_dtype)


def astype(x, dtype):
    """Convert the dtype; the gradient is converted back."""
    return AsType(dtype)(x)
