"""NAdam (Dozat 2016, https://openreview.net/forum?id=OM0jvwB8jIp57ZJjtNEZ), torch semantics:

    g ← g + λθ   (or θ ← θ(1 − γλ) with decoupled_weight_decay)
    μ_t = β1(1 − ½·0.96^{tψ}),  μ_{t+1} likewise,  Π_t = Π_{t−1}·μ_t
    m ← β1m + (1−β1)g;  v ← β2v + (1−β2)g²;  d = √(v/bc2) + ε
    θ ← θ − γ(1−μ_t)/(1−Π_t) · g/d − γμ_{t+1}/(1−Π_t·μ_{t+1}) · m/d

ψ = momentum_decay (4e-3).  Π_t (``mu_product``) is kept in the parameter's dtype: torch
keeps it in its default scalar dtype (float32 unless the default dtype is float64), so
for float32 parameters this rounds exactly as torch does.  Keras 3 drops ψ; optax's
nadam is Dozat's simpler form.
"""
from __future__ import annotations

from ._ops import adam_moments_, prepare_grad_
from .optimizer import Optimizer


def nadam_update(param, grad, exp_avg, exp_avg_sq, *, step, mu_product, lr, beta1, beta2, eps, weight_decay,
                 momentum_decay, decoupled_weight_decay, maximize, tmp, tmp2, xp) -> float:
    """One NAdam step, in place; returns the new Π_t."""
    g = grad
    prepare_grad_(param, g, lr=lr, weight_decay=weight_decay, maximize=maximize, tmp=tmp, xp=xp,
                  decoupled=decoupled_weight_decay)
    mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
    mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
    scalar = param.dtype.type
    mu_product = float(scalar(mu_product) * scalar(mu))
    _, bias_correction2 = adam_moments_(exp_avg, exp_avg_sq, g, beta1, beta2, step, tmp, xp)
    denom = tmp2
    xp.divide(exp_avg_sq, bias_correction2, out=denom)
    xp.sqrt(denom, out=denom)
    denom += eps
    mu_product_next = mu_product * mu_next
    xp.divide(g, denom, out=tmp)
    tmp *= -lr * (1.0 - mu) / (1.0 - mu_product)
    param += tmp
    xp.divide(exp_avg, denom, out=tmp)
    tmp *= (-lr * mu_next) / (1.0 - mu_product_next)
    param += tmp
    return mu_product


class NAdam(Optimizer):
    """torch.optim.NAdam: Adam with Nesterov momentum and a warming-up momentum schedule.

    Args:
        lr: γ (2e-3).  betas: (0.9, 0.999).  eps: 1e-8.  weight_decay: λ.
        momentum_decay: ψ (4e-3).  decoupled_weight_decay: AdamW-style decay (NAdamW).
    """

    _scalar_init = {"step": 0.0, "mu_product": 1.0}
    _state_names = ("exp_avg", "exp_avg_sq")

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, maximize=False, transforms=None, denormal_guard=16):
        defaults = dict(lr=lr, betas=tuple(betas) if isinstance(betas, list) else betas, eps=eps,
                        weight_decay=weight_decay, momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        super().__init__(params, defaults, transforms=transforms, denormal_guard=denormal_guard)

    def _update(self, group, run):
        beta1, beta2 = group["betas"]
        new = nadam_update(run.param, run.grad, run.state("exp_avg"), run.state("exp_avg_sq"), step=run.step,
                           mu_product=run.scalar("mu_product"), lr=group["lr"], beta1=beta1, beta2=beta2,
                           eps=group["eps"], weight_decay=group["weight_decay"],
                           momentum_decay=group["momentum_decay"],
                           decoupled_weight_decay=group["decoupled_weight_decay"], maximize=group["maximize"],
                           tmp=run.tmp(0), tmp2=run.tmp(1), xp=run.xp)
        run.set_scalar("mu_product", new)

