"""Elementwise arithmetic and the matrix product (NumPy's broadcasting rules).

Every op is a :class:`~deeprecipe.engine.Function` with a hand-written backward.  Binary
ops broadcast like NumPy; a shape mismatch raises ``ValueError`` naming the op and both
shapes.
"""
from __future__ import annotations


from ..backend import get_array_module
from ..engine.function import Function
from ..engine.tensor import Tensor, as_array
from ._util import sum_to_array


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
