"""Model builders for the experiments: ``MLP`` and ``ConvNet``, configured by one call.

Both are :class:`~deeprecipe.nn.Sequential` s of plain layers (so per-layer hooks and
``summary`` see every layer) and keep a JSON-able ``.config`` from which
:func:`build_model` rebuilds the same architecture (checkpoints record it).

Activation specs (``activation=``): any name in ``nn.ACTIVATIONS`` (``'relu'``,
``'sigmoid'``, ``'tanh'``, ``'leaky_relu'``, ``'prelu'``, ``'elu'``, ``'softplus'``,
``'maxout'``, ``'identity'``, and whatever is registered) as a spec string with its
arguments (``'leaky_relu:0.1'``, ``'maxout:pieces=3'``), or as a pair:
``('leaky_relu', 0.1)`` (slope), ``('elu', 0.5)`` (α), ``('softplus', 2.0)`` (β),
``('maxout', 3)`` (pieces, default 2), ``('prelu', 'per_channel')`` (one α per
unit/channel; default one shared α), or ``(name, {keyword arguments})``; or a Module
class (``nn.Tanh``) or a factory ``f(width) -> Module``.  Normalizations (``norm=``): any
name in ``nn.NORMALIZATIONS`` (``'batch'``, ``'layer'``; conv stages also ``'instance'``,
``'group'``), also as a spec (``'group:groups=4'``).
"""
from __future__ import annotations

import numpy as np

from .. import functions as F
from ..backend import get_rng
from ..registry import parse_spec
from . import init as _init
from .catalog import ACTIVATIONS, NORMALIZATIONS, activation_entry_of
from .layers.containers import Residual, Sequential
from .layers.conv import Conv2d
from .layers.dropout import Dropout
from .layers.linear import Flatten, Linear
from .layers.pooling import AvgPool2d, MaxPool2d
from .module import Module
from ..validation.sizes import check_parameter_count, check_size, check_sizes, mlp_parameter_count

__all__ = ["MLP", "ConvNet", "make_activation", "build_model"]


class _Act:
    """A resolved activation spec: ``make(width)`` builds the module for a layer of ``width``
    units; ``pieces`` is how many pre-activations each unit needs (maxout: k, else 1);
    ``nonlinearity``/``param`` are what He initialization adapts its gain to."""

    def __init__(self, make, name, param=None, pieces=1, config=None, nonlinearity="relu"):
        self.make, self.name, self.param, self.pieces, self.config = make, name, param, pieces, config
        self.nonlinearity = nonlinearity


def make_activation(spec) -> _Act:
    """Resolve an activation spec (see the module docstring) through ``nn.ACTIVATIONS``."""
    if spec is None:
        spec = "identity"
    if isinstance(spec, type) and issubclass(spec, Module):
        e = activation_entry_of(spec)
        if e is not None:
            return make_activation(e.name)  # a registered class: same as its name (rebuildable config)
        return _Act(lambda w: spec(), spec.__name__.lower(), None, 1, spec.__name__)
    if callable(spec) and not isinstance(spec, (str, tuple, list)):
        return _Act(spec, getattr(spec, "__name__", "custom"), None, 1, getattr(spec, "__name__", "custom"))
    args, kwargs = (), {}
    if isinstance(spec, (tuple, list)) and len(spec) == 2 and isinstance(spec[0], str):
        name, arg = spec[0], spec[1]
        if isinstance(arg, dict):
            kwargs = dict(arg)
        else:
            args = (arg,)
        config = [name.lower(), arg]
    elif isinstance(spec, str):
        name, args, kwargs = parse_spec(spec)
        config = spec if (args or kwargs) else name.lower()
    else:
        raise ValueError(f"unknown activation {spec!r}: use a name ({', '.join(ACTIVATIONS)}), a 'name:args' "
                         "spec, a (name, arg) pair, a Module class or a factory f(width) -> Module")
    e = ACTIVATIONS.entry(name)
    ACTIVATIONS.check_arguments(e, args, kwargs, spec)
    info = e.info
    pieces = info["pieces"](*args, **kwargs) if "pieces" in info else 1
    param = info["init_param"](*args, **kwargs) if "init_param" in info else None
    if not (args or kwargs):
        config = e.name
    return _Act(lambda w: e.factory(w, *args, **kwargs), e.name, param, pieces, config,
                info.get("nonlinearity", "relu"))


def _norm(norm, features, dtype, spatial: bool, where: str):
    """The normalization layer for a ``norm`` spec (None: none), through ``nn.NORMALIZATIONS``."""
    if norm is None:
        return None
    if not isinstance(norm, str):
        raise ValueError(f"{where}: norm must be None or a name in {', '.join(NORMALIZATIONS)}, got {norm!r}")
    try:
        return NORMALIZATIONS.build(norm, features, dtype=dtype, spatial=spatial)
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None


def _json_init(init):
    if init is None or isinstance(init, str):
        return init
    if isinstance(init, (tuple, list)):
        return [x if not isinstance(x, tuple) else list(x) for x in init]
    if isinstance(init, _init.Initializer):
        return init.spec
    return getattr(init, "__name__", "custom")  # a plain callable: recorded, not rebuildable


