"""Normalization layers as fused ops: batch, layer, group and instance normalization.

Each normalizes ``x`` over some axes, ``xhat = (x - mean) / sqrt(var + eps)`` (biased
variance), then applies a per-feature affine map ``y = xhat * weight + bias``.  They
differ only in the axes the statistics are taken over:

* batch norm — over the batch and spatial axes, per channel (Ioffe & Szegedy 2015,
  https://arxiv.org/abs/1502.03167); in training with batch statistics, in evaluation
  with running averages;
* layer norm — over the trailing ``normalized_shape`` axes of each example
  (Ba, Kiros & Hinton 2016, https://arxiv.org/abs/1607.06450);
* group norm — over each group of channels (and space) of each example
  (Wu & He 2018, https://arxiv.org/abs/1803.08494); instance norm is group norm with
  one channel per group (Ulyanov et al. 2016, https://arxiv.org/abs/1607.08022).

The backward is the closed form for a normalization over ``M`` values,
``gx = inv_std * (g - mean(g) - xhat * mean(g * xhat))`` with ``g = gy * weight``, so
one op replaces the dozen elementwise nodes a composite graph would record.
"""
from __future__ import annotations

import numbers

from ..backend import get_array_module
from ..engine.function import Function
from ..engine.tensor import Tensor, as_tensor


def _normalize(xs, axes, eps):
    """``(xhat, inv_std)`` of ``xs`` normalized over ``axes`` (kept as size-1 dims)."""
    xp = get_array_module(xs)
    mean = xs.mean(axis=axes, keepdims=True)
    xc = xs - mean
    var = xp.square(xc).mean(axis=axes, keepdims=True)
    inv_std = 1.0 / xp.sqrt(var + eps)
    xc *= inv_std  # xc is a fresh temporary: turn it into xhat in place
    return xc, inv_std, mean, var


def _normalize_grad(g, xhat, inv_std, axes):
    """Input gradient of a normalization over ``axes`` given ``g = dL/dxhat``."""
    gx = g - g.mean(axis=axes, keepdims=True)
    gx -= xhat * (g * xhat).mean(axis=axes, keepdims=True)
    gx *= inv_std
    return gx


def _affine(xhat, w, b, bshape):
    """``xhat * w + b`` with ``w``/``b`` (possibly None) reshaped to ``bshape``; fresh output."""
    if w is not None:
        y = xhat * w.reshape(bshape)
    elif b is not None:
        y = xhat.copy()
    else:
        return xhat
    if b is not None:
        y += b.reshape(bshape)
    return y


class _AffineNorm(Function):
    """Normalize over ``stat_axes`` of ``x.reshape(stat_shape)``, then a per-feature affine
    map whose parameters broadcast as ``bshape`` and whose gradients sum over ``param_axes``.
    """

    def __init__(self, stat_shape, stat_axes, bshape, param_axes, eps, has_w, has_b):
        self.stat_shape, self.stat_axes = stat_shape, stat_axes
        self.bshape, self.param_axes = bshape, param_axes
        self.eps, self.has_w, self.has_b = eps, has_w, has_b

    def forward(self, x, *wb):
        w = wb[0] if self.has_w else None
        b = wb[-1] if self.has_b else None
        xs = x.reshape(self.stat_shape) if self.stat_shape is not None else x
        xhat_s, self.inv_std, _, _ = _normalize(xs, self.stat_axes, self.eps)
        self.xhat_s = xhat_s
        self.xhat = xhat_s.reshape(x.shape)
        self.w = w
        return _affine(self.xhat, w, b, self.bshape)

    def backward(self, gy):
        inputs = self.inputs
        grads = []
        if inputs[0].requires_grad:
            g = gy * self.w.reshape(self.bshape) if self.w is not None else gy
            if self.stat_shape is not None:
                g = g.reshape(self.stat_shape)
            grads.append(_normalize_grad(g, self.xhat_s, self.inv_std, self.stat_axes).reshape(gy.shape))
        else:
            grads.append(None)
        k = 1
        if self.has_w:
            grads.append((gy * self.xhat).sum(axis=self.param_axes).reshape(self.w.shape)
                         if inputs[k].requires_grad else None)
            k += 1
        if self.has_b:
            grads.append(gy.sum(axis=self.param_axes).reshape(inputs[k].data.shape)
                         if inputs[k].requires_grad else None)
        return tuple(grads)


