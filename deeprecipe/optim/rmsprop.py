"""RMSProp (Hinton, Coursera lecture 6e, 2012; centered form: Graves 2013,
https://arxiv.org/abs/1308.0850), torch semantics:

    g ← g + λθ
    s ← αs + (1−α)g²
    centered:  ḡ ← αḡ + (1−α)g,  d = √(s − ḡ²) + ε      else  d = √s + ε
    momentum:  b ← μb + g/d,  θ ← θ − γb                 else  θ ← θ − γ·g/d

No bias correction: s starts at 0, so the first step is 1/√(1−α) (10× for α = 0.99)
larger than later ones.  The lecture starts instead from σ⁰ = |g⁰| (``s = g²`` on the
first step, ``init='first_grad'``), which makes the first step γ·sign(g).  The two
coincide when α = 0; otherwise they differ by α^t·g⁰² in s.
"""
from __future__ import annotations

from . import _validate as V
from ._ops import add_scaled_, ema_sq_, lerp_, prepare_grad_
from .optimizer import Optimizer


def rmsprop_update(param, grad, square_avg, grad_avg, momentum_buffer, *, step, lr, alpha, eps, weight_decay,
                   momentum, centered, maximize, first_grad_init, tmp, tmp2, xp):
    g = grad
    prepare_grad_(param, g, lr=lr, weight_decay=weight_decay, maximize=maximize, tmp=tmp, xp=xp)
    if first_grad_init and step == 1:
        xp.multiply(g, g, out=square_avg)
    else:
        ema_sq_(square_avg, g, alpha, tmp, xp)
    avg = tmp2
    if centered:
        lerp_(grad_avg, g, 1 - alpha, tmp, xp)   # from 0 in both inits: ḡ = g would make s − ḡ² = 0
        xp.multiply(grad_avg, -1.0, out=avg)   # torch: square_avg.addcmul(grad_avg, grad_avg, value=-1)
        avg *= grad_avg
        avg += square_avg
        xp.sqrt(avg, out=avg)
    else:
        xp.sqrt(square_avg, out=avg)
    avg += eps
    if momentum > 0:
        xp.divide(g, avg, out=tmp)
        momentum_buffer *= momentum
        momentum_buffer += tmp
        add_scaled_(param, momentum_buffer, -lr, tmp, xp)
    else:
        xp.divide(g, avg, out=tmp)
        tmp *= -lr
        param += tmp


class RMSprop(Optimizer):
    """torch.optim.RMSprop (plain, centered, with momentum).

    Args:
        lr: γ (default 1e-2).  alpha: α, decay of the mean square (0.99).  eps: ε (1e-8).
        weight_decay: coupled L2 λ.  momentum: μ.  centered: divide by the estimated
        standard deviation instead of the root mean square.
        init: ``'zeros'`` (torch: s⁰ = 0) or ``'first_grad'`` (the lecture: σ⁰ = |g⁰|).
    """

    _state_names = ("square_avg", "grad_avg", "momentum_buffer")
    _checks = {"init": V.choice({"zeros", "first_grad"})}

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                 *, maximize=False, init="zeros", transforms=None, denormal_guard=16):
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=centered, maximize=maximize, init=init)
        super().__init__(params, defaults, transforms=transforms, denormal_guard=denormal_guard)

    def _update(self, group, run):
        rmsprop_update(
            run.param, run.grad, run.state("square_avg"),
            run.state("grad_avg") if group["centered"] else None,
            run.state("momentum_buffer") if group["momentum"] > 0 else None,
            step=run.step, lr=group["lr"], alpha=group["alpha"], eps=group["eps"],
            weight_decay=group["weight_decay"], momentum=group["momentum"], centered=group["centered"],
            maximize=group["maximize"], first_grad_init=group["init"] == "first_grad",
            tmp=run.tmp(0), tmp2=run.tmp(1), xp=run.xp)