def _check_p(p, what):
    if not 0.0 <= p < 1.0:
        raise ValueError(f"{what} must be in [0, 1), got {p}")
    return float(p)


class MLP(Sequential):
    """A multilayer perceptron for classification or regression (outputs are logits / raw
    values: the last layer has no activation).

    Each hidden layer is ``Linear → [norm] → activation → [Dropout]``; inputs with more
    than 2 dims are flattened first, so ``(N, 28, 28)`` images work directly.  Children
    are numbered from 0 (``model[0]`` is the first Linear), as in a torch ``Sequential``
    of the same layers.

    Args:
        sizes: ``[in_features, hidden_1, ..., hidden_L, out_features]`` (at least 2 entries).
        activation: activation spec (see :mod:`deeprecipe.nn.models`); with ``'maxout'``
            each hidden Linear produces ``pieces · width`` values and the max over each
            group of ``pieces`` gives the ``width`` units.
        norm: ``None``, ``'batch'`` (BatchNorm1d) or ``'layer'`` (LayerNorm) — any
            ``nn.NORMALIZATIONS`` spec — after the Linear and before the activation, on
            hidden layers.
        dropout: drop probability after each hidden activation.
        input_dropout: drop probability on the (flattened) input.
        init: weight init spec for every Linear (see :func:`deeprecipe.nn.init.get`):
            ``None`` (torch's default), ``'he'``, ``'xavier'``, ``'lecun'``,
            ``'orthogonal'``, ``('normal', std)``, ...; He uses the gain of the
            activation's negative slope.  Biases start at zero for any non-default init.
        residual: wrap each hidden block in :class:`Residual` (``x + block(x)``), with a
            bias-free Linear projection on the skip path where the width changes.
        bias: Linear layers learn biases.
        scale_at_test: use the lecture's dropout convention (see :class:`Dropout`).
        rng: seed or Generator for the initialization (layers drawn in order).
        dtype: parameter dtype.

    Attributes:
        config: JSON-able dict of the arguments; ``build_model(model.config)`` rebuilds it.
    """

    def __init__(self, sizes, activation="relu", norm=None, dropout=0.0, init=None, residual=False,
                 bias=True, input_dropout=0.0, scale_at_test=False, rng=None, dtype=None):
        sizes = check_sizes(sizes, "MLP: sizes", min_len=2)  # [in_features, ..., out_features]
        act = make_activation(activation)
        check_parameter_count(mlp_parameter_count(sizes, act.pieces), f"MLP({sizes})")
        dropout = _check_p(dropout, "MLP: dropout")
        input_dropout = _check_p(input_dropout, "MLP: input_dropout")
        _norm(norm, 1, dtype, False, "MLP")  # validate early
        init_fn = _init.get(init, act.nonlinearity, act.param)
        rng = get_rng(rng)
        layers = []
        if input_dropout > 0:
            layers.append(Dropout(input_dropout, scale_at_test=scale_at_test))

        def linear(n_in, n_out, use_bias=True):
            return Linear(n_in, n_out, bias=use_bias, init=init_fn, rng=rng, dtype=dtype)

        for n_in, n_out in zip(sizes[:-2], sizes[1:-1]):
            block = [linear(n_in, n_out * act.pieces, bias)]
            nm = _norm(norm, n_out * act.pieces, dtype, False, "MLP")
            if nm is not None:
                block.append(nm)
            block.append(act.make(n_out))
            if dropout > 0:
                block.append(Dropout(dropout, scale_at_test=scale_at_test))
            if residual:
                proj = None if n_in == n_out else linear(n_in, n_out, use_bias=False)
                layers.append(Residual(Sequential(*block), proj))
            else:
                layers.extend(block)
        layers.append(linear(sizes[-2], sizes[-1], bias))
        super().__init__(*layers)
        self.config = {
            "class": "MLP", "sizes": sizes, "activation": act.config, "norm": norm, "dropout": dropout,
            "init": _json_init(init), "residual": bool(residual), "bias": bool(bias),
            "input_dropout": input_dropout, "scale_at_test": bool(scale_at_test),
            "dtype": None if dtype is None else np.dtype(dtype).name,
        }

    def forward(self, x):
        shape = x.shape
        if len(shape) > 2:  # (N, 28, 28) images -> (N, 784)
            size = 1
            for d in shape[1:]:
                size *= d
            x = F.reshape(x, (shape[0], size))
        return super().forward(x)


