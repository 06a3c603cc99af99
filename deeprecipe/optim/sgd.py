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
from .optimizer import Optimizer, hyperparameters
from .rule import AddL2, DecayWeights, Maximize, Rule, ScaleByLR, Trace, add_scaled_, check_nesterov


class LectureMomentum(Rule):
    """The lecture's momentum: v ← μv − γg, θ ← θ + v (Nesterov: θ ← θ + μv − γg).
    The lr is inside the velocity, so this rule ends the chain (no ``ScaleByLR``)."""

    state_names = ("velocity",)
    checks = {"momentum": V.non_negative, "nesterov": V.boolean, "lr": V.non_negative}

    def update(self, u, state, params, step, hp):
        v, xp, tmp = state["velocity"], state.xp, state.tmp(0)
        lr, momentum = hp["lr"], hp["momentum"]
        v *= momentum
        add_scaled_(v, u, -lr, tmp, xp)
        if not hp["nesterov"]:
            return v, 1.0
        add_scaled_(params, v, momentum, tmp, xp)   # θ + μv, then − γg: torch's rounding order
        add_scaled_(params, u, -lr, tmp, xp)
        return None


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
        capturable: step count and lr in device arrays, for CUDA-graph capture (``form='torch'``
            only; see ``Adam``).
        transforms, denormal_guard: see ``Optimizer``.
    """

    _decay = AddL2()   # SGDW: DecayWeights()
    _checks = {"form": V.choice({"torch", "lecture"})}

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, *,
                 maximize=False, form="torch", capturable=False, transforms=None, denormal_guard=16):
        self.rules = (Maximize(), self._decay, Trace(), ScaleByLR())
        self._lecture_rules = (Maximize(), self._decay, LectureMomentum())
        super().__init__(params, hyperparameters(locals()), transforms=transforms, denormal_guard=denormal_guard)

    def chain(self, hp):
        return self._lecture_rules if hp["form"] == "lecture" and hp["momentum"] else self.rules

    def all_rules(self):
        return self.rules + self._lecture_rules[2:]

    def _check_group(self, group):
        check_nesterov(type(self).__name__, group)
        if group["form"] == "lecture" and group["dampening"] != 0:
            raise ValueError(f"{type(self).__name__}: form='lecture' has no dampening; "
                             f"got dampening={group['dampening']}")


class SGDW(SGD):
    """SGD with decoupled weight decay (Loshchilov & Hutter 2019, https://arxiv.org/abs/1711.05101):

        θ ← θ(1 − γλ);  then torch's momentum (b ← g first, b ← μb + (1−τ)g);  θ ← θ − γb

    (kozistr/pytorch_optimizer 4.1.0 semantics; some third-party SGDWs subtract a constant
    instead of decaying θ, which is wrong.)  With momentum 0 this equals SGD with coupled
    L2 of the same λ — the decay differs from L2 only through the momentum buffer.
    SGD's chain with ``DecayWeights`` in place of ``AddL2``.
    """

    _decay = DecayWeights()

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, *,
                 maximize=False, capturable=False, transforms=None, denormal_guard=16):
        super().__init__(params, lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                         nesterov=nesterov, maximize=maximize, capturable=capturable, transforms=transforms,
                         denormal_guard=denormal_guard)
