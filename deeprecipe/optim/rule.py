"""Update rules: the small pure steps an optimizer is a chain of (optax's ``GradientTransformation``,
Chainer's ``UpdateRule``), and the rules every optimizer shares.

A named optimizer is a chain of rules: Adam is ``[Maximize, AddL2, ScaleByAdam, ScaleByLR]``,
AdamW swaps ``AddL2`` for ``DecayWeights``; the class itself only wires the chain to its
hyperparameters.  The executor (``_executor.py``, private) owns the flat buffers, the
gradient staging, cache blocking and denormal flushing; a rule sees 1-D views only:

    rule.update(u, state, params, step, hp) -> u' | (u', factor) | None

* ``u``       the incoming update direction (at the start, the gradient); a rule may write
              into it only if ``writes_input(hp)`` says so (the executor then hands it a
              private copy, never ``p.grad`` itself);
* ``state``   this rule's view of the optimizer state: ``state[name]`` (a per-element array,
              allocated on first use with ``init(name, hp)``), ``state.scalar(name)`` /
              ``state.set_scalar(name, v)`` (per-parameter scalars declared in ``scalars``),
              ``state.tmp(k)`` (scratch of ``u``'s size, private to this rule, contents
              undefined), ``state.group`` (the group's state, from ``init_group``),
              ``state.xp`` (numpy or cupy);
* ``params``  the parameters (a rule may write them, e.g. decoupled weight decay);
* ``step``    the parameter's step count after this update (1 on the first update);
* ``hp``      the parameter group's hyperparameters (``hp['lr']`` is the current lr).

Returning ``(u', c)`` means "the update is c·u'": the scalar is folded into the next
scaling (``ScaleByLR``) instead of costing a pass over the array.  Returning ``None``
means the rule applied its update to ``params`` itself (used where the exact rounding
order of torch's kernels needs it).  After the chain the executor applies θ ← θ + c·u.
A rule returning one of its state arrays must not have it modified afterwards: the
executor copies before handing it to a rule that writes its input.

``Scale`` rules (``factor(hp, step) -> float``) only multiply the update by a scalar.

**Capturable rules** (``capturable = True``; torch's ``capturable=True``, see
https://pytorch.org/docs/stable/generated/torch.optim.Adam.html): when the optimizer is
built with ``capturable=True``, ``step`` is a 0-d array of the parameters' array module
(float64, the count after this update) and ``hp['lr']`` a 0-d float64 array too, so that a
CUDA graph captured once reads the current values at every replay instead of the numbers
of the step it was captured in.  Such a rule computes every scalar it derives (bias
corrections, 1 − γλ) with array arithmetic, never ``float()``/``int()``/``if`` on them,
and passes a derived scalar to an in-place array op through ``as_scalar`` (which rounds it
to the array's dtype exactly as NumPy/CuPy round a Python float, so both modes give the
same bits).  A rule that needs the host's step count (NAdam's μ product, SWATS's switch,
...) keeps ``capturable = False`` and the optimizer refuses ``capturable=True`` for it.
"""
from __future__ import annotations

from ..backend import get_array_module
from . import _validate as V


def as_scalar(x, like):
    """``x`` ready for arithmetic with the array ``like``: a Python number as it is (the
    normal path: NumPy/CuPy round it to ``like``'s dtype), anything else (a 0-d device array
    or NumPy scalar computed from the capturable step count or lr) cast to ``like``'s dtype,
    so that float32 updates round exactly as with the Python number."""
    if type(x) is float or type(x) is int:
        return x
    xp = get_array_module(like)
    return xp.asarray(x, dtype=like.dtype)


class Rule:
    """One step of an optimizer's update chain (see the module docstring)."""

    state_names: tuple = ()     # per-element state arrays this rule owns
    scalars: dict = {}          # per-parameter scalar state -> initial value
    checks: dict = {}           # hyperparameter name -> check (see _validate.py) for what it reads
    blockwise: bool = True      # False: called on whole runs (group-wide reductions), never on blocks
    capturable: bool = False    # True: works with a device step count and lr (see the module docstring)

    def active(self, hp: dict) -> bool:
        """Whether the rule does anything for these hyperparameters (e.g. ``maximize=False``)."""
        return True

    def writes_input(self, hp: dict) -> bool:
        """Whether ``update`` writes into the ``u`` it receives."""
        return False

    def init(self, name: str, hp: dict) -> float:
        """Initial value of per-element state ``name``."""
        return 0.0

    def init_group(self, hp: dict) -> dict:
        """Per-group state (saved by ``state_dict``), e.g. AdaBound's initial lr."""
        return {}

    def update(self, u, state, params, step: int, hp: dict):  # pragma: no cover - abstract
        raise NotImplementedError

    def finish_group(self, group_state: dict, hp: dict, step: int) -> None:
        """Called once per step and group after every run was updated (group-wide decisions)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Scale(Rule):
    """A rule that only multiplies the update by ``factor(hp, step)`` (no pass of its own)."""

    def factor(self, hp: dict, step: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError


# ---------------------------------------------------------------------- in-place helpers
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


def second_moment_(exp_avg_sq, max_exp_avg_sq, use_max: bool, xp):
    """The second moment an update divides by: ``v``, or with AMSGrad/AMSBound the running
    maximum ``v_max ← max(v_max, v)`` (of the raw ``v``, as torch), updated in place."""
    if not use_max:
        return exp_avg_sq
    xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
    return max_exp_avg_sq


# ---------------------------------------------------------------------- shared rules
class Maximize(Rule):
    """g ← −g when the group's ``maximize`` is set (ascend instead of descend)."""

    checks = {"maximize": V.boolean}
    capturable = True

    def active(self, hp):
        return bool(hp.get("maximize"))

    def writes_input(self, hp):
        return True

    def update(self, u, state, params, step, hp):
        state.xp.negative(u, out=u)
        return u


