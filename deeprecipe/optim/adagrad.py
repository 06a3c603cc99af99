"""Adagrad (Duchi, Hazan & Singer 2011, https://jmlr.org/papers/v12/duchi11a.html), torch semantics:

    g ← g + λθ
    η_t = γ / (1 + (t−1)·lr_decay)
    s ← s + g²                      (s starts at initial_accumulator_value)
    θ ← θ − η_t · g / (√s + ε)      (ε outside the root; torch's default 1e-10)
"""
from __future__ import annotations

from . import _validate as V
from .optimizer import Optimizer, hyperparameters
from .rule import AddL2, Maximize, Rule, ScaleByLR


class ScaleByAdagrad(Rule):
    """u = g/(√s + ε) after s ← s + g², with the lr decay 1/(1 + (t−1)·lr_decay) as the
    returned scalar (optax's ``scale_by_rss`` with ε outside the root, as torch)."""

    state_names = ("sum",)
    checks = {"lr_decay": V.non_negative, "initial_accumulator_value": V.non_negative, "eps": V.non_negative}

    def init(self, name, hp):
        return hp["initial_accumulator_value"]

    def update(self, u, state, params, step, hp):
        xp, tmp, s = state.xp, state.tmp(0), state["sum"]
        xp.multiply(u, u, out=tmp)
        s += tmp
        xp.sqrt(s, out=tmp)
        tmp += hp["eps"]
        xp.divide(u, tmp, out=tmp)
        return tmp, 1.0 / (1 + (step - 1) * hp["lr_decay"])


class Adagrad(Optimizer):
    """torch.optim.Adagrad: per-element learning rates from the sum of squared gradients.

    Args:
        lr: γ (default 1e-2).  lr_decay: decay of γ with the step count.
        weight_decay: coupled L2 λ.  initial_accumulator_value: start of s.
        eps: ε added to √s (default 1e-10; Saito's AdaGrad uses 1e-7).
    """

    rules = (Maximize(), AddL2(), ScaleByAdagrad(), ScaleByLR())

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10,
                 *, maximize=False, transforms=None, denormal_guard=16):
        super().__init__(params, hyperparameters(locals()), transforms=transforms, denormal_guard=denormal_guard)
