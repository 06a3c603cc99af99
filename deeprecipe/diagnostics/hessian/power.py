"""Top Hessian eigenvalue ("sharpness") by power iteration, and the (model, loss, batch) form.

Power iteration on ``v ← Hv / ||Hv||`` converges to the eigenvector of the eigenvalue of
largest *magnitude*; the Rayleigh quotient ``vᵀHv`` (sign kept) is returned.  Near a
minimum that is the top (positive) eigenvalue, the sharpness of Keskar et al. 2017
(https://arxiv.org/abs/1609.04836): large-batch training ends in sharper minima.  The
products are exact (:class:`HessianOperator`: one forward pass for all iterations); graphs
with ops that have no exact rule fall back to finite differences (``method``).
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from typing import NamedTuple

from ...backend import get_array_module, get_rng
from .._norms import sq_norms
from .operator import HessianOperator, as_param_list


class HessianEig(NamedTuple):
    eigenvalue: float
    vector: list          # one array per parameter, unit norm over all of them
    n_iter: int
    converged: bool


def top_hessian_eigenvalue(closure, params, iters: int = 100, tol: float = 1e-4, eps: float = 1e-3,
                           rng=None, method: str = "auto", v0=None) -> HessianEig:
    """Eigenvalue of largest magnitude of the loss Hessian, by power iteration.

    Args:
        closure: ``() -> scalar loss Tensor`` (e.g. ``lambda: F.cross_entropy(model(x), y)``).
        params: list of Parameters or a Module.
        iters: maximum number of power iterations (one Hessian-vector product each).
        tol: stop when the eigenvalue estimate changes by less than ``tol * |estimate|``.
        eps: finite-difference step (``method="fd"`` or the fallback only).
        rng: seed or Generator for the random start vector.
        method: ``"auto"``, ``"exact"`` or ``"fd"`` (see :class:`HessianOperator`).
        v0: start vector (list of arrays shaped like the parameters, e.g. the previous
            call's ``vector``: a warm start when the weights moved little); random if None.

    Returns:
        :class:`HessianEig` ``(eigenvalue, vector, n_iter, converged)``.
    """
    params = as_param_list(params)
    if iters < 1:
        raise ValueError(f"iters must be >= 1, got {iters}")
    gen = get_rng(rng)
    xp = get_array_module(params[0].data)
    if v0 is None:
        v = [xp.asarray(gen.standard_normal(p.data.shape)).astype(p.data.dtype) for p in params]
    else:
        v = [xp.asarray(a).astype(p.data.dtype) for a, p in zip(v0, params)]
    norm = math.sqrt(sum(sq_norms(v)))
    v = [vi / norm for vi in v]
    lam = None
    with HessianOperator(closure, params, method=method, eps=eps) as H:
        for it in range(1, iters + 1):
            hv = H.matvec(v)
            new_lam = sum(float(vi.reshape(-1) @ hi.reshape(-1)) for vi, hi in zip(v, hv))  # vᵀHv, ||v|| = 1
            hnorm = math.sqrt(sum(sq_norms(hv)))
            if hnorm == 0.0:  # v is in the null space: the Hessian is 0 along every direction tried
                return HessianEig(0.0, v, it, True)
            v = [hi / hnorm for hi in hv]
            if lam is not None and abs(new_lam - lam) <= tol * abs(new_lam):
                return HessianEig(new_lam, v, it, True)
            lam = new_lam
    return HessianEig(lam, v, iters, False)


@contextmanager
def frozen_modes(model, train: bool = False):
    """Run ``model`` in eval mode (``train=False``: dropout off, batch norm on its running
    statistics, so the loss is a deterministic function of the weights) or in train mode
    with its buffers (batch-norm running statistics) restored afterwards; each module's
    own mode is restored on exit."""
    modes = [(m, m.training) for m in model.modules()]
    buffers = [(b, b.copy()) for _, b in model.named_buffers() if b is not None] \
        if hasattr(model, "named_buffers") else []
    model.train(train) if train else model.eval()
    try:
        yield model
    finally:
        for m, mode in modes:
            m.__dict__["training"] = mode  # restore each module's own mode, as Module.summary does
        for b, saved in buffers:
            b[...] = saved


def model_closure(model, x, y, loss_fn="cross_entropy"):
    """``() -> loss_fn(model(x), y)`` (``loss_fn`` a callable or a name ``fit`` accepts)."""
    from ...engine.tensor import as_tensor
    from ..inspection import resolve_loss
    fn = resolve_loss(loss_fn)
    xt = as_tensor(x)
    return lambda: fn(model(xt), y)


def sharpness(model, x, y, loss_fn="cross_entropy", *, iters: int = 100, tol: float = 1e-4, eps: float = 1e-3,
              rng=None, method: str = "auto", train: bool = False, v0=None) -> HessianEig:
    """Top Hessian eigenvalue of ``loss_fn(model(x), y)`` w.r.t. all of ``model``'s parameters.

    The model runs in eval mode (``train=False``; see :func:`frozen_modes`) and its modes
    and buffers are restored afterwards.  ``loss_fn`` is a callable or a name ``fit``
    accepts (``"cross_entropy"``, ``"mse"``, ...).  A monitor: the batch-size experiment
    and the doctor call it on a fixed batch at chosen steps.
    """
    with frozen_modes(model, train):
        return top_hessian_eigenvalue(model_closure(model, x, y, loss_fn), model, iters=iters, tol=tol, eps=eps,
                                      rng=rng, method=method, v0=v0)
