"""Second-order rules of the ops: what forward-over-reverse needs beyond each op's backward.

An op maps inputs ``x`` to ``y = f(x)`` and its backward maps ``gy`` to ``gx = B(x, gy)``,
linear in ``gy``.  Differentiating one backward pass along a direction ``v`` of the
parameters (forward mode over reverse mode: Pearlmutter 1994, "Fast exact multiplication
by the Hessian", https://doi.org/10.1162/neco.1994.6.1.147) needs, per op,

* ``jvp``: the output tangent ``ẏ = J_f(x) ẋ`` from the input tangents ``ẋ``;
* ``extra``: the part of ``ġx`` that comes from ``x`` moving at fixed ``gy``,
  ``(∂B/∂x)[ẋ] gy``.  The other part, ``B(x, ġy)``, is the op's own backward applied to
  the tangent of the output gradient (``B`` is linear in ``gy``), so no rule repeats it.

A rule is ``Rule(jvp, extra)`` with ``jvp(f, xs, txs) -> [ẏ, ...]`` and
``extra(f, xs, txs, gys) -> [ġx part or None per input]``; ``f`` is the recorded
Function (its saved arrays are read, never changed), ``xs`` the input arrays, ``txs``
their tangents (``None`` = zero).  Kinds of ops:

* linear ops (add, reshape, sum, pooling by average, ...): ``ẏ = f(ẋ)`` (the op run on a
  copy of the Function) and no extra term;
* elementwise ``y = φ(x)`` (activations, exp, log, dropout with its saved mask): ``ẏ =
  φ'(x) ẋ`` is the op's backward applied to ``ẋ``; the extra term is ``gy φ''(x) ẋ``;
* softmax, log-softmax, division: closed forms;
* bilinear ops (mul, matmul, linear, conv2d): ``ẏ = f(ẋ₁, x₂) + f(x₁, ẋ₂)``; the extra
  term for ``x₁`` is the backward of ``f(·, ẋ₂)`` (and symmetrically), run through the
  engine on a copy of the op;
* max pooling with non-overlapping windows and maxout: linear given the winners; PReLU:
  bilinear in (x, slope) on the negative side;
* softmax and binary cross-entropy, MSE, batch/layer/group/instance norm: closed forms below.

Ops without a rule (e.g. where, pow, max/min reductions, overlapping max-pool windows) make
:class:`HessianOperator` fall back to finite differences (``method="auto"``) or raise
(``method="exact"``).
"""
from __future__ import annotations

import copy
from typing import NamedTuple
from collections.abc import Callable

from ...backend import get_array_module
from ...config import enable_grad
from ...engine.tensor import Tensor
from ...functions._util import sum_to_array
import importlib

# the modules themselves (``deeprecipe.functions`` re-exports functions of the same names)
A, C, D, L, LS, M, N, P = (importlib.import_module(f"deeprecipe.functions.{m}") for m in (
    "activation", "conv", "dropout", "linear", "loss", "math", "normalization", "pooling"))


class Rule(NamedTuple):
    jvp: Callable
    extra: Callable


def _none(n):
    return [None] * n


def _add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def _fresh(f):
    """A copy of the op ``f`` with its configuration but none of its recorded state.

    Attributes whose class default is ``None`` (the graph edges, and buffers an op gives
    back to a pool in ``release()``, e.g. conv's ``col`` matrix) are reset: a copy that
    shared them would hand the recorded op's saved arrays back to the pool, where the next
    forward would overwrite them.
    """
    h = copy.copy(f)
    for cls in type(f).__mro__:
        for name, default in vars(cls).items():
            if default is None and name in h.__dict__:
                h.__dict__[name] = None
    return h


# ---------------------------------------------------------------------------- linear ops
def _linear_jvp(f, xs, txs):
    ts = [t if t is not None else get_array_module(x).zeros_like(x) for x, t in zip(xs, txs)]
    y = _fresh(f).forward(*ts)  # a copy: the recorded op keeps what its backward saved
    return list(y) if isinstance(y, (tuple, list)) else [y]


def _no_extra(f, xs, txs, gys):
    return _none(len(xs))


LINEAR = Rule(_linear_jvp, _no_extra)


