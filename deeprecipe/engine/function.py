"""``Function``: one differentiable operation with array-level ``forward``/``backward``.

Subclasses implement ``forward(*arrays) -> array | tuple`` and
``backward(*grad_arrays) -> array | tuple`` (one gradient per input, ``None`` for an
input that needs none).  ``forward`` saves on ``self`` only what ``backward`` needs.
The graph edge is recorded only when grad mode is on and some input requires grad, so
inference under ``no_grad()`` costs no bookkeeping.
"""
from __future__ import annotations

import weakref

import numpy as np

from ..backend import get_array_module
from ..config import Config
from .tensor import Tensor, as_tensor


class Function:
    generation = 0
    inputs = None
    outputs = None
    out_meta = None
    #: Set by ``Tensor.backward`` before it calls ``backward``: True when the graph is kept
    #: (``retain_graph=True``), so backward must leave what forward saved intact; False
    #: when this is the last use, so backward may overwrite a saved buffer in place.
    graph_kept = True

    def __call__(self, *inputs):
        inputs = [x if isinstance(x, Tensor) else as_tensor(x) for x in inputs]
        record = Config.enable_backprop and any(x._requires_grad for x in inputs)
        # Set before forward so an op can skip saving what no gradient will need
        # (e.g. conv's im2col matrix when the weight is frozen): ``self.needs_grad(i)``.
        self.inputs = inputs if record else None
        arrays = [x.data for x in inputs]
        try:
            ys = self.forward(*arrays)
        except Exception as e:
            # NumPy and CuPy arrays mixed in one op fail deep inside the array library with
            # an obscure message; say what is wrong instead.  Checked only on failure, so
            # the common path pays nothing.
            try:
                get_array_module(*arrays)
            except ValueError as mixed:
                raise ValueError(f"{type(self).__name__}: {mixed}") from e
            raise
        # NumPy returns scalars from full reductions and from ufuncs on 0-d arrays; keep
        # .data an array (writable in place, the same type as in every other tensor)
        if type(ys) is not tuple:
            if isinstance(ys, np.generic):
                ys = np.asarray(ys)
            if not record:
                return Tensor._from_op(ys, None)
            self.generation = max(x.generation for x in inputs)
            out = Tensor._from_op(ys, self)
            self.outputs = (weakref.ref(out),)
            return out
        ys = tuple(np.asarray(y) if isinstance(y, np.generic) else y for y in ys)
        if not record:
            return [Tensor._from_op(y, None) for y in ys]
        self.generation = max(x.generation for x in inputs)
        outputs = [Tensor._from_op(y, self) for y in ys]
        self.outputs = [weakref.ref(o) for o in outputs]
        self.out_meta = [(y.shape, y.dtype) for y in ys]
        return outputs

    def needs_grad(self, i: int) -> bool:
        """Whether backward must produce a gradient for input ``i`` (usable in forward too)."""
        return self.inputs is not None and self.inputs[i]._requires_grad

    def forward(self, *xs):
        raise NotImplementedError

    def backward(self, *gys):
        raise NotImplementedError

    def release(self) -> None:
        """Free the graph behind this function (called after backward unless retain_graph)."""
        # Cutting the edge to the inputs frees every function upstream (each is owned
        # only by its outputs); what this one saved goes when its outputs go.
        self.inputs = None
        self.outputs = None
