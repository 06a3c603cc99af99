"""Inverted dropout (Srivastava et al. 2014, https://jmlr.org/papers/v15/srivastava14a.html).

In training each unit is kept with probability ``1 - p`` and the kept units are scaled
by ``1 / (1 - p)``, so the expected activation is unchanged and evaluation is the
identity.  (The paper's original form instead scales the weights by ``1 - p`` at test
time; the two are equivalent in expectation.)
"""
from __future__ import annotations

import numbers

from ..backend import get_array_module, get_rng, is_cupy_array
from ..engine.function import Function
from ..engine.tensor import as_tensor


class Dropout(Function):
    def __init__(self, p, rng):
        self.p, self.rng = p, rng

    def forward(self, x):
        xp = get_array_module(x)
        if self.p >= 1.0:
            self.mask = xp.zeros_like(x)
            return self.mask.copy()
        # Draw the uniforms in the input's float dtype (half the bytes for float32) and
        # fold keep-test and rescale into one multiplier array, reused by backward.
        dtype = x.dtype if x.dtype.kind == "f" and x.dtype.itemsize >= 4 else "float32"
        u = self.rng.random(x.shape, dtype=dtype)
        mask = u >= self.p
        scale = x.dtype.type(1.0 / (1.0 - self.p))
        m = xp.asarray(mask) if is_cupy_array(x) else mask
        self.mask = xp.multiply(m, scale, dtype=x.dtype)
        return x * self.mask

    def backward(self, gy):
        return gy * self.mask


def dropout(x, p=0.5, training=True, rng=None):
    """Inverted dropout like ``torch.nn.functional.dropout``.

    Args:
        x: input of any shape (floating point).
        p: probability of zeroing a unit, ``0 <= p <= 1``; ``p = 1`` gives zeros.
        training: apply dropout (True) or return ``x`` unchanged (False).
        rng: ``None`` (the library-wide generator), an int seed, or a
            ``numpy.random.Generator``; the mask is drawn with it on the CPU (and
            copied to the GPU for CuPy inputs), so a seed fixes the mask on every device.

    Returns:
        Tensor of ``x``'s shape; ``x`` itself when not training or ``p == 0``.
    """
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be a probability in [0, 1], got {p!r}")
    x = as_tensor(x)
    if x.dtype.kind != "f":
        raise TypeError(f"dropout: expected a floating-point input, got dtype {x.dtype}")
    if not training or p == 0:
        return x
    return Dropout(float(p), get_rng(rng))(x)
