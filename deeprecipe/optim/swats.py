"""SWATS: switching from Adam to SGD (Keskar & Socher 2017, https://arxiv.org/abs/1712.07628).

Adam phase (per parameter group, t = step, bc = bias corrections, ε outside the root):

    g ← g + λθ;  m ← β1m + (1−β1)g;  v ← β2v + (1−β2)g²
    p = −(γ√bc2/bc1) · m/(√v + ε);   θ ← θ + p
    if p·g ≠ 0:   γ_k = p·p / (−p·g)                 (the SGD lr whose step projects onto p)
                  λ_k = β2·λ_{k−1} + (1−β2)·γ_k;  Λ = λ_k / bc2
    switch to SGD when t > 1, Λ > 0 and |Λ − γ_k| ≤ 1e-8 + ε·|γ_k|, setting the group's lr := Λ

SGD phase:  b ← β1b + g;  θ ← θ − γ(1−β1)·b     (γ = the group's lr, Λ at the switch)

The dot products run over the whole parameter group (the paper's vector form); the
kozistr/pytorch_optimizer implementation computes them per parameter tensor and switches
the group when any tensor meets the criterion — the same thing for a one-tensor group.
On a deterministic quadratic the criterion may never be met: the switching logic is
tested with crafted gradient sequences.
"""
from __future__ import annotations

from ._ops import add_scaled_, ema_sq_
from .optimizer import Optimizer


class SWATS(Optimizer):
    """Adam that hands over to SGD with momentum once its projected step size settles.

    Args:
        lr: γ (1e-3).  betas: (β1, β2) = (0.9, 0.999).  eps: ε (1e-6, used in the Adam
        denominator and in the switching tolerance).  weight_decay: coupled L2 λ.

    ``phase(group_index)`` says ``'adam'`` or ``'sgd'``; after the switch ``group['lr']``
    holds the learned SGD learning rate Λ.
    """

    _state_names = ("exp_avg", "exp_avg_sq", "momentum_buffer")
    _lazy_gather = False   # its update needs whole-group dot products, not blocks

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0, *, transforms=None,
                 denormal_guard=16):
        defaults = dict(lr=lr, betas=tuple(betas) if isinstance(betas, list) else betas, eps=eps,
                        weight_decay=weight_decay)
        super().__init__(params, defaults, transforms=transforms, denormal_guard=denormal_guard)

    def _init_group_state(self, group):
        return {"phase": "adam", "exp_avg2": 0.0, "switch_step": 0}

    def phase(self, group_index: int = 0) -> str:
        return self._group_state[group_index]["phase"]

    def _update_group(self, gi, group, runs):
        gs = self._group_state[gi]
        beta1, beta2 = group["betas"]
        lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
        if gs["phase"] == "sgd":
            for run in runs:
                xp, tmp, g = run.xp, run.tmp(), run.grad
                if wd:
                    add_scaled_(g, run.param, wd, tmp, xp)
                buf = run.state("momentum_buffer")
                buf *= beta1
                buf += g
                add_scaled_(run.param, buf, -lr * (1 - beta1), tmp, xp)
            return
        pg = 0.0
        pp = 0.0
        step = runs[0].step
        for run in runs:
            xp, tmp, g = run.xp, run.tmp(), run.grad
            if wd:
                add_scaled_(g, run.param, wd, tmp, xp)
            m, v = run.state("exp_avg"), run.state("exp_avg_sq")
            m *= beta1
            add_scaled_(m, g, 1 - beta1, tmp, xp)
            ema_sq_(v, g, beta2, tmp, xp)
            bc1 = 1 - beta1 ** run.step
            bc2 = 1 - beta2 ** run.step
            p = run.tmp(1)
            xp.sqrt(v, out=p)
            p += eps
            xp.divide(m, p, out=p)
            p *= -(lr * bc2 ** 0.5 / bc1)
            run.param += p
            pg += float(xp.dot(p, g))
            pp += float(xp.dot(p, p))
        if pg != 0.0:
            gamma_k = pp / -pg
            gs["exp_avg2"] = beta2 * gs["exp_avg2"] + (1 - beta2) * gamma_k
            corrected = gs["exp_avg2"] / (1 - beta2 ** step)
            if step > 1 and corrected > 0 and abs(corrected - gamma_k) <= 1e-8 + eps * abs(gamma_k):
                gs["phase"] = "sgd"
                gs["switch_step"] = step
                group["lr"] = corrected
