"""Diagnostics: per-layer numbers that say how training is going, cheap enough to leave on.

* gradients: :func:`grad_norms` (per parameter), :func:`grad_norms_by_layer`, :func:`global_grad_norm`
* updates: :func:`snapshot` before ``optimizer.step()``, :func:`update_ratios` after (‖Δw‖/‖w‖)
* weights: :func:`weight_stats` (norm, mean, std, near-zero fraction per parameter)
* activations: :func:`activation_stats` of one array, :class:`ActivationMonitor` (forward hooks):
  histogram, mean/std, zero fraction, dead units (no gradient), saturation (derivative ~0)
* :func:`inspect` — all of the above on one forward/backward, no optimizer
* :class:`MonitorCallback` — all of the above every N steps of ``fit``, into the History
* :func:`top_hessian_eigenvalue` (any closure), :func:`sharpness` (a model on a batch) — power iteration
  with exact Hessian-vector products; :class:`SharpnessMonitor`; the whole toolkit (full Hessian,
  Lanczos, trace, spectral density) in :mod:`deeprecipe.diagnostics.hessian`
* naming: :func:`layer_names`, :func:`first_layer`, :func:`last_layer`, :func:`first_last_ratio`,
  :class:`record_forward_order`, :func:`reorder`;
  series names: :func:`flatten`, :func:`layer_series`
"""
from .activations import ACTIVATION_KINDS, ActivationMonitor, activation_kind, activation_stats, histogram  # noqa: F401
from .callback import MonitorCallback  # noqa: F401
from .gradients import global_grad_norm, grad_norms, grad_norms_by_layer  # noqa: F401
from .hessian import (  # noqa: F401
    HessianEig, SharpnessMonitor, hessian_vector_product, sharpness, top_hessian_eigenvalue,
)
from .inspection import inspect, resolve_loss  # noqa: F401
from .layers import (  # noqa: F401
    ROOT, first_last_ratio, first_layer, last_layer, layer_name, layer_names, params_by_layer, record_forward_order,
    reorder,
)
from .series import flatten, layer_series  # noqa: F401
from .updates import snapshot, update_ratios  # noqa: F401
from .weights import weight_stats  # noqa: F401
