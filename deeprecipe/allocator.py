"""Keep freed array memory in the process for reuse (glibc ``malloc`` settings).

A training step allocates and frees the same large arrays over and over (activations,
masks, gradients: ~20 MB per step for the small CNN at batch 128).  With glibc's default
settings, a freed block of more than 128 KiB is either unmapped (``mmap`` threshold) or,
lying at the top of the heap, handed back to the OS (``trim`` threshold), so the next
step's array of the same size is page-faulted in afresh, one fault and one zero-fill
per 4 KiB.  Measured on the 2-core VM of ``benchmarks/bench_step.py`` (1 thread,
float32, Adam): the CNN took 1683 page faults per step at batch 16 and 4763 at batch
128; with the settings below it takes none, and its step drops from 16.4 to 11.4 ms
(batch 16) and from 102 to 81 ms (batch 128); the MLP's batch-1 step from 1.69 to 1.40 ms.

So on glibc (Linux) ``import deeprecipe`` raises both thresholds once, with
``mallopt``: blocks up to ``MMAP_THRESHOLD`` come from the heap, and the heap's free top
is returned to the OS only beyond ``TRIM_THRESHOLD``.  What the process keeps is
bounded: at most the peak of what it used plus ``TRIM_THRESHOLD``; blocks larger than
``MMAP_THRESHOLD`` are still mapped and unmapped as before.  This is what setting
``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_`` in the environment does (see
``man mallopt``); PyTorch documents the same effect for CPU training with jemalloc or
tcmalloc.  Set ``DEEPRECIPE_MALLOC=system`` before the import to keep the system's
settings, or let the environment variables above decide (they are then left alone).
Elsewhere (macOS, musl, Windows) nothing is changed.
"""
from __future__ import annotations

import ctypes
import os
import sys

MMAP_THRESHOLD = 32 << 20    # glibc's largest allowed mmap threshold on 64-bit (32 MiB)
TRIM_THRESHOLD = 256 << 20   # keep up to 256 MiB of free heap top for the next step

_M_TRIM_THRESHOLD = -1       # mallopt parameter numbers from <malloc.h>
_M_MMAP_THRESHOLD = -3
ENV = "DEEPRECIPE_MALLOC"
_GLIBC_ENV = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")

_state = {"retained": False}


def retain_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds (see the module docstring).

    Returns:
        True when the settings are in force after the call (also when they already
        were), False where they were not applied: not glibc, ``DEEPRECIPE_MALLOC=system``,
        or glibc's own ``MALLOC_*_THRESHOLD_`` variables set by the user.
    """
    if _state["retained"]:
        return True
    if os.environ.get(ENV, "").strip().lower() == "system" or any(v in os.environ for v in _GLIBC_ENV):
        return False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    if not hasattr(libc, "gnu_get_libc_version"):  # only glibc has it (musl's mallopt does nothing)
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    ok = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    ok = mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and ok
    _state["retained"] = ok
    return ok


def freed_memory_retained() -> bool:
    """Whether :func:`retain_freed_memory` has put its settings in force in this process."""
    return _state["retained"]