# ---------------------------------------------------------------------------- elementwise
def _elementwise(second):
    """Rule for ``y = φ(x)`` whose backward is ``gy * φ'(x)``; ``second(f)`` gives ``φ''(x)``
    (or None where it is 0: piecewise-linear ops)."""
    def jvp(f, xs, txs):
        return [f.backward(txs[0])]

    def extra(f, xs, txs, gys):
        d2 = second(f, xs[0]) if second is not None else None
        if d2 is None or txs[0] is None or gys[0] is None:
            return [None]
        return [gys[0] * d2 * txs[0]]
    return Rule(jvp, extra)


def _sigmoid2(f, x):
    y = f.y
    return y * (1 - y) * (1 - 2 * y)


def _tanh2(f, x):
    return -2 * f.y * (1 - f.y * f.y)


def _elu2(f, x):
    xp = get_array_module(x)
    return xp.where(x <= 0, f.alpha * xp.exp(xp.minimum(x, 0)), 0).astype(x.dtype, copy=False)


def _softplus2(f, x):
    xp = get_array_module(x)
    bx = x * f.beta
    s = A._sigmoid_array(bx)
    return xp.where(bx > f.threshold, 0, f.beta * s * (1 - s)).astype(x.dtype, copy=False)


def _log2(f, x):
    return -1 / (x * x)


def _sqrt2(f, x):
    return -1 / (4 * f.y ** 3)


def _exp2(f, x):
    return f.y


# ---------------------------------------------------------------------------- bilinear ops
def _vjp_through(f, arrays, which, gy):
    """Gradient w.r.t. ``arrays[which]`` of ``<gy, f(*arrays)>``, by a copy of the op run
    through the engine on fresh leaves (the recorded op and its inputs are not touched)."""
    ts = []
    for i, a in enumerate(arrays):
        t = Tensor._from_op(a, None)
        t._requires_grad = i == which
        ts.append(t)
    with enable_grad():
        y = _fresh(f)(*ts)
    y.backward(gy)
    return ts[which].grad


def _bilinear(bias_shape=None):
    """Rule for ``y = f(a, b) (+ bias)`` bilinear in ``(a, b)``, affine in an optional third
    input ``bias`` broadcast as ``bias_shape(f, y)``."""
    def jvp(f, xs, txs):
        a, b = xs[0], xs[1]
        ta, tb = txs[0], txs[1]
        y = None
        if ta is not None:
            y = _add(y, _fresh(f).forward(ta, b))
        if tb is not None:
            y = _add(y, _fresh(f).forward(a, tb))
        if len(xs) > 2 and txs[2] is not None:
            tbias = txs[2].reshape(bias_shape(xs))
            y = tbias if y is None else y + tbias
        return [y]

    def extra(f, xs, txs, gys):
        gy = gys[0]
        out = _none(len(xs))
        if gy is None:
            return out
        a, b = xs[0], xs[1]
        ta, tb = txs[0], txs[1]
        if tb is not None and f.inputs[0].requires_grad:
            out[0] = _vjp_through(f, [a, tb], 0, gy)
        if ta is not None and f.inputs[1].requires_grad:
            out[1] = _vjp_through(f, [ta, b], 1, gy)
        return out
    return Rule(jvp, extra)


def _linear_extra(f, xs, txs, gys):
    # y = x Wᵀ + b: ∂(gy W)/∂W [Ẇ] = gy Ẇ, ∂(gyᵀ x)/∂x [ẋ] = gyᵀ ẋ; written out (no engine
    # round trip) because the MLP's HVP spends most of its time here
    gy = gys[0]
    out = _none(len(xs))
    if gy is None:
        return out
    x, tx, tW = xs[0], txs[0], txs[1]
    if tW is not None and f.inputs[0].requires_grad:
        out[0] = gy @ tW
    if tx is not None and f.inputs[1].requires_grad:
        out[1] = gy.reshape(-1, gy.shape[-1]).T @ tx.reshape(-1, x.shape[-1])
    return out


def _linear_op_jvp(f, xs, txs):
    x, W = xs[0], xs[1]
    tx, tW = txs[0], txs[1]
    y = None
    if tx is not None:
        y = tx @ W.T
    if tW is not None:
        y = _add(y, x @ tW.T)
    if len(xs) > 2 and txs[2] is not None:
        y = txs[2] if y is None else y + txs[2]
    return [y]


def _div_jvp(f, xs, txs):
    a, b = xs
    ta, tb = txs
    y = None if ta is None else ta / b
    return [_add(y, None if tb is None else -a * tb / (b * b))]


