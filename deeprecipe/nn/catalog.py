"""The registries of ``nn``: activations and normalizations by name, for every consumer.

``nn.MLP``/``ConvNet``, the ``deeprecipe train`` CLI (``--activation``, ``--norm``), the
diagnostics (which modules are activations and of which kind) and the lab read these, so
a component registered here — from inside the package or from user code — is known to
all of them at once::

    nn.ACTIVATIONS.register("swish", lambda width, beta=1.0: Swish(beta), module=Swish, kind=None)
    nn.MLP([784, 256, 10], activation="swish:beta=2")

Activation entries: ``factory(width, *args, **kwargs) -> Module`` (``width`` is the layer's
number of units; most activations ignore it).  Their ``info``:

* ``module``: the Module class it builds (the diagnostics recognize activations by it);
* ``kind``: what the activation monitors measure on it (``diagnostics.activation_stats``):
  ``'relu'``, ``'leaky_relu'`` (PReLU too), ``'elu'`` (dead: no gradient), ``'sigmoid'``,
  ``'tanh'``, ``'softplus'`` (saturation), ``'maxout'`` (dead pieces) or ``None`` (no such notion);
* ``nonlinearity``, ``init_param(*args, **kwargs)``: what He initialization uses for the
  gain (the negative slope of a leaky ReLU, PReLU's initial slope);
* ``pieces(*args, **kwargs)``: pre-activations per unit (maxout: k, else 1).

Normalization entries: ``factory(features, dtype=None, *, spatial: bool)`` -> Module
(``spatial``: after a conv layer, over ``(N, C, H, W)``; else over ``(N, C)``).
"""
from __future__ import annotations

from ..registry import Registry
from .layers.activation import ELU, GroupMax, LeakyReLU, PReLU, ReLU, Sigmoid, Softplus, Tanh
from .layers.linear import Identity
from .layers.normalization import BatchNorm1d, BatchNorm2d, GroupNorm, InstanceNorm2d, LayerNorm

ACTIVATIONS = Registry("activation", skip=("width",))
NORMALIZATIONS = Registry("normalization", skip=("features",))


# ---------------------------------------------------------------------------- activations
def _relu(width):
    return ReLU()


def _sigmoid(width):
    return Sigmoid()


def _tanh(width):
    return Tanh()


def _identity(width):
    return Identity()


def _leaky_relu(width, negative_slope: float = 0.01):
    return LeakyReLU(float(negative_slope))


def _elu(width, alpha: float = 1.0):
    return ELU(float(alpha))


def _softplus(width, beta: float = 1.0, threshold: float = 20.0):
    return Softplus(float(beta), float(threshold))


def _prelu(width, per_channel=False, init: float = 0.25):
    """One slope shared by all units, or one per unit/channel (``per_channel``)."""
    if per_channel not in (False, True, "per_channel"):
        raise ValueError(f"prelu: per_channel must be true/false (or 'per_channel'), got {per_channel!r}")
    return PReLU(width if per_channel else 1, init=float(init))


def _maxout(width, pieces: int = 2):
    """The max over groups of ``pieces`` pre-activations (the layer before produces
    ``pieces·width``; together they are ``nn.Maxout``)."""
    return GroupMax(int(pieces), dim=1)


def _maxout_pieces(pieces=2):
    k = int(pieces)
    if k < 1:
        raise ValueError(f"maxout needs pieces >= 1, got {pieces}")
    return k


ACTIVATIONS.register("relu", _relu, module=ReLU, kind="relu")
ACTIVATIONS.register("sigmoid", _sigmoid, module=Sigmoid, kind="sigmoid")
ACTIVATIONS.register("tanh", _tanh, module=Tanh, kind="tanh")
ACTIVATIONS.register("leaky_relu", _leaky_relu, module=LeakyReLU, kind="leaky_relu", nonlinearity="leaky_relu",
                     init_param=lambda negative_slope=0.01: float(negative_slope))
ACTIVATIONS.register("prelu", _prelu, module=PReLU, kind="leaky_relu", nonlinearity="prelu",
                     init_param=lambda per_channel=False, init=0.25: float(init))
ACTIVATIONS.register("elu", _elu, module=ELU, kind="elu")
ACTIVATIONS.register("softplus", _softplus, module=Softplus, kind="softplus")
ACTIVATIONS.register("maxout", _maxout, module=GroupMax, kind="maxout", pieces=_maxout_pieces)
ACTIVATIONS.register("identity", _identity, aliases=("linear",), module=Identity, kind=None, watch=False)


def activation_entry_of(module):
    """The registry entry whose ``module`` class is ``module``'s (a Module or a Module
    class; None if there is none)."""
    cls = module if isinstance(module, type) else type(module)
    for name in ACTIVATIONS:
        e = ACTIVATIONS.entry(name)
        if e.info.get("module") is cls:
            return e
    return None


# ---------------------------------------------------------------------------- normalizations
def _batch(features, dtype=None, *, spatial=False):
    return (BatchNorm2d if spatial else BatchNorm1d)(features, dtype=dtype)


def _layer(features, dtype=None, *, spatial=False):
    # over (C, H, W) per example after a conv: GroupNorm with one group
    return GroupNorm(1, features, dtype=dtype) if spatial else LayerNorm(features, dtype=dtype)


def _instance(features, dtype=None, *, spatial=False):
    if not spatial:
        raise ValueError("norm 'instance' normalizes each channel over (H, W): it needs conv layers")
    return InstanceNorm2d(features, affine=True, dtype=dtype)


def _group(features, dtype=None, *, spatial=False, groups=None):
    if not spatial:
        raise ValueError("norm 'group' normalizes groups of channels: it needs conv layers")
    if groups is None:
        groups = next(g for g in (8, 4, 2, 1) if features % g == 0)
    return GroupNorm(int(groups), features, dtype=dtype)


NORMALIZATIONS.register("batch", _batch)
NORMALIZATIONS.register("layer", _layer)
NORMALIZATIONS.register("instance", _instance)
NORMALIZATIONS.register("group", _group)
