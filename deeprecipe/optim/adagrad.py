"""Adagrad (Duchi, Hazan & Singer 2011, https://jmlr.org/papers/v12/duchi11a.html), torch semantics:

    g ← g + λθ
    η_t = γ / (1 + (t−1)·lr_decay)
    s ← s + g²                      (s starts at initial_accumulator_value)
    θ ← θ − η_t · g / (√s + ε)      (ε outside the root; torch's default 1e-10)
"""
from __future__ import annotations

from ._ops import prepare_grad_
from .optimizer import Optimizer


def adagrad_update(param, grad, state_sum, *, step, lr, lr_decay, weight_decay, eps, maximize, tmp, xp):
    g = grad
    prepare_grad_(param, g, lr=lr, weight_decay=weight_decay, maximize=maximize, tmp=tmp, xp=xp)
    clr = lr / (1 + (step - 1) * lr_decay)
    xp.multiply(g, g, out=tmp)
    state_sum += tmp
    xp.sqrt(state_sum, out=tmp)
    tmp += eps
    xp.divide(g, tmp, out=tmp)
    tmp *= -clr
    param += tmp


class Adagrad(Optimizer):
    """torch.optim.Adagrad: per-element learning rates from the sum of squared gradients.

    Args:
        lr: γ (default 1e-2).  lr_decay: decay of γ with the step count.
        weight_decay: coupled L2 λ.  initial_accumulator_value: start of s.
        eps: ε added to √s (default 1e-10; Saito's AdaGrad uses 1e-7).
    """

    _state_names = ("sum",)

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10,
                 *, maximize=False, transforms=None, denormal_guard=16):
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps, maximize=maximize)
        super().__init__(params, defaults, transforms=transforms, denormal_guard=denormal_guard)

    def _state_init_value(self, name, group):
        return group["initial_accumulator_value"]

    def _update(self, group, run):
        s = run.state("sum", group["initial_accumulator_value"])
        adagrad_update(run.param, run.grad, s, step=run.step, lr=group["lr"], lr_decay=group["lr_decay"],
                       weight_decay=group["weight_decay"], eps=group["eps"], maximize=group["maximize"],
                       tmp=run.tmp(), xp=run.xp)
