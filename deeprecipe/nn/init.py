"""Weight initializers, in place and seeded (``torch.nn.init`` names and formulas).

Size: a catalog of the initialization schemes, their object forms and the one spec
parser (with the initializer registry) that every layer reads.

Every function fills an array (or a ``Parameter``/``Tensor``'s ``.data``) **in place**
and takes ``rng=`` (``None`` → the library's global generator, an int seed, or a
``numpy.random.Generator``).  Samples are drawn on the CPU in float64 and then cast
and copied to the array's dtype and device, so one seed gives the same weights on
NumPy and CuPy.

Fans (as in torch): for a weight of shape ``(out, in, *kernel)``,
``fan_in = in · prod(kernel)`` and ``fan_out = out · prod(kernel)``; a ``Linear``
weight ``(out, in)`` has ``fan_in = in``, ``fan_out = out``.

=====================  ==============================================  =====================================
scheme                 normal: std                                     uniform: bound b (U(−b, b))
=====================  ==============================================  =====================================
LeCun (1998)           √(1/fan_in)                                     √(3/fan_in)
Glorot/Xavier (2010)   gain·√(2/(fan_in+fan_out))                      gain·√(6/(fan_in+fan_out))
He/Kaiming (2015)      gain/√fan,  gain = √(2/(1+a²))                  gain·√(3/fan)
=====================  ==============================================  =====================================

Papers: LeCun et al., "Efficient BackProp" (1998); Glorot & Bengio, "Understanding the
difficulty of training deep feedforward neural networks" (AISTATS 2010,
https://proceedings.mlr.press/v9/glorot10a.html); He et al., "Delving Deep into
Rectifiers" (2015, https://arxiv.org/abs/1502.01852); Saxe et al., "Exact solutions to
the nonlinear dynamics of learning in deep linear neural networks" (2013,
https://arxiv.org/abs/1312.6120) for orthogonal init.

Like torch (and unlike Keras) the normal variants are plain, not truncated, normals.

The layer defaults are torch's: ``Linear`` and ``Conv2d`` weights use
``kaiming_uniform(a=√5)``, i.e. U(±1/√fan_in), and biases U(±1/√fan_in)
(:func:`torch_default`).  :func:`get` turns a short spec (``'he'``, ``'xavier'``,
``('normal', 0.01)``, ...) into an initializer, so layers and ``nn.MLP`` take
``init='he'``.  The same schemes exist as objects with exact names (``GlorotNormal``
(= ``XavierNormal``), ``LeCunNormal``, ``HeNormal`` (= ``KaimingNormal``), ``Normal(std=...)``,
...), which are also valid ``init=`` arguments.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..backend import get_array_module, get_rng
from ..engine.tensor import Tensor
from ..registry import Registry, parse_spec

__all__ = [
    "calculate_gain", "compute_fans", "constant", "zeros", "ones", "normal", "uniform",
    "lecun_normal", "lecun_uniform", "glorot_normal", "glorot_uniform", "xavier_normal",
    "xavier_uniform", "he_normal", "he_uniform", "kaiming_normal", "kaiming_uniform",
    "orthogonal", "torch_default", "get", "init_weight_and_bias", "Initializer", "Normal", "Uniform",
    "LeCunNormal", "LeCunUniform", "GlorotNormal", "GlorotUniform", "XavierNormal", "XavierUniform",
    "HeNormal", "HeUniform", "KaimingNormal", "KaimingUniform", "Orthogonal",
]


# ---------------------------------------------------------------------------- helpers
def _array(x):
    arr = x.data if isinstance(x, Tensor) else x
    if not hasattr(arr, "shape") or not hasattr(arr, "dtype"):
        raise TypeError(f"an initializer needs an array, Parameter or Tensor, got {type(x).__name__}")
    if arr.dtype.kind != "f":
        raise TypeError(f"initializers fill floating-point arrays, got dtype {arr.dtype}")
    return arr


def _fill(x, values):
    """Write float64 CPU ``values`` into ``x`` in place (cast to its dtype, moved to its device)."""
    arr = _array(x)
    xp = get_array_module(arr)
    arr[...] = values if xp is np else xp.asarray(values)
    return x


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The gain torch recommends for an activation: 1 for linear/conv/sigmoid, 5/3 for tanh,
    √2 for relu, √(2/(1+a²)) for leaky_relu with slope ``a`` (default 0.01), 3/4 for selu."""
    nl = str(nonlinearity).lower()
    if nl in ("linear", "identity", "conv1d", "conv2d", "conv3d", "sigmoid"):
        return 1.0
    if nl == "tanh":
        return 5.0 / 3.0
    if nl == "relu":
        return math.sqrt(2.0)
    if nl == "leaky_relu":
        a = 0.01 if param is None else param
        if isinstance(a, bool) or not isinstance(a, numbers.Real):
            raise ValueError(f"calculate_gain('leaky_relu'): negative slope must be a number, got {a!r}")
        return math.sqrt(2.0 / (1.0 + float(a) ** 2))
    if nl == "selu":
        return 0.75
    raise ValueError(
        f"unsupported nonlinearity {nonlinearity!r}: use one of linear, sigmoid, tanh, relu, leaky_relu, selu")


