"""In-place array helpers shared by the update rules, written to round like torch's kernels."""
from __future__ import annotations


def lerp_(a, b, w: float, t, xp) -> None:
    """a ← a + w·(b − a), in place (``t`` is scratch).

    torch's ``lerp_`` uses ``a + w(b−a)`` for |w| < 0.5 and ``b − (b−a)(1−w)`` otherwise
    (with ``1−w`` computed in the array's precision); we do the same, so that float32
    trajectories stay within rounding of torch's."""
    xp.subtract(b, a, out=t)
    if abs(w) < 0.5:
        t *= w
        a += t
    else:
        one = a.dtype.type(1)
        t *= one - a.dtype.type(w)
        xp.subtract(b, t, out=a)


def add_scaled_(a, b, alpha: float, t, xp) -> None:
    """a ← a + alpha·b (torch's ``a.add_(b, alpha=alpha)``), ``t`` scratch."""
    xp.multiply(b, alpha, out=t)
    a += t


def ema_sq_(v, g, beta: float, t, xp) -> None:
    """v ← β·v + (1−β)·g² (torch's ``v.mul_(β).addcmul_(g, g, value=1−β)``)."""
    v *= beta
    xp.multiply(g, 1 - beta, out=t)
    t *= g
    v += t


def prepare_grad_(param, grad, *, lr: float, weight_decay: float, maximize: bool, tmp, xp,
                  decoupled: bool = False) -> None:
    """The preamble every torch update rule shares, in place on the optimizer's own copy
    ``grad``: negate it for ``maximize``; then weight decay λ, coupled (L2: g ← g + λθ)
    or ``decoupled`` (AdamW-style: θ ← θ(1 − γλ), the gradient untouched)."""
    if maximize:
        xp.negative(grad, out=grad)
    if weight_decay:
        if decoupled:
            param *= 1 - lr * weight_decay
        else:
            add_scaled_(grad, param, weight_decay, tmp, xp)


def adam_moments_(exp_avg, exp_avg_sq, g, beta1: float, beta2: float, step: int, tmp, xp) -> tuple:
    """Adam's moment estimates, in place and rounded as torch's Adam does:
    m ← β1·m + (1−β1)·g (a lerp), v ← β2·v + (1−β2)·g².  Returns the bias corrections
    ``(1 − β1^t, 1 − β2^t)`` for step ``t``."""
    lerp_(exp_avg, g, 1 - beta1, tmp, xp)
    ema_sq_(exp_avg_sq, g, beta2, tmp, xp)
    return 1 - beta1 ** step, 1 - beta2 ** step


def second_moment_(exp_avg_sq, max_exp_avg_sq, use_max: bool, xp):
    """The second moment an update divides by: ``v``, or with AMSGrad/AMSBound the running
    maximum ``v_max ← max(v_max, v)`` (of the raw ``v``, as torch), updated in place."""
    if not use_max:
        return exp_avg_sq
    xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
    return max_exp_avg_sq
