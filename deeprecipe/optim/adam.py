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
"""
from __future__ import annotations

from ._ops import adam_moments_, prepare_grad_, second_moment_
from .optimizer import Optimizer


def adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *, step, lr, beta1, beta2, eps, weight_decay,
                decoupled_weight_decay, amsgrad, maximize, tmp, xp):
    """One Adam/AdamW/AMSGrad step on flat arrays, in place (``grad`` is modified)."""
    g = grad
    prepare_grad_(param, g, lr=lr, weight_decay=weight_decay, maximize=maximize, tmp=tmp, xp=xp,
                  decoupled=decoupled_weight_decay)
    bias_correction1, bias_correction2 = adam_moments_(exp_avg, exp_avg_sq, g, beta1, beta2, step, tmp, xp)
    step_size = lr / bias_correction1
    bias_correction2_sqrt = bias_correction2 ** 0.5
    second = second_moment_(exp_avg_sq, max_exp_avg_sq, amsgrad, xp)
    # m/(√v/√bc2 + ε) = √bc2·m/(√v + ε√bc2): folding √bc2 into the scalars saves a pass
    # over the arrays (the result differs from torch's order by rounding only)
    xp.sqrt(second, out=tmp)
    tmp += eps * bias_correction2_sqrt
    xp.divide(exp_avg, tmp, out=tmp)
    tmp *= -step_size * bias_correction2_sqrt
    param += tmp


class Adam(Optimizer):
    """torch.optim.Adam (``amsgrad=True``: AMSGrad; ``decoupled_weight_decay=True``: AdamW).

    Args:
        lr: γ (1e-3).  betas: (β1, β2) = (0.9, 0.999).  eps: ε (1e-8).
        weight_decay: λ, coupled L2 (added to g, then divided by √v̂+ε like the gradient).
        amsgrad: keep the running maximum of v.
    """

    _state_names = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, *,
                 maximize=False, decoupled_weight_decay=False, transforms=None, denormal_guard=16):
        defaults = dict(lr=lr, betas=tuple(betas) if isinstance(betas, list) else betas, eps=eps,
                        weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults, transforms=transforms, denormal_guard=denormal_guard)

    def _update(self, group, run):
        beta1, beta2 = group["betas"]
        adam_update(run.param, run.grad, run.state("exp_avg"), run.state("exp_avg_sq"),
                    run.state("max_exp_avg_sq") if group["amsgrad"] else None,
                    step=run.step, lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
                    weight_decay=group["weight_decay"], decoupled_weight_decay=group["decoupled_weight_decay"],
                    amsgrad=group["amsgrad"], maximize=group["maximize"], tmp=run.tmp(), xp=run.xp)


class AdamW(Adam):
    """torch.optim.AdamW: Adam with decoupled weight decay θ ← θ(1 − γλ) (default λ = 1e-2)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, transforms=None, denormal_guard=16):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize, decoupled_weight_decay=True, transforms=transforms,
                         denormal_guard=denormal_guard)
