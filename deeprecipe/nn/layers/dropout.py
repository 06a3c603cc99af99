"""Dropout (Srivastava et al., "Dropout: A Simple Way to Prevent Neural Networks from
Overfitting", JMLR 2014, https://jmlr.org/papers/v15/srivastava14a.html)."""
from __future__ import annotations

import numpy as np

from ... import functions as F
from ...backend import get_array_module, get_rng
from ...engine.tensor import Tensor
from ..module import Module


class Dropout(Module):
    """Zero each input element with probability ``p`` in training mode.

    Two equivalent conventions for keeping the expected activation the same in training
    and at test time:

    * **inverted** (default, torch/Keras): at training time the kept elements are scaled
      by ``1/(1−p)``; at test time the layer is the identity.
    * **the lecture's** (``scale_at_test=True``): no scaling at training time; at test
      time the output is multiplied by ``1−p`` (equivalent to scaling the next layer's
      weights by ``1−p``).  For a linear network this test output equals the average of
      the outputs over all ``2^M`` dropout masks exactly.

    Args:
        p: drop probability, ``0 ≤ p < 1``.
        scale_at_test: use the lecture's convention (see above).
        rng: ``None`` draws masks from the library's global generator (its state is saved
            in checkpoints, so resumed runs draw the same masks); an int seed or a
            ``numpy.random.Generator`` gives this layer its own stream.

    Shapes: any; output shape = input shape.
    """

    def __init__(self, p=0.5, scale_at_test=False, rng=None):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = float(p)
        self.scale_at_test = bool(scale_at_test)
        # resolve a seed once so that successive calls continue one stream; None stays None
        # so the *current* global generator is used (deeprecipe.seed() replaces it)
        self.rng = None if rng is None else get_rng(rng)

    def forward(self, x):
        p = self.p
        if not self.training:
            if self.scale_at_test and p > 0.0:
                return F.mul(x, 1.0 - p)
            return x
        if p == 0.0:
            return x
        if not self.scale_at_test:
            return F.dropout(x, p, training=True, rng=self.rng)
        # the lecture's variant: a 0/1 mask, no rescaling at training time
        data = x.data if isinstance(x, Tensor) else x
        xp = get_array_module(data)
        # the same draws as F.dropout (uniforms in the input's float dtype), so one seed gives
        # the same mask in both conventions
        udt = data.dtype if data.dtype.kind == "f" and data.dtype.itemsize >= 4 else np.float32
        keep = get_rng(self.rng).random(data.shape, dtype=udt) >= p
        mask = keep.astype(data.dtype) if xp is np else xp.asarray(keep, dtype=data.dtype)
        return F.mul(x, mask)

    def extra_repr(self):
        return f"p={self.p}" + (", scale_at_test=True" if self.scale_at_test else "")