def compute_fans(shape) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of shape ``(out, in, *kernel)`` (torch's rule)."""
    shape = tuple(shape)
    if len(shape) < 2:
        raise ValueError(
            f"fan in and fan out need a weight with at least 2 dimensions (out, in, ...), got shape {shape}")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _fan(shape, mode):
    fan_in, fan_out = compute_fans(shape)
    if mode == "fan_in":
        return fan_in
    if mode == "fan_out":
        return fan_out
    raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")


# ---------------------------------------------------------------------------- basic fills
def constant(x, val: float):
    """Fill with ``val``."""
    arr = _array(x)
    arr[...] = val
    return x


def zeros(x):
    return constant(x, 0.0)


def ones(x):
    return constant(x, 1.0)


def normal(x, mean: float = 0.0, std: float = 1.0, *, rng=None):
    """Fill with samples of N(mean, std²)."""
    if std < 0:
        raise ValueError(f"normal: std must be non-negative, got {std}")
    arr = _array(x)
    return _fill(x, get_rng(rng).standard_normal(arr.shape) * std + mean)


def uniform(x, a: float = 0.0, b: float = 1.0, *, rng=None):
    """Fill with samples of U(a, b)."""
    if not a <= b:
        raise ValueError(f"uniform: need a <= b, got a={a}, b={b}")
    arr = _array(x)
    return _fill(x, get_rng(rng).uniform(a, b, arr.shape))


# ---------------------------------------------------------------------------- fan-scaled schemes
def lecun_normal(x, *, rng=None):
    """LeCun normal: N(0, 1/fan_in) — keeps the variance of a linear (or tanh-like) layer's output."""
    return normal(x, 0.0, math.sqrt(1.0 / _fan(_array(x).shape, "fan_in")), rng=rng)


def lecun_uniform(x, *, rng=None):
    """LeCun uniform: U(±√(3/fan_in)), the same variance as :func:`lecun_normal`."""
    b = math.sqrt(3.0 / _fan(_array(x).shape, "fan_in"))
    return uniform(x, -b, b, rng=rng)


def glorot_normal(x, gain: float = 1.0, *, rng=None):
    """Glorot/Xavier normal: N(0, gain²·2/(fan_in+fan_out))."""
    fan_in, fan_out = compute_fans(_array(x).shape)
    return normal(x, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), rng=rng)


def glorot_uniform(x, gain: float = 1.0, *, rng=None):
    """Glorot/Xavier uniform: U(±gain·√(6/(fan_in+fan_out)))."""
    fan_in, fan_out = compute_fans(_array(x).shape)
    b = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform(x, -b, b, rng=rng)


xavier_normal = glorot_normal
xavier_uniform = glorot_uniform


def he_normal(x, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", *, rng=None):
    """He/Kaiming normal: N(0, gain²/fan) with ``gain = calculate_gain(nonlinearity, a)``
    (torch's defaults: ``a=0``, ``'leaky_relu'`` → gain √2, i.e. std √(2/fan_in))."""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(_array(x).shape, mode))
    return normal(x, 0.0, std, rng=rng)


def he_uniform(x, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", *, rng=None):
    """He/Kaiming uniform: U(±gain·√(3/fan))."""
    b = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan(_array(x).shape, mode))
    return uniform(x, -b, b, rng=rng)


kaiming_normal = he_normal
kaiming_uniform = he_uniform


def orthogonal(x, gain: float = 1.0, *, rng=None):
    """A (semi-)orthogonal matrix times ``gain``, from the QR decomposition of a Gaussian
    matrix with the signs of R's diagonal fixed (so the result is uniformly distributed),
    torch's algorithm.  Weights with more than 2 dims are flattened to ``(out, rest)``."""
    arr = _array(x)
    if arr.ndim < 2:
        raise ValueError(f"orthogonal init needs at least 2 dimensions, got shape {arr.shape}")
    rows = arr.shape[0]
    cols = arr.size // rows
    flat = get_rng(rng).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(x, (gain * q).reshape(arr.shape))