# Smallest number of values per (example, channel) for the spatial training path of batch
# norm; below it (e.g. (N, C) inputs) the broadcasting formulas over axis 0 are faster.
SPATIAL_MIN = 16


def _channel_sum(xp, a3):
    """``Σ a`` per channel of ``a3 (N, C, L)`` -> ``(C,)`` (einsum: one pass, ~3x faster than
    ``sum(axis=(0, 2))`` over NCHW, as accurate on these sizes)."""
    return xp.einsum("ncl->c", a3)


def _channel_dot(xp, a3, b3):
    """``Σ a·b`` per channel of two ``(N, C, L)`` arrays -> ``(C,)``: one batched dot product
    per (example, channel) in BLAS, then a sum over the batch (without the product array)."""
    N, C, _ = a3.shape
    return xp.matmul(a3[:, :, None, :], b3[:, :, :, None]).reshape(N, C).sum(axis=0)


class BatchNorm(Function):
    """Batch normalization over every axis but the channel axis 1 of ``x (N, C, ...)``.

    Training on inputs with spatial axes takes :meth:`_forward_spatial` (measured on
    ``(128, 32, 28, 28)`` float32, one core: forward 8.7 -> 3.6 ms, backward 7.7 -> 6.3 ms;
    the normalized input, as large as the input, is no longer kept for backward)."""

    _xhat = None
    _x3 = None

    def __init__(self, running_mean, running_var, training, momentum, eps, has_w, has_b):
        self.running_mean, self.running_var = running_mean, running_var
        self.training, self.momentum, self.eps = training, momentum, eps
        self.has_w, self.has_b = has_w, has_b

    def forward(self, x, *wb):
        xp = get_array_module(x)
        C = x.shape[1]
        w = wb[0] if self.has_w else None
        b = wb[-1] if self.has_b else None
        for name, p in (("weight", w), ("bias", b), ("running_mean", self.running_mean),
                        ("running_var", self.running_var)):
            if p is not None and p.shape != (C,):
                raise ValueError(
                    f"batch_norm: {name} must have shape ({C},) for input of shape {x.shape}, got {p.shape}")
        self.axes = (0,) + tuple(range(2, x.ndim))
        self.bshape = (1, C) + (1,) * (x.ndim - 2)
        self.w = w
        if self.training:
            M = x.size // C
            if M <= 1:
                raise ValueError(
                    f"batch_norm: Expected more than 1 value per channel when training, got input of shape "
                    f"{x.shape}; use a batch of at least 2 examples or call the model in eval mode")
            self.M = M
            if x.ndim > 2 and M // x.shape[0] >= SPATIAL_MIN:
                return self._forward_spatial(xp, x, w, b)
            xhat, self.inv_std, mean, var = _normalize(x, self.axes, self.eps)
            self._update_running(mean, var)
        else:
            if self.running_mean is None or self.running_var is None:
                raise ValueError("batch_norm: running_mean and running_var are needed in evaluation mode "
                                 "(training=False)")
            self.inv_std = (1.0 / xp.sqrt(self.running_var + self.eps)).astype(x.dtype, copy=False).reshape(self.bshape)
            xhat = x - self.running_mean.astype(x.dtype, copy=False).reshape(self.bshape)
            xhat *= self.inv_std
        self._xhat = xhat
        return _affine(xhat, w, b, self.bshape)

    def _update_running(self, mean, var):
        C, M, m = mean.size, self.M, self.momentum
        if self.running_mean is not None:
            rm = self.running_mean
            rm *= 1 - m
            rm += m * mean.reshape(C)
        if self.running_var is not None:
            rv = self.running_var
            rv *= 1 - m
            rv += (m * M / (M - 1)) * var.reshape(C)  # unbiased, as torch keeps it

    def _forward_spatial(self, xp, x, w, b):
        """Training forward for ``(N, C, L...)`` inputs: per-channel sums by ``einsum`` and
        batched dot products (fast over NCHW, where NumPy's reductions over axes (0, 2, 3)
        are slow), and the affine map folded into one scale: ``y = (x − μ)·(s·w) + b``.
        The normalized ``x̂`` is not kept: backward recomputes ``x − μ`` from the input."""
        N, C = x.shape[:2]
        x3 = x.reshape(N, C, -1)
        M = self.M
        mean = _channel_sum(xp, x3) / M
        y = x3 - mean[:, None]
        var = _channel_dot(xp, y, y) / M
        inv_std = 1.0 / xp.sqrt(var + self.eps)
        y *= (inv_std if w is None else inv_std * w)[:, None]
        if b is not None:
            y += b[:, None]
        self._x3, self._mean = x3, mean
        self.inv_std = inv_std.reshape(self.bshape)
        self._update_running(mean, var)
        return y.reshape(x.shape)

    @property
    def xhat(self):
        """The normalized input ``x̂`` (recomputed on demand after a spatial training forward)."""
        if self._xhat is None and self._x3 is not None:
            xc = self._x3 - self._mean[:, None]
            self._xhat = (xc * self.inv_std.reshape(-1)[:, None]).reshape(self.inputs[0].shape)
        return self._xhat

    def _backward_spatial(self, gy, need_gx, need_gw, need_gb):
        """Backward of :meth:`_forward_spatial`, with ``xc = x − μ`` recomputed:
        ``gw = s·Σ gy·xc``, ``gb = Σ gy``,
        ``gx = (s·w)·(gy − Σgy/M − xc·s²·Σ(gy·xc)/M)`` (the closed form in the module docstring)."""
        xp = get_array_module(gy)
        N, C = gy.shape[:2]
        g3 = gy.reshape(N, C, -1)
        s = self.inv_std.reshape(C)
        sg = _channel_sum(xp, g3) if (need_gx or need_gb) else None
        gx = gw = None
        if need_gx or need_gw:
            xc = self._x3 - self._mean[:, None]
            sgx = _channel_dot(xp, g3, xc)
            if need_gw:
                gw = (sgx * s).astype(gy.dtype, copy=False)
            if need_gx:
                a = s if self.w is None else s * self.w
                inv_m = 1.0 / self.M
                xc *= (s * s * sgx * inv_m * a)[:, None]
                gx = g3 * a[:, None]
                gx -= xc
                gx -= (sg * inv_m * a)[:, None]
                gx = gx.reshape(gy.shape)
        return gx, gw, sg if need_gb else None

    def backward(self, gy):
        inputs = self.inputs
        gx = gw = gb = None
        need_gw = self.has_w and inputs[1].requires_grad
        need_gb = self.has_b and inputs[-1].requires_grad
        if self._x3 is not None:
            gx, gw, gb = self._backward_spatial(gy, inputs[0].requires_grad, need_gw, need_gb)
        else:
            gx, gw, gb = self._backward_general(gy, inputs[0].requires_grad, need_gw, need_gb)
        grads = [gx]
        if self.has_w:
            grads.append(gw)
        if self.has_b:
            grads.append(gb)
        return tuple(grads)

    def _backward_general(self, gy, need_gx, need_gw, need_gb):
        gx = gw = gb = None
        if self.training or need_gw:
            gxhat_sum = (gy * self.xhat).sum(axis=self.axes)
        if self.training or need_gb:
            gy_sum = gy.sum(axis=self.axes)
        if need_gx:
            scale = self.inv_std if self.w is None else self.inv_std * self.w.reshape(self.bshape)
            if self.training:
                # gx = w*inv_std * (gy - mean(gy) - xhat * mean(gy*xhat)), means over the M values
                inv_m = 1.0 / self.M
                gx = gy - (gy_sum * inv_m).reshape(self.bshape)
                gx -= self.xhat * (gxhat_sum * inv_m).reshape(self.bshape)
                gx *= scale
            else:
                gx = gy * scale  # running stats are constants: an affine map
        if need_gw:
            gw = gxhat_sum.astype(gy.dtype, copy=False)
        if need_gb:
            gb = gy_sum
        return gx, gw, gb


