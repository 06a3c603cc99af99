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
from .optimizer import Optimizer, hyperparameters
from .rule import AddL2, Maximize, Rule, ScaleByLR, ema_sq_, lerp_


class ScaleByRMS(Rule):
    """u = g/d with d = √s + ε (centered: √(s − ḡ²) + ε); with momentum μ > 0 the update is
    the buffer b ← μb + g/d.  ``init='first_grad'`` starts s at g² (the lecture's σ⁰ = |g⁰|)."""

    state_names = ("square_avg", "grad_avg", "momentum_buffer")
    checks = {"alpha": V.non_negative, "eps": V.non_negative, "momentum": V.non_negative,
              "centered": V.boolean, "init": V.choice({"zeros", "first_grad"})}

    def update(self, u, state, params, step, hp):
        xp, tmp, avg = state.xp, state.tmp(0), state.tmp(1)
        alpha = hp["alpha"]
        square_avg = state["square_avg"]
        if hp["init"] == "first_grad" and step == 1:
            xp.multiply(u, u, out=square_avg)
        else:
            ema_sq_(square_avg, u, alpha, tmp, xp)
        if hp["centered"]:
            grad_avg = state["grad_avg"]
            lerp_(grad_avg, u, 1 - alpha, tmp, xp)   # from 0 in both inits: ḡ = g would make s − ḡ² = 0
            xp.multiply(grad_avg, -1.0, out=avg)    # torch: square_avg.addcmul(grad_avg, grad_avg, value=-1)
            avg *= grad_avg
            avg += square_avg
            xp.sqrt(avg, out=avg)
        else:
            xp.sqrt(square_avg, out=avg)
        avg += hp["eps"]
        xp.divide(u, avg, out=tmp)
        if hp["momentum"] > 0:
            buf = state["momentum_buffer"]
            buf *= hp["momentum"]
            buf += tmp
            return buf
        return tmp


class RMSprop(Optimizer):
    """torch.optim.RMSprop (plain, centered, with momentum).

    Args:
        lr: γ (default 1e-2).  alpha: α, decay of the mean square (0.99).  eps: ε (1e-8).
        weight_decay: coupled L2 λ.  momentum: μ.  centered: divide by the estimated
        standard deviation instead of the root mean square.
        init: ``'zeros'`` (torch: s⁰ = 0) or ``'first_grad'`` (the lecture: σ⁰ = |g⁰|).
    """

    rules = (Maximize(), AddL2(), ScaleByRMS(), ScaleByLR())

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                 *, maximize=False, init="zeros", transforms=None, denormal_guard=16):
        super().__init__(params, hyperparameters(locals()), transforms=transforms, denormal_guard=denormal_guard)
