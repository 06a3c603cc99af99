"""im2col / col2im: turn a convolution into matrix products.

``im2col`` copies every receptive field of an NCHW image batch into the columns of a
matrix, so that a convolution with ``O`` filters becomes a GEMM with the weight
``W (O, C*kh*kw)``; ``col2im`` is its adjoint (it scatters column gradients back onto
the image, adding where windows overlap).

Two layouts, one per kind of layer (``conv2d`` picks):

* channel-major ``col (C, kh, kw, N, oh, ow)`` (:func:`im2col`, :func:`col2im`): the
  whole batch is ONE GEMM ``W (O, C*kh*kw) @ col (C*kh*kw, N*oh*ow)``, as efficient as
  BLAS gets; the price is a transposing copy of the input, the output and its gradient
  between NCHW and channel-major.  Best when ``C*kh*kw`` is large (the GEMM dominates).
* batch-major ``col (N, C, kh, kw, oh, ow)`` (:func:`im2col_batch`,
  :func:`col2im_batch`): one GEMM per image, ``W @ col[n]``, whose output is already
  NCHW.  Best when ``C*kh*kw`` is small (a first layer on 1 or 3 channels): such a GEMM
  is bound by memory traffic, not arithmetic, so splitting it per image costs nothing,
  while the transposes it saves are each as large as the output.

Both loop over the ``kh*kw`` kernel offsets in Python (each iteration copies one
strided slice of the whole batch), never over pixels; the padding is written once
into a buffer whose borders alone are zero-filled.

This module also keeps the conv and pooling ops' *scratch* buffers (:func:`scratch`).

Reference: K. Chellapilla, S. Puri, P. Simard, "High Performance Convolutional Neural
Networks for Document Processing" (2006), https://hal.inria.fr/inria-00112631
"""
from __future__ import annotations

import numbers
import threading

import numpy as np

from ..backend import get_array_module


def pair(value, name):
    """``value`` as a pair of ints (an int ``v`` means ``(v, v)``), for kernel/stride/padding."""
    vals = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(vals) != 2 or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in vals):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    return int(vals[0]), int(vals[1])


def out_size(size, k, s, p, what="input"):
    """Output length of a sliding window: ``floor((size + 2p - k) / s) + 1`` (at least 1)."""
    n = (size + 2 * p - k) // s + 1
    if n < 1:
        raise ValueError(
            f"kernel size {k} is larger than the padded {what} size {size + 2 * p} "
            f"(size {size} + 2 * padding {p}); use a smaller kernel or more padding")
    return n


# ------------------------------------------------------------ scratch and recycled buffers
# Why: glibc returns large freed blocks to the OS, so a big array allocated afresh in
# every training step is page-faulted back in every step (zero-filled by the kernel; on
# the reference VM a step of benchmarks/bench_step.py spent ~50 ms of ~170 in the
# kernel, 12k faults).  Two per-thread caches avoid most of it for the conv and pooling
# ops (12.4k -> 5.5k faults per step, 7-10 % faster steps):
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


# ----------------------------------------------------------------------------- im2col
def _padded(x4, ph, pw, slot=None):
    """``x4 (A, B, H, W)`` (any strides) -> zero-padded ``(A, B, H + 2ph, W + 2pw)``.

    Without padding ``x4`` itself is returned.  With padding, one copy into a buffer
    (a scratch buffer when ``slot`` is given) whose borders alone are zero-filled.
    """
    if ph == 0 and pw == 0:
        return x4
    xp = get_array_module(x4)
    A, B, H, W = x4.shape
    shape = (A, B, H + 2 * ph, W + 2 * pw)
    out = xp.empty(shape, dtype=x4.dtype) if slot is None else scratch(xp, shape, x4.dtype, slot)
    if ph:
        out[:, :, :ph] = 0
        out[:, :, H + ph:] = 0
    if pw:
        out[:, :, ph:H + ph, :pw] = 0
        out[:, :, ph:H + ph, W + pw:] = 0
    out[:, :, ph:ph + H, pw:pw + W] = x4
    return out


def pad_cn(x, ph, pw):
    """``x (N, C, H, W)`` -> channel-major zero-padded ``(C, N, H + 2ph, W + 2pw)``.

    Without padding this is a transposed view (no copy); with padding, one copy that
    also transposes.
    """
    return _padded(x.transpose(1, 0, 2, 3), ph, pw)


def _gather(xpad, colv, sh, sw):
    """``colv[i, j] = xpad[:, :, i::sh, j::sw]`` (``oh x ow`` of them) for every kernel offset.

    ``xpad (A, B, Hp, Wp)``; ``colv (kh, kw, A, B, oh, ow)``, a view into the col buffer.
    """
    kh, kw, _, _, oh, ow = colv.shape
    for i in range(kh):
        for j in range(kw):
            colv[i, j] = xpad[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw]


