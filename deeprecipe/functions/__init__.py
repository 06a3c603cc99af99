"""The op library, imported as ``F``: fused operations with hand-written backward.

Ops take torch's names and argument order (``dim``; ``axis=`` is a deprecated alias,
kept while callers migrate; reductions keep NumPy's ``keepdims``); images are NCHW.
Array ops live in ``arithmetic.py``, ``reductions.py`` and ``shapes.py``.
"""
from .arithmetic import abs, add, clip, div, exp, log, matmul, mul, neg, pow, sqrt, sub  # noqa: F401
from .reductions import max, mean, min, sum  # noqa: F401
from .shapes import (  # noqa: F401
    astype, broadcast_to, concat, getitem, permute, reshape, stack, sum_to, transpose, where,
)
from .activation import (  # noqa: F401
    elu, leaky_relu, log_softmax, maxout, prelu, relu, sigmoid, softmax, softplus, tanh,
)
from .linear import linear  # noqa: F401
from .conv import conv2d  # noqa: F401
from .pooling import avg_pool2d, max_pool2d  # noqa: F401
from .normalization import batch_norm, group_norm, instance_norm, layer_norm  # noqa: F401
from .dropout import dropout  # noqa: F401
from .loss import (  # noqa: F401
    binary_cross_entropy_with_logits, cross_entropy, huber_loss, l1_loss, mse_loss, nll_loss,
    softmax_cross_entropy,
)
from .metrics import accuracy  # noqa: F401
from . import math as _math
from ._util import AXIS_UNSET as _UNSET
from ..engine.tensor import Tensor as _Tensor


def _install_operators(T):
    """Give ``Tensor`` its Python operators and array methods, all routed through ``F``."""
    m = _math
    T.__add__ = T.__radd__ = lambda a, b: m.add(a, b)
    T.__sub__ = lambda a, b: m.sub(a, b)
    T.__rsub__ = lambda a, b: m.rsub(a, b)
    T.__mul__ = T.__rmul__ = lambda a, b: m.mul(a, b)
    T.__truediv__ = lambda a, b: m.div(a, b)
    T.__rtruediv__ = lambda a, b: m.rdiv(a, b)
    T.__pow__ = lambda a, b: m.pow(a, b)
    T.__rpow__ = lambda a, b: m.rpow(a, b)
    T.__matmul__ = lambda a, b: m.matmul(a, b)
    T.__rmatmul__ = lambda a, b: m.matmul(b, a)
    T.__neg__ = lambda a: m.neg(a)
    T.__abs__ = lambda a: m.abs(a)
    T.__getitem__ = lambda a, i: m.getitem(a, i)

    def _cmp(op):
        def f(a, b):
            b = b.data if isinstance(b, T) else b
            return getattr(a.data, op)(b)
        return f

    # Comparisons give plain boolean arrays (no gradient flows through them).
    for op in ("__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__"):
        setattr(T, op, _cmp(op))
    T.__hash__ = object.__hash__  # tensors are hashed by identity (dict keys, sets)

    T.reshape = lambda a, *shape: m.reshape(a, *shape)
    T.transpose = lambda a, *axes: m.transpose(
        a, axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else (axes or None))
    T.permute = lambda a, *axes: m.permute(a, *axes)
    T.T = property(lambda a: m.transpose(a))
    T.sum = lambda a, dim=None, keepdims=False, *, axis=_UNSET: m.sum(a, dim, keepdims, axis=axis)
    T.mean = lambda a, dim=None, keepdims=False, *, axis=_UNSET: m.mean(a, dim, keepdims, axis=axis)
    T.max = lambda a, dim=None, keepdims=False, *, axis=_UNSET: m.max(a, dim, keepdims, axis=axis)
    T.min = lambda a, dim=None, keepdims=False, *, axis=_UNSET: m.min(a, dim, keepdims, axis=axis)
    T.exp = lambda a: m.exp(a)
    T.log = lambda a: m.log(a)
    T.sqrt = lambda a: m.sqrt(a)
    T.abs = lambda a: m.abs(a)
    T.clip = lambda a, a_min=None, a_max=None: m.clip(a, a_min, a_max)


_install_operators(_Tensor)
