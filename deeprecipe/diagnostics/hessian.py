"""Top Hessian eigenvalue of a loss ("sharpness") by power iteration.

Hessian-vector products come from central differences of the gradient,
``H v ≈ (∇L(w + εv) − ∇L(w − εv)) / (2ε)`` (Pearlmutter 1994 gives the exact R-operator;
the finite difference needs only backward passes, error O(ε²)).  Power iteration on
``v ← Hv / ||Hv||`` converges to the eigenvector of the eigenvalue of largest *magnitude*;
the Rayleigh quotient ``vᵀHv`` (sign kept) is returned.  Near a minimum that is the top
(positive) eigenvalue, the sharpness of Keskar et al. 2017 (https://arxiv.org/abs/1609.04836):
large-batch training ends in sharper minima.

The closure must be deterministic (put dropout in eval mode; batch norm in eval mode, or
train mode on a fixed batch) and is evaluated twice per iteration.  Use float64 parameters
for accurate values: in float32 the finite difference keeps about 3-4 significant digits.
"""
from __future__ import annotations

import math
from typing import NamedTuple

from ..backend import get_array_module, get_rng
from ._norms import sq_norms
from .layers import named_params


class HessianEig(NamedTuple):
    eigenvalue: float
    vector: list          # one array per parameter, unit norm over all of them
    n_iter: int
    converged: bool


def _params(params):
    ps = [p for _, p in named_params(params)] if not isinstance(params, (list, tuple)) else list(params)
    if not ps:
        raise ValueError("no parameters given for the Hessian")
    return ps


def _grads(closure, params):
    """Gradients of ``closure()`` w.r.t. ``params``, leaving the params' own ``.grad`` untouched."""
    saved = [p.grad for p in params]
    for p in params:
        p.grad = None
    try:
        loss = closure()
        if not hasattr(loss, "backward"):
            raise TypeError(f"the closure must return the loss Tensor (with a graph), got {type(loss).__name__}")
        loss.backward()
        grads = [p.grad if p.grad is not None else get_array_module(p.data).zeros_like(p.data) for p in params]
    finally:
        for p, g in zip(params, saved):
            p.grad = g
    return grads


def hessian_vector_product(closure, params, v, eps: float = 1e-3):
    """``H v`` of the loss ``closure()`` at the current parameters, by central differences.

    Args:
        closure: ``() -> scalar loss Tensor``, recomputing the forward pass.
        params: list of Parameters (or a Module: all its parameters).
        v: list of arrays, one per parameter (any norm; the step is ``eps * v / ||v||``).
        eps: finite-difference step along the unit direction.

    The parameters are restored exactly (copied back, not subtracted) afterwards.
    """
    params = _params(params)
    if len(v) != len(params):
        raise ValueError(f"v has {len(v)} arrays but there are {len(params)} parameters")
    vnorm = math.sqrt(sum(sq_norms(list(v))))
    if vnorm == 0.0:
        return [get_array_module(p.data).zeros_like(p.data) for p in params]
    h = eps / vnorm
    saved = [p.data.copy() for p in params]
    try:
        for p, vi in zip(params, v):
            p.data += h * vi  # in place: optimizers may hold p.data as a view of a flat buffer
        g_plus = _grads(closure, params)
        for p, w, vi in zip(params, saved, v):
            p.data[...] = w
            p.data -= h * vi
        g_minus = _grads(closure, params)
    finally:
        for p, w in zip(params, saved):
            p.data[...] = w
    scale = vnorm / (2 * eps)  # undo the normalisation of v: the product is linear in v
    return [(gp - gm) * scale for gp, gm in zip(g_plus, g_minus)]


def top_hessian_eigenvalue(closure, params, iters: int = 100, tol: float = 1e-4, eps: float = 1e-3,
                           rng=None) -> HessianEig:
    """Eigenvalue of largest magnitude of the loss Hessian, by power iteration.

    Args:
        closure: ``() -> scalar loss Tensor`` (e.g. ``lambda: F.cross_entropy(model(x), y)``).
        params: list of Parameters or a Module.
        iters: maximum number of power iterations (two backward passes each).
        tol: stop when the eigenvalue estimate changes by less than ``tol * |estimate|``.
        eps: finite-difference step (see :func:`hessian_vector_product`).
        rng: seed or Generator for the random start vector.

    Returns:
        :class:`HessianEig` ``(eigenvalue, vector, n_iter, converged)``.
    """
    params = _params(params)
    if iters < 1:
        raise ValueError(f"iters must be >= 1, got {iters}")
    gen = get_rng(rng)
    xp = get_array_module(params[0].data)
    v = [xp.asarray(gen.standard_normal(p.data.shape)).astype(p.data.dtype) for p in params]
    norm = math.sqrt(sum(sq_norms(v)))
    v = [vi / norm for vi in v]
    lam = None
    for it in range(1, iters + 1):
        hv = hessian_vector_product(closure, params, v, eps)
        new_lam = sum(float(vi.reshape(-1) @ hi.reshape(-1)) for vi, hi in zip(v, hv))  # vᵀHv, ||v|| = 1
        hnorm = math.sqrt(sum(sq_norms(hv)))
        if hnorm == 0.0:  # v is in the null space: the Hessian is 0 along every direction tried
            return HessianEig(0.0, v, it, True)
        v = [hi / hnorm for hi in hv]
        if lam is not None and abs(new_lam - lam) <= tol * abs(new_lam):
            return HessianEig(new_lam, v, it, True)
        lam = new_lam
    return HessianEig(lam, v, iters, False)


def sharpness(model, x, y, loss_fn="cross_entropy", *, iters: int = 100, tol: float = 1e-4, eps: float = 1e-3,
              rng=None) -> HessianEig:
    """Top Hessian eigenvalue of ``loss_fn(model(x), y)`` w.r.t. all of ``model``'s parameters.

    The model runs in eval mode (dropout off, batch norm on its running statistics) so the
    loss is a deterministic function of the weights; its modes are restored afterwards.
    ``loss_fn`` is a callable or a name ``fit`` accepts (``"cross_entropy"``, ``"mse"``, ...).
    """
    from ..engine.tensor import as_tensor
    from .inspection import resolve_loss
    fn = resolve_loss(loss_fn)
    xt = as_tensor(x)
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        return top_hessian_eigenvalue(lambda: fn(model(xt), y), model, iters=iters, tol=tol, eps=eps, rng=rng)
    finally:
        for m, mode in modes:
            m.__dict__["training"] = mode  # restore each module's own mode, as Module.summary does
