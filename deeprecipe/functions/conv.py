"""2-D convolution (cross-correlation, as in every deep-learning library) on NCHW batches.

``conv2d`` is one fused op: :mod:`~deeprecipe.functions.im2col` gathers the receptive
fields, GEMMs apply all filters to the whole batch, and the backward is two more GEMMs
plus ``col2im`` for the input gradient.  Where the time goes, and what this op does
about it (measured on one core, float32, batch 128, Fashion-MNIST-sized layers):

* The bias rides along in the GEMMs: the col matrix gets one extra row of ones and the
  weight one extra column holding the bias, so the forward GEMM adds the bias and the
  weight-gradient GEMM yields the bias gradient as its last column.  That saves a pass
  over the output (``y += b``) and one over its gradient (``gy.sum``).
* Layout by layer (see :mod:`~deeprecipe.functions.im2col`): a layer with few
  weights per filter (``C*kh*kw <= 32``, i.e. a first layer on 1 or 3 channels) uses
  the batch-major col and one GEMM per image, whose output is NCHW already: 1→32
  channels on 28x28 takes 6.4 ms forward plus backward instead of 11.8 ms.  Larger
  layers use the channel-major col and one GEMM for the whole batch, 25-35 % faster
  there than per-image GEMMs.
* Only what backward will use is computed and saved: the col matrix only when the
  weight needs a gradient (``needs_grad(1)``), the input gradient (a GEMM and a
  ``col2im``) only when the input needs one (never for a first layer: it is data).
* Memory is reused rather than page-faulted in afresh on every step: the big
  temporaries (GEMM output before its transpose, the channel-major output gradient)
  live in scratch buffers, the column gradient overwrites the col matrix once the
  weight gradient has been taken from it, and the col matrix saved for backward
  is recycled once backward is done with it (``release``); see
  :func:`~deeprecipe.functions.im2col.scratch` and
  :func:`~deeprecipe.functions.im2col.take`.

Tried and dropped: computing the column gradient over rows widened to the padded width
(so that ``col2im`` adds long contiguous runs instead of 14-pixel rows) halved
``col2im`` but made the GEMM 15-20 % larger, a net gain of 2 ms out of 65 for the
32->64 channel 14x14 layer; a two-stage im2col (first the horizontal shifts, then
whole-row vertical ones) measured no faster than the direct strided copies.
"""
from __future__ import annotations

from ..backend import get_array_module
from ..engine.function import Function
from .im2col import col2im, col2im_batch, copy_new, give, im2col, im2col_batch, out_size, pair, scratch, take

# Largest C*kh*kw for the batch-major layout (one GEMM per image).  At batch 128 and
# 3x3 kernels, forward plus backward measured 1.5x faster with it for C*kh*kw = 9 and
# 27 (1 and 3 input channels), and 1.1-1.4x slower for 72 to 576.
BATCH_MAJOR_MAX_K = 32


