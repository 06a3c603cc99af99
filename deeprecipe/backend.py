"""Array backends (NumPy on CPU, CuPy on GPU), the float dtype policy and seeded randomness.

Everything in deeprecipe asks this module for its array module (``xp``) instead of
calling ``numpy`` directly, so the same op code runs on CuPy unchanged.  CuPy is
imported lazily: ``import deeprecipe`` needs NumPy only.
"""
from __future__ import annotations

import numpy as np

_cupy = None          # the cupy module once imported, or False when unavailable
_default_dtype = np.dtype(np.float32)
_global_rng = np.random.default_rng()
_global_seed: int | None = None


def cupy_module():
    """Return the ``cupy`` module, or ``None`` when CuPy (or a GPU) is not available."""
    global _cupy
    if _cupy is None:
        try:
            import cupy  # noqa: PLC0415 - optional dependency, imported where used
            cupy.cuda.runtime.getDeviceCount()
            _cupy = cupy
        except Exception:  # ImportError, or CUDA driver errors without a GPU
            _cupy = False
    return _cupy or None


def is_cupy_array(a) -> bool:
    # Checked by module name so that no CuPy import is needed on CPU-only machines.
    return type(a).__module__.startswith("cupy")


def get_array_module(*arrays):
    """Return ``numpy`` or ``cupy`` for the given arrays (or Tensors).

    Raises ``ValueError`` when NumPy and CuPy arrays are mixed: silently copying
    between devices would hide a bug and cost a transfer per op.
    """
    on_gpu = on_cpu = False
    for a in arrays:
        if type(a) is not np.ndarray:  # the common case (NumPy) costs one type check
            a = getattr(a, "data", a)
            if type(a) is not np.ndarray:
                if is_cupy_array(a):
                    on_gpu = True
                continue
        on_cpu = True
    if on_gpu:
        if on_cpu:
            raise ValueError(
                "arrays live on different devices (NumPy on CPU and CuPy on GPU); "
                "move them to one device first with .to('cpu') or .to('cuda')")
        return cupy_module()
    return np


def to_device(array, device: str):
    """Copy ``array`` to ``'cpu'`` (NumPy) or ``'cuda'`` (CuPy); no copy if already there."""
    device = str(device)
    if device == "cpu":
        if is_cupy_array(array):
            return array.get()
        return np.asarray(array)
    if device.startswith("cuda") or device == "gpu":
        cp = cupy_module()
        if cp is None:
            raise RuntimeError(
                "device 'cuda' requested but CuPy is not installed or no GPU is visible; "
                "install the 'gpu' extra (pip install 'deeprecipe[gpu]') on a CUDA machine")
        return cp.asarray(array)
    raise ValueError(f"unknown device {device!r}: use 'cpu' or 'cuda'")


def device_of(array) -> str:
    return "cuda" if is_cupy_array(array) else "cpu"


def get_default_dtype() -> np.dtype:
    """The float dtype new tensors and parameters get (float32 unless changed)."""
    return _default_dtype


def set_default_dtype(dtype) -> None:
    """Set the default float dtype: ``float32`` (fast, the default) or ``float64`` (checks)."""
    global _default_dtype
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise ValueError(f"default dtype must be a floating type, got {dt}")
    _default_dtype = dt


class default_dtype:
    """Context manager: ``with default_dtype(np.float64): ...``."""

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)

    def __enter__(self):
        self.old = get_default_dtype()
        set_default_dtype(self.dtype)

    def __exit__(self, *exc):
        set_default_dtype(self.old)


def seed(n: int) -> None:
    """Seed the library-wide generator that every random choice uses when no ``rng=`` is given."""
    global _global_rng, _global_seed
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"seed must be a non-negative integer, got {n!r}")
    _global_seed = int(n)
    _global_rng = np.random.default_rng(int(n))


def get_rng(rng=None) -> np.random.Generator:
    """Resolve an ``rng=`` argument: ``None`` → the global generator, an int → a new seeded
    generator, a ``numpy.random.Generator`` → itself."""
    if rng is None:
        return _global_rng
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be None, an int seed or a numpy.random.Generator, got {type(rng).__name__}")


def get_rng_state() -> dict:
    """The global generator's state (JSON-serializable), for checkpoints."""
    return _global_rng.bit_generator.state


def set_rng_state(state: dict) -> None:
    _global_rng.bit_generator.state = state


def blas_threads(n: int, warn: bool = True):
    """A context limiting BLAS/OpenMP threads to ``n`` for its duration (0: leave them).

    Uses threadpoolctl, which changes the limit of the already loaded BLAS.  Without it
    nothing can be done once NumPy is imported: with ``warn`` a note says to set
    ``OPENBLAS_NUM_THREADS=n`` (and ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``) before
    starting, and the context does nothing.  The training CLI's ``--threads`` and the
    lab runner's one thread per unit both go through here.
    """
    import contextlib
    if not n:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        if warn:
            import sys
            print(f"warning: limiting BLAS to {n} thread(s) needs threadpoolctl (pip install threadpoolctl); "
                  f"NumPy is already loaded, so set OPENBLAS_NUM_THREADS={n} OMP_NUM_THREADS={n} before "
                  "starting instead", file=sys.stderr)
        return contextlib.nullcontext()
    return threadpool_limits(limits=int(n))
