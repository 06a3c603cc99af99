"""``Tensor``: an array plus the graph edge (``creator``) that produced it.

Shapes follow NumPy.  ``.data`` is a NumPy (or CuPy) array; ``.grad`` is an array of
the same shape, ``None`` until a backward pass reaches this tensor.  Gradients are
kept only on leaves (tensors with no creator, e.g. parameters), as in PyTorch.
"""
from __future__ import annotations

import heapq
import numbers

import numpy as np

from .. import backend
from ..backend import get_array_module, is_cupy_array


def as_array(data, dtype=None, like=None):
    """Convert ``data`` to a numeric backend array, with a clear error for anything else.

    Python floats (and lists of them) take the default float dtype; arrays keep their
    dtype unless ``dtype`` is given.  ``like`` gives the array whose dtype and device a
    Python scalar should take (so ``x * 2.0`` stays float32).
    """
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, np.ndarray) or is_cupy_array(data):
        arr = data
    elif isinstance(data, numbers.Number) and like is not None:
        xp = get_array_module(like)
        kind = like.dtype.kind
        # bool tensors are excluded: True * 2 is 2, not a bool
        if kind == "f" or (kind in "iu" and isinstance(data, numbers.Integral) and not isinstance(data, bool)):
            return xp.asarray(data, dtype=like.dtype if dtype is None else dtype)
        arr = np.asarray(data)
        if arr.dtype.kind == "f":
            arr = arr.astype(backend.get_default_dtype())
        return xp.asarray(arr if dtype is None else arr.astype(dtype))
    else:
        try:
            arr = np.asarray(data)
        except (ValueError, TypeError) as e:
            raise TypeError(f"cannot convert {type(data).__name__} to a numeric array: {e}") from None
        if arr.dtype.kind == "f" and dtype is None:
            arr = arr.astype(backend.get_default_dtype(), copy=False)
    if arr.dtype.kind not in "biuf":
        what = {"O": "object", "U": "string", "S": "bytes", "c": "complex"}.get(arr.dtype.kind, str(arr.dtype))
        raise TypeError(
            f"deeprecipe needs a numeric (bool, int or float) array, got a {what} array of dtype "
            f"{arr.dtype}; convert your data with np.asarray(x, dtype=np.float32) first")
    if dtype is not None and arr.dtype != np.dtype(dtype):
        arr = arr.astype(dtype)
    return arr


