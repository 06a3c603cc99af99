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

from . import _validate as V
from .adam import adam_moments_
from .optimizer import Optimizer, hyperparameters
from .rule import AddL2, DecayWeights, Maximize, Rule


class NAdamStep(Rule):
    """NAdam's two-term step, applied to θ directly (each term rounded as torch's kernel):
    θ ← θ − γ(1−μ_t)/(1−Π_t)·g/d − γμ_{t+1}/(1−Π_tμ_{t+1})·m/d.  Keeps Π_t as ``mu_product``."""

    state_names = ("exp_avg", "exp_avg_sq")
    scalars = {"mu_product": 1.0}
    checks = {"betas": V.betas, "eps": V.non_negative, "momentum_decay": V.non_negative, "lr": V.non_negative}

    def update(self, u, state, params, step, hp):
        xp, tmp, denom = state.xp, state.tmp(0), state.tmp(1)
        beta1, beta2 = hp["betas"]
        lr, psi = hp["lr"], hp["momentum_decay"]
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * psi)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * psi)))
        scalar = params.dtype.type
        mu_product = float(scalar(state.scalar("mu_product")) * scalar(mu))
        exp_avg = state["exp_avg"]
        _, bc2 = adam_moments_(exp_avg, state["exp_avg_sq"], u, beta1, beta2, step, tmp, xp)
        xp.divide(state["exp_avg_sq"], bc2, out=denom)
        xp.sqrt(denom, out=denom)
        denom += hp["eps"]
        xp.divide(u, denom, out=tmp)
        tmp *= -lr * (1.0 - mu) / (1.0 - mu_product)
        params += tmp
        xp.divide(exp_avg, denom, out=tmp)
        tmp *= (-lr * mu_next) / (1.0 - mu_product * mu_next)
        params += tmp
        state.set_scalar("mu_product", mu_product)
        return None


class NAdam(Optimizer):
    """torch.optim.NAdam: Adam with Nesterov momentum and a warming-up momentum schedule.

    Args:
        lr: γ (2e-3).  betas: (0.9, 0.999).  eps: 1e-8.  weight_decay: λ.
        momentum_decay: ψ (4e-3).  decoupled_weight_decay: AdamW-style decay (NAdamW).
    """

    rules = (Maximize(), AddL2(), DecayWeights(always=False), NAdamStep())

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, maximize=False, transforms=None, denormal_guard=16):
        super().__init__(params, hyperparameters(locals()), transforms=transforms, denormal_guard=denormal_guard)