def torch_default(weight, bias=None, *, rng=None):
    """torch's default for ``Linear``/``Conv2d``: weight ``kaiming_uniform(a=√5)``, which is
    U(±1/√fan_in), and bias U(±1/√fan_in)."""
    rng = get_rng(rng)
    he_uniform(weight, a=math.sqrt(5.0), rng=rng)
    if bias is not None:
        fan_in, _ = compute_fans(_array(weight).shape)
        b = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        uniform(bias, -b, b, rng=rng)


# underscore aliases, for torch users (torch.nn.init.kaiming_normal_ ...)
constant_, zeros_, ones_, normal_, uniform_ = constant, zeros, ones, normal, uniform
xavier_normal_, xavier_uniform_ = glorot_normal, glorot_uniform
glorot_normal_, glorot_uniform_ = glorot_normal, glorot_uniform
kaiming_normal_, kaiming_uniform_ = he_normal, he_uniform
he_normal_, he_uniform_ = he_normal, he_uniform
lecun_normal_, lecun_uniform_ = lecun_normal, lecun_uniform
orthogonal_ = orthogonal


# ---------------------------------------------------------------------------- initializer objects
class Initializer:
    """An initializer as an object (Keras style): ``HeNormal()(weight, rng)`` fills ``weight``.

    Instances are valid ``init=`` arguments of every layer and builder, and carry a
    JSON-able ``spec`` (so ``nn.MLP(init=GlorotNormal()).config`` records it).
    """

    _fn = None
    _name = ""

    def __init__(self, **kwargs):
        self.kwargs = kwargs

    def __call__(self, weight, rng=None):
        return type(self)._fn(weight, **self.kwargs, rng=rng)

    @property
    def spec(self):
        return [self._name, dict(self.kwargs)] if self.kwargs else self._name

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"{type(self).__name__}({args})"


def _initializer_class(name, fn, spec_name, doc, params=()):
    def __init__(self, *args, **kwargs):
        if len(args) > len(params):
            raise TypeError(f"{name} takes at most {len(params)} positional arguments")
        kwargs.update(zip(params, args))
        Initializer.__init__(self, **kwargs)
    return type(name, (Initializer,), {"_fn": staticmethod(fn), "_name": spec_name, "__doc__": doc,
                                       "__init__": __init__})


Normal = _initializer_class("Normal", normal, "normal", "N(mean, std²): ``Normal(std=0.01)``.", ("mean", "std"))
Uniform = _initializer_class("Uniform", uniform, "uniform", "U(a, b).", ("a", "b"))
LeCunNormal = _initializer_class("LeCunNormal", lecun_normal, "lecun_normal", lecun_normal.__doc__)
LeCunUniform = _initializer_class("LeCunUniform", lecun_uniform, "lecun_uniform", lecun_uniform.__doc__)
GlorotNormal = _initializer_class("GlorotNormal", glorot_normal, "glorot_normal", glorot_normal.__doc__, ("gain",))
GlorotUniform = _initializer_class("GlorotUniform", glorot_uniform, "glorot_uniform", glorot_uniform.__doc__,
                                   ("gain",))
HeNormal = _initializer_class("HeNormal", he_normal, "he_normal", he_normal.__doc__, ("a", "mode", "nonlinearity"))
HeUniform = _initializer_class("HeUniform", he_uniform, "he_uniform", he_uniform.__doc__,
                               ("a", "mode", "nonlinearity"))
Orthogonal = _initializer_class("Orthogonal", orthogonal, "orthogonal", orthogonal.__doc__, ("gain",))
XavierNormal, XavierUniform = GlorotNormal, GlorotUniform
KaimingNormal, KaimingUniform = HeNormal, HeUniform


# ---------------------------------------------------------------------------- specs
#: The initializer registry: name -> ``fn(weight, *args, rng=...)`` filling ``weight`` in
#: place.  ``init=`` specs of every layer and builder, and ``deeprecipe train --init``, read it:
#: ``'he'``, ``'normal:0.01'`` (N(0, 0.01²)), ``'uniform:a=-0.1,b=0.1'``, ...
INITIALIZERS = Registry("initializer", skip=("weight",))
for _fn, _aliases in ((he_normal, ("he", "kaiming", "kaiming_normal")), (he_uniform, ("kaiming_uniform",)),
                      (glorot_normal, ("xavier", "glorot", "xavier_normal")), (glorot_uniform, ("xavier_uniform",)),
                      (lecun_normal, ("lecun",)), (lecun_uniform, ()), (orthogonal, ()), (zeros, ()), (ones, ()),
                      (normal, ()), (uniform, ()), (constant, ())):
    INITIALIZERS.register(_fn.__name__, _fn, aliases=_aliases)


