"""im2col / col2im: turn a convolution into one matrix product.

``im2col`` copies every receptive field of an NCHW image batch into the columns of a
matrix, so that a convolution with ``O`` filters becomes one GEMM
``W (O, C*kh*kw) @ col (C*kh*kw, N*oh*ow)``; ``col2im`` is its adjoint (it scatters
column gradients back onto the image, adding where windows overlap).

Layout: ``col`` has shape ``(C, kh, kw, N, oh, ow)``.  With the channel and kernel
offsets leading, the weight reshapes to ``(O, C*kh*kw)`` without a copy and the whole
batch is one GEMM; only the (small) output needs a transpose back to NCHW.  Both
functions loop over the ``kh*kw`` kernel offsets in Python (each iteration copies one
strided slice of the whole batch), never over pixels.

Reference: K. Chellapilla, S. Puri, P. Simard, "High Performance Convolutional Neural
Networks for Document Processing" (2006), https://hal.inria.fr/inria-00112631
"""
from __future__ import annotations

import numbers

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


def pad_cn(x, ph, pw, value=0):
    """``x (N, C, H, W)`` -> channel-major padded ``(C, N, H + 2ph, W + 2pw)``.

    Without padding this is a transposed view (no copy); with padding, one copy that
    also transposes.
    """
    if ph == 0 and pw == 0:
        return x.transpose(1, 0, 2, 3)
    xp = get_array_module(x)
    N, C, H, W = x.shape
    out = xp.empty((C, N, H + 2 * ph, W + 2 * pw), dtype=x.dtype)
    if ph:
        out[:, :, :ph] = value
        out[:, :, H + ph:] = value
    if pw:
        out[:, :, :, :pw] = value
        out[:, :, :, W + pw:] = value
    out[:, :, ph:ph + H, pw:pw + W] = x.transpose(1, 0, 2, 3)
    return out


def im2col(x, kh, kw, sh, sw, ph, pw):
    """Receptive fields of ``x (N, C, H, W)`` as ``col (C, kh, kw, N, oh, ow)``.

    ``col[c, i, j, n, y, x] = xpad[n, c, y*sh + i, x*sw + j]`` with zero padding.
    """
    xp = get_array_module(x)
    N, C, H, W = x.shape
    oh = out_size(H, kh, sh, ph, "height")
    ow = out_size(W, kw, sw, pw, "width")
    xpad = pad_cn(x, ph, pw)
    col = xp.empty((C, kh, kw, N, oh, ow), dtype=x.dtype)
    for i in range(kh):
        i_end = i + sh * oh
        for j in range(kw):
            col[:, i, j] = xpad[:, :, i:i_end:sh, j:j + sw * ow:sw]
    return col


def col2im(col, x_shape, sh, sw, ph, pw):
    """Adjoint of :func:`im2col`: ``col (C, kh, kw, N, oh, ow)`` -> ``gx (N, C, H, W)``.

    Each column entry is added back to the pixel it was copied from; overlapping windows
    (stride < kernel) accumulate.
    """
    xp = get_array_module(col)
    N, C, H, W = x_shape
    _, kh, kw, _, oh, ow = col.shape
    Hp, Wp = H + 2 * ph, W + 2 * pw
    if sh >= kh and sw >= kw:
        # Windows do not overlap: every padded pixel receives at most one entry, so plain
        # assignment suffices (pixels no window covers stay zero).
        gpad = xp.empty((C, N, Hp, Wp), dtype=col.dtype) if (sh == kh and sw == kw
                                                              and Hp == sh * oh and Wp == sw * ow) \
            else xp.zeros((C, N, Hp, Wp), dtype=col.dtype)
        for i in range(kh):
            for j in range(kw):
                gpad[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw] = col[:, i, j]
    else:
        gpad = xp.zeros((C, N, Hp, Wp), dtype=col.dtype)
        for i in range(kh):
            for j in range(kw):
                gpad[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw] += col[:, i, j]
    # back to NCHW, dropping the padding; one contiguous copy
    return xp.ascontiguousarray(gpad[:, :, ph:ph + H, pw:pw + W].transpose(1, 0, 2, 3))
