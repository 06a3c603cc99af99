"""Layer naming shared by every monitor: a *layer* is a module that owns parameters directly.

Names are the dotted paths of ``model.named_modules()`` / ``model.named_parameters()``
(``"0"``, ``"body.3"``, ...), so experiments, plots and the doctor all speak of the same
layers.  A parameter ``"body.3.weight"`` belongs to layer ``"body.3"``; parameters of the
root module itself (a model that is a single ``Linear``, or a hand-written module with its
own ``Parameter`` attributes) belong to the layer named :data:`ROOT`.

Order is the order of ``named_parameters()``, i.e. registration order, which is forward
order for ``Sequential`` and the ``nn.MLP`` / ``nn.ConvNet`` builders; ``first_layer`` and
``last_layer`` therefore mean the layer nearest the input and the one nearest the output.
"""
from __future__ import annotations

from collections import OrderedDict

ROOT = "(root)"  # layer name for parameters owned by the model itself


def layer_name(param_name: str) -> str:
    """``"body.3.weight"`` -> ``"body.3"``; ``"weight"`` -> :data:`ROOT`."""
    owner, _, _ = param_name.rpartition(".")
    return owner or ROOT


def named_params(model):
    """``[(name, Parameter)]`` of ``model`` in registration order.

    Accepts a Module (anything with ``named_parameters()``), a dict ``name -> Parameter``,
    or a list of Parameters (named ``"0"``, ``"1"``, ... each its own layer).
    """
    if hasattr(model, "named_parameters"):
        return list(model.named_parameters())
    if isinstance(model, dict):
        return list(model.items())
    if isinstance(model, (list, tuple)):
        return [(str(i), p) for i, p in enumerate(model)]
    raise TypeError(
        f"expected a Module (with named_parameters()), a dict of Parameters or a list of Parameters, "
        f"got {type(model).__name__}")


def params_by_layer(model) -> OrderedDict[str, list]:
    """``layer -> [(param_name, Parameter), ...]`` in registration order.

    For a list of Parameters each parameter is its own layer (named by its index).
    """
    layers: OrderedDict = OrderedDict()
    is_list = isinstance(model, (list, tuple))
    for name, p in named_params(model):
        layers.setdefault(name if is_list else layer_name(name), []).append((name, p))
    return layers


def layer_names(model) -> list:
    """Names of the layers (modules owning parameters), input side first."""
    return list(params_by_layer(model))


def first_layer(values: dict):
    """``(name, value)`` of the first entry of an ordered per-layer dict (nearest the input)."""
    if not values:
        raise ValueError("first_layer: the per-layer dict is empty (no layer had a value)")
    name = next(iter(values))
    return name, values[name]


def last_layer(values: dict):
    """``(name, value)`` of the last entry of an ordered per-layer dict (nearest the output)."""
    if not values:
        raise ValueError("last_layer: the per-layer dict is empty (no layer had a value)")
    name = next(reversed(values))
    return name, values[name]


def first_last_ratio(values: dict) -> float:
    """``value(first layer) / value(last layer)``, e.g. of gradient norms: orders of magnitude
    below 1 is the vanishing gradient of deep sigmoid nets; near 1 is healthy.
    Returns ``inf`` when the last value is 0 and the first is not, ``nan`` when both are 0."""
    a = float(first_layer(values)[1])
    b = float(last_layer(values)[1])
    if b == 0.0:
        return float("nan") if a == 0.0 else float("inf")
    return a / b


class record_forward_order:
    """Context manager: the layers (modules owning parameters) in the order their forward
    passes *finish* during the forward passes run inside it.

        with record_forward_order(model) as order:
            model(x)
        order   # ["0", "2", "4"]

    Registration order already is forward order for ``Sequential`` models and the ``nn``
    builders; this is for hand-written models that register layers in another order.
    A module owning parameters *and* children finishes after its children.
    """

    def __init__(self, model):
        self.model = model
        self.order: list = []
        self._handles = []

    def __enter__(self) -> list:
        seen = set()
        for name, m in self.model.named_modules():
            if any(p is not None for p in getattr(m, "_parameters", {}).values()):
                name = name or ROOT

                def hook(module, inputs, output, name=name):
                    if name not in seen:
                        seen.add(name)
                        self.order.append(name)
                self._handles.append(m.register_forward_hook(hook))
        return self.order

    def __exit__(self, *exc):
        for h in self._handles:
            h.remove()
        self._handles = []


def reorder(values: dict, order) -> OrderedDict:
    """``values`` with the keys in ``order`` first (in that order), the others after, unchanged."""
    out = OrderedDict((k, values[k]) for k in order if k in values)
    for k, v in values.items():
        if k not in out:
            out[k] = v
    return out
