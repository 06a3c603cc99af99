"""Loss functions with ``torch.nn.functional`` names, arguments and semantics.

Every loss takes ``reduction`` in ``'mean'`` (default), ``'sum'`` or ``'none'``.
Classification losses are fused with a log-sum-exp (never ``log(softmax + 1e-7)``), so
they are exact and stable for any logits; their backward is the closed form
``softmax - target``.  Regression losses refuse an ``input``/``target`` shape mismatch
(torch broadcasts with only a warning, which silently trains on the wrong objective).
"""
from __future__ import annotations

from ..backend import get_array_module
from ..config import Config
from ..engine.function import Function
from ..engine.tensor import Tensor, as_tensor

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(name, reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduce(loss, reduction):
    if reduction == "none":
        return loss
    xp = get_array_module(loss)
    total = xp.asarray(loss.sum())  # a 0-d array, not a NumPy scalar
    if reduction == "mean":
        total /= loss.size
    return total


def _grad_scale(gy, n, reduction):
    """The upstream gradient per element: ``gy`` (none), broadcast scalar (sum) or ``gy/n``."""
    if reduction == "none":
        return gy
    return gy / n if reduction == "mean" else gy


def _labels(name, target, n, num_classes):
    """Validate integer class labels of shape ``(n,)`` in ``[0, num_classes)``."""
    xp = get_array_module(target)
    if target.shape != (n,):
        raise ValueError(f"{name}: integer target must have shape ({n},) for input with {n} rows, got {target.shape}")
    if n and Config.host_checks:   # reading min/max synchronizes: skipped inside a CUDA-graph capture
        lo, hi = int(target.min()), int(target.max())
        if lo < 0 or hi >= num_classes:
            bad = lo if lo < 0 else hi
            raise ValueError(
                f"{name}: target contains label {bad}, outside the range [0, {num_classes}) of the "
                f"{num_classes} classes")
    return xp.arange(n), target


def _as_target(t, like):
    """Wrap a target: arrays/lists become constant tensors (floats take the input's dtype)."""
    if isinstance(t, Tensor):
        return t
    t = as_tensor(t)
    if t.dtype.kind == "f" and t.dtype != like.dtype:
        t = Tensor._from_op(t.data.astype(like.dtype), None)
    return t


# ------------------------------------------------------------------------ classification
class SoftmaxCrossEntropy(Function):
    """``logits (N, C)`` with integer labels ``(N,)`` or probabilities ``(N, C)``."""

    def __init__(self, reduction):
        self.reduction = reduction

    def forward(self, x, t):
        xp = get_array_module(x)
        N, C = x.shape
        z = x - x.max(axis=1, keepdims=True)
        e = xp.exp(z)
        s = e.sum(axis=1, keepdims=True)
        lse = xp.log(s)
        e /= s  # e is now softmax(x), kept for backward
        self.softmax = e
        if t.dtype.kind in "iub":
            self.rows, self.labels = _labels("softmax_cross_entropy", t, N, C)
            loss = lse[:, 0] - z[self.rows, self.labels]
        else:
            if t.shape != x.shape:
                raise ValueError(
                    f"softmax_cross_entropy: probability target must have the logits' shape {x.shape}, "
                    f"got {t.shape} (use integer labels of shape ({N},) for class indices)")
            self.t = t
            z -= lse  # z is now log_softmax(x)
            self.logp = z
            loss = -(t * z).sum(axis=1)
        self.N = N
        return _reduce(loss, self.reduction)

    def backward(self, gy):
        g = _grad_scale(gy, self.N, self.reduction)
        g = g[:, None] if self.reduction == "none" else g
        gx = gt = None
        if self.inputs[0].requires_grad:
            if hasattr(self, "labels"):
                d = self.softmax.copy()
                d[self.rows, self.labels] -= 1
            else:
                # d/dx of -sum_c t_c log softmax_c = softmax * sum_c t_c - t
                d = self.softmax * self.t.sum(axis=1, keepdims=True)
                d -= self.t
            d *= g
            gx = d
        if self.inputs[1].requires_grad and not hasattr(self, "labels"):
            gt = -self.logp * g
        return gx, gt


class NLLLoss(Function):
    def __init__(self, reduction):
        self.reduction = reduction

    def forward(self, logp, t):
        N, C = logp.shape
        self.rows, self.labels = _labels("nll_loss", t, N, C)
        self.shape, self.N = logp.shape, N
        return _reduce(-logp[self.rows, self.labels], self.reduction)

    def backward(self, gy):
        xp = get_array_module(gy)
        g = _grad_scale(gy, self.N, self.reduction)
        gx = xp.zeros(self.shape, dtype=gy.dtype)
        gx[self.rows, self.labels] = -g
        return gx, None


class BCEWithLogits(Function):
    """``max(x, 0) - x*t + log(1 + exp(-|x|))``: stable for logits of any size."""

    def __init__(self, reduction):
        self.reduction = reduction

    def forward(self, x, t):
        xp = get_array_module(x)
        self.x, self.t = x, t
        loss = xp.maximum(x, 0) - x * t
        loss += xp.log1p(xp.exp(-xp.abs(x)))
        self.n = loss.size
        return _reduce(loss, self.reduction)

    def backward(self, gy):
        xp = get_array_module(gy)
        g = _grad_scale(gy, self.n, self.reduction)
        gx = gt = None
        if self.inputs[0].requires_grad:
            # sigmoid(x) - t, with a sigmoid that never overflows
            e = xp.exp(-xp.abs(self.x))
            sig = xp.where(self.x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(self.x.dtype, copy=False)
            sig -= self.t
            sig *= g
            gx = sig
        if self.inputs[1].requires_grad:
            gt = -self.x * g
        return gx, gt


# ------------------------------------------------------------------------ regression
class _Elementwise(Function):
    """A loss ``l(d)`` of the difference ``d = input - target``; subclasses give ``l`` and ``l'``."""

    def __init__(self, reduction):
        self.reduction = reduction

    def forward(self, x, t):
        d = x - t
        self.d = d
        self.n = d.size
        return _reduce(self.value(d), self.reduction)

    def backward(self, gy):
        g = self.derivative(self.d)
        g *= _grad_scale(gy, self.n, self.reduction)
        gx = g if self.inputs[0].requires_grad else None
        gt = -g if self.inputs[1].requires_grad else None
        return gx, gt


class MSE(_Elementwise):
    def value(self, d):
        return d * d

    def derivative(self, d):
        return 2 * d


class L1(_Elementwise):
    def value(self, d):
        return get_array_module(d).abs(d)

    def derivative(self, d):
        return get_array_module(d).sign(d)  # 0 at d == 0, as torch


class Huber(_Elementwise):
    def __init__(self, reduction, delta):
        super().__init__(reduction)
        self.delta = delta

    def value(self, d):
        xp = get_array_module(d)
        a = xp.abs(d)
        return xp.where(a < self.delta, 0.5 * d * d, self.delta * (a - 0.5 * self.delta)).astype(d.dtype, copy=False)

    def derivative(self, d):
        return get_array_module(d).clip(d, -self.delta, self.delta)


# ------------------------------------------------------------------------ public API
def _pair_checked(name, input, target):
    input = as_tensor(input)
    target = _as_target(target, input)
    if input.shape != target.shape:
        raise ValueError(
            f"{name}: input shape {input.shape} and target shape {target.shape} differ; "
            "reshape one of them (broadcasting a loss silently trains on the wrong objective)")
    if input.dtype.kind != "f":
        raise TypeError(f"{name}: input must be floating point, got dtype {input.dtype}")
    return input, target


def _logits_2d(name, x):
    x = as_tensor(x)
    if x.ndim != 2:
        raise ValueError(f"{name}: input must be 2-D (N, C), got shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: input must be floating point, got dtype {x.dtype}")
    return x


def softmax_cross_entropy(logits, target, reduction="mean"):
    """Cross-entropy of ``softmax(logits)`` against ``target``, like
    ``torch.nn.functional.cross_entropy`` (fused with log-sum-exp).

    Args:
        logits: ``(N, C)`` unnormalized scores.
        target: integer class labels ``(N,)`` in ``[0, C)``, or class probabilities
            ``(N, C)`` (differentiable).
        reduction: ``'mean'`` (over the N examples), ``'sum'`` or ``'none'`` (``(N,)``).

    Raises:
        ValueError: a label outside ``[0, C)`` (naming it), or a target of the wrong shape.
    """
    _check_reduction("softmax_cross_entropy", reduction)
    x = _logits_2d("softmax_cross_entropy", logits)
    return SoftmaxCrossEntropy(reduction)(x, _as_target(target, x))


cross_entropy = softmax_cross_entropy


def nll_loss(log_probs, target, reduction="mean"):
    """Negative log-likelihood of integer labels ``(N,)`` under ``log_probs (N, C)``, like
    ``torch.nn.functional.nll_loss``: ``-log_probs[n, target[n]]``."""
    _check_reduction("nll_loss", reduction)
    x = _logits_2d("nll_loss", log_probs)
    t = as_tensor(target)
    if t.dtype.kind not in "iub":
        raise TypeError(f"nll_loss: target must hold integer class labels, got dtype {t.dtype}")
    return NLLLoss(reduction)(x, t)


def binary_cross_entropy_with_logits(logits, target, reduction="mean"):
    """Binary cross-entropy of ``sigmoid(logits)`` against ``target`` in [0, 1], computed
    stably from the logits (``torch.nn.functional.binary_cross_entropy_with_logits``)."""
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    x, t = _pair_checked("binary_cross_entropy_with_logits", logits, target)
    return BCEWithLogits(reduction)(x, t)


def mse_loss(input, target, reduction="mean"):  # noqa: A002 - torch's name
    """Squared error ``(input - target)**2``, like ``torch.nn.functional.mse_loss``."""
    _check_reduction("mse_loss", reduction)
    return MSE(reduction)(*_pair_checked("mse_loss", input, target))


def l1_loss(input, target, reduction="mean"):  # noqa: A002 - torch's name
    """Absolute error ``|input - target|``, like ``torch.nn.functional.l1_loss``."""
    _check_reduction("l1_loss", reduction)
    return L1(reduction)(*_pair_checked("l1_loss", input, target))


def huber_loss(input, target, reduction="mean", delta=1.0):  # noqa: A002 - torch's name
    """Huber loss (Huber 1964): ``0.5 d**2`` for ``|d| < delta``, else
    ``delta * (|d| - 0.5 delta)``, with ``d = input - target``; like
    ``torch.nn.functional.huber_loss``."""
    _check_reduction("huber_loss", reduction)
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta!r}")
    return Huber(reduction, float(delta))(*_pair_checked("huber_loss", input, target))
