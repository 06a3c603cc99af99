"""AdaBound and AMSBound (Luo et al. 2019, https://openreview.net/forum?id=Bkg3g2R9FX),
the reference implementation's semantics (github.com/Luolc/AdaBound):

    g ← g + λθ
    m ← β1m + (1−β1)g;  v ← β2v + (1−β2)g²   (AMSBound: v_max ← max(v_max, v), used below)
    d = √v + ε;  α_t = γ√bc2/bc1
    η* = final_lr · γ/γ₀      (γ₀ = the group's lr when the optimizer was built)
    lower = η*(1 − 1/(gamma·t + 1)),  upper = η*(1 + 1/(gamma·t))
    θ ← θ − clip(α_t/d, lower, upper) ⊙ m

Early on the bounds are wide (Adam); they close in on η* (SGD with lr η*) as t grows.
"""
from __future__ import annotations

from . import _validate as V
from .optimizer import Optimizer, hyperparameters
from .rule import AddL2, Rule, add_scaled_, ema_sq_, second_moment_


class ScaleByAdaBound(Rule):
    """u = clip(α_t/d, lower, upper)⊙m, applied as θ −= u.  The group state keeps γ₀, the
    lr at construction, which the bounds are scaled by."""

    state_names = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    checks = {"betas": V.betas, "final_lr": V.non_negative, "gamma": V.non_negative, "eps": V.non_negative,
              "amsbound": V.boolean, "lr": V.non_negative}

    def init_group(self, hp):
        if hp["lr"] <= 0:
            raise ValueError("AdaBound needs lr > 0: its bounds scale with lr / initial lr")
        return {"base_lr": float(hp["lr"])}

    def update(self, u, state, params, step, hp):
        xp, tmp = state.xp, state.tmp(0)
        beta1, beta2 = hp["betas"]
        lr = hp["lr"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg *= beta1
        add_scaled_(exp_avg, u, 1 - beta1, tmp, xp)
        ema_sq_(exp_avg_sq, u, beta2, tmp, xp)
        second = second_moment_(exp_avg_sq, state["max_exp_avg_sq"] if hp["amsbound"] else None,
                                hp["amsbound"], xp)
        xp.sqrt(second, out=tmp)
        tmp += hp["eps"]
        step_size = lr * (1 - beta2 ** step) ** 0.5 / (1 - beta1 ** step)
        eta = hp["final_lr"] * lr / state.group["base_lr"]
        lower = eta * (1 - 1 / (hp["gamma"] * step + 1))
        upper = eta * (1 + 1 / (hp["gamma"] * step))
        xp.divide(step_size, tmp, out=tmp)
        xp.clip(tmp, lower, upper, out=tmp)
        tmp *= exp_avg
        return tmp, -1.0


class AdaBound(Optimizer):
    """AdaBound: Adam with per-element step sizes clipped into bounds that converge to
    ``final_lr`` (scaled with the current lr relative to the initial one).

    Args:
        lr: γ (1e-3).  betas: (0.9, 0.999).  final_lr: η* of SGD at the end (0.1).
        gamma: speed of the bound convergence (1e-3).  eps: 1e-8.  weight_decay: coupled L2 λ.
        amsbound: use the running max of v (AMSBound).
    """

    rules = (AddL2(), ScaleByAdaBound())

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), final_lr=0.1, gamma=1e-3, eps=1e-8, weight_decay=0.0,
                 amsbound=False, *, transforms=None, denormal_guard=16):
        super().__init__(params, hyperparameters(locals()), transforms=transforms, denormal_guard=denormal_guard)


class AMSBound(AdaBound):
    """AdaBound with the running maximum of v (``AdaBound(..., amsbound=True)``)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), final_lr=0.1, gamma=1e-3, eps=1e-8, weight_decay=0.0,
                 *, transforms=None, denormal_guard=16):
        super().__init__(params, lr=lr, betas=betas, final_lr=final_lr, gamma=gamma, eps=eps,
                         weight_decay=weight_decay, amsbound=True, transforms=transforms,
                         denormal_guard=denormal_guard)
