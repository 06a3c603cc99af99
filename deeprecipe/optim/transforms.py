"""Gradient transforms: regularizers and gradient surgery that compose with any optimizer.

Size: a catalog of six small transforms sharing one mask/group mechanism, plus the
clipping rule they share with ``clip_grad_norm_``.

Pass them to any optimizer as ``transforms=[...]`` (or one ``chain(...)``); at every
``step()`` they run in the given order on the optimizer's gathered gradient buffer, after
the gradients are collected and before the update rule (whose own ``weight_decay``, torch
style, comes after them).  They never touch ``p.grad``.

    opt = Adam(model.parameters(), lr=1e-3,
               transforms=[ClipGradNorm(1.0), L2Penalty(1e-4, mask=exclude_1d)])

Every transform takes ``mask`` (a predicate ``param -> bool``, or a collection of the
Parameters to include) and ``groups`` (indices of the parameter groups to act on);
the lecture's advice "no decay on biases" is ``mask=exclude_1d``.

=========================  ===============================================================
transform                  effect on the gradient g (parameter θ, group lr γ)
=========================  ===============================================================
``L2Penalty(λ)``           g ← g + λθ   (loss + λ/2‖θ‖²; "coupled" weight decay)
``L1Penalty(λ)``           g ← g + λ·sign(θ), sign(0) = 0   (loss + λ‖θ‖₁)
``DecoupledWeightDecay(λ)``  θ ← θ(1 − γλ) before the update (AdamW's decay for any optimizer)
``ClipGradNorm(c)``        g ← g·min(1, c/(‖g‖+1e-6)), norm over all selected gradients
``ClipGradValue(c)``       g ← clip(g, −c, c)
``GradientNoise(η, γ)``    g ← g + N(0, σ_t²), σ_t² = η/(1+t)^γ  (Neelakantan et al. 2015)
=========================  ===============================================================
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..backend import get_array_module, get_rng
from ..engine import Tensor
from . import _validate as V


def exclude_1d(param) -> bool:
    """Mask predicate: True for weight matrices/kernels, False for biases and
    normalization scales/shifts (1-D or scalar parameters) — the usual "no decay" set."""
    return param.ndim > 1


class GradientTransform:
    """Base class.  Subclasses implement ``_run(group, run, mask)`` (``mask`` is ``None``
    or a 0/1 array over the run's elements) or override ``apply``.

    A ``run`` is a range of one flat buffer's parameters seen as 1-D views: ``run.grad``
    (the optimizer's own copy of the gradients: writable), ``run.param``, ``run.tmp(k)``
    (scratch), ``run.xp``, ``run.size``.  Transforms run on whole runs before the chain of
    rules, because some need every gradient first (the joint norm of ``ClipGradNorm``)."""

    def __init__(self, mask=None, groups=None):
        if mask is not None and not callable(mask):
            try:
                members = list(mask)
            except TypeError:
                raise TypeError("mask must be None, a predicate param -> bool, or a collection of Parameters") from None
            if not all(isinstance(p, Tensor) for p in members):
                raise TypeError("a mask collection must contain Parameters only")
            ids = {id(p) for p in members}
            self._mask_fn = lambda p: id(p) in ids
        else:
            self._mask_fn = mask
        if groups is not None:
            groups = [groups] if isinstance(groups, numbers.Integral) else list(groups)
            if not all(isinstance(g, numbers.Integral) and g >= 0 for g in groups):
                raise ValueError(f"groups must be non-negative group indices, got {groups!r}")
            groups = frozenset(int(g) for g in groups)
        self.groups = groups
        self._masks: dict = {}

    # ------------------------------------------------------------------ masks
    def bind(self, optimizer) -> None:
        """Check that the selected groups exist (called by the optimizer's constructor)."""
        if self.groups is not None:
            n = len(optimizer.param_groups)
            bad = sorted(g for g in self.groups if g >= n)
            if bad:
                raise ValueError(f"{type(self).__name__}: groups {bad} do not exist (the optimizer has {n} groups)")

    def _mask(self, gi: int, seg):
        """None (whole segment), False (none of it) or a 0/1 array over its elements."""
        key = (id(seg), gi)
        if key in self._masks:
            return self._masks[key]
        if self.groups is not None and gi not in self.groups:
            m = False
        elif self._mask_fn is None:
            m = None
        else:
            flags = [bool(self._mask_fn(p)) for p in seg.params]
            if all(flags):
                m = None
            elif not any(flags):
                m = False
            else:
                host = np.repeat(np.asarray(flags, dtype=seg.dtype), np.diff(seg.offsets))
                m = seg.xp.asarray(host)
        self._masks[key] = m
        return m

    def _selected(self, work):
        """(group, run, mask slice) for every run this transform acts on."""
        for gi, group, seg, runs in work:
            m = self._mask(gi, seg)
            if m is False:
                continue
            for run in runs:
                yield group, run, (None if m is None else m[run.lo:run.hi])

    def apply(self, optimizer, work) -> None:
        for group, run, m in self._selected(work):
            self._run(group, run, m)

    def _run(self, group, run, mask) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        return {"transform": type(self).__name__}

    def load_state_dict(self, state: dict) -> None:
        if state.get("transform") != type(self).__name__:
            raise ValueError(f"cannot load the state of a {state.get('transform')} transform into "
                             f"{type(self).__name__}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _add_masked(g, t, mask) -> None:
    """g += t (t a scratch array), restricted to ``mask`` when given."""
    if mask is not None:
        t *= mask
    g += t


class L2Penalty(GradientTransform):
    """Coupled L2 regularization: g ← g + λθ (the gradient of λ/2·‖θ‖²).

    This is torch's ``weight_decay`` in SGD/Adam; inside Adam it is divided by √v̂+ε
    like the rest of the gradient (AdamW's decoupled decay is not)."""

    def __init__(self, weight_decay: float, mask=None, groups=None):
        super().__init__(mask, groups)
        V.non_negative("weight_decay", weight_decay)
        self.weight_decay = float(weight_decay)

    def _run(self, group, run, mask):
        if self.weight_decay:
            t = run.tmp(0)
            run.xp.multiply(run.param, self.weight_decay, out=t)
            _add_masked(run.grad, t, mask)

    def __repr__(self):
        return f"L2Penalty({self.weight_decay})"


class L1Penalty(GradientTransform):
    """L1 regularization: g ← g + λ·sign(θ) (a subgradient of λ‖θ‖₁, with sign(0) = 0)."""

    def __init__(self, l1: float, mask=None, groups=None):
        super().__init__(mask, groups)
        V.non_negative("l1", l1)
        self.l1 = float(l1)

    def _run(self, group, run, mask):
        if self.l1:
            t = run.tmp(0)
            run.xp.sign(run.param, out=t)
            t *= self.l1
            _add_masked(run.grad, t, mask)

    def __repr__(self):
        return f"L1Penalty({self.l1})"


class DecoupledWeightDecay(GradientTransform):
    """Decoupled weight decay (Loshchilov & Hutter 2019, https://arxiv.org/abs/1711.05101):
    θ ← θ(1 − γλ) with the group's current lr γ, before the update rule, for the
    parameters that have a gradient this step — AdamW's decay, for any optimizer."""

    def __init__(self, weight_decay: float, mask=None, groups=None):
        super().__init__(mask, groups)
        V.non_negative("weight_decay", weight_decay)
        self.weight_decay = float(weight_decay)

    def _run(self, group, run, mask):
        factor = group["lr"] * self.weight_decay
        if not factor:
            return
        if mask is None:
            run.param *= 1 - factor
        else:
            t = run.tmp(0)
            run.xp.multiply(run.param, factor, out=t)
            t *= mask
            run.param -= t

    def __repr__(self):
        return f"DecoupledWeightDecay({self.weight_decay})"


class ClipGradNorm(GradientTransform):
    """Rescale the selected gradients so that their joint norm is at most ``max_norm``
    (torch's ``clip_grad_norm_``): coef = max_norm/(norm + 1e-6), applied when < 1.

    A zero gradient stays zero (no division by the norm).  ``last_norm`` holds the norm
    before clipping of the latest step (for monitoring).  A non-finite norm raises when
    ``error_if_nonfinite``; otherwise the gradients are scaled by NaN, as torch does.
    """

    def __init__(self, max_norm: float, norm_type: float = 2.0, mask=None, groups=None,
                 error_if_nonfinite: bool = False):
        super().__init__(mask, groups)
        V.non_negative("max_norm", max_norm)
        if norm_type not in (1, 2, float("inf")):
            raise ValueError(f"norm_type must be 1, 2 or inf, got {norm_type!r}")
        self.max_norm = float(max_norm)
        self.norm_type = float(norm_type)
        self.error_if_nonfinite = bool(error_if_nonfinite)
        self.last_norm = None

    def apply(self, optimizer, work):
        sel = list(self._selected(work))
        parts = []
        for _, run, m in sel:
            g = run.grad
            if m is not None:
                t = run.tmp(0)
                run.xp.multiply(g, m, out=t)
                g = t
            if self.norm_type == 2.0:
                parts.append(float(run.xp.dot(g, g)))
            elif self.norm_type == 1.0:
                parts.append(float(run.xp.abs(g).sum()))
            else:
                parts.append(float(run.xp.abs(g).max()) if g.size else 0.0)
        total = _combine_norms(parts, self.norm_type)
        self.last_norm = total
        coef = clip_coefficient(total, self.max_norm, self.error_if_nonfinite)
        if coef is not None:
            for _, run, m in sel:
                if m is None:
                    run.grad *= coef
                else:
                    t = run.tmp(0)
                    run.xp.multiply(run.grad, coef - 1.0, out=t)
                    t *= m
                    run.grad += t

    def __repr__(self):
        return f"ClipGradNorm({self.max_norm})"


class ClipGradValue(GradientTransform):
    """Clip every selected gradient element into [−clip_value, clip_value]."""

    def __init__(self, clip_value: float, mask=None, groups=None):
        super().__init__(mask, groups)
        V.non_negative("clip_value", clip_value)
        self.clip_value = float(clip_value)

    def _run(self, group, run, mask):
        c = self.clip_value
        if mask is None:
            run.xp.clip(run.grad, -c, c, out=run.grad)
        else:
            t = run.tmp(0)
            run.xp.clip(run.grad, -c, c, out=t)
            t -= run.grad
            t *= mask
            run.grad += t

    def __repr__(self):
        return f"ClipGradValue({self.clip_value})"


class GradientNoise(GradientTransform):
    """Annealed Gaussian gradient noise (Neelakantan et al. 2015, https://arxiv.org/abs/1511.06807):
    g ← g + N(0, σ_t²) with σ_t² = η/(1+t)^γ, t = 0 at the first update, fresh noise for
    every element at every step.

    Args:
        eta: η (the paper tries 0.01, 0.3, 1.0).
        gamma: γ (0.55 in the paper).
        seed: an int or ``numpy.random.Generator``; ``None`` draws a seed from the
            library's global generator (so ``deeprecipe.seed(n)`` makes runs repeatable).
    """

    def __init__(self, eta: float = 0.01, gamma: float = 0.55, seed=None, mask=None, groups=None):
        super().__init__(mask, groups)
        V.non_negative("eta", eta)
        V.non_negative("gamma", gamma)
        self.eta = float(eta)
        self.gamma = float(gamma)
        if seed is None:
            seed = int(get_rng(None).integers(2**63))
        self.rng = get_rng(seed) if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.t = 0

    def variance(self, t: int) -> float:
        """σ_t² at update t (t = 0 for the first update)."""
        return self.eta / (1.0 + t) ** self.gamma

    def apply(self, optimizer, work):
        sigma = math.sqrt(self.variance(self.t))
        for _, run, m in self._selected(work):
            dt = run.grad.dtype if run.grad.dtype in (np.float32, np.float64) else np.float64
            noise = self.rng.standard_normal(run.size, dtype=dt)
            noise *= sigma
            noise = run.xp.asarray(noise, dtype=run.grad.dtype)  # generated on the host: one seed, any device
            if m is not None:
                noise *= m
            run.grad += noise
        self.t += 1

    def state_dict(self):
        return {"transform": "GradientNoise", "t": self.t, "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.t = int(state["t"])
        self.rng.bit_generator.state = state["rng"]

    def __repr__(self):
        return f"GradientNoise(eta={self.eta}, gamma={self.gamma})"


class Chain(GradientTransform):
    """Several transforms applied in order, usable wherever one transform is."""

    def __init__(self, *transforms):
        super().__init__()
        self.transforms = as_transform_list(list(transforms))

    def bind(self, optimizer):
        for t in self.transforms:
            t.bind(optimizer)

    def apply(self, optimizer, work):
        for t in self.transforms:
            t.apply(optimizer, work)

    def state_dict(self):
        return {"transform": "Chain", "transforms": [t.state_dict() for t in self.transforms]}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        if len(state["transforms"]) != len(self.transforms):
            raise ValueError("Chain state has a different number of transforms")
        for t, s in zip(self.transforms, state["transforms"]):
            t.load_state_dict(s)

    def __repr__(self):
        return "chain(" + ", ".join(repr(t) for t in self.transforms) + ")"


def chain(*transforms) -> Chain:
    """Compose transforms: ``chain(ClipGradNorm(1.0), L2Penalty(1e-4))``."""
    return Chain(*transforms)


def as_transform_list(transforms) -> list:
    if transforms is None:
        return []
    if isinstance(transforms, GradientTransform):
        return [transforms]
    out = []
    for t in transforms:
        if not isinstance(t, GradientTransform):
            raise TypeError(f"transforms must be GradientTransform objects (L2Penalty, ClipGradNorm, ...), "
                            f"got {type(t).__name__}")
        out.append(t)
    return out


# ---------------------------------------------------------------------- clipping, one rule
def _combine_norms(parts, norm_type: float) -> float:
    """The total norm from per-array parts (squared sums for 2, sums for 1, maxima for inf)."""
    if norm_type == 2.0:
        return math.sqrt(sum(parts))
    if norm_type == 1.0:
        return float(sum(parts))
    return max(parts, default=0.0)


def clip_coefficient(total: float, max_norm: float, error_if_nonfinite: bool = False):
    """torch's clipping rule, shared by ``ClipGradNorm`` and ``clip_grad_norm_``: the factor
    ``max_norm/(total + 1e-6)`` when it is below 1, else ``None`` (no change).  A NaN norm
    gives a NaN factor (every gradient becomes NaN, as in torch, so the step is visibly
    bad) unless ``error_if_nonfinite``, which raises for a NaN or infinite norm."""
    if not math.isfinite(total) and error_if_nonfinite:
        raise RuntimeError(f"the total gradient norm is {total}; the gradients hold NaN or inf")
    coef = max_norm / (total + 1e-6)
    return coef if (coef < 1.0 or not math.isfinite(coef)) else None


# ---------------------------------------------------------------------- on p.grad directly
def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False) -> float:
    """Like ``torch.nn.utils.clip_grad_norm_``: scale the ``.grad`` of ``parameters`` so that
    their joint norm is at most ``max_norm``; return the norm before clipping (the rule of
    :func:`clip_coefficient`, as ``ClipGradNorm``).  The gradients are replaced by new
    arrays (never modified in place: they may be shared)."""
    V.non_negative("max_norm", max_norm)
    ps = _grads(parameters)
    if not ps:
        return 0.0
    xp = get_array_module(ps[0].grad)
    if norm_type == float("inf"):
        parts = [float(xp.abs(p.grad).max()) if p.grad.size else 0.0 for p in ps]
    elif norm_type == 2.0:
        parts = [float(xp.vdot(p.grad.reshape(-1), p.grad.reshape(-1))) for p in ps]
    elif norm_type == 1.0:
        parts = [float(xp.abs(p.grad).sum()) for p in ps]
    else:
        raise ValueError(f"norm_type must be 1, 2 or inf, got {norm_type!r}")
    total = _combine_norms(parts, float(norm_type))
    coef = clip_coefficient(total, max_norm, error_if_nonfinite)
    if coef is not None:
        for p in ps:
            p.grad = p.grad * p.grad.dtype.type(coef)
    return total


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clip every ``.grad`` element of ``parameters`` into [−clip_value, clip_value] (new arrays)."""
    V.non_negative("clip_value", clip_value)
    for p in _grads(parameters):
        p.grad = get_array_module(p.grad).clip(p.grad, -clip_value, clip_value)
