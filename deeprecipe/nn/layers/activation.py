"""Activation modules (torch names and arguments), plus Maxout.

Maxout: Goodfellow et al., "Maxout Networks" (ICML 2013, https://arxiv.org/abs/1302.4389).
PReLU: He et al., "Delving Deep into Rectifiers" (2015, https://arxiv.org/abs/1502.01852).
ELU: Clevert, Unterthiner & Hochreiter (2015, https://arxiv.org/abs/1511.07289).
"""
from __future__ import annotations

from ... import functions as F
from .. import init as _init
from ..module import Module
from ._util import float_dtype, new_parameter, positive_int


class Sigmoid(Module):
    """σ(x) = 1 / (1 + e^−x), computed without overflow."""

    def forward(self, x):
        return F.sigmoid(x)


class Tanh(Module):
    def forward(self, x):
        return F.tanh(x)


class ReLU(Module):
    """max(x, 0)."""

    def forward(self, x):
        return F.relu(x)


class LeakyReLU(Module):
    """x for x ≥ 0, ``negative_slope``·x otherwise (torch default slope 0.01)."""

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class PReLU(Module):
    """Leaky ReLU with a learned slope α (``torch.nn.PReLU``): one α shared by all channels
    (``num_parameters=1``) or one per channel (``num_parameters=C``, channels on axis 1).
    α starts at ``init`` (0.25, as in He et al. 2015)."""

    def __init__(self, num_parameters=1, init=0.25, dtype=None):
        super().__init__()
        self.num_parameters = positive_int(num_parameters, "PReLU: num_parameters")
        self.weight = new_parameter((self.num_parameters,), float_dtype(dtype), float(init))

    def forward(self, x):
        return F.prelu(x, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class ELU(Module):
    """x for x > 0, α(eˣ − 1) otherwise."""

    def __init__(self, alpha=1.0):
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, x):
        return F.elu(x, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class Softplus(Module):
    """(1/β)·log(1 + e^{βx}); linear (x) where βx > ``threshold``, as in torch."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta = float(beta)
        self.threshold = float(threshold)

    def forward(self, x):
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Softmax(Module):
    """Softmax over ``dim`` (default: the last one)."""

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = int(dim)

    def forward(self, x):
        return F.softmax(x, dim=self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """log(softmax(x)) over ``dim``, computed stably (log-sum-exp)."""

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = int(dim)

    def forward(self, x):
        return F.log_softmax(x, dim=self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class GroupMax(Module):
    """The max half of maxout, with no weights: axis ``dim`` of size ``k·units`` is split
    into ``units`` groups of ``pieces`` consecutive entries and each group is replaced by
    its maximum (``F.maxout``).  ``(N, pieces·units, ...)`` → ``(N, units, ...)``.

    Used by ``nn.MLP(activation='maxout')`` so that a normalization layer can sit between
    the linear map and the max.
    """

    def __init__(self, pieces=2, dim=1):
        super().__init__()
        self.pieces = positive_int(pieces, "GroupMax: pieces")
        self.dim = int(dim)

    def forward(self, x):
        return F.maxout(x, self.pieces, dim=self.dim)

    def extra_repr(self):
        return f"pieces={self.pieces}, dim={self.dim}"


class Maxout(Module):
    """A maxout layer: a linear map to ``pieces · out_features`` values followed by the max
    over each group of ``pieces`` (Goodfellow et al. 2013):
    ``y_j = max_{i<k} (x @ W.T + b)[j·k + i]``.

    Rows ``j·k … j·k + k − 1`` of ``weight`` (shape ``(out_features·pieces, in_features)``)
    are the ``k`` pieces of output unit ``j``.  With ``pieces=2`` and the second piece's
    row and bias fixed at zero, unit ``j`` computes ``max(w_j·x + b_j, 0)`` = ReLU exactly.

    Args:
        in_features, out_features: input and output sizes.
        pieces: number of linear pieces ``k`` per unit.
        bias, init, rng, dtype: as for :class:`Linear` (default init: torch's Linear default).

    Shapes: ``(..., in_features)`` → ``(..., out_features)`` (the max is over the last axis).
    """

    def __init__(self, in_features, out_features, pieces=2, bias=True, init=None, rng=None, dtype=None):
        super().__init__()
        self.in_features = positive_int(in_features, "Maxout: in_features")
        self.out_features = positive_int(out_features, "Maxout: out_features")
        self.pieces = positive_int(pieces, "Maxout: pieces")
        dt = float_dtype(dtype)
        self.weight = new_parameter((self.out_features * self.pieces, self.in_features), dt)
        if bias:
            self.bias = new_parameter((self.out_features * self.pieces,), dt)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(init, rng)

    def reset_parameters(self, init=None, rng=None):
        _init.init_weight_and_bias(self.weight, self.bias, init, rng)

    def forward(self, x):
        return F.maxout(F.linear(x, self.weight, self.bias), self.pieces, dim=-1)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, pieces={self.pieces}, "
                f"bias={self.bias is not None}")