class Tensor:
    """An n-dimensional array that records the operations applied to it.

    Args:
        data: array-like of numbers (bool, int or float).
        requires_grad: whether a backward pass should compute ``.grad`` for it.
            Only floating-point tensors can require gradients.
        name: optional label used in error messages and summaries.
    """

    __slots__ = ("data", "grad", "_requires_grad", "creator", "generation", "name", "__weakref__")
    __array_priority__ = 200  # so ndarray <op> Tensor defers to Tensor's reflected operators

    def __init__(self, data, requires_grad: bool = False, name: str | None = None, dtype=None):
        self.data = as_array(data, dtype)
        self.grad = None
        self.creator = None
        self.generation = 0
        self.name = name
        self._requires_grad = False
        self.requires_grad = requires_grad

    @classmethod
    def _from_op(cls, data, creator):
        """Fast constructor for op outputs (no validation: ops produce valid arrays)."""
        t = object.__new__(cls)
        t.data = data
        t.grad = None
        t.name = None
        t.creator = creator
        if creator is None:
            t._requires_grad = False
            t.generation = 0
        else:
            t._requires_grad = True
            t.generation = creator.generation + 1
        return t

    # ------------------------------------------------------------------ properties
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value and self.data.dtype.kind != "f":
            raise TypeError(
                f"only floating-point tensors can require gradients, this one has dtype {self.data.dtype}; "
                "convert it with .astype(np.float32)")
        self._requires_grad = bool(value)

    def requires_grad_(self, value: bool = True) -> Tensor:
        self.requires_grad = value
        return self

    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def device(self) -> str:
        return backend.device_of(self.data)

    @property
    def is_leaf(self) -> bool:
        return self.creator is None

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        body = np.array2string(backend.to_device(self.data, "cpu"), prefix="tensor(", precision=4, threshold=20)
        extra = ", requires_grad=True" if self.requires_grad else ""
        dt = "" if self.dtype == backend.get_default_dtype() else f", dtype={self.dtype}"
        return f"{type(self).__name__.lower()}({body}{dt}{extra})"

    # ------------------------------------------------------------------ conversion
    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (copied from the GPU if needed; not a copy on CPU)."""
        return backend.to_device(self.data, "cpu")

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, this one has shape {self.shape}")
        return self.data.item()

    def tolist(self):
        return self.numpy().tolist()

    def detach(self) -> Tensor:
        """A new leaf tensor sharing this data, cut from the graph."""
        return Tensor._from_op(self.data, None)

    def to(self, device: str) -> Tensor:
        t = Tensor._from_op(backend.to_device(self.data, device), None)
        t._requires_grad = self._requires_grad
        return t

    def astype(self, dtype) -> Tensor:
        from ..functions.shapes import astype
        return astype(self, dtype)

    def zero_grad(self) -> None:
        self.grad = None

    # ------------------------------------------------------------------ backward
    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Backpropagate from this tensor, accumulating ``.grad`` on every leaf that requires it.

        Args:
            grad: gradient of the final objective w.r.t. this tensor; defaults to ones
                for a tensor with one element (a scalar loss).
            retain_graph: keep the graph so that ``backward`` can run through it again.

        Functions are visited in reverse topological order (highest generation first)
        with a heap, so depth is limited by memory, never by Python's recursion limit.
        """
        if not self._requires_grad:
            raise RuntimeError(
                "backward() called on a tensor that does not require grad: none of its inputs "
                "required grad, or it was computed under no_grad()")
        xp = get_array_module(self.data)
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward() without a grad argument needs a one-element tensor (a scalar loss), "
                    f"got shape {self.shape}; pass grad= an array of that shape")
            grad = xp.ones_like(self.data)
        else:
            grad = as_array(grad, dtype=self.dtype)
            if grad.shape != self.shape:
                raise ValueError(f"backward(): grad has shape {grad.shape} but the tensor has shape {self.shape}")
            grad = grad.copy()
        if self.creator is None:
            _accumulate_leaf(self, grad)
            return

        grads = {id(self): grad}
        keep = {id(self): self}  # non-leaf tensors whose grads are pending, kept alive
        heap = []
        counter = 0
        seen = set()

        def push(f):
            nonlocal counter
            if id(f) not in seen:
                seen.add(id(f))
                heapq.heappush(heap, (-f.generation, counter, f))
                counter += 1

        push(self.creator)
        while heap:
            f = heapq.heappop(heap)[2]
            if f.inputs is None:
                raise RuntimeError(
                    f"trying to backward through {type(f).__name__} a second time: its graph was freed "
                    "after the first backward; pass retain_graph=True to the first backward()")
            gys = []
            for r in f.outputs:
                o = r()
                g = None
                if o is not None:
                    g = grads.pop(id(o), None)
                    keep.pop(id(o), None)
                gys.append(g)
            if len(gys) > 1:  # outputs no gradient reached (or already freed) contribute zeros
                gys = [xp.zeros(s, d) if g is None else g for g, (s, d) in zip(gys, f.out_meta)]
            f.graph_kept = retain_graph  # may backward reuse what forward saved as scratch?
            gxs = f.backward(*gys)
            if not isinstance(gxs, tuple):
                gxs = (gxs,)
            inputs = f.inputs
            handed = []
            for x, gx in zip(inputs, gxs):
                if gx is None or not x._requires_grad:
                    continue
                if gx.shape != x.data.shape:
                    raise RuntimeError(
                        f"internal error: {type(f).__name__}.backward returned a gradient of shape "
                        f"{gx.shape} for an input of shape {x.data.shape}")
                # One array must never become the gradient of two inputs: an in-place
                # update of one would silently change the other.
                for h in handed:
                    if _aliases(h, gx):
                        gx = gx.copy()
                        break
                handed.append(gx)
                if x.creator is None:
                    _accumulate_leaf(x, gx)
                else:
                    k = id(x)
                    if k in grads:
                        grads[k] = grads[k] + gx
                    else:
                        grads[k] = gx
                        keep[k] = x
                    push(x.creator)
            if not retain_graph:
                f.release()


def _aliases(a, b) -> bool:
    """Whether two arrays are the same buffer (one object, or views of one base)."""
    if a is b:
        return True
    ab, bb = a.base, b.base
    return ab is b or bb is a or (ab is not None and ab is bb)


def _accumulate_leaf(x: Tensor, g) -> None:
    if g.dtype != x.data.dtype:
        g = g.astype(x.data.dtype)
    if x.grad is None:
        # A leaf's .grad is an ordinary array the user and the optimizer may read and
        # write: materialize broadcast views (e.g. from sum's backward) into one.
        if not g.flags.c_contiguous or not getattr(g.flags, "writeable", True):
            g = g.copy()
        x.grad = g
    else:
        x.grad = x.grad + g  # out of place: never mutate an array someone else may hold


class Parameter(Tensor):
    """A tensor that is a learnable parameter of a model: ``requires_grad=True`` by default,
    floating point (default float dtype for Python data)."""

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True, name: str | None = None, dtype=None):
        arr = as_array(data, dtype)
        if arr.dtype.kind != "f":
            arr = arr.astype(backend.get_default_dtype())
        super().__init__(arr, requires_grad=requires_grad, name=name)

    def to(self, device: str) -> Parameter:
        return Parameter(backend.to_device(self.data, device), self.requires_grad, self.name)


def tensor(data, requires_grad: bool = False, dtype=None, device: str | None = None) -> Tensor:
    """Create a tensor from array-like ``data`` (copied), like ``torch.tensor``."""
    arr = as_array(data, dtype)
    if isinstance(data, (np.ndarray, Tensor)) or is_cupy_array(data):
        arr = arr.copy()
    if device is not None:
        arr = backend.to_device(arr, device)
    return Tensor(arr, requires_grad=requires_grad)


def as_tensor(x, like=None) -> Tensor:
    """``x`` itself if it is a Tensor, else a constant tensor wrapping it (no copy of arrays)."""
    if isinstance(x, Tensor):
        return x
    return Tensor._from_op(as_array(x, like=None if like is None else like.data), None)
