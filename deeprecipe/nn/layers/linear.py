"""Fully connected layer, identity and flatten."""
from __future__ import annotations

from ... import functions as F
from .. import init as _init
from ..module import Module
from ._util import float_dtype, new_parameter, positive_int


class Linear(Module):
    """``y = x @ weight.T + bias`` (``torch.nn.Linear``).

    Args:
        in_features, out_features: sizes of the last input and output dimension.
        bias: learn an additive bias.
        init: weight initialization (see :func:`deeprecipe.nn.init.get`).  ``None`` is
            torch's default: weight and bias U(±1/√in_features).  Any other spec (``'he'``,
            ``'xavier'``, ``('normal', 0.01)``, ...) sets the weight by that scheme and the
            bias to zero.
        rng: seed or Generator for the initialization (``None``: the global generator).
        dtype: parameter dtype (default: the library default, float32).

    Shapes: input ``(..., in_features)`` → output ``(..., out_features)``;
    ``weight (out_features, in_features)``, ``bias (out_features,)``.
    """

    def __init__(self, in_features, out_features, bias=True, init=None, rng=None, dtype=None):
        super().__init__()
        self.in_features = positive_int(in_features, "Linear: in_features")
        self.out_features = positive_int(out_features, "Linear: out_features")
        from ...validation.sizes import check_parameter_count
        check_parameter_count(self.in_features * self.out_features, f"Linear({self.in_features}, {self.out_features})")
        dt = float_dtype(dtype)
        self.weight = new_parameter((self.out_features, self.in_features), dt)
        if bias:
            self.bias = new_parameter((self.out_features,), dt)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(init, rng)

    def reset_parameters(self, init=None, rng=None, nonlinearity=None, param=None):
        """Re-initialize in place (see the class docstring for ``init``)."""
        _init.init_weight_and_bias(self.weight, self.bias, init, rng, nonlinearity, param)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. ``norm=None`` in a builder)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class Flatten(Module):
    """Flatten dimensions ``start_dim..end_dim`` into one (``torch.nn.Flatten``); by default
    ``(N, *rest)`` → ``(N, prod(rest))``."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = int(start_dim)
        self.end_dim = int(end_dim)

    def forward(self, x):
        shape = x.shape
        nd = len(shape)
        s = self.start_dim % nd if nd else 0
        e = self.end_dim % nd if nd else 0
        if s > e:
            raise ValueError(f"Flatten: start_dim {self.start_dim} is after end_dim {self.end_dim} "
                             f"for an input of shape {shape}")
        if e == s:
            return x  # nothing to merge: no op recorded
        size = 1
        for d in shape[s:e + 1]:
            size *= d
        return F.reshape(x, shape[:s] + (size,) + shape[e + 1:])

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