def _div_extra(f, xs, txs, gys):
    # ga = gy / b, gb = −gy a / b²: ∂ga/∂b [ḃ] = −gy ḃ / b², ∂gb/∂a [ȧ] = −gy ȧ / b², ∂gb/∂b [ḃ] = 2 gy a ḃ / b³
    a, b = xs
    ta, tb = txs
    gy = gys[0]
    out = _none(2)
    if gy is None:
        return out
    if tb is not None and f.inputs[0].requires_grad:
        out[0] = sum_to_array(-gy * tb / (b * b), a.shape)
    if f.inputs[1].requires_grad:
        t = None if ta is None else -gy * ta / (b * b)
        t = _add(t, None if tb is None else 2 * gy * a * tb / (b * b * b))
        out[1] = None if t is None else sum_to_array(t, b.shape)
    return out


def _axis(f):
    return getattr(f, "axis", getattr(f, "dim", -1))


def _softmax_jvp(f, xs, txs):
    return [f.backward(txs[0])]  # the softmax Jacobian diag(y) − y yᵀ is symmetric: J ẋ = Jᵀ ẋ


def _softmax_extra(f, xs, txs, gys):
    # gx = y ⊙ (gy − <gy, y>): moves with y, ẏ = J ẋ
    if gys[0] is None or txs[0] is None:
        return [None]
    gy, y, ax = gys[0], f.y, _axis(f)
    ty = f.backward(txs[0])
    return [ty * (gy - (gy * y).sum(axis=ax, keepdims=True)) - y * (gy * ty).sum(axis=ax, keepdims=True)]


def _log_softmax_jvp(f, xs, txs):
    p = get_array_module(f.y).exp(f.y)
    return [txs[0] - (p * txs[0]).sum(axis=_axis(f), keepdims=True)]


def _log_softmax_extra(f, xs, txs, gys):
    # gx = gy − p Σgy: moves with p, ṗ = p ⊙ ẏ
    if gys[0] is None or txs[0] is None:
        return [None]
    p = get_array_module(f.y).exp(f.y)
    ty = _log_softmax_jvp(f, xs, txs)[0]
    return [-(p * ty) * gys[0].sum(axis=_axis(f), keepdims=True)]


def _nll_jvp(f, xs, txs):
    return [LS._reduce(-txs[0][f.rows, f.labels], f.reduction)]


def _prelu_jvp(f, xs, txs):
    x, tx, tw = xs[0], txs[0], txs[1]
    y = None if tx is None else tx * f.factor
    return [_add(y, None if tw is None else x * f.neg * tw.reshape(f.wb_shape))]


def _prelu_extra(f, xs, txs, gys):
    # gx = gy·(m + (1 − m)·w), gw = Σ gy·x·(1 − m): each moves with the other input
    tx, tw = txs[0], txs[1]
    gy = gys[0]
    out = _none(2)
    if gy is None:
        return out
    if tw is not None and f.inputs[0].requires_grad:
        out[0] = gy * f.neg * tw.reshape(f.wb_shape)
    if tx is not None and f.inputs[1].requires_grad:
        out[1] = sum_to_array(gy * tx * f.neg, f.wb_shape).reshape(f.w_shape)
    return out


