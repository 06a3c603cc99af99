"""Run a benchmark's worker in a fresh process and read back its one ``RESULT {json}`` line.

Each framework is timed in its own process, so neither inherits the other's thread pools,
allocator state or imported libraries; the BLAS / OpenMP thread count is set in the
environment before NumPy or torch load.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def spawn_worker(script: str, args: list, threads: int, what: str) -> dict:
    """``python script *args`` with ``threads`` BLAS threads and the repository on the path;
    returns the worker's ``RESULT`` dict, or raises with its output (``what`` names it)."""
    t = str(threads)
    env = dict(os.environ, OPENBLAS_NUM_THREADS=t, OMP_NUM_THREADS=t, MKL_NUM_THREADS=t,
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.run([sys.executable, os.path.abspath(script), *map(str, args)], env=env,
                       capture_output=True, text=True)
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"the {what} worker failed:\n{p.stdout}\n{p.stderr}")
