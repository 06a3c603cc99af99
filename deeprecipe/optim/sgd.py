"""SGD, SGD with momentum, Nesterov momentum, the lecture's momentum form, and SGDW.

Update rules (γ = lr, λ = weight_decay, μ = momentum, τ = dampening; torch ``sgd.py``):

    g ← g + λθ
    b ← g                      on a parameter's first step (no dampening), else
    b ← μb + (1−τ)g
    d ← g + μb  (nesterov)     or  d ← b
    θ ← θ − γd

Nesterov (Sutskever et al. 2013, http://proceedings.mlr.press/v28/sutskever13.html) in
this form stores the look-ahead point, so only one copy of θ is kept.

The lecture's (and Keras's) momentum, ``form='lecture'``:  v ← μv − γg,  θ ← θ + v
(Nesterov: θ ← θ + μv − γg).  With a constant lr it is the same trajectory as torch's
(v = −γb); under a schedule it is not: torch rescales the whole accumulated buffer by the
*current* lr, the lecture's form keeps past steps at the lr they were taken with.
"""
from __future__ import annotations

from . import _validate as V
from ._ops import add_scaled_, prepare_grad_
from .optimizer import Optimizer


def sgd_update(param, grad, buf, *, step, lr, momentum, dampening, nesterov, weight_decay, maximize, tmp, xp):
    """torch's SGD on flat arrays, in place.  ``grad`` is the optimizer's own copy (it is
    modified); ``buf`` is the momentum buffer (unused when momentum is 0)."""
    g = grad
    prepare_grad_(param, g, lr=lr, weight_decay=weight_decay, maximize=maximize, tmp=tmp, xp=xp)
    d = g
    if momentum:
        if step == 1:
            buf[...] = g
        else:
            buf *= momentum
            add_scaled_(buf, g, 1 - dampening, tmp, xp)
        if nesterov:
            add_scaled_(g, buf, momentum, tmp, xp)
        else:
            d = buf
    add_scaled_(param, d, -lr, tmp, xp)


def lecture_momentum_update(param, grad, velocity, *, lr, momentum, nesterov, weight_decay, maximize, tmp, xp):
    """The lecture's momentum: v ← μv − γg, θ ← θ + v (Nesterov: θ ← θ + μv − γg)."""
    g = grad
    prepare_grad_(param, g, lr=lr, weight_decay=weight_decay, maximize=maximize, tmp=tmp, xp=xp)
    velocity *= momentum
    add_scaled_(velocity, g, -lr, tmp, xp)
    if nesterov:
        add_scaled_(param, velocity, momentum, tmp, xp)
        add_scaled_(param, g, -lr, tmp, xp)
    else:
        param += velocity


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum — torch.optim.SGD.

    Args:
        params: parameters or parameter groups.
        lr: learning rate γ (torch's default 1e-3).
        momentum: μ (0 = plain SGD).
        dampening: τ, scales the new gradient in the buffer by (1−τ) after the first step.
        weight_decay: λ, coupled L2 (g ← g + λθ).
        nesterov: Nesterov momentum (needs momentum > 0 and dampening = 0).
        maximize: ascend instead of descend.
        form: ``'torch'`` (buffer of gradients, scaled by the current lr) or ``'lecture'``
            (velocity v ← μv − γg, θ ← θ + v; no dampening).
        transforms, denormal_guard: see ``Optimizer``.
    """

    _state_names = ("momentum_buffer", "velocity")
    _checks = {"form": V.choice({"torch", "lecture"})}

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, *,
                 maximize=False, form="torch", transforms=None, denormal_guard=16):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, form=form)
        super().__init__(params, defaults, transforms=transforms, denormal_guard=denormal_guard)

    def _check_group(self, group):
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"{type(self).__name__}: Nesterov momentum requires momentum > 0 and dampening = 0, "
                             f"got momentum={group['momentum']}, dampening={group['dampening']}")
        if group["form"] == "lecture" and group["dampening"] != 0:
            raise ValueError(f"{type(self).__name__}: form='lecture' has no dampening; got dampening={group['dampening']}")

    def _modifies_grad(self, group):
        return super()._modifies_grad(group) or bool(group["nesterov"])

    def _update(self, group, run):
        xp = run.xp
        if group["form"] == "lecture" and group["momentum"]:
            lecture_momentum_update(run.param, run.grad, run.state("velocity"), lr=group["lr"],
                                    momentum=group["momentum"], nesterov=group["nesterov"],
                                    weight_decay=group["weight_decay"], maximize=group["maximize"],
                                    tmp=run.tmp(), xp=xp)
            return
        buf = run.state("momentum_buffer") if group["momentum"] else None
        sgd_update(run.param, run.grad, buf, step=run.step, lr=group["lr"], momentum=group["momentum"],
                   dampening=group["dampening"], nesterov=group["nesterov"], weight_decay=group["weight_decay"],
                   maximize=group["maximize"], tmp=run.tmp(), xp=xp)


class SGDW(SGD):
    """SGD with decoupled weight decay (Loshchilov & Hutter 2019, https://arxiv.org/abs/1711.05101):

        θ ← θ(1 − γλ);  then torch's momentum (b ← g first, b ← μb + (1−τ)g);  θ ← θ − γb

    (kozistr/pytorch_optimizer 4.1.0 semantics; some third-party SGDWs subtract a constant
    instead of decaying θ, which is wrong.)  With momentum 0 this equals SGD with coupled
    L2 of the same λ — the decay differs from L2 only through the momentum buffer.
    """

    _state_names = ("momentum_buffer",)

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, *,
                 maximize=False, transforms=None, denormal_guard=16):
        Optimizer.__init__(self, params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                              weight_decay=weight_decay, nesterov=nesterov, maximize=maximize),
                           transforms=transforms, denormal_guard=denormal_guard)

    def _check_group(self, group):
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"SGDW: Nesterov momentum requires momentum > 0 and dampening = 0, "
                             f"got momentum={group['momentum']}, dampening={group['dampening']}")

    def _modifies_grad(self, group):
        return bool(group["maximize"]) or bool(group["nesterov"])   # its decay is decoupled

    def _update(self, group, run):
        decay = group["lr"] * group["weight_decay"]
        if decay:
            run.param *= 1 - decay
        buf = run.state("momentum_buffer") if group["momentum"] else None
        sgd_update(run.param, run.grad, buf, step=run.step, lr=group["lr"], momentum=group["momentum"],
                   dampening=group["dampening"], nesterov=group["nesterov"], weight_decay=0.0,
                   maximize=group["maximize"], tmp=run.tmp(), xp=run.xp)
