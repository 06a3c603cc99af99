"""Weight statistics per parameter: L2 norm, mean, std and the fraction of near-zero entries.

Weight norms that grow without bound point at a missing regulariser or too large a
learning rate; a large near-zero fraction shows what L1 decay or pruning did.
"""
from __future__ import annotations

from collections import OrderedDict

from ..backend import get_array_module
from .layers import named_params


def weight_stats(model, near_zero: float = 1e-3) -> OrderedDict[str, dict]:
    """``param_name -> {"norm", "mean", "std", "frac_near_zero"}`` (floats), registration order.

    Args:
        near_zero: an entry counts as near zero when ``|w| < near_zero``.
    """
    if not near_zero >= 0:
        raise ValueError(f"near_zero must be a non-negative threshold, got {near_zero!r}")
    out = OrderedDict()
    for name, p in named_params(model):
        w = p.data
        xp = get_array_module(w)
        r = w.reshape(-1)
        n = r.size
        if n == 0:
            out[name] = {"norm": 0.0, "mean": float("nan"), "std": float("nan"), "frac_near_zero": float("nan")}
            continue
        # std by NumPy's two-pass formula, not sqrt(E[w²] - mean²): that cancels
        # catastrophically for e.g. batch-norm scales, all near 1 with a tiny spread.
        near = int(xp.count_nonzero(xp.abs(r) < near_zero))
        out[name] = {"norm": float(xp.dot(r, r)) ** 0.5, "mean": float(r.mean()), "std": float(r.std()),
                     "frac_near_zero": near / n}
    return out
