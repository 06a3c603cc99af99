"""Adam (Kingma & Ba 2015, https://arxiv.org/abs/1412.6980), AMSGrad (Reddi et al. 2018,
https://openreview.net/forum?id=ryQu7f-RZ) and AdamW (Loshchilov & Hutter 2019,
https://arxiv.org/abs/1711.05101), torch semantics:

    AdamW: θ ← θ(1 − γλ)        Adam: g ← g + λθ
    m ← β1·m + (1−β1)·g
    v ← β2·v + (1−β2)·g²
    amsgrad: v_max ← max(v_max, v)  (of the raw v, as torch; optax takes the max of the
             bias-corrected v̂ and the paper uses no bias correction — different trajectories)
    θ ← θ − (γ/bc1) · m / (√v/√bc2 + ε),   bc1 = 1−β1^t, bc2 = 1−β2^t

ε is added after bias-correcting √v (the paper's form); Keras/Saito/DeZero add it to √v
("ε-hat"), a ~1e-7 relative difference over 50 steps at ε = 1e-8.  The update is computed
as θ ← θ − (γ√bc2/bc1)·m/(√v + ε√bc2), the same number with one pass fewer over the arrays.

The chain: ``Maximize, AddL2 | DecayWeights, ScaleByAdam, ScaleByLR`` (optax's
``adamw = chain(scale_by_adam, add_decayed_weights, scale_by_lr)``, with torch's order:
the decoupled decay acts on θ before the Adam step).
"""
from __future__ import annotations

from . import _validate as V
from .optimizer import Optimizer, hyperparameters
from .rule import AddL2, DecayWeights, Maximize, Rule, ScaleByLR, as_scalar, ema_sq_, lerp_, second_moment_


def adam_moments_(exp_avg, exp_avg_sq, g, beta1: float, beta2: float, step: int, tmp, xp) -> tuple:
    """Adam's moment estimates, in place and rounded as torch's Adam does:
    m ← β1·m + (1−β1)·g (a lerp), v ← β2·v + (1−β2)·g².  Returns the bias corrections
    ``(1 − β1^t, 1 − β2^t)`` for step ``t``."""
    lerp_(exp_avg, g, 1 - beta1, tmp, xp)
    ema_sq_(exp_avg_sq, g, beta2, tmp, xp)
    return 1 - beta1 ** step, 1 - beta2 ** step


class ScaleByAdam(Rule):
    """u = m̂/(√v̂ + ε) (optax's ``scale_by_adam``; AMSGrad with ``hp['amsgrad']``).

    Returned as ``(m/(√v + ε√bc2), √bc2/bc1)``: folding √bc2 into the scalars saves a pass
    over the arrays (the result differs from torch's order by rounding only)."""

    state_names = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    checks = {"betas": V.betas, "eps": V.non_negative, "amsgrad": V.boolean}
    capturable = True   # bc1, bc2 are array arithmetic on the step count when it is a device array

    def update(self, u, state, params, step, hp):
        beta1, beta2 = hp["betas"]
        xp, tmp = state.xp, state.tmp(0)
        bc1, bc2 = adam_moments_(state["exp_avg"], state["exp_avg_sq"], u, beta1, beta2, step, tmp, xp)
        second = second_moment_(state["exp_avg_sq"], state["max_exp_avg_sq"] if hp["amsgrad"] else None,
                                hp["amsgrad"], xp)
        bc2_sqrt = bc2 ** 0.5
        xp.sqrt(second, out=tmp)
        tmp += as_scalar(hp["eps"] * bc2_sqrt, tmp)
        xp.divide(state["exp_avg"], tmp, out=tmp)
        return tmp, bc2_sqrt / bc1


class Adam(Optimizer):
    """torch.optim.Adam (``amsgrad=True``: AMSGrad; ``decoupled_weight_decay=True``: AdamW).

    Args:
        lr: γ (1e-3).  betas: (β1, β2) = (0.9, 0.999).  eps: ε (1e-8).
        weight_decay: λ, coupled L2 (added to g, then divided by √v̂+ε like the gradient).
        amsgrad: keep the running maximum of v.
        capturable: keep the step count, the bias corrections and the lr in device arrays
            updated by array ops only (torch's ``capturable``), so that the step can be
            captured in a CUDA graph and replayed (``deeprecipe.train.cuda_graph``); same
            trajectory as ``capturable=False``.
    """

    rules = (Maximize(), AddL2(), DecayWeights(always=False), ScaleByAdam(), ScaleByLR())

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, *,
                 maximize=False, decoupled_weight_decay=False, capturable=False, transforms=None,
                 denormal_guard=16):
        super().__init__(params, hyperparameters(locals()), transforms=transforms, denormal_guard=denormal_guard)


class AdamW(Adam):
    """torch.optim.AdamW: Adam with decoupled weight decay θ ← θ(1 − γλ) (default λ = 1e-2)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, capturable=False, transforms=None, denormal_guard=16):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize, decoupled_weight_decay=True, capturable=capturable, transforms=transforms,
                         denormal_guard=denormal_guard)
