"""Flat parameter buffers: the parameters of one group (of one dtype, on one device) as
views into one contiguous array, so that an optimizer step is a handful of whole-array
in-place operations instead of a Python loop over many small arrays.

This is the idea behind torch's ``foreach`` / ``fused`` optimizers, done with plain
NumPy (or CuPy) ufuncs writing into preallocated buffers (``out=``).

A ``Segment`` owns, for its parameters ``p_0 .. p_{n-1}`` (sizes ``s_j``, total ``N``):

* ``data``  (N,)  the parameters; ``p_j.data`` is rebound to ``data[o_j:o_j+s_j].reshape(shape_j)``
* ``grad``  (N,)  the gradients, copied each step from ``p_j.grad`` — up front when gradient
  transforms need them all, else block by block during the update; a rule that only reads
  its gradient reads ``p_j.grad`` in place (``p.grad`` arrays may be shared: the optimizer
  never writes into them)
* ``state`` name -> (N,) per-element optimizer state (``exp_avg``, ...), allocated on first use
* ``scal``  name -> (n,) per-parameter scalar state (``step``, NAdam's ``mu_product``)

A ``Run`` is a maximal range of consecutive parameters that all have a gradient this step
and share the same scalar state (the same step count): update rules are applied to runs.
In the common case (every parameter has a gradient, all step counts equal) a segment is
one run covering the whole buffer.  On the CPU a run is updated in cache-sized blocks
(``Run.blocks``): a rule's dozen passes then read main memory only once.
"""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module, is_cupy_array


def _pointer(a) -> int:
    return a.data.ptr if is_cupy_array(a) else a.__array_interface__["data"][0]


def _existing_flat(arrays, xp):
    """If ``arrays`` are already consecutive C-contiguous views of one 1-D base array
    (e.g. because another optimizer flattened them), return that region of the base;
    else ``None``.  Reusing it keeps both optimizers pointing at the same memory."""
    base = arrays[0].base
    if base is None or base.ndim != 1 or not base.flags.c_contiguous:
        return None
    dtype = base.dtype
    item = dtype.itemsize
    start_ptr = _pointer(arrays[0])
    expected = start_ptr
    for a in arrays:
        if a.base is not base or a.dtype != dtype or not a.flags.c_contiguous or _pointer(a) != expected:
            return None
        expected += a.size * item
    start = (start_ptr - _pointer(base)) // item
    total = (expected - start_ptr) // item
    return base[start:start + total]


class Run:
    """A range ``[i0, i1)`` of a segment's parameters (elements ``[lo, hi)``) updated together.

    ``param`` and ``grad`` are 1-D views; ``step`` is the step count *after* this update
    (torch increments first, so the first update sees ``step == 1``).  ``blocks(n)`` cuts a
    run into sub-runs of at most ``n`` elements that share the run's scalar state.
    """

    __slots__ = ("seg", "i0", "i1", "lo", "hi", "step", "param", "grad", "_scalars")

    def __init__(self, seg: "Segment", i0: int, i1: int, lo: int | None = None, hi: int | None = None,
                 scalars: dict | None = None):
        self.seg = seg
        self.i0, self.i1 = i0, i1
        self.lo = int(seg.offsets[i0]) if lo is None else lo
        self.hi = int(seg.offsets[i1]) if hi is None else hi
        if scalars is None:
            scalars = {k: float(v[i0]) for k, v in seg.scal.items()}
        self._scalars = scalars
        self.step = int(scalars["step"]) + 1
        self.param = seg.data[self.lo:self.hi]
        self.grad = seg.grad[self.lo:self.hi]

    @property
    def size(self) -> int:
        return self.hi - self.lo

    @property
    def xp(self):
        return self.seg.xp

    def blocks(self, n: int | None):
        """Sub-runs of at most ``n`` elements (the run itself when ``n`` is None or large)."""
        if not n or self.hi - self.lo <= n:
            return (self,)
        return [Run(self.seg, self.i0, self.i1, lo, min(lo + n, self.hi), self._scalars)
                for lo in range(self.lo, self.hi, n)]

    def state(self, name: str, init: float = 0.0):
        """View of per-element state ``name`` (allocated for the whole segment, filled with
        ``init``, on first use)."""
        return self.seg.state_array(name, init)[self.lo:self.hi]

    def has_state(self, name: str) -> bool:
        return name in self.seg.state

    def tmp(self, k: int = 0):
        """Scratch buffer ``k`` (same size and dtype as the run), contents undefined."""
        return self.seg.scratch(k)[self.lo:self.hi]

    def scalar(self, name: str) -> float:
        """Per-parameter scalar state as it was before this step (the same for every
        parameter of the run and for all its blocks)."""
        return self._scalars[name]

    def set_scalar(self, name: str, value: float) -> None:
        self.seg.scal[name][self.i0:self.i1] = value