def _maxout_jvp(f, xs, txs):
    # the winner of each group passes its tangent (piecewise linear, no extra term)
    xp = get_array_module(xs[0])
    a, k, shape = _axis(f), f.pieces, xs[0].shape
    tr = txs[0].reshape(shape[:a] + (shape[a] // k, k) + shape[a + 1:])
    return [xp.take_along_axis(tr, xp.expand_dims(f.idx, a + 1), axis=a + 1).squeeze(a + 1)]


# ---------------------------------------------------------------------------- max pooling
def _maxpool_jvp(f, xs, txs):
    kh, kw, sh, sw, ph, pw, oh, ow = f.args
    if sh < kh or sw < kw:
        raise NoRule("MaxPool2d with overlapping windows (stride < kernel)")
    xp = get_array_module(xs[0])
    # with disjoint windows the backward of ones marks each window's winner (0/1)
    winners = f.backward(xp.ones((xs[0].shape[0], xs[0].shape[1], oh, ow), dtype=xs[0].dtype))
    summed = P.AvgPool2d(f.args).forward(txs[0] * winners)
    return [summed * (kh * kw)]


# ---------------------------------------------------------------------------- losses
def _sce_jvp(f, xs, txs):
    if len(txs) > 1 and txs[1] is not None:
        raise NoRule("softmax_cross_entropy with a target that depends on the parameters")
    p, tx = f.softmax, txs[0]
    pdot = (p * tx).sum(axis=1)
    if hasattr(f, "labels"):
        per = pdot - tx[f.rows, f.labels]
    else:
        per = f.t.sum(axis=1) * pdot - (f.t * tx).sum(axis=1)
    return [LS._reduce(per, f.reduction)]


def _sce_extra(f, xs, txs, gys):
    out = _none(len(xs))
    if gys[0] is None or txs[0] is None:
        return out
    g = LS._grad_scale(gys[0], f.N, f.reduction)
    g = g[:, None] if f.reduction == "none" else g
    p, tx = f.softmax, txs[0]
    pdot = p * (tx - (p * tx).sum(axis=1, keepdims=True))  # tangent of softmax
    if not hasattr(f, "labels"):
        pdot = pdot * f.t.sum(axis=1, keepdims=True)
    out[0] = pdot * g
    return out


def _bce_parts(f, txs):
    if len(txs) > 1 and txs[1] is not None:
        raise NoRule("binary_cross_entropy_with_logits with a target that depends on the parameters")
    return A._sigmoid_array(f.x)


def _bce_jvp(f, xs, txs):
    # l = max(x, 0) − x t + log(1 + e^−|x|): l' = σ(x) − t, l'' = σ(x)(1 − σ(x))
    s = _bce_parts(f, txs)
    return [LS._reduce((s - f.t) * txs[0], f.reduction)]


def _bce_extra(f, xs, txs, gys):
    out = _none(len(xs))
    if gys[0] is None or txs[0] is None:
        return out
    s = _bce_parts(f, txs)
    out[0] = LS._grad_scale(gys[0], f.n, f.reduction) * s * (1 - s) * txs[0]
    return out


def _mse_jvp(f, xs, txs):
    td = _add(txs[0], None if txs[1] is None else -txs[1])
    return [LS._reduce(2 * f.d * td, f.reduction)]


def _mse_extra(f, xs, txs, gys):
    out = _none(2)
    if gys[0] is None:
        return out
    td = _add(txs[0], None if txs[1] is None else -txs[1])
    if td is None:
        return out
    g = 2 * td * LS._grad_scale(gys[0], f.n, f.reduction)
    if f.inputs[0].requires_grad:
        out[0] = g
    if f.inputs[1].requires_grad:
        out[1] = -g
    return out


# ---------------------------------------------------------------------------- normalization
def _norm_parts(f, xs, txs):
    """Shared pieces of the norm rules: (statistics reshape, axes, x̂, s, ẋ̂, w, ẇ, ḃ, bshape)."""
    if isinstance(f, N.BatchNorm):
        stat_shape, axes, xhat_s, bshape = None, f.axes, f.xhat, f.bshape
        train = f.training
    else:
        stat_shape, axes, xhat_s, bshape = f.stat_shape, f.stat_axes, f.xhat_s, f.bshape
        train = True
    s = f.inv_std
    k = 1
    tw = tb = None
    if f.has_w:
        tw = txs[k]
        k += 1
    if f.has_b:
        tb = txs[k]
    tx = txs[0]
    txhat_s = None
    if tx is not None:
        tx_s = tx.reshape(stat_shape) if stat_shape is not None else tx
        if train:  # x̂ = (x − μ)·s with batch/example statistics: ẋ̂ = N(ẋ), N the backward map
            txhat_s = N._normalize_grad(tx_s, xhat_s, s, axes)
        else:      # running statistics are constants
            txhat_s = tx_s * s
    return stat_shape, axes, xhat_s, s, txhat_s, f.w, tw, tb, bshape, train


def _norm_jvp(f, xs, txs):
    stat_shape, axes, xhat_s, s, txhat_s, w, tw, tb, bshape, _ = _norm_parts(f, xs, txs)
    shape = xs[0].shape
    y = None
    if txhat_s is not None:
        t = txhat_s.reshape(shape)
        y = t * w.reshape(bshape) if w is not None else t
    if tw is not None:
        y = _add(y, xhat_s.reshape(shape) * tw.reshape(bshape))
    if tb is not None:
        y = _add(y, tb.reshape(bshape))
    return [y]


def _norm_extra(f, xs, txs, gys):
    stat_shape, axes, xhat_s, s, txhat_s, w, tw, tb, bshape, train = _norm_parts(f, xs, txs)
    gy = gys[0]
    out = _none(len(xs))
    if gy is None:
        return out
    shape = xs[0].shape
    to_s = (lambda a: a.reshape(stat_shape)) if stat_shape is not None else (lambda a: a)
    if f.inputs[0].requires_grad:
        gx = None
        if tw is not None:  # g = gy·w moves with w
            tg = to_s(gy * tw.reshape(bshape))
            gx = N._normalize_grad(tg, xhat_s, s, axes) if train else tg * s
        if txhat_s is not None and train:
            # gx = s (g − mean g − x̂ mean(g x̂)): s, x̂ move with x (ṡ = −s·mean(x̂ ẋ)·s)
            g = to_s(gy * w.reshape(bshape) if w is not None else gy)
            m_gx = (g * xhat_s).mean(axis=axes, keepdims=True)
            tx_s = to_s(txs[0])
            rate = (xhat_s * tx_s).mean(axis=axes, keepdims=True) * s  # −ṡ/s
            term = -rate * N._normalize_grad(g, xhat_s, s, axes)
            term -= s * (txhat_s * m_gx + xhat_s * (g * txhat_s).mean(axis=axes, keepdims=True))
            gx = _add(gx, term)
        if gx is not None:
            out[0] = gx.reshape(shape)
    if f.has_w and f.inputs[1].requires_grad and txhat_s is not None:
        param_axes = f.axes if isinstance(f, N.BatchNorm) else f.param_axes
        out[1] = (gy * txhat_s.reshape(shape)).sum(axis=param_axes).reshape(w.shape)
    return out


NORM = Rule(_norm_jvp, _norm_extra)


class NoRule(NotImplementedError):
    """An op in the graph has no exact second-order rule (the message names it)."""


RULES: dict = {
    # linear in their (float) inputs
    M.Add: LINEAR, M.Sub: LINEAR, M.Neg: LINEAR, M.Reshape: LINEAR, M.Transpose: LINEAR,
    M.BroadcastTo: LINEAR, M.SumTo: LINEAR, M.Sum: LINEAR, M.Mean: LINEAR, M.GetItem: LINEAR,
    M.Concat: LINEAR, M.Stack: LINEAR, M.AsType: LINEAR, P.AvgPool2d: LINEAR,
    # elementwise
    A.ReLU: _elementwise(None), A.LeakyReLU: _elementwise(None), M.Abs: _elementwise(None),
    A.PReLU: Rule(_prelu_jvp, _prelu_extra), A.Maxout: Rule(_maxout_jvp, _no_extra),
    M.Clip: _elementwise(None), D.Dropout: _elementwise(None),
    A.Sigmoid: _elementwise(_sigmoid2), A.Tanh: _elementwise(_tanh2), A.ELU: _elementwise(_elu2),
    A.Softplus: _elementwise(_softplus2), M.Exp: _elementwise(_exp2), M.Log: _elementwise(_log2),
    M.Sqrt: _elementwise(_sqrt2),
    # bilinear
    M.Mul: _bilinear(), M.MatMul: _bilinear(), M.Div: Rule(_div_jvp, _div_extra),
    A.Softmax: Rule(_softmax_jvp, _softmax_extra), A.LogSoftmax: Rule(_log_softmax_jvp, _log_softmax_extra),
    LS.NLLLoss: Rule(_nll_jvp, _no_extra),
    L.Linear: Rule(_linear_op_jvp, _linear_extra),
    C.Conv2d: _bilinear(lambda xs: (1, xs[1].shape[0], 1, 1)),
    # pooling, losses, normalization
    P.MaxPool2d: Rule(_maxpool_jvp, _no_extra),
    LS.SoftmaxCrossEntropy: Rule(_sce_jvp, _sce_extra),
    LS.MSE: Rule(_mse_jvp, _mse_extra), LS.BCEWithLogits: Rule(_bce_jvp, _bce_extra),
    N.BatchNorm: NORM, N._AffineNorm: NORM,
}


def rule_for(f) -> Rule:
    """The rule of ``f``'s op; raises :class:`NoRule` naming the op when there is none."""
    r = RULES.get(type(f))
    if r is None:
        raise NoRule(f"no exact Hessian-vector rule for the op {type(f).__name__}")
    return r


__all__ = ["Rule", "RULES", "NoRule", "rule_for"]