def _scatter(colv, padded_shape, sh, sw, xp, slot=None):
    """Adjoint of :func:`_gather`: an ``(A, B, Hp, Wp)`` array (new, or the scratch
    buffer ``slot``) holding the sum of every ``colv[i, j]`` added back at its offset."""
    kh, kw, _, _, oh, ow = colv.shape
    Hp, Wp = padded_shape[2], padded_shape[3]
    g = xp.empty(padded_shape, dtype=colv.dtype) if slot is None else scratch(xp, padded_shape, colv.dtype, slot)
    if sh >= kh and sw >= kw:
        # Windows do not overlap: every padded pixel receives at most one entry, so plain
        # assignment suffices; only pixels no window covers need the zero fill.
        if not (sh == kh and sw == kw and Hp == sh * oh and Wp == sw * ow):
            g.fill(0)
        for i in range(kh):
            for j in range(kw):
                g[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw] = colv[i, j]
        return g
    if sh == 1 and sw == 1:
        # the first offset is assigned (no zero fill under it, no read-modify-write);
        # only the rest of the buffer is zeroed
        g[:, :, :oh, :ow] = colv[0, 0]
        g[:, :, oh:] = 0
        g[:, :, :oh, ow:] = 0
        first = 1
    else:
        g.fill(0)
        first = 0
    for k in range(first, kh * kw):
        i, j = divmod(k, kw)
        g[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw] += colv[i, j]
    return g


def _col_shape(x_shape, kh, kw, sh, sw, ph, pw):
    N, C, H, W = x_shape
    return N, C, out_size(H, kh, sh, ph, "height"), out_size(W, kw, sw, pw, "width")


def im2col(x, kh, kw, sh, sw, ph, pw, out=None):
    """Receptive fields of ``x (N, C, H, W)`` as channel-major ``col (C, kh, kw, N, oh, ow)``.

    ``col[c, i, j, n, y, x] = xpad[n, c, y*sh + i, x*sw + j]`` with zero padding.
    ``out``: an array (or view) of that shape to fill instead of a new one.
    """
    xp = get_array_module(x)
    N, C, oh, ow = _col_shape(x.shape, kh, kw, sh, sw, ph, pw)
    col = xp.empty((C, kh, kw, N, oh, ow), dtype=x.dtype) if out is None else out
    xpad = _padded(x.transpose(1, 0, 2, 3), ph, pw, slot="im2col.xpad")
    _gather(xpad, col.transpose(1, 2, 0, 3, 4, 5), sh, sw)
    return col


def col2im(col, x_shape, sh, sw, ph, pw):
    """Adjoint of :func:`im2col`: ``col (C, kh, kw, N, oh, ow)`` -> new ``gx (N, C, H, W)``.

    Each column entry is added back to the pixel it was copied from; overlapping windows
    (stride < kernel) accumulate.
    """
    xp = get_array_module(col)
    N, C, H, W = x_shape
    gpad = _scatter(col.transpose(1, 2, 0, 3, 4, 5), (C, N, H + 2 * ph, W + 2 * pw), sh, sw, xp,
                    slot="col2im.gpad")
    # back to NCHW, dropping the padding: one copy out of the scratch buffer
    return copy_new(xp, gpad[:, :, ph:ph + H, pw:pw + W].transpose(1, 0, 2, 3))


def im2col_batch(x, kh, kw, sh, sw, ph, pw, out=None):
    """Receptive fields of ``x (N, C, H, W)`` as batch-major ``col (N, C, kh, kw, oh, ow)``.

    ``col[n, c, i, j, y, x] = xpad[n, c, y*sh + i, x*sw + j]`` with zero padding.
    ``out``: an array (or view) of that shape to fill instead of a new one.
    """
    xp = get_array_module(x)
    N, C, oh, ow = _col_shape(x.shape, kh, kw, sh, sw, ph, pw)
    col = xp.empty((N, C, kh, kw, oh, ow), dtype=x.dtype) if out is None else out
    _gather(_padded(x, ph, pw, slot="im2col.xpad"), col.transpose(2, 3, 0, 1, 4, 5), sh, sw)
    return col


def col2im_batch(col, x_shape, sh, sw, ph, pw):
    """Adjoint of :func:`im2col_batch`: ``col (N, C, kh, kw, oh, ow)`` -> new ``gx (N, C, H, W)``."""
    xp = get_array_module(col)
    N, C, H, W = x_shape
    colv = col.transpose(2, 3, 0, 1, 4, 5)
    if ph == 0 and pw == 0:
        return _scatter(colv, (N, C, H, W), sh, sw, xp)  # the gradient itself: a new array
    gpad = _scatter(colv, (N, C, H + 2 * ph, W + 2 * pw), sh, sw, xp, slot="col2im.gpad")
    return copy_new(xp, gpad[:, :, ph:ph + H, pw:pw + W])
