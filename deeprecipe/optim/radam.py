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

from ._ops import adam_moments_, prepare_grad_
from .optimizer import Optimizer


def radam_update(param, grad, exp_avg, exp_avg_sq, *, step, lr, beta1, beta2, eps, weight_decay,
                 decoupled_weight_decay, maximize, tmp, tmp2, xp):
    g = grad
    prepare_grad_(param, g, lr=lr, weight_decay=weight_decay, maximize=maximize, tmp=tmp, xp=xp,
                  decoupled=decoupled_weight_decay)
    bias_correction1, bias_correction2 = adam_moments_(exp_avg, exp_avg_sq, g, beta1, beta2, step, tmp, xp)
    upd = tmp2
    xp.divide(exp_avg, bias_correction1, out=upd)   # m̂
    upd *= lr
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
    if rho_t > 5.0:
        rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
        xp.sqrt(exp_avg_sq, out=tmp)
        tmp += eps
        xp.divide(bias_correction2 ** 0.5, tmp, out=tmp)   # adaptive lr l_t
        upd *= tmp
        upd *= rect
    param -= upd


class RAdam(Optimizer):
    """torch.optim.RAdam: Adam whose adaptive step is switched on (and rectified) only once
    the variance of the adaptive lr is tractable.

    Args:
        lr: 1e-3.  betas: (0.9, 0.999).  eps: 1e-8.  weight_decay: λ.
        decoupled_weight_decay: AdamW-style decay.
    """

    _state_names = ("exp_avg", "exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 decoupled_weight_decay=False, *, maximize=False, transforms=None, denormal_guard=16):
        defaults = dict(lr=lr, betas=tuple(betas) if isinstance(betas, list) else betas, eps=eps,
                        weight_decay=weight_decay, decoupled_weight_decay=decoupled_weight_decay,
                        maximize=maximize)
        super().__init__(params, defaults, transforms=transforms, denormal_guard=denormal_guard)

    def _update(self, group, run):
        beta1, beta2 = group["betas"]
        radam_update(run.param, run.grad, run.state("exp_avg"), run.state("exp_avg_sq"), step=run.step,
                     lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
                     weight_decay=group["weight_decay"], decoupled_weight_decay=group["decoupled_weight_decay"],
                     maximize=group["maximize"], tmp=run.tmp(0), tmp2=run.tmp(1), xp=run.xp)