class Conv2d(Function):
    """``x (N, C, H, W)``, ``W (O, C, kh, kw)``, optional ``b (O,)`` -> ``y (N, O, oh, ow)``
    with ``oh = (H + 2*ph - kh) // sh + 1`` (likewise ``ow``)."""

    col = None

    def __init__(self, stride, padding):
        self.sh, self.sw = stride
        self.ph, self.pw = padding

    def forward(self, x, W, b=None):
        if x.ndim != 4:
            raise ValueError(f"conv2d: input must be 4-D (N, C, H, W), got shape {x.shape}")
        if W.ndim != 4:
            raise ValueError(f"conv2d: weight must be 4-D (out_channels, in_channels, kh, kw), got shape {W.shape}")
        if x.shape[1] != W.shape[1]:
            raise ValueError(
                f"conv2d: input has {x.shape[1]} channels (shape {x.shape}) but the weight expects "
                f"{W.shape[1]} (shape {W.shape})")
        O = W.shape[0]
        if b is not None and b.shape != (O,):
            raise ValueError(f"conv2d: bias must have shape ({O},), got {b.shape}")
        xp = get_array_module(x, W)
        N, C, H, Wd = x.shape
        kh, kw = W.shape[2], W.shape[3]
        sh, sw, ph, pw = self.sh, self.sw, self.ph, self.pw
        oh = out_size(H, kh, sh, ph, "height")
        ow = out_size(Wd, kw, sw, pw, "width")
        K = C * kh * kw
        nb = 0 if b is None else 1  # the row of ones that carries the bias
        if nb:
            Wa = xp.empty((O, K + 1), dtype=xp.result_type(W.dtype, b.dtype))
            Wa[:, :K] = W.reshape(O, K)
            Wa[:, K] = b
        else:
            Wa = W.reshape(O, K)
        self.batch_major = K <= BATCH_MAJOR_MAX_K
        if self.batch_major:
            col = take(xp, (N, K + nb, oh * ow), x.dtype, "conv.col")
            im2col_batch(x, kh, kw, sh, sw, ph, pw, out=col[:, :K].reshape(N, C, kh, kw, oh, ow))
            if nb:
                col[:, K] = 1
            y = xp.matmul(Wa, col).reshape(N, O, oh, ow)  # one GEMM per image, NCHW out
        else:
            col = take(xp, (K + nb, N * oh * ow), x.dtype, "conv.col")
            im2col(x, kh, kw, sh, sw, ph, pw, out=col[:K].reshape(C, kh, kw, N, oh, ow))
            if nb:
                col[K] = 1
            # (O, N*oh*ow): all filters, whole batch, one GEMM; then one copy to NCHW
            y = xp.matmul(Wa, col, out=scratch(xp, (O, N * oh * ow), xp.result_type(Wa, col), "conv.y"))
            y = copy_new(xp, y.reshape(O, N, oh, ow).transpose(1, 0, 2, 3))
        self.x_shape, self.w_shape, self.K, self.nb = x.shape, W.shape, K, nb
        # keep only what backward will read (nothing at all outside a recorded graph)
        if self.needs_grad(1):
            self.col = col
        else:
            give("conv.col", col)
        self.W2 = W.reshape(O, K) if self.needs_grad(0) else None
        return y

    def backward(self, gy):
        xp = get_array_module(gy)
        N, O, oh, ow = gy.shape
        K, nb = self.K, self.nb
        C, kh, kw = self.w_shape[1:]
        need_gx, need_gW = self.needs_grad(0), self.needs_grad(1)
        need_gb = nb == 1 and self.needs_grad(2)
        gx = gW = gb = gWa = None
        if self.batch_major:
            gy3 = gy.reshape(N, O, oh * ow)
            if need_gW:  # per image (O, K+1), summed over the batch
                gWa = xp.matmul(gy3, self.col.transpose(0, 2, 1)).sum(axis=0)
            elif need_gb:
                gb = gy3.sum(axis=(0, 2))
            if need_gx:
                gcol = xp.matmul(self.W2.T, gy3, out=scratch(xp, (N, K, oh * ow), xp.result_type(self.W2, gy3),
                                                             "conv.gcol"))
                gx = col2im_batch(gcol.reshape(N, C, kh, kw, oh, ow), self.x_shape,
                                  self.sh, self.sw, self.ph, self.pw)
        else:
            # channel-major copy of the output gradient (as large as the output)
            gy2 = scratch(xp, (O, N, oh, ow), gy.dtype, "conv.gy")
            gy2[...] = gy.transpose(1, 0, 2, 3)
            gy2 = gy2.reshape(O, N * oh * ow)
            if need_gW:
                gWa = gy2 @ self.col.T  # (O, K+1): the last column is the bias gradient
            elif need_gb:
                gb = gy2.sum(axis=1)
            if need_gx:
                dt = xp.result_type(self.W2, gy2)
                if self.col is not None and self.col.dtype == dt and not self.graph_kept:
                    # the weight gradient is done with col and no second backward will
                    # read it: its first K rows (contiguous) take the column gradient,
                    # instead of a second buffer of that size (29 MB at batch 128 for
                    # the 32->64 channel layer)
                    out = self.col[:K]
                else:
                    out = scratch(xp, (K, N * oh * ow), dt, "conv.gcol")
                gcol = xp.matmul(self.W2.T, gy2, out=out).reshape(C, kh, kw, N, oh, ow)
                gx = col2im(gcol, self.x_shape, self.sh, self.sw, self.ph, self.pw)
        if gWa is not None:
            gW = xp.ascontiguousarray(gWa[:, :K]).reshape(self.w_shape)
            if need_gb:
                gb = gWa[:, K].copy()
        if nb:
            return gx, gW, gb
        return gx, gW


    def release(self):
        super().release()
        # backward is done with the col matrix: recycle it for the next forward
        if self.col is not None:
            give("conv.col", self.col)
            self.col = None


def conv2d(x, weight, bias=None, stride=1, padding=0):
    """2-D convolution like ``torch.nn.functional.conv2d`` (no dilation or groups).

    Args:
        x: ``(N, C, H, W)``.
        weight: ``(O, C, kh, kw)``.
        bias: optional ``(O,)``.
        stride: int or ``(sh, sw)``.
        padding: int or ``(ph, pw)``, zero padding on both sides.

    Returns:
        Tensor ``(N, O, oh, ow)``, ``oh = (H + 2*ph - kh) // sh + 1``.
    """
    stride = pair(stride, "conv2d: stride")
    padding = pair(padding, "conv2d: padding")
    if stride[0] < 1 or stride[1] < 1:
        raise ValueError(f"conv2d: stride must be positive, got {stride}")
    if padding[0] < 0 or padding[1] < 0:
        raise ValueError(f"conv2d: padding must be non-negative, got {padding}")
    f = Conv2d(stride, padding)
    if bias is None:
        return f(x, weight)
    return f(x, weight, bias)