class ConvNet(Sequential):
    """A small convolutional classifier for ``(C, H, W)`` images.

    Each stage is ``Conv2d(k, stride 1, 'same' padding) → [norm] → activation → pool``;
    then ``Flatten → (Linear → activation → [Dropout]) × len(hidden) → Linear(num_classes)``.

    Args:
        input_shape: ``(C, H, W)`` of one example.  Inputs ``(N, H, W)`` (one channel) and
            flat ``(N, C·H·W)`` are reshaped to ``(N, C, H, W)``.
        channels: output channels of each conv stage.
        num_classes: outputs (logits).
        kernel_size: odd conv kernel size.
        hidden: widths of the fully connected hidden layers.
        activation: activation spec as for :class:`MLP` (maxout acts over channels).
        norm: ``None``, ``'batch'`` (BatchNorm2d), ``'layer'`` (GroupNorm with 1 group),
            ``'instance'`` (InstanceNorm2d, affine) or ``'group'``; conv stages only.
        pool: ``'max'``, ``'avg'`` or ``None``; 2×2, stride 2.
        dropout: drop probability after each hidden fully connected activation.
        init, rng, dtype: as for :class:`MLP`.
    """

    def __init__(self, input_shape=(1, 28, 28), channels=(16, 32), num_classes=10, kernel_size=3, hidden=(64,),
                 activation="relu", norm=None, pool="max", dropout=0.0, init=None, rng=None, dtype=None):
        input_shape = tuple(check_sizes(input_shape, "ConvNet: input_shape (C, H, W)", min_len=3))
        if len(input_shape) != 3:
            raise ValueError(f"ConvNet: input_shape must be (C, H, W), got {input_shape}")
        channels = check_sizes(channels, "ConvNet: channels")
        hidden = check_sizes(hidden, "ConvNet: hidden", min_len=0)
        num_classes = check_size(num_classes, "ConvNet: num_classes")
        kernel_size = check_size(kernel_size, "ConvNet: kernel_size")
        if pool not in ("max", "avg", None):
            raise ValueError(f"ConvNet: pool must be 'max', 'avg' or None, got {pool!r}")
        act = make_activation(activation)
        dropout = _check_p(dropout, "ConvNet: dropout")
        _norm(norm, 8, dtype, True, "ConvNet")
        init_fn = _init.get(init, act.nonlinearity, act.param)
        rng = get_rng(rng)
        c, h, w = input_shape
        layers = []
        for i, c_out in enumerate(channels):
            layers.append(Conv2d(c, c_out * act.pieces, kernel_size, padding="same", init=init_fn, rng=rng,
                                 dtype=dtype))
            nm = _norm(norm, c_out * act.pieces, dtype, True, "ConvNet")
            if nm is not None:
                layers.append(nm)
            layers.append(act.make(c_out))
            if pool is not None:
                p = MaxPool2d(2) if pool == "max" else AvgPool2d(2)
                h, w = p.output_shape(h, w)
                if h < 1 or w < 1:
                    raise ValueError(f"ConvNet: the image {input_shape[1:]} is too small for {i + 1} pooling stages")
                layers.append(p)
            c = c_out
        layers.append(Flatten())
        n_in = c * h * w
        check_parameter_count(mlp_parameter_count([n_in, *hidden, num_classes], act.pieces),
                              f"ConvNet's fully connected layers {[n_in, *hidden, num_classes]}")
        for width in hidden:
            layers.append(Linear(n_in, width * act.pieces, init=init_fn, rng=rng, dtype=dtype))
            layers.append(act.make(width))
            if dropout > 0:
                layers.append(Dropout(dropout))
            n_in = width
        layers.append(Linear(n_in, num_classes, init=init_fn, rng=rng, dtype=dtype))
        super().__init__(*layers)
        self.input_shape = input_shape
        self.config = {
            "class": "ConvNet", "input_shape": list(input_shape), "channels": [int(x) for x in channels],
            "num_classes": int(num_classes), "kernel_size": int(kernel_size), "hidden": [int(x) for x in hidden],
            "activation": act.config, "norm": norm, "pool": pool, "dropout": dropout, "init": _json_init(init),
            "dtype": None if dtype is None else np.dtype(dtype).name,
        }

    def forward(self, x):
        c, h, w = self.input_shape
        shape = x.shape
        if len(shape) == 3 and c == 1 and tuple(shape[1:]) == (h, w):
            x = F.reshape(x, (shape[0], 1, h, w))
        elif len(shape) == 2 and shape[1] == c * h * w:
            x = F.reshape(x, (shape[0], c, h, w))
        elif len(shape) != 4 or tuple(shape[1:]) != self.input_shape:
            raise ValueError(f"ConvNet: expected input (N, {c}, {h}, {w}), got shape {tuple(shape)}")
        return super().forward(x)


_BUILDERS = {"MLP": MLP, "ConvNet": ConvNet}


def build_model(config: dict, rng=None) -> Module:
    """Rebuild a model from its ``.config`` (e.g. one read from a checkpoint's metadata)."""
    if not isinstance(config, dict) or config.get("class") not in _BUILDERS:
        raise ValueError(f"build_model needs a config dict with 'class' in {sorted(_BUILDERS)}, got {config!r}")
    kwargs = {k: v for k, v in config.items() if k != "class"}
    act = kwargs.get("activation")
    if isinstance(act, list):
        kwargs["activation"] = tuple(act)
    if isinstance(kwargs.get("init"), list):
        kwargs["init"] = tuple(kwargs["init"])
    return _BUILDERS[config["class"]](**kwargs, rng=rng)
