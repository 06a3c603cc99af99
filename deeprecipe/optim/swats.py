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

from . import _validate as V
from .optimizer import Optimizer, hyperparameters
from .rule import AddL2, Rule, add_scaled_, ema_sq_


class SwitchAdamToSGD(Rule):
    """SWATS's step: Adam until the projected SGD lr settles, then SGD with momentum.

    Applied to θ directly; not blockwise, because the switch needs the dot products p·g and
    p·p over the whole group (accumulated over runs, decided in ``finish_group``)."""

    state_names = ("exp_avg", "exp_avg_sq", "momentum_buffer")
    checks = {"betas": V.betas, "eps": V.non_negative, "lr": V.non_negative}
    blockwise = False

    def init_group(self, hp):
        return {"phase": "adam", "exp_avg2": 0.0, "switch_step": 0}

    def update(self, u, state, params, step, hp):
        xp, tmp = state.xp, state.tmp(0)
        beta1, beta2 = hp["betas"]
        lr, eps = hp["lr"], hp["eps"]
        gs = state.group
        if gs["phase"] == "sgd":
            buf = state["momentum_buffer"]
            buf *= beta1
            buf += u
            add_scaled_(params, buf, -lr * (1 - beta1), tmp, xp)
            return None
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= beta1
        add_scaled_(m, u, 1 - beta1, tmp, xp)
        ema_sq_(v, u, beta2, tmp, xp)
        p = state.tmp(1)
        xp.sqrt(v, out=p)
        p += eps
        xp.divide(m, p, out=p)
        p *= -(lr * (1 - beta2 ** step) ** 0.5 / (1 - beta1 ** step))
        params += p
        gs["_pg"] = gs.get("_pg", 0.0) + float(xp.dot(p, u))
        gs["_pp"] = gs.get("_pp", 0.0) + float(xp.dot(p, p))
        return None

    def finish_group(self, gs, hp, step):
        pg, pp = gs.pop("_pg", 0.0), gs.pop("_pp", 0.0)
        if gs["phase"] != "adam" or pg == 0.0:
            return
        beta2 = hp["betas"][1]
        eps = hp["eps"]
        gamma_k = pp / -pg
        gs["exp_avg2"] = beta2 * gs["exp_avg2"] + (1 - beta2) * gamma_k
        corrected = gs["exp_avg2"] / (1 - beta2 ** step)
        if step > 1 and corrected > 0 and abs(corrected - gamma_k) <= 1e-8 + eps * abs(gamma_k):
            gs["phase"] = "sgd"
            gs["switch_step"] = step
            hp["lr"] = corrected


class SWATS(Optimizer):
    """Adam that hands over to SGD with momentum once its projected step size settles.

    Args:
        lr: γ (1e-3).  betas: (β1, β2) = (0.9, 0.999).  eps: ε (1e-6, used in the Adam
        denominator and in the switching tolerance).  weight_decay: coupled L2 λ.

    ``phase(group_index)`` says ``'adam'`` or ``'sgd'``; after the switch ``group['lr']``
    holds the learned SGD learning rate Λ.
    """

    rules = (AddL2(), SwitchAdamToSGD())

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0, *, transforms=None,
                 denormal_guard=16):
        super().__init__(params, hyperparameters(locals()), transforms=transforms, denormal_guard=denormal_guard)

    def phase(self, group_index: int = 0) -> str:
        return self._group_state[group_index]["phase"]
