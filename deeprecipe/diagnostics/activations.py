"""Activation statistics per layer, collected by forward hooks.

For every hooked module's output: a histogram on fixed bins, mean and std, the fraction
of exact zeros, and, depending on the kind of module,

* **saturated** (sigmoid, tanh, softplus, ELU): the fraction of outputs where the
  activation's derivative is below ``eps`` (``0.01`` by default): sigmoid ``y < eps`` or
  ``y > 1 - eps``; tanh ``|y| > 1 - eps``; softplus ``σ(βx) = 1 - e^{-βy} < eps``; ELU
  ``α·eˣ = y + α < eps``.  Saturation is why deep sigmoid nets with std-1 weights stop
  learning (Glorot & Bengio 2010, https://proceedings.mlr.press/v9/glorot10a.html).
* **dead** = *no gradient* reaches the unit's weights on the whole batch.  A *unit* is an
  index along ``unit_axis`` (a feature of a dense layer, a channel of a conv layer):

  - ReLU: output ``<= 0`` for every example (and position): derivative 0 everywhere;
  - Leaky ReLU / PReLU: never dead while the negative slope is non-zero (they pass
    ``slope * grad``); a PReLU channel whose learned slope is exactly 0 counts like ReLU;
  - ELU and softplus: every output saturated (derivative ``< eps`` on the whole batch):
    their derivative is never exactly 0, so "no gradient" is read to ``eps``, the same
    precision as sigmoid saturation;
  - maxout: a *piece* (one of the ``k`` linear maps of a unit) that is never the max on
    the batch gets no gradient; ``frac_dead`` is the fraction of such pieces.

  ``frac_inactive`` (ReLU family) is the fraction of units whose output is ``<= 0`` on
  the whole batch, whatever the slope there: for ReLU it equals ``frac_dead``; for Leaky
  ReLU, PReLU and ELU those units still learn.

Hooks fire on every forward, but compute nothing unless the monitor is *recording*
(:meth:`ActivationMonitor.record`), so a monitor can stay attached during training.
"""
from __future__ import annotations

import builtins
import contextlib
import math
from collections import OrderedDict

import numpy as np

from ..backend import get_array_module, to_device
from ..engine.tensor import Tensor
from .layers import ROOT

# Which modules are activations, and of which kind, comes from ``nn.ACTIVATIONS`` (each
# entry's ``module`` class and ``kind``): registering an activation makes it watched.
# This dict overrides it by module class name (or pass kinds= to the monitor).
ACTIVATION_KINDS: dict = {}
KINDS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "maxout", None)

# Activation modules outside the registry (class name -> kind), watched by default all the same.
_OTHER_ACTIVATIONS = {"Maxout": "maxout"}
# Modules whose output repeats their input (or is a reshape of it): skipped by modules="all".
_PASS_THROUGH = frozenset({"Flatten", "Identity", "Dropout", "Reshape"})


def activation_kind(module):
    """The kind of an activation module (one of :data:`KINDS`): from :data:`ACTIVATION_KINDS`
    by class name, else from its ``nn.ACTIVATIONS`` entry; ``None`` when it has none."""
    name = type(module).__name__
    if name in ACTIVATION_KINDS:
        return ACTIVATION_KINDS[name]
    if name in _OTHER_ACTIVATIONS:
        return _OTHER_ACTIVATIONS[name]
    from ..nn.catalog import activation_entry_of
    e = activation_entry_of(module)
    return None if e is None else e.info.get("kind")


def is_activation(module) -> bool:
    """A module the monitor watches by default: a registered activation (not ``identity``),
    one named in :data:`ACTIVATION_KINDS`, or ``nn.Maxout``."""
    name = type(module).__name__
    if name in ACTIVATION_KINDS or name in _OTHER_ACTIVATIONS:
        return True
    from ..nn.catalog import activation_entry_of
    e = activation_entry_of(module)
    return e is not None and e.info.get("watch", True)


def kind_param(module):
    """What :func:`activation_stats` needs besides the output, read from the module:
    the negative slope (Leaky ReLU: a float; PReLU: the learned slopes), ELU's ``alpha``,
    softplus's ``beta``, maxout's ``pieces``; ``None`` for other modules."""
    name = type(module).__name__
    if name == "LeakyReLU":
        return module.negative_slope
    if name == "PReLU":
        return to_device(module.weight.data, "cpu").astype(np.float64)
    if name == "ELU":
        return module.alpha
    if name == "Softplus":
        return module.beta
    if name in ("GroupMax", "Maxout"):
        return module.pieces
    return None


