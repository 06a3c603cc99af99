"""Deep plain and residual networks of matching width: :class:`DeepNet`.

He et al. 2016 ("Deep Residual Learning for Image Recognition",
https://arxiv.org/abs/1512.03385, Fig. 1 and §4.2) show a 56-layer plain net with *higher
training* error than a 20-layer one — an optimization problem, not overfitting — and
residual connections removing it.  The lecture repeats the figure (seeds 000, 004).  To
re-run that comparison the nets must differ only in depth and in the skip connections:

* a stem: one weight layer ``in → width`` (+ norm) + activation;
* ``(depth − 2) / 2`` blocks of two weight layers ``width → width``, each block
  ``act(x + [W₂·act(W₁x)])`` with the skip (residual) or ``act(W₂·act(W₁x))`` without
  (plain), a norm after each weight layer when ``norm="batch"`` — He's basic block
  (post-activation), with identity skips, so residual and plain nets have the same
  parameters;
* a head: one weight layer ``width → num_classes`` (after a global average pool for
  conv blocks).

``depth`` counts weight layers (the paper's convention), so ``DeepNet(56, ...)`` has 56.
Weight layers are ``Linear`` (``block="mlp"``) or 3×3 ``Conv2d`` with 'same' padding
(``block="conv"``); He init by default.
"""
from __future__ import annotations

import numpy as np

from .. import functions as F
from ..backend import get_rng
from . import init as _init
from .layers.containers import Residual, Sequential
from .layers.conv import Conv2d
from .layers.linear import Flatten, Linear
from .layers.normalization import BatchNorm1d, BatchNorm2d
from .layers.pooling import AvgPool2d
from .models import _BUILDERS, _json_init, make_activation

__all__ = ["DeepNet"]


class DeepNet(Sequential):
    """A plain or residual network of ``depth`` weight layers of one ``width``.

    Args:
        depth: number of weight layers, even and ≥ 4 (e.g. 20 or 56).
        width: units (mlp) or channels (conv) of every hidden layer.
        input_shape: ``(features,)`` for mlp blocks (inputs with more dims are flattened),
            ``(C, H, W)`` for conv blocks.
        num_classes: outputs (logits).
        residual: identity skip connections around each block of two layers.
        block: ``"mlp"`` (Linear layers) or ``"conv"`` (3×3 convolutions).
        norm: ``None`` or ``"batch"`` (after every hidden weight layer).
        activation: activation spec as for :class:`~deeprecipe.nn.MLP` (no maxout).
        init: weight init spec (default He, for the ReLU family).
        rng, dtype: as for :class:`~deeprecipe.nn.MLP`.

    Attributes: ``config`` (``build_model(config)`` rebuilds it), ``n_weight_layers``.
    """

    def __init__(self, depth: int, width: int, input_shape=(784,), num_classes: int = 10, residual: bool = False,
                 block: str = "mlp", norm: str | None = None, activation="relu", init="he", rng=None, dtype=None):
        depth, width = int(depth), int(width)
        if depth < 4 or depth % 2:
            raise ValueError(f"DeepNet: depth must be an even number of weight layers >= 4, got {depth}")
        if width < 1:
            raise ValueError(f"DeepNet: width must be positive, got {width}")
        if block not in ("mlp", "conv"):
            raise ValueError(f"DeepNet: block must be 'mlp' or 'conv', got {block!r}")
        if norm not in (None, "batch"):
            raise ValueError(f"DeepNet: norm must be None or 'batch', got {norm!r}")
        input_shape = tuple(int(s) for s in np.atleast_1d(input_shape))
        if block == "conv" and len(input_shape) != 3:
            raise ValueError(f"DeepNet: conv blocks need input_shape (C, H, W), got {input_shape}")
        act = make_activation(activation)
        if act.pieces != 1:
            raise ValueError("DeepNet: maxout is not supported (its layers change width)")
        init_fn = _init.get(init, act.name if act.name in ("leaky_relu", "prelu") else "relu", act.param)
        rng = get_rng(rng)

        def weight(n_in, n_out):
            if block == "mlp":
                return Linear(n_in, n_out, init=init_fn, rng=rng, dtype=dtype)
            return Conv2d(n_in, n_out, 3, padding="same", init=init_fn, rng=rng, dtype=dtype)

        def normed(n_out):
            if norm is None:
                return []
            return [BatchNorm1d(n_out, dtype=dtype) if block == "mlp" else BatchNorm2d(n_out, dtype=dtype)]

        n_in = int(np.prod(input_shape)) if block == "mlp" else input_shape[0]
        layers = [weight(n_in, width), *normed(width), act.make(width)]
        for _ in range((depth - 2) // 2):
            branch = Sequential(weight(width, width), *normed(width), act.make(width),
                                weight(width, width), *normed(width))
            layers += [Residual(branch) if residual else branch, act.make(width)]
        if block == "conv":
            layers += [AvgPool2d(input_shape[1:]), Flatten()]  # global average pool
        layers.append(Linear(width, int(num_classes), init=init_fn, rng=rng, dtype=dtype))
        super().__init__(*layers)
        self.input_shape = input_shape
        self.n_weight_layers = depth
        self.config = {
            "class": "DeepNet", "depth": depth, "width": width, "input_shape": list(input_shape),
            "num_classes": int(num_classes), "residual": bool(residual), "block": block, "norm": norm,
            "activation": act.config, "init": _json_init(init),
            "dtype": None if dtype is None else np.dtype(dtype).name,
        }

    def forward(self, x):
        shape = x.shape
        if self.config["block"] == "mlp" and len(shape) > 2:
            x = F.reshape(x, (shape[0], int(np.prod(shape[1:]))))
        elif self.config["block"] == "conv" and len(shape) == 3 and self.input_shape[0] == 1:
            x = F.reshape(x, (shape[0], 1) + tuple(shape[1:]))
        return super().forward(x)


_BUILDERS["DeepNet"] = DeepNet  # build_model(config) rebuilds it from a checkpoint's config
