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

from ._ops import add_scaled_, ema_sq_, second_moment_
from .optimizer import Optimizer


def adabound_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *, step, lr, base_lr, final_lr, gamma,
                    beta1, beta2, eps, weight_decay, amsbound, tmp, xp):
    g = grad
    if weight_decay:
        add_scaled_(g, param, weight_decay, tmp, xp)
    exp_avg *= beta1
    add_scaled_(exp_avg, g, 1 - beta1, tmp, xp)
    ema_sq_(exp_avg_sq, g, beta2, tmp, xp)
    second = second_moment_(exp_avg_sq, max_exp_avg_sq, amsbound, xp)
    xp.sqrt(second, out=tmp)
    tmp += eps
    bias_correction1 = 1 - beta1 ** step
    bias_correction2 = 1 - beta2 ** step
    step_size = lr * bias_correction2 ** 0.5 / bias_correction1
    eta = final_lr * lr / base_lr
    lower = eta * (1 - 1 / (gamma * step + 1))
    upper = eta * (1 + 1 / (gamma * step))
    xp.divide(step_size, tmp, out=tmp)
    xp.clip(tmp, lower, upper, out=tmp)
    tmp *= exp_avg
    param -= tmp


class AdaBound(Optimizer):
    """AdaBound: Adam with per-element step sizes clipped into bounds that converge to
    ``final_lr`` (scaled with the current lr relative to the initial one).

    Args:
        lr: γ (1e-3).  betas: (0.9, 0.999).  final_lr: η* of SGD at the end (0.1).
        gamma: speed of the bound convergence (1e-3).  eps: 1e-8.  weight_decay: coupled L2 λ.
        amsbound: use the running max of v (AMSBound).
    """

    _state_names = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), final_lr=0.1, gamma=1e-3, eps=1e-8, weight_decay=0.0,
                 amsbound=False, *, transforms=None, denormal_guard=16):
        defaults = dict(lr=lr, betas=tuple(betas) if isinstance(betas, list) else betas, final_lr=final_lr,
                        gamma=gamma, eps=eps, weight_decay=weight_decay, amsbound=amsbound)
        super().__init__(params, defaults, transforms=transforms, denormal_guard=denormal_guard)

    def _init_group_state(self, group):
        if group["lr"] <= 0:
            raise ValueError("AdaBound needs lr > 0: its bounds scale with lr / initial lr")
        return {"base_lr": float(group["lr"])}

    def _update_group(self, gi, group, runs):
        base_lr = self._group_state[gi]["base_lr"]
        beta1, beta2 = group["betas"]
        for run in self._blocks(runs, group):
            adabound_update(run.param, run.grad, run.state("exp_avg"), run.state("exp_avg_sq"),
                            run.state("max_exp_avg_sq") if group["amsbound"] else None, step=run.step,
                            lr=group["lr"], base_lr=base_lr, final_lr=group["final_lr"], gamma=group["gamma"],
                            beta1=beta1, beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
                            amsbound=group["amsbound"], tmp=run.tmp(), xp=run.xp)


class AMSBound(AdaBound):
    """AdaBound with the running maximum of v (``AdaBound(..., amsbound=True)``)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), final_lr=0.1, gamma=1e-3, eps=1e-8, weight_decay=0.0,
                 *, transforms=None, denormal_guard=16):
        super().__init__(params, lr=lr, betas=betas, final_lr=final_lr, gamma=gamma, eps=eps,
                         weight_decay=weight_decay, amsbound=True, transforms=transforms,
                         denormal_guard=denormal_guard)
