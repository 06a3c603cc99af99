"""deeprecipe: a deep-learning library on NumPy/CuPy, and a lab that re-runs the
claims of "Tips for Training Deep Networks" on real data.

``import deeprecipe`` needs NumPy only; optional extras are imported where used.
"""
from .allocator import retain_freed_memory
from .backend import (  # noqa: F401
    default_dtype, get_array_module, get_default_dtype, get_rng, seed, set_default_dtype, to_device,
)
from .config import enable_grad, is_grad_enabled, no_grad  # noqa: F401
from .engine import Function, Parameter, Tensor, gradcheck, tensor  # noqa: F401
from . import functions  # noqa: F401  (also installs Tensor's operators)
from . import functions as F  # noqa: F401

retain_freed_memory()  # reuse freed array memory instead of page-faulting it in each step
del retain_freed_memory

__version__ = "0.1.0"

# Sub-packages and the checkpoint functions load on first use, so that
# ``import deeprecipe`` stays light (NumPy only) and fast.
_LAZY_MODULES = ("nn", "optim", "data", "train", "diagnostics", "lab", "classic")
_LAZY_ATTRS = {"save": "serialization", "load": "serialization"}


def __getattr__(name):
    import importlib
    if name in _LAZY_MODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY_ATTRS:
        return getattr(importlib.import_module(f".{_LAZY_ATTRS[name]}", __name__), name)
    raise AttributeError(f"module 'deeprecipe' has no attribute {name!r}")
