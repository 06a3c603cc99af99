"""Elementwise arithmetic, reductions and shape operations (NumPy names and argument order).

Every op is a :class:`~deeprecipe.engine.Function` with a hand-written backward.  Binary
ops broadcast like NumPy; a shape mismatch raises ``ValueError`` naming the op and both
shapes.
"""
from __future__ import annotations

import builtins

import numpy as np

from ..backend import get_array_module
from ..engine.function import Function
from ..engine.tensor import Tensor, as_array, as_tensor
from ._util import expand_reduced, normalize_axis, sum_to_array


def _pair(x0, x1):
    """Wrap the operands of a binary op; Python scalars take the tensor operand's dtype."""
    if not isinstance(x0, Tensor):
        x0 = Tensor._from_op(as_array(x0, like=x1.data if isinstance(x1, Tensor) else None), None)
    if not isinstance(x1, Tensor):
        x1 = Tensor._from_op(as_array(x1, like=x0.data), None)
    return x0, x1


class _Binary(Function):
    name = "binary"

    def forward(self, x0, x1):
        self.shape0, self.shape1 = x0.shape, x1.shape
        try:
            return self.compute(x0, x1)
        except ValueError as e:
            if x0.shape != x1.shape:
                raise ValueError(
                    f"{self.name}: shapes {x0.shape} and {x1.shape} cannot be broadcast together") from None
            raise e


class Add(_Binary):
    name = "add"

    def compute(self, x0, x1):
        return x0 + x1

    def backward(self, gy):
        return sum_to_array(gy, self.shape0), sum_to_array(gy, self.shape1)


class Sub(_Binary):
    name = "sub"

    def compute(self, x0, x1):
        return x0 - x1

    def backward(self, gy):
        return sum_to_array(gy, self.shape0), sum_to_array(-gy, self.shape1)


class Mul(_Binary):
    name = "mul"

    def compute(self, x0, x1):
        self.x0, self.x1 = x0, x1
        return x0 * x1

    def backward(self, gy):
        g0 = sum_to_array(gy * self.x1, self.shape0) if self.inputs[0].requires_grad else None
        g1 = sum_to_array(gy * self.x0, self.shape1) if self.inputs[1].requires_grad else None
        return g0, g1


class Div(_Binary):
    name = "div"

    def compute(self, x0, x1):
        self.x0, self.x1 = x0, x1
        return x0 / x1

    def backward(self, gy):
        g = gy / self.x1
        g0 = sum_to_array(g, self.shape0) if self.inputs[0].requires_grad else None
        g1 = sum_to_array(-g * self.x0 / self.x1, self.shape1) if self.inputs[1].requires_grad else None
        return g0, g1


class Pow(_Binary):
    name = "pow"

    def compute(self, x0, x1):
        self.x0, self.x1 = x0, x1
        self.y = x0 ** x1
        return self.y

    def backward(self, gy):
        xp = get_array_module(gy)
        x0, x1 = self.x0, self.x1
        g0 = g1 = None
        if self.inputs[0].requires_grad:
            # d/da a^b = b a^(b-1); for b == 0 it is 0 everywhere (a^(b-1) would give
            # 0 * inf = nan at a == 0), as in PyTorch
            zero = x1 == 0
            if xp.any(zero):
                d = xp.where(zero, 0, x1 * x0 ** xp.where(zero, 1, x1 - 1)).astype(self.y.dtype, copy=False)
            else:
                d = x1 * x0 ** (x1 - 1)
            g0 = sum_to_array(gy * d, self.shape0)
        if self.inputs[1].requires_grad:
            # d/db a^b = a^b log a; defined as 0 where a == 0 (the limit for b > 0)
            with_log = xp.where(x0 > 0, xp.log(xp.where(x0 > 0, x0, 1)), 0)
            g1 = sum_to_array(gy * self.y * with_log, self.shape1)
        return g0, g1


def add(x0, x1):
    """``x0 + x1`` with broadcasting."""
    return Add()(*_pair(x0, x1))


def sub(x0, x1):
    """``x0 - x1`` with broadcasting."""
    return Sub()(*_pair(x0, x1))


def mul(x0, x1):
    """``x0 * x1`` with broadcasting."""
    return Mul()(*_pair(x0, x1))


def div(x0, x1):
    """``x0 / x1`` with broadcasting."""
    return Div()(*_pair(x0, x1))


def pow(x0, x1):  # noqa: A001 - NumPy's name
    """``x0 ** x1`` with broadcasting (gradient for both; for the exponent where x0 > 0)."""
    return Pow()(*_pair(x0, x1))


def rsub(x0, x1):
    return sub(x1, x0)


def rdiv(x0, x1):
    return div(x1, x0)


def rpow(x0, x1):
    return pow(x1, x0)


class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


