"""The Hessian of a loss, exactly: products, full matrix, spectrum, trace, density, sharpness.

* :class:`HessianOperator` — exact Hessian-vector products by forward-over-reverse
  (Pearlmutter's R-operator run on the recorded graph, per-op rules in :mod:`.rules`),
  finite differences as the stated fallback; :func:`hessian_vector_product`;
* :func:`full_hessian`, :func:`hessian_eigen`, :func:`minimum_ratio`, :func:`critical_point_index`
  — small nets (up to a few thousand parameters);
* :func:`lanczos`, :func:`lanczos_eigen` (top-k / bottom-k), :func:`hutchinson_trace`,
  :func:`spectral_density` (stochastic Lanczos quadrature) — big nets;
* :func:`top_hessian_eigenvalue` (power iteration), :func:`sharpness` (a model on a batch),
  :class:`SharpnessMonitor` (a ``fit`` callback recording it every N steps).

Each takes a closure ``() -> loss Tensor`` and the parameters (or a Module); the
``(model, loss, batch)`` form is :func:`model_closure` inside :func:`frozen_modes`.
Parameters and their ``.grad`` are left bit-identical.
"""
from .monitor import SharpnessMonitor  # noqa: F401
from .operator import METHODS, HessianOperator, as_param_list, hessian_vector_product  # noqa: F401
from .power import HessianEig, frozen_modes, model_closure, sharpness, top_hessian_eigenvalue  # noqa: F401
from .rules import RULES, NoRule  # noqa: F401
from .spectrum import (  # noqa: F401
    Eigenpairs, HessianEigen, LanczosResult, SpectralDensity, TraceEstimate, critical_point_index, full_hessian,
    hessian_eigen, hutchinson_trace, lanczos, lanczos_eigen, minimum_ratio, spectral_density,
)
