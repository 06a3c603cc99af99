"""Update/weight ratio ``||w_after - w_before|| / ||w_before||`` of one optimizer step.

A rule of thumb (Karpathy, CS231n "Babysitting the learning process"): a ratio around
1e-3 per step is healthy; far below means the learning rate is too small for that layer,
far above means it is too large.  Measuring it needs a copy of the weights before
``optimizer.step()``, so the monitor takes :func:`snapshot` only on the steps it records.
"""
from __future__ import annotations

import math
from collections import OrderedDict

from ._norms import sq_norms
from .layers import named_params, params_by_layer


def snapshot(model) -> OrderedDict[str, object]:
    """Copies of every parameter's data, ``param_name -> array`` (same device and dtype)."""
    return OrderedDict((n, p.data.copy()) for n, p in named_params(model))


def _ratio(update_sq: float, weight_sq: float) -> float:
    # ||w|| = 0 (e.g. a zero-initialised bias before its first step) makes the ratio
    # undefined: nan rather than inf, so that plots and means over layers stay usable.
    if weight_sq == 0.0:
        return 0.0 if update_sq == 0.0 else float("nan")
    return math.sqrt(update_sq / weight_sq)


def update_ratios(model, before) -> dict:
    """Compare the current weights with a :func:`snapshot` taken before the step.

    Returns:
        ``{"param": {param_name: ratio}, "layer": {layer: ratio},
        "layer_update_norm": {layer: ||Δw||}}``, ordered input side first.  A layer's
        ratio concatenates its parameters: ``sqrt(Σ||Δw_i||²) / sqrt(Σ||w_i||²)``, which
        stays defined when the bias alone is zero.  A parameter whose weight norm was 0
        gets ``nan`` (``0.0`` if it also did not move).
    """
    missing = [n for n, _ in named_params(model) if n not in before]
    if missing:
        raise ValueError(
            f"update_ratios: the snapshot has no entry for {missing[:3]}; take it with "
            "snapshot(model) of the same model before optimizer.step()")
    d_sq, w_sq = {}, {}
    names, diffs, olds = [], [], []
    for n, p in named_params(model):
        old = before[n]
        if old.shape != p.data.shape:
            raise ValueError(
                f"update_ratios: parameter {n!r} has shape {p.data.shape} but the snapshot has {old.shape}")
        names.append(n)
        diffs.append(p.data - old)
        olds.append(old)
    for n, d, w in zip(names, sq_norms(diffs), sq_norms(olds)):
        d_sq[n], w_sq[n] = d, w
    param = OrderedDict((n, _ratio(d_sq[n], w_sq[n])) for n in names)
    layer, layer_upd = OrderedDict(), OrderedDict()
    for lname, named in params_by_layer(model).items():
        du = sum(d_sq[n] for n, _ in named)
        layer[lname] = _ratio(du, sum(w_sq[n] for n, _ in named))
        layer_upd[lname] = math.sqrt(du)
    return {"param": param, "layer": layer, "layer_update_norm": layer_upd}
