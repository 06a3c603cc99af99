"""The array ops of ``F`` in one namespace: elementwise arithmetic (``arithmetic.py``),
reductions (``reductions.py``) and shape operations (``shapes.py``); kept so that
``deeprecipe.functions.math`` goes on working."""
from .arithmetic import (  # noqa: F401
    Abs, Add, Clip, Div, Exp, Log, MatMul, Mul, Neg, Pow, Sqrt, Sub, abs, add, clip, div, exp, log, matmul, mul,
    neg, pow, rdiv, rpow, rsub, sqrt, sub,
)
from .reductions import Max, Mean, Min, Sum, max, mean, min, sum  # noqa: F401
from .shapes import (  # noqa: F401
    AsType, BroadcastTo, Concat, GetItem, Reshape, Stack, SumTo, Transpose, Where, astype, broadcast_to, concat,
    getitem, permute, reshape, stack, sum_to, transpose, where,
)