class Segment:
    """The parameters of one group that share a dtype and a device, in one flat buffer."""

    def __init__(self, params, keys, scalar_init: dict):
        self.params = list(params)
        self.keys = list(keys)
        first = self.params[0].data
        self.xp = get_array_module(first)
        self.dtype = first.dtype
        self.shapes = [tuple(p.data.shape) for p in self.params]
        sizes = [int(p.data.size) for p in self.params]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.numel = int(self.offsets[-1])
        datas = [p.data for p in self.params]
        flat = _existing_flat(datas, self.xp) if self.numel else None
        if flat is None:
            flat = self.xp.empty(self.numel, dtype=self.dtype)
            for j, d in enumerate(datas):
                flat[self.offsets[j]:self.offsets[j + 1]] = d.reshape(-1)
        self.data = flat
        self.views = [flat[self.offsets[j]:self.offsets[j + 1]].reshape(self.shapes[j])
                      for j in range(len(self.params))]
        for p, v in zip(self.params, self.views):
            p.data = v
        self.grad = self.xp.zeros(self.numel, dtype=self.dtype)
        self.state: dict[str, object] = {}
        self.state_init: dict[str, float] = {}
        self._scratch: list = []
        self._mask = None
        self._pending = None  # gradients whose copy into self.grad is deferred (see gather)
        self.scalar_init = dict(scalar_init)
        self.scal = {k: np.full(len(self.params), v, dtype=np.float64) for k, v in scalar_init.items()}
        self.uniform = True  # all scalar states equal across the segment's parameters

    # ------------------------------------------------------------------ buffers
    def state_array(self, name: str, init: float = 0.0):
        a = self.state.get(name)
        if a is None:
            a = self.xp.full(self.numel, init, dtype=self.dtype) if init else self.xp.zeros(self.numel, self.dtype)
            self.state[name] = a
            self.state_init[name] = float(init)
        return a

    def block_elems(self, block_bytes: int | None) -> int | None:
        """Elements per cache-sized block on the CPU (None: no blocking, e.g. on the GPU)."""
        if not block_bytes or self.xp is not np:
            return None
        return max(1024, int(block_bytes) // self.dtype.itemsize)

    def scratch(self, k: int = 0):
        while len(self._scratch) <= k:
            self._scratch.append(self.xp.empty(self.numel, dtype=self.dtype))
        return self._scratch[k]

    def bool_scratch(self):
        if self._mask is None:
            self._mask = self.xp.empty(self.numel, dtype=bool)
        return self._mask

    def param_slice(self, j: int):
        return self.data[self.offsets[j]:self.offsets[j + 1]]

    # ------------------------------------------------------------------ binding
    def ensure_bound(self) -> None:
        """Make sure every ``p.data`` is still our view.  Code that *rebinds* ``p.data``
        (instead of writing in place) would otherwise silently detach the parameter from
        the optimizer; we copy the new values into the buffer and rebind the view."""
        for j, (p, v) in enumerate(zip(self.params, self.views)):
            d = p.data
            if d is v:
                continue
            if d.shape != v.shape or d.dtype != v.dtype or get_array_module(d) is not self.xp:
                raise RuntimeError(
                    f"parameter {self.keys[j]} was replaced by an array of shape {d.shape}, dtype {d.dtype} "
                    f"after the optimizer was built (expected shape {v.shape}, dtype {v.dtype} on the same "
                    "device); write new values in place (p.data[...] = x) or build a new optimizer")
            v[...] = d
            p.data = v

    # ------------------------------------------------------------------ gradients
    def gather(self, eager: bool = True) -> list:
        """Collect the parameters' gradients into ``self.grad`` and return the runs to update.

        With ``eager=False`` (and every parameter having a gradient) the copy is deferred:
        ``fill_grad(lo, hi)`` copies each block right before it is updated, while it is hot
        in the cache, which saves one pass over memory."""
        grads = [p.grad for p in self.params]
        n = len(grads)
        has = [g is not None for g in grads]
        self._pending = None
        if all(has):
            if eager:
                self._copy_all(grads)
            else:
                self._check_shapes(grads)
                self._pending = [g.reshape(-1) for g in grads]
            if self.uniform:
                return [Run(self, 0, n)]
        else:
            if not any(has):
                return []
            for j, g in enumerate(grads):
                if g is not None:
                    self._copy_one(j, g)
        return self._split(has)

    def _check_shapes(self, grads) -> None:
        if [getattr(g, "shape", None) for g in grads] != self.shapes:
            for j, g in enumerate(grads):
                self._copy_one(j, g)   # raises the precise error

    def fill_grad(self, lo: int, hi: int, direct: bool = False):
        """The gradient of elements [lo, hi) for an update, after a deferred ``gather``.

        With ``direct=True`` (the update rule only reads its gradient) and [lo, hi) inside
        one parameter whose ``.grad`` has the parameter's dtype, this is a read-only view of
        that ``.grad`` (no copy at all); otherwise the elements are copied into
        ``self.grad`` and its view is returned."""
        pending = self._pending
        if pending is None:
            return self.grad[lo:hi]
        off = self.offsets
        j = int(np.searchsorted(off, lo, side="right")) - 1
        if direct and hi <= off[j + 1] and pending[j].dtype == self.dtype:
            return pending[j][lo - off[j]:hi - off[j]]
        while j < len(pending) and off[j] < hi:
            a, b = max(lo, int(off[j])), min(hi, int(off[j + 1]))
            if b > a:
                self.grad[a:b] = pending[j][a - off[j]:b - off[j]]
            j += 1
        return self.grad[lo:hi]

    def _copy_all(self, grads) -> None:
        self._check_shapes(grads)
        try:
            if len(grads) == 1:
                self.grad[...] = grads[0].reshape(-1)
            else:
                self.xp.concatenate([g.reshape(-1) for g in grads], out=self.grad)
        except (ValueError, TypeError, AttributeError):
            for j, g in enumerate(grads):
                self._copy_one(j, g)
            raise  # pragma: no cover - _copy_one raises the precise error first

    def _copy_one(self, j: int, g) -> None:
        shape = self.shapes[j]
        if not hasattr(g, "shape") or tuple(g.shape) != tuple(shape):
            raise ValueError(
                f"parameter {self.keys[j]} has shape {shape} but its .grad has shape "
                f"{getattr(g, 'shape', type(g).__name__)}; gradients must match their parameter")
        if get_array_module(g) is not self.xp:
            raise ValueError(f"parameter {self.keys[j]} and its .grad live on different devices")
        self.grad[self.offsets[j]:self.offsets[j + 1]] = g.reshape(-1)

    def _split(self, has) -> list:
        """Maximal runs of consecutive parameters with a gradient and equal scalar state."""
        runs = []
        n = len(has)
        scal = list(self.scal.values())
        j = 0
        while j < n:
            if not has[j]:
                j += 1
                continue
            k = j + 1
            while k < n and has[k] and all(s[k] == s[j] for s in scal):
                k += 1
            runs.append(Run(self, j, k))
            j = k
        return runs

    def refresh_uniform(self) -> None:
        self.uniform = all(bool((s == s[0]).all()) for s in self.scal.values()) if self.params else True

    # ------------------------------------------------------------------ denormals
    def flush_denormals(self, block: int | None = None) -> None:
        """Set state values whose magnitude is below the smallest normal number to 0.

        Adam-family state of units that stop receiving gradient (dead ReLUs) decays
        geometrically into subnormal numbers; arithmetic on those is many times slower
        on most x86 CPUs and would slow every later step.  Zeros are exact and fast, and
        a value below ~1e-38 (float32) has no visible effect on any update."""
        if not self.state:
            return
        xp = self.xp
        tiny = np.finfo(self.dtype).tiny
        t = self.scratch(0)
        m = self.bool_scratch()
        step = block or max(self.numel, 1)
        for a in self.state.values():
            for lo in range(0, self.numel, step):   # block by block, so each stays in cache
                hi = min(lo + step, self.numel)
                xp.abs(a[lo:hi], out=t[lo:hi])
                xp.greater_equal(t[lo:hi], tiny, out=m[lo:hi])   # False for subnormals (and NaN)
                # multiply by the 0/1 mask: branch-free, where a masked copy with a random
                # mask (dead units are scattered) is ten times slower; NaN·0 stays NaN
                xp.multiply(a[lo:hi], m[lo:hi], out=a[lo:hi])
