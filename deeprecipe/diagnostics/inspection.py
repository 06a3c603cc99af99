"""``inspect``: every monitor on one forward/backward pass, without an optimizer.

    stats = diagnostics.inspect(model, x, y, "cross_entropy")
    stats["layer_grad_norm"]          # OrderedDict layer -> ||grad||, input side first
    stats["activations"]["1"]["frac_dead"]

The model's parameters and gradients are left as they were (its batch-norm
running statistics do update if it is in training mode, as in any forward pass).
"""
from __future__ import annotations

from collections import OrderedDict

from ..engine.tensor import as_tensor
from .activations import ActivationMonitor
from .gradients import grad_norms, grad_norms_by_layer, global_grad_norm
from .layers import named_params, record_forward_order, reorder
from .weights import weight_stats


def resolve_loss(loss):
    """A loss callable ``(output, target) -> scalar Tensor`` from a callable or a name that
    ``fit`` accepts (``"cross_entropy"``, ``"mse"``, ... : :data:`deeprecipe.train.losses.LOSS_NAMES`)."""
    if callable(loss):
        return loss
    from ..train.losses import get_loss  # the one name table fit uses; imported late (no cycle)
    return get_loss(loss).fn


def inspect(model, x, y=None, loss_fn="cross_entropy", *, bins: int = 20, hist_range=None,
            near_zero: float = 1e-3, activations: bool = True, modules=None, kinds=None) -> dict:
    """Run one forward and backward pass and return every per-layer number.

    Args:
        model: a Module.
        x: input batch (array or Tensor).
        y: targets passed to ``loss_fn`` (``None`` for a loss that takes only the output).
        loss_fn: callable ``(output, y) -> scalar Tensor`` (or ``output -> loss`` when ``y`` is
            None), or a name such as ``"cross_entropy"`` or ``"mse"``.
        bins, hist_range: activation histograms (see ``activation_stats``).
        near_zero: threshold of the weights' near-zero fraction.
        activations: collect activation statistics (forward hooks on the leaf modules).
        modules, kinds: which modules to watch and kind overrides (see ``ActivationMonitor``).

    Returns:
        ``{"loss": float, "grad_norm": {param: float}, "layer_grad_norm": {layer: float},
        "global_grad_norm": float, "weights": {param: {norm, mean, std, frac_near_zero}},
        "activations": {module: {mean, std, hist, edges, frac_zero, frac_dead | frac_saturated, ...}}}``;
        per-layer dicts are in forward order (the order the layers ran in), per-parameter
        ones in registration order.
    """
    loss_fn = resolve_loss(loss_fn)
    params = [p for _, p in named_params(model)]
    saved = [p.grad for p in params]
    for p in params:
        p.grad = None
    mon = ActivationMonitor(model, modules=modules, kinds=kinds, bins=bins, range=hist_range) if activations else None
    try:
        if mon is not None:
            mon.start()
        with record_forward_order(model) as order:
            out = model(as_tensor(x))
        if mon is not None:
            mon.stop()
        loss = loss_fn(out) if y is None else loss_fn(out, y)
        if getattr(loss, "size", 1) != 1:
            raise ValueError(f"loss_fn must return a scalar loss, got shape {getattr(loss, 'shape', None)}")
        loss.backward()
        stats = {
            "loss": float(loss.item()),
            "grad_norm": grad_norms(model),
            "layer_grad_norm": reorder(grad_norms_by_layer(model), order),
            "global_grad_norm": global_grad_norm(model),
            "weights": weight_stats(model, near_zero),
            "activations": mon.stats if mon is not None else OrderedDict(),
        }
    finally:
        if mon is not None:
            mon.remove()
        for p, g in zip(params, saved):
            p.grad = g
    return stats
