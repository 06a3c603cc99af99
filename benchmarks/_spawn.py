"""Run a benchmark's worker in a fresh process and read back its one ``RESULT {json}`` line.

Each framework is timed in its own process, so neither inherits the other's thread pools,
allocator state or imported libraries; the BLAS / OpenMP thread count is set in the
environment before NumPy or torch load.

The allocator: ``import deeprecipe`` raises glibc's mmap and trim thresholds so that
freed arrays are reused instead of page-faulted in again (``deeprecipe/allocator.py``).
The torch workers import deeprecipe too (data, weights), so ``worker_env`` decides for
them: ``torch_malloc="system"`` (the default: torch as its users run it) keeps glibc's
defaults in the torch worker, ``"same"`` gives torch the same thresholds through
glibc's own environment variables — the comparison with the allocator effect removed.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


TORCH_MALLOC = ("system", "same")


def worker_env(framework: str, threads: int, torch_malloc: str = "system") -> dict:
    """The environment of one framework's worker: ``threads`` BLAS/OpenMP threads, the
    repository on the path, and the malloc settings (see the module docstring)."""
    if torch_malloc not in TORCH_MALLOC:
        raise ValueError(f"torch_malloc must be one of {TORCH_MALLOC}, got {torch_malloc!r}")
    t = str(threads)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "DEEPRECIPE_MALLOC"}
    env.update(OPENBLAS_NUM_THREADS=t, OMP_NUM_THREADS=t, MKL_NUM_THREADS=t,
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if framework == "torch":
        if torch_malloc == "same":
            if ROOT not in sys.path:
                sys.path.insert(0, ROOT)
            from deeprecipe.allocator import MMAP_THRESHOLD, TRIM_THRESHOLD
            env.update(MALLOC_MMAP_THRESHOLD_=str(MMAP_THRESHOLD), MALLOC_TRIM_THRESHOLD_=str(TRIM_THRESHOLD))
        else:
            env["DEEPRECIPE_MALLOC"] = "system"
    return env


def spawn_worker(script: str, args: list, threads: int, what: str, framework: str = "",
                 torch_malloc: str = "system") -> dict:
    """``python script *args`` in ``worker_env(framework, threads, torch_malloc)``;
    returns the worker's ``RESULT`` dict, or raises with its output (``what`` names it)."""
    env = worker_env(framework, threads, torch_malloc)
    p = subprocess.run([sys.executable, os.path.abspath(script), *map(str, args)], env=env,
                       capture_output=True, text=True)
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"the {what} worker failed:\n{p.stdout}\n{p.stderr}")
