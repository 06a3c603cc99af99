"""2-D max and average pooling layers (NCHW)."""
from __future__ import annotations

from ... import functions as F
from ..module import Module
from ._util import pair


class _Pool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = pair(kernel_size, f"{type(self).__name__}: kernel_size")
        self.stride = self.kernel_size if stride is None else pair(stride, f"{type(self).__name__}: stride")
        self.padding = pair(padding, f"{type(self).__name__}: padding")
        if min(self.kernel_size) < 1 or min(self.stride) < 1 or min(self.padding) < 0:
            raise ValueError(f"{type(self).__name__}: kernel_size and stride must be positive and padding "
                             f"non-negative, got {kernel_size!r}, {stride!r}, {padding!r}")

    def output_shape(self, h, w):
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        return (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """Maximum over each ``kernel_size`` window (``torch.nn.MaxPool2d``; stride defaults to the
    kernel size).  ``(N, C, H, W)`` → ``(N, C, oh, ow)``, ``oh = (H + 2·ph − kh) // sh + 1``."""

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)


class AvgPool2d(_Pool2d):
    """Mean over each ``kernel_size`` window (``torch.nn.AvgPool2d``; zero padding is counted
    in the mean, torch's ``count_include_pad=True``)."""

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding)
