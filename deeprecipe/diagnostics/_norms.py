"""Squared L2 norms of many arrays with one device->host transfer (private helper)."""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module


def sq_norms(arrays) -> list:
    """``[sum(a**2) for a in arrays]`` as Python floats.

    Each norm is one BLAS dot over the flattened array (no ``a*a`` temporary).  On CuPy the
    results are stacked on the device and copied to the host once, not once per array.
    """
    if not arrays:
        return []
    xp = get_array_module(*arrays)
    sq = []
    for a in arrays:
        r = a.reshape(-1)
        sq.append(xp.dot(r, r))
    if xp is np:
        return [float(s) for s in sq]
    return xp.stack([s.astype(xp.float64) for s in sq]).get().tolist()