def _units_where_all(mask, unit_axis):
    """Boolean per unit: ``mask`` holds on every example (and position) of that unit."""
    xp = get_array_module(mask)
    if mask.ndim >= 2:
        ax = unit_axis % mask.ndim
        return xp.all(mask, axis=tuple(i for i in builtins.range(mask.ndim) if i != ax))
    return xp.all(mask, keepdims=True)   # (N,): one unit seen over the batch


def _maxout_dead_pieces(z, pieces, axis):
    """Fraction of maxout pieces never the max on the batch; ``z`` holds the pre-activations
    (``pieces`` consecutive entries of ``axis`` per unit)."""
    xp = get_array_module(z)
    axis = axis % z.ndim
    shape = z.shape[:axis] + (z.shape[axis] // pieces, pieces) + z.shape[axis + 1:]
    g = z.reshape(shape)
    win = g.argmax(axis=axis + 1)                          # (N, units, ...) index of the max piece
    won = xp.zeros((shape[axis], pieces), bool)
    units = xp.arange(shape[axis]).reshape((1, -1) + (1,) * (win.ndim - 2))
    won[xp.broadcast_to(units, win.shape).reshape(-1), win.reshape(-1)] = True
    return 1.0 - int(xp.count_nonzero(won)) / won.size


def _default_range(kind):
    return {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}.get(kind)


def histogram(a, bins: int = 20, range=None):  # noqa: A002 - NumPy's argument name
    """Counts of ``a`` on ``bins`` equal bins over ``range`` (default: ``[min, max]`` of ``a``).

    Unlike ``numpy.histogram``, values outside ``range`` are counted in the first or last
    bin, so the counts always sum to ``a.size`` (pass only finite values).

    Returns:
        ``(counts, edges)``: NumPy ``int64`` array ``(bins,)`` and ``float64`` array ``(bins + 1,)``.
    """
    if not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    xp = get_array_module(a)
    if a.size == 0:
        lo, hi = (0.0, 1.0) if range is None else range
        return np.zeros(bins, np.int64), np.linspace(lo, hi, bins + 1)
    if range is None:
        lo, hi = float(a.min()), float(a.max())
    else:
        lo, hi = float(range[0]), float(range[1])
        if not hi >= lo:
            raise ValueError(f"histogram range must be (low, high) with low <= high, got {range!r}")
    if hi == lo:  # constant data (e.g. a dead layer, all zeros): one unit-wide span
        lo, hi = lo - 0.5, hi + 0.5
    # Bin index by one scaled pass + bincount: cheaper than sorting-based histograms.
    t = (a.reshape(-1) - a.dtype.type(lo)) * a.dtype.type(bins / (hi - lo))
    xp.clip(t, 0, bins - 1, out=t)
    counts = xp.bincount(t.astype(xp.intp), minlength=bins)
    return to_device(counts, "cpu").astype(np.int64), np.linspace(lo, hi, bins + 1)


def activation_stats(a, kind=None, bins: int = 20, range=None, saturation_eps: float = 0.01,  # noqa: A002
                     unit_axis: int = 1, param=None, pre=None) -> dict:
    """Statistics of one activation array (or Tensor) ``a`` of shape ``(N, ...)``.

    Args:
        kind: one of :data:`KINDS` (``None``: only the generic statistics).
        bins, range: histogram bins and span; ``range=None`` uses ``(0, 1)`` for sigmoid,
            ``(-1, 1)`` for tanh and the data's ``[min, max]`` otherwise (pass a range to
            compare histograms across steps).
        saturation_eps: distance to an asymptote that counts as saturated.
        unit_axis: the axis indexing units, for ``frac_dead`` (1: features of ``(N, F)``,
            channels of ``(N, C, H, W)``).
        param: the kind's parameter (:func:`kind_param`): Leaky ReLU/PReLU negative slope
            (scalar or one per unit; default 0.01), ELU ``alpha`` (1), softplus ``beta`` (1),
            maxout ``pieces``.
        pre: maxout only: the pre-activations (the GroupMax input), for dead pieces.

    Returns:
        dict with ``count`` (number of finite values), ``mean``, ``std``, ``frac_zero``,
        ``frac_nonfinite``, ``hist`` (int64 counts summing to ``count``), ``edges``, and
        ``frac_saturated`` (sigmoid, tanh, softplus, ELU), ``frac_dead`` and ``n_units``
        (every kind but sigmoid and tanh; maxout: when ``pre`` is given), ``frac_inactive``
        (ReLU family).  See the module docstring for what "dead" means for each kind.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown activation kind {kind!r}; use one of {KINDS}")
    if isinstance(a, Tensor):
        a = a.data
    xp = get_array_module(a)
    size = a.size
    if range is None:
        range = _default_range(kind)  # noqa: A001
    # The mean is finite exactly when every value is (barring float overflow of the sum),
    # so the isfinite mask and its extra passes are only paid for when something is off.
    mean = float(a.mean()) if size else float("nan")
    if size and math.isfinite(mean):
        fin, n_finite = a, size
    else:
        finite_mask = xp.isfinite(a)
        n_finite = int(xp.count_nonzero(finite_mask))
        fin = a[finite_mask]
        mean = float(fin.mean()) if n_finite else float("nan")
    out = {"count": n_finite, "frac_nonfinite": (size - n_finite) / size if size else 0.0, "mean": mean}
    if n_finite:
        out["std"] = float(fin.std())
        out["frac_zero"] = int(xp.count_nonzero(fin == 0)) / n_finite
    else:
        out["std"] = out["frac_zero"] = float("nan")
    out["hist"], out["edges"] = histogram(fin, bins, range)
    if kind == "sigmoid":
        sat = (fin < saturation_eps) | (fin > 1 - saturation_eps)
        out["frac_saturated"] = int(xp.count_nonzero(sat)) / n_finite if n_finite else float("nan")
    elif kind == "tanh":
        out["frac_saturated"] = (int(xp.count_nonzero(xp.abs(fin) > 1 - saturation_eps)) / n_finite
                                 if n_finite else float("nan"))
    elif kind in ("relu", "leaky_relu", "elu"):
        inactive = _units_where_all(a <= 0, unit_axis)
        n_units = inactive.size
        out["n_units"] = n_units
        out["frac_inactive"] = int(xp.count_nonzero(inactive)) / n_units if n_units else float("nan")
        if kind == "relu":
            dead = inactive
        elif kind == "leaky_relu":
            slope = np.asarray(0.01 if param is None else param, np.float64).reshape(-1)
            if slope.size not in (1, n_units):
                raise ValueError(f"leaky_relu: {slope.size} slopes for {n_units} units; give one or one per unit")
            dead = inactive & xp.asarray(np.broadcast_to(slope == 0, (n_units,)))
        else:  # ELU: derivative α·eˣ = y + α, exactly 0 only where eˣ underflowed
            alpha = 1.0 if param is None else float(param)
            deriv = a + a.dtype.type(alpha)
            sat = (deriv < saturation_eps) & (a <= 0)
            out["frac_saturated"] = int(xp.count_nonzero(sat)) / a.size if a.size else float("nan")
            dead = _units_where_all(sat, unit_axis)
        out["frac_dead"] = int(xp.count_nonzero(dead)) / n_units if n_units else float("nan")
    elif kind == "softplus":
        beta = 1.0 if param is None else float(param)
        # σ(βx) = 1 - exp(-βy) < eps  <=>  y < -log(1 - eps) / β
        sat = a < a.dtype.type(-math.log1p(-saturation_eps) / beta)
        out["frac_saturated"] = int(xp.count_nonzero(sat)) / a.size if a.size else float("nan")
        dead = _units_where_all(sat, unit_axis)
        out["n_units"] = dead.size
        out["frac_dead"] = int(xp.count_nonzero(dead)) / dead.size if dead.size else float("nan")
    elif kind == "maxout" and pre is not None:
        pre = pre.data if isinstance(pre, Tensor) else pre
        pieces = 2 if param is None else int(param)
        out["n_units"] = pre.shape[unit_axis % pre.ndim] if pre.ndim >= 2 else 1
        out["frac_dead"] = _maxout_dead_pieces(pre, pieces, unit_axis if pre.ndim >= 2 else 0)
    return out


def _first_tensor(output):
    if isinstance(output, Tensor):
        return output.data
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], Tensor):
        return output[0].data
    return output if hasattr(output, "ndim") else None


def _maxout_pre(module, inputs):
    """The pre-activations of a maxout module's pieces: GroupMax's input, or a Maxout
    layer's own linear map of its input (recomputed: one extra matmul on recorded steps)."""
    x = _first_tensor(inputs)
    if x is None:
        return None
    if type(module).__name__ == "GroupMax":
        if module.dim % x.ndim != 1 % x.ndim:
            return None  # grouped along another axis than the unit axis: not measured
        return x
    z = x @ module.weight.data.T
    return z if module.bias is None else z + module.bias.data


def _has_children(module) -> bool:
    return next(iter(module.children()), None) is not None


class ActivationMonitor:
    """Attach forward hooks that record activation statistics of a model's layers.

    Args:
        model: a Module (``named_modules()`` and ``register_forward_hook``).
        modules: which modules to watch: ``None`` (the activation modules: Sigmoid, Tanh,
            the ReLU family, Softplus, Maxout), ``"all"`` (every leaf module except
            Flatten, Identity and Dropout: also the pre-activations that Linear, Conv2d and
            the norm layers output), a list of dotted module names, or a predicate
            ``fn(name, module) -> bool``.  Activations computed with ``F`` inside a
            ``forward`` have no module to hook: watch the modules around them.
        kinds: overrides of :func:`activation_kind`, ``{module_name: kind}``.
        bins, range, saturation_eps, unit_axis: as in :func:`activation_stats`.
        keep_arrays: also keep a host copy of each recorded output in ``self.arrays``
            (for plots of raw activations; costs memory).

    Use::

        mon = ActivationMonitor(model)
        with mon.record():
            model(x)
        mon.stats   # OrderedDict module_name -> activation_stats(...), in forward order
        mon.remove()
    """

    def __init__(self, model, modules=None, kinds=None, bins: int = 20, range=None,  # noqa: A002
                 saturation_eps: float = 0.01, unit_axis: int = 1, keep_arrays: bool = False):
        if not hasattr(model, "named_modules"):
            raise TypeError(f"ActivationMonitor needs a Module with named_modules(), got {type(model).__name__}")
        self.bins, self.range, self.saturation_eps, self.unit_axis = bins, range, saturation_eps, unit_axis
        self.keep_arrays = keep_arrays
        self.recording = False
        self.stats: OrderedDict = OrderedDict()
        self.arrays: OrderedDict = OrderedDict()
        self.kinds = {}
        self._handles = []
        named = list(model.named_modules())
        if modules is None:
            chosen = [(n, m) for n, m in named if is_activation(m)]
        elif isinstance(modules, str):
            if modules != "all":
                raise ValueError(f"modules must be None, 'all', a list of names or a predicate, got {modules!r}")
            chosen = [(n, m) for n, m in named
                      if not _has_children(m) and type(m).__name__ not in _PASS_THROUGH]
        elif callable(modules):
            chosen = [(n, m) for n, m in named if modules(n, m)]
        else:
            by_name = dict(named)
            unknown = [n for n in modules if n not in by_name]
            if unknown:
                raise ValueError(f"ActivationMonitor: no module named {unknown}; known: {list(by_name)[:20]}")
            chosen = [(n, by_name[n]) for n in modules]
        kinds = kinds or {}
        for name, m in chosen:
            name = name or ROOT
            kind = kinds.get(name, activation_kind(m))
            if kind not in KINDS:
                raise ValueError(f"unknown activation kind {kind!r} for module {name!r}; use one of {KINDS}")
            self.kinds[name] = kind
            self._handles.append(m.register_forward_hook(self._make_hook(name)))

    def _make_hook(self, name):
        def hook(module, inputs, output):
            # Cheap when not recording: one attribute test per module call.
            if not self.recording or name in self.stats:
                return None  # a module called twice in one forward: its first call counts
            a = _first_tensor(output)
            if a is None:
                return None
            kind = self.kinds[name]
            pre = None
            if kind == "maxout":
                pre = _maxout_pre(module, inputs)
            self.stats[name] = activation_stats(a, kind, self.bins, self.range, self.saturation_eps,
                                                -1 if type(module).__name__ == "Maxout" else self.unit_axis,
                                                kind_param(module), pre)
            if self.keep_arrays:
                self.arrays[name] = to_device(a, "cpu").copy()
            return None
        return hook

    @property
    def names(self) -> list:
        """Names of the watched modules (in ``named_modules()`` order)."""
        return list(self.kinds)

    def start(self) -> None:
        """Start recording: clear the previous statistics; the next forward fills ``stats``."""
        self.stats = OrderedDict()
        self.arrays = OrderedDict()
        self.recording = True

    def stop(self) -> None:
        self.recording = False

    @contextlib.contextmanager
    def record(self):
        """Context manager: record the forward passes run inside it."""
        self.start()
        try:
            yield self
        finally:
            self.stop()

    def remove(self) -> None:
        """Detach every hook from the model."""
        for h in self._handles:
            h.remove()
        self._handles = []
        self.recording = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