SPEC_HELP = ("init must be None/'default' (torch's default), 'he'/'kaiming', 'he_uniform', 'xavier'/'glorot', "
             "'xavier_uniform', 'lecun', 'lecun_uniform', 'orthogonal', 'zeros', ('normal', std) or 'normal:STD', "
             "('normal', mean, std), ('uniform', bound), ('uniform', a, b), ('constant', value), "
             "(name, {keyword arguments}), or a callable f(weight_array, rng)")


def _he_slope(nonlinearity, param):
    """The negative slope ``a`` He's gain √(2/(1+a²)) should use for an activation name."""
    nl = (nonlinearity or "relu").lower()
    if nl == "leaky_relu":
        return 0.01 if param is None else float(param)
    if nl == "prelu":
        return 0.25 if param is None else float(param)  # PReLU's initial slope (He et al. 2015)
    return 0.0


def get(spec, nonlinearity: str | None = None, param=None):
    """Turn an init spec into ``f(weight, rng)`` that fills ``weight`` in place, or return
    ``None`` for torch's default (see :func:`torch_default`).

    ``nonlinearity``/``param`` describe the activation that follows the layer: He init
    uses the gain √(2/(1+a²)) of that activation's negative slope ``a`` (0 for ReLU and
    anything else, the slope for ``'leaky_relu'``, 0.25 for ``'prelu'``) — He init *is*
    the ReLU-family scheme, whatever activation it is used with.  The other schemes have
    gain 1, as in the lecture's comparisons.
    """
    if spec is None or (isinstance(spec, str) and spec.lower() in ("default", "torch")):
        return None
    if isinstance(spec, Initializer):
        spec = spec.spec  # same meaning as the equivalent spec (He adapts to the activation)
    elif callable(spec):
        return spec
    args, kwargs = (), {}
    if isinstance(spec, str):
        name, args, kwargs = parse_spec(spec)   # 'he', 'normal:0.01', 'uniform:a=-1,b=1'
        name = name.lower()
    elif isinstance(spec, (tuple, list)) and spec and isinstance(spec[0], str):
        name = spec[0].lower()
        rest = list(spec[1:])
        if len(rest) == 1 and isinstance(rest[0], dict):
            kwargs = dict(rest[0])
        else:
            args = tuple(rest)
    else:
        raise ValueError(f"unknown init {spec!r}: {SPEC_HELP}")
    if name not in INITIALIZERS:
        raise ValueError(f"unknown init {spec!r}: {SPEC_HELP}")
    fn = INITIALIZERS.entry(name).factory
    fn_name = INITIALIZERS.canonical(name)
    if fn_name == "normal" and len(args) == 1:
        args = (0.0, args[0])  # ('normal', std) means N(0, std²), the lecture's form
    if fn_name == "uniform" and len(args) == 1:
        args = (-float(args[0]), float(args[0]))
    if fn_name == "constant" and len(args) != 1 and "val" not in kwargs:
        raise ValueError(f"('constant', value) needs one value, got {spec!r}")
    if fn_name in ("normal", "uniform") and not args and not kwargs:
        raise ValueError(f"init {spec!r} needs parameters, e.g. ('normal', 0.01) or ('uniform', -0.1, 0.1)")
    if fn_name.startswith("he_") and not args and "a" not in kwargs and "nonlinearity" not in kwargs:
        kwargs = {"a": _he_slope(nonlinearity, param), "nonlinearity": "leaky_relu", **kwargs}
    # validate the arguments now rather than at the first layer
    try:
        import inspect
        inspect.signature(fn).bind(np.zeros((1, 1)), *args, **kwargs)
    except TypeError as e:
        raise ValueError(f"bad arguments in init {spec!r}: {e}") from None

    def init_fn(weight, rng=None):
        return fn(weight, *args, **kwargs, rng=rng) if fn_name not in ("constant", "zeros", "ones") \
            else fn(weight, *args, **kwargs)

    init_fn.__name__ = f"init_{fn_name}"
    init_fn.spec = spec
    return init_fn


def init_weight_and_bias(weight, bias=None, spec=None, rng=None, nonlinearity=None, param=None):
    """Initialize a layer: torch's default when ``spec`` is None, otherwise the weight by
    ``spec`` and the bias (if any) with zeros (the lecture's and Keras's convention)."""
    fn = get(spec, nonlinearity, param)
    rng = get_rng(rng)
    if fn is None:
        torch_default(weight, bias, rng=rng)
        return
    fn(weight, rng)
    if bias is not None:
        zeros(bias)
