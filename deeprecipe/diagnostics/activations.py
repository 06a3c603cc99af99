"""Activation statistics per layer, collected by forward hooks.

For every hooked module's output: a histogram on fixed bins, mean and std, the fraction
of exact zeros, and, depending on the kind of module,

* **saturated** (sigmoid, tanh): the fraction of outputs near the asymptotes, where the
  derivative is ~0 (sigmoid ``y < eps`` or ``y > 1 - eps``; tanh ``|y| > 1 - eps``;
  ``eps = 0.01`` by default).  Saturation is why deep sigmoid nets with std-1 weights stop
  learning (Glorot & Bengio 2010, https://proceedings.mlr.press/v9/glorot10a.html).
* **dead** (ReLU family: ReLU, LeakyReLU, PReLU, ELU): a *unit* (an index along
  ``unit_axis``: a feature of a dense layer, a channel of a conv layer) is dead on a batch
  when its output is ``<= 0`` for every example (and every spatial position), i.e. it sits
  in the non-identity part of the activation for the whole batch.  For ReLU no gradient then
  reaches its weights; Leaky/PReLU still pass ``slope * grad``, so their units can recover.

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
KINDS = ("sigmoid", "tanh", "relu", None)

# Activation modules outside the registry, watched by default all the same.
_OTHER_ACTIVATIONS = frozenset({"Maxout"})
# Modules whose output repeats their input (or is a reshape of it): skipped by modules="all".
_PASS_THROUGH = frozenset({"Flatten", "Identity", "Dropout", "Reshape"})


def activation_kind(module):
    """``"sigmoid"``, ``"tanh"``, ``"relu"`` (ReLU family) or ``None`` for a module: from
    :data:`ACTIVATION_KINDS` by class name, else from its ``nn.ACTIVATIONS`` entry."""
    name = type(module).__name__
    if name in ACTIVATION_KINDS:
        return ACTIVATION_KINDS[name]
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
                     unit_axis: int = 1) -> dict:
    """Statistics of one activation array (or Tensor) ``a`` of shape ``(N, ...)``.

    Args:
        kind: ``"sigmoid"``, ``"tanh"``, ``"relu"`` or ``None`` (only the generic statistics).
        bins, range: histogram bins and span; ``range=None`` uses ``(0, 1)`` for sigmoid,
            ``(-1, 1)`` for tanh and the data's ``[min, max]`` otherwise (pass a range to
            compare histograms across steps).
        saturation_eps: distance to an asymptote that counts as saturated.
        unit_axis: the axis indexing units, for ``frac_dead`` (1: features of ``(N, F)``,
            channels of ``(N, C, H, W)``).

    Returns:
        dict with ``count`` (number of finite values), ``mean``, ``std``, ``frac_zero``,
        ``frac_nonfinite``, ``hist`` (int64 counts summing to ``count``), ``edges``, and
        ``frac_saturated`` (sigmoid/tanh) or ``frac_dead`` and ``n_units`` (ReLU family).
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
    elif kind == "relu":
        if a.ndim >= 2:
            ax = unit_axis % a.ndim
            alive = (a > 0).any(axis=tuple(i for i in builtins.range(a.ndim) if i != ax))
        else:  # (N,): one unit seen over the batch
            alive = (a > 0).any(keepdims=True)
        n_units = alive.size
        out["n_units"] = n_units
        out["frac_dead"] = (n_units - int(xp.count_nonzero(alive))) / n_units if n_units else float("nan")
    return out


def _first_tensor(output):
    if isinstance(output, Tensor):
        return output.data
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], Tensor):
        return output[0].data
    return output if hasattr(output, "ndim") else None


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
            self.stats[name] = activation_stats(a, self.kinds[name], self.bins, self.range,
                                                self.saturation_eps, self.unit_axis)
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