class AddL2(Rule):
    """Coupled weight decay (the gradient of λ/2·‖θ‖²): g ← g + λθ, λ = ``hp[key]``.

    torch's ``weight_decay`` in SGD, Adagrad, RMSprop, Adam; inside an adaptive rule it is
    divided by the same denominator as the gradient (AdamW's decoupled decay is not)."""

    capturable = True

    def __init__(self, key: str = "weight_decay"):
        self.key = key
        self.checks = {key: V.non_negative}

    def active(self, hp):
        return bool(hp.get(self.key)) and not hp.get("decoupled_weight_decay")

    def writes_input(self, hp):
        return True

    def update(self, u, state, params, step, hp):
        add_scaled_(u, params, hp[self.key], state.tmp(0), state.xp)
        return u


class DecayWeights(Rule):
    """Decoupled weight decay (Loshchilov & Hutter 2019, https://arxiv.org/abs/1711.05101):
    θ ← θ(1 − γλ) before the rest of the update, λ = ``hp[key]``, γ the current lr.

    ``always=False`` (Adam, NAdam, RAdam) decays only when the group's
    ``decoupled_weight_decay`` is set, so that one class offers both forms as torch does."""

    capturable = True

    def __init__(self, key: str = "weight_decay", always: bool = True):
        self.key = key
        self.always = always
        self.checks = {key: V.non_negative} if always else {key: V.non_negative,
                                                           "decoupled_weight_decay": V.boolean}

    def active(self, hp):
        return bool(hp.get(self.key)) and (self.always or bool(hp.get("decoupled_weight_decay")))

    def update(self, u, state, params, step, hp):
        params *= as_scalar(1 - hp["lr"] * hp[self.key], params)
        return u


class ScaleByLR(Scale):
    """u ← −γ·u with the group's current lr (the step down the gradient)."""

    checks = {"lr": V.non_negative}
    capturable = True

    def factor(self, hp, step):
        return -hp["lr"]


class Trace(Rule):
    """torch's momentum (``sgd.py``): b ← g on a parameter's first step, else
    b ← μb + (1−τ)g; the update is b, or with Nesterov g + μb.  Inactive when μ = 0.

    Capturable (``step`` on the device): the first-step branch becomes arithmetic,
    b ← μ'·b + τ'·g with (μ', τ') = (0, 1) on the first step and (μ, 1−τ) after it; the
    buffer is 0 before the first step, so this is b ← g there (same bits otherwise)."""

    state_names = ("momentum_buffer",)
    checks = {"momentum": V.non_negative, "dampening": V.finite, "nesterov": V.boolean}
    capturable = True

    def active(self, hp):
        return bool(hp["momentum"])

    def writes_input(self, hp):
        return bool(hp["nesterov"])

    def update(self, u, state, params, step, hp):
        buf, xp = state["momentum_buffer"], state.xp
        momentum = hp["momentum"]
        if type(step) is int:
            if step == 1:
                buf[...] = u
            else:
                buf *= momentum
                add_scaled_(buf, u, 1 - hp["dampening"], state.tmp(0), xp)
        else:   # capturable: the step count is a device value, no host branch on it
            first = step == 1
            buf *= as_scalar(xp.where(first, 0.0, momentum), buf)
            add_scaled_(buf, u, as_scalar(xp.where(first, 1.0, 1 - hp["dampening"]), buf), state.tmp(0), xp)
        if hp["nesterov"]:
            add_scaled_(u, buf, momentum, state.tmp(0), xp)
            return u
        return buf


def check_nesterov(name: str, group: dict) -> None:
    """Nesterov momentum needs momentum > 0 and no dampening (torch's condition)."""
    if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
        raise ValueError(f"{name}: Nesterov momentum requires momentum > 0 and dampening = 0, "
                         f"got momentum={group['momentum']}, dampening={group['dampening']}")