# Each unary op saves only what its backward reads: the output for exp and sqrt,
# the input for log and abs.
class Exp(Function):
    def forward(self, x):
        self.y = get_array_module(x).exp(x)
        return self.y

    def backward(self, gy):
        return gy * self.y


class Log(Function):
    def forward(self, x):
        self.x = x
        return get_array_module(x).log(x)

    def backward(self, gy):
        return gy / self.x


class Sqrt(Function):
    def forward(self, x):
        self.y = get_array_module(x).sqrt(x)
        return self.y

    def backward(self, gy):
        return gy / (2 * self.y)


class Abs(Function):
    def forward(self, x):
        self.x = x
        return get_array_module(x).abs(x)

    def backward(self, gy):
        # subgradient sign(x): 0 at x == 0, as in NumPy and PyTorch
        return gy * get_array_module(gy).sign(self.x)


def neg(x):
    """``-x``."""
    return Neg()(x)


def exp(x):
    """Elementwise ``e**x``."""
    return Exp()(x)


def log(x):
    """Elementwise natural logarithm."""
    return Log()(x)


def sqrt(x):
    """Elementwise square root."""
    return Sqrt()(x)


def abs(x):  # noqa: A001 - NumPy's name
    """Elementwise absolute value (gradient ``sign(x)``, 0 at 0)."""
    return Abs()(x)


class Clip(Function):
    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def forward(self, x):
        xp = get_array_module(x)
        self.mask = xp.ones(x.shape, dtype=bool)
        if self.lo is not None:
            self.mask &= x >= self.lo
        if self.hi is not None:
            self.mask &= x <= self.hi
        return xp.clip(x, self.lo, self.hi)

    def backward(self, gy):
        return gy * self.mask


def clip(x, a_min=None, a_max=None):
    """Clamp ``x`` to ``[a_min, a_max]``; gradient 1 inside (bounds included), 0 outside."""
    if a_min is None and a_max is None:
        raise ValueError("clip: give at least one of a_min and a_max")
    return Clip(a_min, a_max)(x)


class MatMul(Function):
    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("matmul: inputs must have at least one dimension (use mul for scalars)")
        ka = a.shape[-1]
        kb = b.shape[-2] if b.ndim > 1 else b.shape[0]
        if ka != kb:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned ({ka} != {kb})")
        self.a, self.b = a, b
        try:
            return a @ b
        except ValueError:
            raise ValueError(f"matmul: batch shapes of {a.shape} and {b.shape} cannot be broadcast") from None

    def backward(self, gy):
        a, b = self.a, self.b
        xp = get_array_module(gy)
        if a.ndim == 1 and b.ndim == 1:  # inner product: gy is a scalar
            return (gy * b if self.inputs[0].requires_grad else None,
                    gy * a if self.inputs[1].requires_grad else None)
        # promote vectors to matrices so one formula covers every case
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = gy
        if a.ndim == 1:
            g2 = xp.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = xp.expand_dims(g2, -1)
        ga = gb = None
        if self.inputs[0].requires_grad:
            ga = g2 @ xp.swapaxes(b2, -1, -2)
            ga = sum_to_array(ga, a2.shape).reshape(a.shape)
        if self.inputs[1].requires_grad:
            gb = xp.swapaxes(a2, -1, -2) @ g2
            gb = sum_to_array(gb, b2.shape).reshape(b.shape)
        return ga, gb


def matmul(a, b):
    """Matrix product with NumPy's rules: 1-D operands promoted, leading batch dims broadcast."""
    return MatMul()(*_pair(a, b))


# ---------------------------------------------------------------------------- reductions
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


def sum(x, axis=None, keepdims=False):  # noqa: A001 - NumPy's name
    """Sum over ``axis`` (None: all)."""
    return Sum(axis, keepdims)(x)


def mean(x, axis=None, keepdims=False):
    """Mean over ``axis`` (None: all)."""
    return Mean(axis, keepdims)(x)


def max(x, axis=None, keepdims=False):  # noqa: A001 - NumPy's name
    """Maximum over ``axis``; the gradient is shared equally between tied maxima."""
    return Max(axis, keepdims)(x)


def min(x, axis=None, keepdims=False):  # noqa: A001 - NumPy's name
    """Minimum over ``axis``; the gradient is shared equally between tied minima."""
    return Min(axis, keepdims)(x)


# ---------------------------------------------------------------------------- shapes
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


def concat(xs, axis=0):
    """Join tensors along an existing axis (``numpy.concatenate``)."""
    if not xs:
        raise ValueError("concat: needs at least one tensor")
    return Concat(axis)(*xs)


def stack(xs, axis=0):
    """Join tensors along a new axis (``numpy.stack``)."""
    if not xs:
        raise ValueError("stack: needs at least one tensor")
    return Stack(axis)(*xs)


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
