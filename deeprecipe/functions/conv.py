"""2-D convolution (cross-correlation, as in every deep-learning library) on NCHW batches.

``conv2d`` is one fused op: :func:`~deeprecipe.functions.im2col.im2col` gathers the
receptive fields, one GEMM applies all filters to the whole batch, and the backward is
two more GEMMs plus :func:`~deeprecipe.functions.im2col.col2im` for the input gradient.
"""
from __future__ import annotations

from ..backend import get_array_module
from ..engine.function import Function
from .im2col import col2im, im2col, pair


class Conv2d(Function):
    """``x (N, C, H, W)``, ``W (O, C, kh, kw)``, optional ``b (O,)`` -> ``y (N, O, oh, ow)``
    with ``oh = (H + 2*ph - kh) // sh + 1`` (likewise ``ow``)."""

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
        N = x.shape[0]
        kh, kw = W.shape[2], W.shape[3]
        col = im2col(x, kh, kw, self.sh, self.sw, self.ph, self.pw)  # (C, kh, kw, N, oh, ow)
        oh, ow = col.shape[4], col.shape[5]
        K = W.shape[1] * kh * kw
        self.col2 = col.reshape(K, N * oh * ow)
        self.W2 = W.reshape(O, K)
        self.x_shape = x.shape
        y = self.W2 @ self.col2  # (O, N*oh*ow): all filters, whole batch, one GEMM
        if b is not None:
            y += b[:, None]
        return xp.ascontiguousarray(y.reshape(O, N, oh, ow).transpose(1, 0, 2, 3))

    def backward(self, gy):
        xp = get_array_module(gy)
        inputs = self.inputs
        N, O, oh, ow = gy.shape
        # channel-major copy of the output gradient (the small array; col stays as is)
        gy2 = xp.ascontiguousarray(gy.transpose(1, 0, 2, 3)).reshape(O, N * oh * ow)
        gx = gW = gb = None
        if inputs[0].requires_grad:
            gcol = (self.W2.T @ gy2).reshape(
                self.x_shape[1], inputs[1].data.shape[2], inputs[1].data.shape[3], N, oh, ow)
            gx = col2im(gcol, self.x_shape, self.sh, self.sw, self.ph, self.pw)
        if inputs[1].requires_grad:
            gW = (gy2 @ self.col2.T).reshape(inputs[1].data.shape)
        if len(inputs) > 2:
            if inputs[2].requires_grad:
                gb = gy2.sum(axis=1)
            return gx, gW, gb
        return gx, gW


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
