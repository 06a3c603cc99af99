"""Normalization layers: batch, layer, group and instance normalization.

Batch norm: Ioffe & Szegedy, "Batch Normalization: Accelerating Deep Network Training by
Reducing Internal Covariate Shift" (2015, https://arxiv.org/abs/1502.03167).
Layer norm: Ba, Kiros & Hinton (2016, https://arxiv.org/abs/1607.06450).
Group norm: Wu & He (2018, https://arxiv.org/abs/1803.08494).
Instance norm: Ulyanov, Vedaldi & Lempitsky (2016, https://arxiv.org/abs/1607.08022).
"""
from __future__ import annotations

import numbers

import numpy as np

from ... import functions as F
from ..module import Module
from ._util import affine_parameters, float_dtype, new_parameter, positive_int


class _BatchNorm(Module):
    _expected_ndim: tuple = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, dtype=None):
        super().__init__()
        self.num_features = positive_int(num_features, f"{type(self).__name__}: num_features")
        if not eps > 0:
            raise ValueError(f"{type(self).__name__}: eps must be positive, got {eps}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{type(self).__name__}: momentum must be in [0, 1] or None, got {momentum}")
        self.eps = float(eps)
        self.momentum = None if momentum is None else float(momentum)
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        dt = float_dtype(dtype)
        affine_parameters(self, (self.num_features,), dt, self.affine)
        if self.track_running_stats:
            self.register_buffer("running_mean", np.zeros(self.num_features, dtype=dt))
            self.register_buffer("running_var", np.ones(self.num_features, dtype=dt))
            # counts training batches; used as the averaging factor when momentum=None (torch)
            self.register_buffer("num_batches_tracked", np.zeros((), dtype=np.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean[...] = 0
            self.running_var[...] = 1
            self.num_batches_tracked[...] = 0

    def forward(self, x):
        shape = x.shape
        if len(shape) not in self._expected_ndim:
            raise ValueError(f"{type(self).__name__}: expected a {' or '.join(map(str, self._expected_ndim))}-D "
                             f"input, got shape {shape}")
        if shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}: input has {shape[1]} channels (axis 1 of shape {shape}) "
                             f"but the layer was built for num_features={self.num_features}")
        use_batch_stats = self.training or not self.track_running_stats
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked += 1  # in place on the 0-d buffer
            if self.momentum is None:  # cumulative moving average
                momentum = 1.0 / float(self.num_batches_tracked)
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            training=use_batch_stats, momentum=momentum, eps=self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalization over ``(N, C)`` or ``(N, C, L)`` inputs (``torch.nn.BatchNorm1d``).

    Training mode normalizes with the batch mean and (biased) variance per channel and
    updates the running statistics in place:
    ``running = (1 − momentum)·running + momentum·batch_stat`` with the *unbiased* batch
    variance for ``running_var`` (torch's meaning of ``momentum``, the opposite of
    Keras's).  ``momentum=None`` uses the cumulative average.  Eval mode normalizes
    with ``running_mean``/``running_var`` (buffers, not parameters), so each example's
    output is independent of the rest of the batch.

    Parameters ``weight`` (γ, ones) and ``bias`` (β, zeros) when ``affine``; buffers
    ``running_mean``, ``running_var``, ``num_batches_tracked``.
    """

    _expected_ndim = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization over ``(N, C, H, W)`` inputs, statistics per channel over
    ``N, H, W`` (``torch.nn.BatchNorm2d``); otherwise as :class:`BatchNorm1d`."""

    _expected_ndim = (4,)


class LayerNorm(Module):
    """Normalize over the last ``len(normalized_shape)`` dimensions of each example
    (``torch.nn.LayerNorm``); no running statistics, same behaviour in train and eval.

    Parameters ``weight`` (ones) and ``bias`` (zeros) of shape ``normalized_shape`` when
    ``elementwise_affine``.
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (int(normalized_shape),)
        self.normalized_shape = tuple(positive_int(s, "LayerNorm: normalized_shape") for s in normalized_shape)
        self.eps = float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        dt = float_dtype(dtype)
        if self.elementwise_affine:
            self.weight = new_parameter(self.normalized_shape, dt, 1.0)
            if bias:
                self.bias = new_parameter(self.normalized_shape, dt, 0.0)
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x):
        k = len(self.normalized_shape)
        if tuple(x.shape[-k:]) != self.normalized_shape:
            raise ValueError(f"LayerNorm: input of shape {x.shape} does not end with normalized_shape "
                             f"{self.normalized_shape}")
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class GroupNorm(Module):
    """Normalize each example over groups of ``num_channels // num_groups`` channels (and all
    spatial positions) (``torch.nn.GroupNorm``); per-channel affine ``weight``/``bias``.
    Input ``(N, C, *)``."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, dtype=None):
        super().__init__()
        self.num_groups = positive_int(num_groups, "GroupNorm: num_groups")
        self.num_channels = positive_int(num_channels, "GroupNorm: num_channels")
        if self.num_channels % self.num_groups:
            raise ValueError(f"GroupNorm: num_channels={num_channels} must be divisible by num_groups={num_groups}")
        self.eps = float(eps)
        self.affine = bool(affine)
        dt = float_dtype(dtype)
        affine_parameters(self, (self.num_channels,), dt, self.affine)

    def forward(self, x):
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm: expected input (N, {self.num_channels}, ...), got shape {x.shape}")
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


class InstanceNorm2d(Module):
    """Normalize each channel of each example over its ``H × W`` positions
    (``torch.nn.InstanceNorm2d``).  Like torch's default, ``affine=False`` and no running
    statistics (train and eval behave the same).  Input ``(N, C, H, W)``."""

    def __init__(self, num_features, eps=1e-5, affine=False, dtype=None):
        super().__init__()
        self.num_features = positive_int(num_features, "InstanceNorm2d: num_features")
        self.eps = float(eps)
        self.affine = bool(affine)
        dt = float_dtype(dtype)
        affine_parameters(self, (self.num_features,), dt, self.affine)

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != self.num_features:
            raise ValueError(f"InstanceNorm2d: expected input (N, {self.num_features}, H, W), got shape {x.shape}")
        return F.instance_norm(x, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, affine={self.affine}"
