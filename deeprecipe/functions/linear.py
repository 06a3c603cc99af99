"""Fully connected layer ``y = x @ W.T + b`` as one fused op (``torch.nn.functional.linear``).

This is the hot path of MLP training, so the op keeps temporaries to a minimum: the
forward is one GEMM whose fresh output receives the bias in place, and the backward
computes only the gradients whose inputs require them (the input batch of the first
layer usually does not).

Small and medium batches take the forward GEMM the other way round: ``y.T = W @ x.T``
(transposed back to C order in the pass that adds the bias).  OpenBLAS's ``x @ W.T``
kernel is slow when the batch is the short side.  Forward with bias, 1 thread, float32,
plain vs swapped: ``784 -> 512`` 236 vs 99 us at batch 4, 352 vs 174 at 16, 736 vs 574
at 64, 1169 vs 1124 at 128; ``3136 -> 128`` 319 vs 211 at 16 but 1196 vs 1327 at 128;
for a narrow output (``256 -> 10``) the plain form is as fast or faster at every batch.
Hence the swap when ``2 <= batch <= SWAP_MAX_BATCH`` and ``batch < out_features``, on
the CPU only.
"""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module
from ..engine.function import Function

# Largest batch for the swapped forward GEMM (see the module docstring).
SWAP_MAX_BATCH = 64


def xp_dot(a, b):
    """``a @ b`` for 2-D arrays through ``dot`` (numpy or cupy, whichever holds them)."""
    return get_array_module(a, b).dot(a, b)


class Linear(Function):
    """``x (..., in)``, ``W (out, in)``, optional ``b (out,)`` -> ``y (..., out)``."""

    def forward(self, x, W, b=None):
        if W.ndim != 2:
            raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape {W.shape}")
        if x.ndim == 0 or x.shape[-1] != W.shape[1]:
            raise ValueError(
                f"linear: input of shape {x.shape} does not match weight of shape {W.shape}: "
                f"the last input dimension must equal in_features={W.shape[1]}")
        if b is not None and b.shape != (W.shape[0],):
            raise ValueError(f"linear: bias must have shape ({W.shape[0]},), got {b.shape}")
        self.x, self.W = x, W
        n = x.shape[0]
        if x.ndim == 2 and 2 <= n <= SWAP_MAX_BATCH and n < W.shape[0] and get_array_module(x, W) is np:
            yt = W @ x.T  # (out, n); see the module docstring
            # back to a C-ordered (n, out) in the same pass that adds the bias: an
            # F-ordered output would make later elementwise ops mix layouts (ReLU's
            # backward measured 10x slower at 128x512)
            if b is not None:
                return np.add(yt.T, b, order="C")
            return np.ascontiguousarray(yt.T)
        y = x @ W.T  # BLAS reads the transposed view directly: no copy of W
        if b is not None:
            y += b  # in place into the fresh GEMM output: no extra temporary
        return y

    def backward(self, gy):
        x, W = self.x, self.W
        inputs = self.inputs
        gx = gW = gb = None
        if inputs[0].requires_grad:
            gx = gy @ W
        if inputs[1].requires_grad or (len(inputs) > 2 and inputs[2].requires_grad):
            if x.ndim != 2:  # fold leading dims into the batch so each grad is one GEMM
                x = x.reshape(-1, x.shape[-1])
                gy = gy.reshape(-1, gy.shape[-1])
            if inputs[1].requires_grad:
                if x.shape[0] == 1:
                    # batch of one: an outer product.  matmul does not hand a K=1 product
                    # to BLAS (measured 5-10x slower than dot's ger-like path at 512x784)
                    gW = xp_dot(gy.T, x)
                else:
                    gW = gy.T @ x
            if len(inputs) > 2 and inputs[2].requires_grad:
                gb = gy.sum(axis=0)
        if len(inputs) > 2:
            return gx, gW, gb
        return gx, gW


def linear(x, weight, bias=None):
    """Affine map ``x @ weight.T + bias``, like ``torch.nn.functional.linear``.

    Args:
        x: input of shape ``(..., in_features)`` (Tensor or array).
        weight: ``(out_features, in_features)``.
        bias: optional ``(out_features,)``.

    Returns:
        Tensor of shape ``(..., out_features)``.
    """
    if bias is None:
        return Linear()(x, weight)
    return Linear()(x, weight, bias)
