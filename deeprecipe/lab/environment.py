"""The environment a result was measured in: versions, backend, BLAS threads, device.

Saved with every seed so that a number in the report can be traced to the machine
and software that produced it.  Optional packages are reported when importable and
never imported for their own sake beyond that (threadpoolctl reads the BLAS setup).
"""
from __future__ import annotations

import os
import platform
import sys

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def _version(module_name: str):
    mod = sys.modules.get(module_name)
    if mod is None:
        try:
            from importlib.metadata import version
            return version(module_name)
        except Exception:
            return None
    return getattr(mod, "__version__", None)


def blas_info() -> list:
    """BLAS/OpenMP libraries NumPy loaded and their thread counts (needs threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"note": "threadpoolctl not installed; BLAS threads unknown"}]
    out = []
    for lib in threadpool_info():
        out.append({k: lib.get(k) for k in ("user_api", "internal_api", "num_threads", "version")})
    return out


def device_info() -> dict:
    """The array backend in use and, on GPU, the device name."""
    from .. import backend
    info = {"backend": "numpy", "device": "cpu"}
    cp = sys.modules.get("cupy")
    if cp is not None and backend.cupy_module() is not None:  # only if already imported
        try:
            dev = cp.cuda.Device()
            props = cp.cuda.runtime.getDeviceProperties(dev.id)
            name = props.get("name", b"")
            info = {"backend": "cupy", "device": f"cuda:{dev.id}",
                    "gpu": name.decode() if isinstance(name, bytes) else str(name),
                    "cupy": cp.__version__}
        except Exception as e:  # a broken driver must not break saving results
            info["gpu_error"] = str(e)
    return info


def environment() -> dict:
    """A JSON-able description of this process's environment."""
    from .. import __version__
    import numpy as np
    env = {
        "deeprecipe": __version__,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "thread_env": {v: os.environ[v] for v in _THREAD_VARS if v in os.environ},
        "blas": blas_info(),
    }
    env.update(device_info())
    for opt in ("matplotlib", "cupy"):
        v = _version(opt) if opt in sys.modules else None
        if v:
            env[opt] = v
    return env