def _with_params(x, weight, bias):
    xs = [x]
    if weight is not None:
        xs.append(weight)
    if bias is not None:
        xs.append(bias)
    return xs


def _raw(a):
    """A running-stat buffer as a backend array (Tensors are unwrapped; no copy)."""
    return a.data if isinstance(a, Tensor) else a


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Batch normalization like ``torch.nn.functional.batch_norm`` (Ioffe & Szegedy 2015,
    https://arxiv.org/abs/1502.03167).

    Args:
        x: ``(N, C)`` or ``(N, C, H, W)`` (any ``(N, C, ...)``); statistics per channel.
        running_mean, running_var: ``(C,)`` backend arrays (buffers) or ``None``.  In
            training they are updated IN PLACE, ``r = (1 - momentum) * r + momentum * stat``,
            with the unbiased batch variance for ``running_var`` (as torch does).
        weight, bias: optional ``(C,)`` affine parameters (gamma, beta).
        training: use batch statistics (True) or the running ones (False).
        momentum: weight of the new batch statistic in the running average.
        eps: added to the variance for numerical stability.

    Raises:
        ValueError: in training when a channel has a single value (variance undefined),
            or in evaluation without running statistics.
    """
    x = as_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: input must be at least 2-D (N, C, ...), got shape {x.shape}")
    f = BatchNorm(_raw(running_mean), _raw(running_var), bool(training), momentum, eps,
                  weight is not None, bias is not None)
    return f(*_with_params(x, weight, bias))


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Layer normalization like ``torch.nn.functional.layer_norm`` (Ba et al. 2016,
    https://arxiv.org/abs/1607.06450): each example is normalized over its trailing
    ``normalized_shape`` axes; ``weight``/``bias`` have shape ``normalized_shape``."""
    x = as_tensor(x)
    if isinstance(normalized_shape, numbers.Integral):
        normalized_shape = (int(normalized_shape),)
    normalized_shape = tuple(int(s) for s in normalized_shape)
    k = len(normalized_shape)
    if k == 0 or x.ndim < k or tuple(x.shape[x.ndim - k:]) != normalized_shape:
        raise ValueError(
            f"layer_norm: normalized_shape {normalized_shape} must equal the trailing dimensions "
            f"of the input, whose shape is {x.shape}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(p.shape) != normalized_shape:
            raise ValueError(f"layer_norm: {name} must have shape {normalized_shape}, got {tuple(p.shape)}")
    stat_axes = tuple(range(x.ndim - k, x.ndim))
    f = _AffineNorm(None, stat_axes, normalized_shape, tuple(range(x.ndim - k)), eps,
                    weight is not None, bias is not None)
    return f(*_with_params(x, weight, bias))


def group_norm(x, num_groups, weight=None, bias=None, eps=1e-5):
    """Group normalization like ``torch.nn.functional.group_norm`` (Wu & He 2018,
    https://arxiv.org/abs/1803.08494): the ``C`` channels of ``x (N, C, ...)`` are split
    into ``num_groups`` groups, each normalized over its channels and spatial positions
    per example; ``weight``/``bias`` are per channel ``(C,)``."""
    x = as_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"group_norm: input must be at least 2-D (N, C, ...), got shape {x.shape}")
    N, C = x.shape[:2]
    if not isinstance(num_groups, numbers.Integral) or num_groups < 1 or C % num_groups:
        raise ValueError(f"group_norm: num_groups={num_groups!r} must be a positive divisor of the "
                         f"number of channels {C}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(p.shape) != (C,):
            raise ValueError(f"group_norm: {name} must have shape ({C},), got {tuple(p.shape)}")
    bshape = (1, C) + (1,) * (x.ndim - 2)
    param_axes = (0,) + tuple(range(2, x.ndim))
    f = _AffineNorm((N, int(num_groups), -1), (2,), bshape, param_axes, eps,
                    weight is not None, bias is not None)
    return f(*_with_params(x, weight, bias))


def instance_norm(x, weight=None, bias=None, eps=1e-5):
    """Instance normalization (Ulyanov et al. 2016, https://arxiv.org/abs/1607.08022): each
    channel of each example normalized over its spatial positions; group norm with one
    channel per group.  Input ``(N, C, ...)`` with at least 2 spatial values; no running
    statistics (torch's ``use_input_stats=True``)."""
    x = as_tensor(x)
    if x.ndim < 3:
        raise ValueError(f"instance_norm: input must be (N, C, ...) with spatial axes, got shape {x.shape}")
    spatial = x.size // (x.shape[0] * x.shape[1]) if x.size else 0
    if spatial <= 1:
        raise ValueError(f"instance_norm: Expected more than 1 spatial element, got input of shape {x.shape}")
    return group_norm(x, x.shape[1], weight, bias, eps)
