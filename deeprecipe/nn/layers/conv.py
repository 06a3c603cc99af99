"""2-D convolution layer (NCHW)."""
from __future__ import annotations

from ... import functions as F
from .. import init as _init
from ..module import Module
from ._util import float_dtype, new_parameter, pair, positive_int


class Conv2d(Module):
    """2-D convolution (cross-correlation) over ``(N, C, H, W)`` batches (``torch.nn.Conv2d``
    without dilation or groups).

    Args:
        in_channels, out_channels: channel counts.
        kernel_size: int or ``(kh, kw)``.
        stride: int or ``(sh, sw)``.
        padding: int, ``(ph, pw)`` (zeros on both sides), or ``'same'`` (stride 1 and an
            odd kernel: output size = input size) / ``'valid'`` (no padding).
        bias: learn a per-output-channel bias.
        init: as for :class:`Linear`; ``None`` is torch's default U(±1/√fan_in) with
            ``fan_in = in_channels · kh · kw``.
        rng, dtype: as for :class:`Linear`.

    Shapes: ``(N, in_channels, H, W)`` → ``(N, out_channels, oh, ow)`` with
    ``oh = (H + 2·ph − kh) // sh + 1``; ``weight (out_channels, in_channels, kh, kw)``.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True,
                 init=None, rng=None, dtype=None):
        super().__init__()
        self.in_channels = positive_int(in_channels, "Conv2d: in_channels")
        self.out_channels = positive_int(out_channels, "Conv2d: out_channels")
        self.kernel_size = pair(kernel_size, "Conv2d: kernel_size")
        if min(self.kernel_size) < 1:
            raise ValueError(f"Conv2d: kernel_size must be positive, got {kernel_size!r}")
        self.stride = pair(stride, "Conv2d: stride")
        if min(self.stride) < 1:
            raise ValueError(f"Conv2d: stride must be positive, got {stride!r}")
        if isinstance(padding, str):
            if padding == "valid":
                padding = 0
            elif padding == "same":
                kh, kw = self.kernel_size
                if self.stride != (1, 1) or kh % 2 == 0 or kw % 2 == 0:
                    raise ValueError("Conv2d: padding='same' needs stride 1 and an odd kernel size, got "
                                     f"kernel_size={self.kernel_size}, stride={self.stride}")
                padding = (kh // 2, kw // 2)
            else:
                raise ValueError(f"Conv2d: padding must be an int, a pair, 'same' or 'valid', got {padding!r}")
        self.padding = pair(padding, "Conv2d: padding")
        if min(self.padding) < 0:
            raise ValueError(f"Conv2d: padding must be non-negative, got {padding!r}")
        dt = float_dtype(dtype)
        self.weight = new_parameter((self.out_channels, self.in_channels) + self.kernel_size, dt)
        if bias:
            self.bias = new_parameter((self.out_channels,), dt)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(init, rng)

    def reset_parameters(self, init=None, rng=None, nonlinearity=None, param=None):
        _init.init_weight_and_bias(self.weight, self.bias, init, rng, nonlinearity, param)

    def output_shape(self, h, w):
        """``(oh, ow)`` for an ``h × w`` input."""
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        return (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1

    def forward(self, x):
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}")
