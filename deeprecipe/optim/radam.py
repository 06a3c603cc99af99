"""RAdam (Liu et al. 2020, https://arxiv.org/abs/1908.03265), torch semantics:

    g ← g + λθ   (or θ ← θ(1 − γλ) with decoupled_weight_decay)
    m ← β1m + (1−β1)g;  v ← β2v + (1−β2)g²;  m̂ = m/bc1
    ρ∞ = 2/(1−β2) − 1;  ρ_t = ρ∞ − 2tβ2^t/bc2
    ρ_t > 5:  l_t = √bc2/(√v + ε),  r_t = √[(ρ_t−4)(ρ_t−2)ρ∞ / ((ρ∞−4)(ρ∞−2)ρ_t)],
              θ ← θ − γ·m̂·l_t·r_t
    else:     θ ← θ − γ·m̂           (SGD with momentum while the variance is not tractable)

With β2 = 0.999 rectification starts at t = 6.
"""
from __future__ import annotations

from . import _validate as V
from .adam import adam_moments_
from .optimizer import Optimizer, hyperparameters
from .rule import AddL2, DecayWeights, Maximize, Rule


class ScaleByRAdam(Rule):
    """u = γ·m̂·l_t·r_t once ρ_t > 5, else γ·m̂, returned with the factor −1 (applied as
    θ −= u, the order of torch's kernel)."""

    state_names = ("exp_avg", "exp_avg_sq")
    checks = {"betas": V.betas, "eps": V.non_negative, "lr": V.non_negative}

    def update(self, u, state, params, step, hp):
        xp, tmp, upd = state.xp, state.tmp(0), state.tmp(1)
        beta1, beta2 = hp["betas"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        bc1, bc2 = adam_moments_(exp_avg, exp_avg_sq, u, beta1, beta2, step, tmp, xp)
        xp.divide(exp_avg, bc1, out=upd)   # m̂
        upd *= hp["lr"]
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2 ** step) / bc2
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            xp.sqrt(exp_avg_sq, out=tmp)
            tmp += hp["eps"]
            xp.divide(bc2 ** 0.5, tmp, out=tmp)   # adaptive lr l_t
            upd *= tmp
            upd *= rect
        return upd, -1.0


class RAdam(Optimizer):
    """torch.optim.RAdam: Adam whose adaptive step is switched on (and rectified) only once
    the variance of the adaptive lr is tractable.

    Args:
        lr: 1e-3.  betas: (0.9, 0.999).  eps: 1e-8.  weight_decay: λ.
        decoupled_weight_decay: AdamW-style decay.
    """

    rules = (Maximize(), AddL2(), DecayWeights(always=False), ScaleByRAdam())

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 decoupled_weight_decay=False, *, maximize=False, transforms=None, denormal_guard=16):
        super().__init__(params, hyperparameters(locals()), transforms=transforms, denormal_guard=denormal_guard)
