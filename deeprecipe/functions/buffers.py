"""Scratch and recycled buffers for the conv and pooling ops: a per-thread allocator.
"""
from __future__ import annotations

import threading

import numpy as np

# Why: glibc returns large freed blocks to the OS, so a big array allocated afresh in
# every training step is page-faulted back in every step (zero-filled by the kernel; a
# sizeable part of a CNN step's time, see benchmarks/bench_step.py).  Two per-thread
# caches avoid most of it for the conv and pooling ops:
#   scratch(...)       temporaries that never leave one op call (the padded input of
#                      im2col, the GEMM output before its transpose, the column gradient,
#                      pooling's row maxima); the same memory is handed out again and again.
#   take(...)/give()   arrays an op keeps for backward (the col matrix, pooling's masks):
#                      the op gives them back in release(), after its backward.
# Both hold at most SCRATCH_MAX_BYTES per buffer (larger arrays are plain allocations)
# and live until release_scratch().  CuPy has its own memory pool: there both are plain
# allocations.

SCRATCH_MAX_BYTES = 1 << 27
_scratch = threading.local()


def scratch(xp, shape, dtype, slot):
    """An uninitialized ``shape``/``dtype`` array from this thread's buffer named ``slot``.

    The next request for the same ``slot`` returns the same memory, so the caller must
    be done with it by then: use it only for a temporary that stays inside one op call
    (never return it, save it for backward, or hand it to another op), and give two
    temporaries alive at once different slots.
    """
    dtype = np.dtype(dtype)
    nbytes = _nbytes(shape, dtype)
    if xp is not np or nbytes > SCRATCH_MAX_BYTES:
        return xp.empty(shape, dtype=dtype)
    bufs = _scratch.__dict__.setdefault("bufs", {})
    buf = bufs.get(slot)
    if buf is None or buf.nbytes < nbytes:
        buf = bufs[slot] = np.empty(nbytes, dtype=np.uint8)
    return buf[:nbytes].view(dtype).reshape(shape)


def _nbytes(shape, dtype):
    n = dtype.itemsize
    for d in shape:
        n *= int(d)
    return n


def take(xp, shape, dtype, slot):
    """An uninitialized ``shape``/``dtype`` array for an op to *keep* (e.g. saved for
    backward), recycled from a buffer given back to ``slot`` by :func:`give` if one fits.

    Unlike :func:`scratch` the array is the caller's alone until it gives it back; an
    op gives back what it saved in its ``release()``, which the engine calls once
    backward is done with it (never with ``retain_graph=True``).
    """
    dtype = np.dtype(dtype)
    nbytes = _nbytes(shape, dtype)
    if xp is not np or nbytes > SCRATCH_MAX_BYTES:
        return xp.empty(shape, dtype=dtype)
    free = _scratch.__dict__.setdefault("free", {}).setdefault(slot, [])
    # the smallest free buffer that fits, if it is not wastefully large
    fits = [i for i, b in enumerate(free) if nbytes <= b.nbytes <= 2 * nbytes]
    if fits:
        buf = free.pop(min(fits, key=lambda i: free[i].nbytes))
    else:
        buf = np.empty(nbytes, dtype=np.uint8)
    return buf[:nbytes].view(dtype).reshape(shape)


_MAX_FREE = 8  # buffers kept per slot (about one per layer of a small network)


def give(slot, array):
    """Hand back an array from :func:`take` (after its last use) for reuse."""
    owner = array if array.base is None else array.base
    if (not isinstance(owner, np.ndarray) or owner.dtype != np.uint8 or owner.ndim != 1
            or owner.nbytes > SCRATCH_MAX_BYTES):
        return  # not from take (a CuPy array, or a plain allocation): let it be freed
    free = _scratch.__dict__.setdefault("free", {}).setdefault(slot, [])
    if len(free) < _MAX_FREE and all(b is not owner for b in free):
        free.append(owner)


def release_scratch():
    """Free this thread's scratch and recycled buffers (they are re-created on demand)."""
    _scratch.__dict__.pop("bufs", None)
    _scratch.__dict__.pop("free", None)


def copy_new(xp, a):
    """A fresh C-contiguous copy of ``a`` (``ascontiguousarray`` would return ``a``
    itself when it is already contiguous, e.g. a transposed view with a size-1 axis;
    a view of a scratch buffer must never escape)."""
    out = xp.empty(a.shape, dtype=a.dtype)
    out[...] = a
    return out
