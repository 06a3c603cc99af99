"""Flat series names for monitor numbers: ``"<quantity>/<layer or parameter>"``.

The callback writes these names into ``History.steps`` (and their epoch means into
``History.history``); :func:`flatten` turns an :func:`~deeprecipe.diagnostics.inspect`
result into the same names, so experiments, plots and the doctor read one vocabulary:

=======================  ==========================================================
``grad_norm``            global gradient L2 norm (all parameters)
``grad_norm/<layer>``    gradient L2 norm of one layer (module owning parameters)
``update_ratio/<layer>`` ``||Δw|| / ||w||`` of one optimizer step (``w`` before the step)
``update_norm/<layer>``  ``||Δw||`` of one optimizer step
``weight_norm/<param>``  ``weight_mean/…``, ``weight_std/…``, ``weight_near_zero/…``
``act_mean/<module>``    ``act_std/…``, ``act_zero/…`` (fraction of exact zeros),
                         ``act_dead/…`` (units with no gradient), ``act_inactive/…`` (ReLU
                         family: output <= 0 on the batch), ``act_saturated/…`` (sigmoid,
                         tanh, softplus, ELU)
=======================  ==========================================================
"""
from __future__ import annotations

_ACT_KEYS = (("mean", "act_mean"), ("std", "act_std"), ("frac_zero", "act_zero"),
             ("frac_dead", "act_dead"), ("frac_inactive", "act_inactive"), ("frac_saturated", "act_saturated"))
_WEIGHT_KEYS = (("norm", "weight_norm"), ("mean", "weight_mean"), ("std", "weight_std"),
                ("frac_near_zero", "weight_near_zero"))


def layer_series(series: dict, quantity: str) -> dict:
    """``{layer: value}`` of one quantity from a flat ``{name: value}`` dict, in its order,
    e.g. ``layer_series(flatten(stats), "grad_norm")``."""
    pre = quantity + "/"
    return {k[len(pre):]: v for k, v in series.items() if k.startswith(pre)}


def flatten(stats: dict) -> dict:
    """Scalar series ``{name: float}`` from a dict with any of the keys ``layer_grad_norm``,
    ``global_grad_norm``, ``update_ratio`` and ``update_norm`` (per layer), ``weights`` and ``activations``
    (the shapes :func:`~deeprecipe.diagnostics.inspect` returns)."""
    out = {}
    if "global_grad_norm" in stats:
        out["grad_norm"] = stats["global_grad_norm"]
    for layer, v in stats.get("layer_grad_norm", {}).items():
        out[f"grad_norm/{layer}"] = v
    for layer, v in stats.get("update_ratio", {}).items():
        out[f"update_ratio/{layer}"] = v
    for layer, v in stats.get("update_norm", {}).items():
        out[f"update_norm/{layer}"] = v
    for param, w in stats.get("weights", {}).items():
        for key, q in _WEIGHT_KEYS:
            out[f"{q}/{param}"] = w[key]
    for module, a in stats.get("activations", {}).items():
        for key, q in _ACT_KEYS:
            if key in a:
                out[f"{q}/{module}"] = a[key]
    return out
