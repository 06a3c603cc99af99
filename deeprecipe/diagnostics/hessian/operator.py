"""``HessianOperator``: exact Hessian-vector products of a loss by forward-over-reverse.

One call of the closure records the graph; one reverse pass gives the gradient and keeps
each op's output gradient ``gy``.  Then each product ``H v`` is

1. a forward-mode (tangent) pass: parameter tangents ``v``, every op's output tangent from
   its rule's ``jvp`` (:mod:`.rules`);
2. a reverse pass over the tangents of the gradients: for each op, in reverse order,
   ``ġx = B(x, ġy) + (∂B/∂x)[ẋ] gy`` — the op's own backward on ``ġy`` plus its rule's
   ``extra``.  At the parameters ``ġ = H v`` exactly (Pearlmutter 1994,
   https://doi.org/10.1162/neco.1994.6.1.147), up to floating-point rounding.

Cost per product: about one forward and two backward passes (measured against a gradient
in ``benchmarks/bench_hvp.py``); the graph and the ``gy`` of every op stay in memory
while the operator is open, so many products (a full Hessian, Lanczos) share one forward.

Ops without a rule: with ``method="auto"`` the operator falls back to central
differences of the gradient, ``H v ≈ (∇L(w + εv̂) − ∇L(w − εv̂)) ‖v‖ / 2ε`` with ``v̂ =
v/‖v‖`` (two closure calls per product, truncation error O(ε²)‖∇³L‖ plus rounding
≈ u·|∇L|/ε: about 1e-6 relative in float64 and 1e-2 in float32 at ε = 1e-3), and warns
naming the ops; ``method="exact"`` raises instead; ``method="fd"`` forces differences.

The parameters and their ``.grad`` are never written by the exact method (the gradients
are kept in the operator, not in ``.grad``); the difference method moves the parameters
and copies them back bit for bit.  The closure must be deterministic (dropout and batch
norm: see :func:`.model_closure`).
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ...backend import get_array_module
from ...config import enable_grad
from .._norms import sq_norms
from ..layers import named_params
from .rules import NoRule, rule_for

METHODS = ("auto", "exact", "fd")


def as_param_list(params) -> list:
    """A list of Parameters from a Module, a dict, or a list (``ValueError`` when empty)."""
    ps = list(params) if isinstance(params, (list, tuple)) else [p for _, p in named_params(params)]
    if not ps:
        raise ValueError("no parameters given for the Hessian: pass a Module or a non-empty list of Parameters")
    return ps


def _loss_of(closure):
    with enable_grad():
        loss = closure()
    if not hasattr(loss, "backward") or not hasattr(loss, "creator"):
        raise TypeError(f"the closure must return the loss Tensor (with a graph), got {type(loss).__name__}")
    if loss.data.size != 1:
        raise ValueError(f"the closure must return a scalar loss, got shape {loss.shape}")
    return loss


def _graph(loss) -> list:
    """The Functions that produced ``loss``, in an order where each comes after its inputs'."""
    fs, stack = {}, [loss.creator]
    while stack:
        f = stack.pop()
        if f is None or id(f) in fs:
            continue
        if f.inputs is None:
            raise RuntimeError(f"the graph of the loss was freed ({type(f).__name__}): the closure must "
                               "compute the loss afresh, not return one already backpropagated")
        fs[id(f)] = f
        stack.extend(x.creator for x in f.inputs if x.creator is not None)
    return sorted(fs.values(), key=lambda f: f.generation)  # generations grow along every edge


def _outputs(f):
    return [r() for r in f.outputs]


class HessianOperator:
    """The Hessian of ``closure()`` w.r.t. ``params`` at the current parameters, as a
    linear operator; use as a context manager (``close()`` frees the graph).

    Args:
        closure: ``() -> scalar loss Tensor``, recomputing the forward pass.
        params: a Module, or a list/dict of Parameters.
        method: ``"auto"`` (exact, else finite differences with a warning), ``"exact"``, ``"fd"``.
        eps: finite-difference step along the unit direction (fd only).

    Attributes: ``loss`` (float), ``grad`` (list of arrays, the gradient at the point),
    ``method`` (the method in use), ``n`` (number of scalar parameters), ``shapes``.
    Methods: :meth:`matvec` (list of arrays), :meth:`matvec_flat` (1-D float64).
    """

    def __init__(self, closure, params, method: str = "auto", eps: float = 1e-3):
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        self.closure, self.params, self.eps = closure, as_param_list(params), float(eps)
        self.shapes = [p.data.shape for p in self.params]
        self.sizes = [int(p.data.size) for p in self.params]
        self.n = sum(self.sizes)
        self.xp = get_array_module(self.params[0].data)
        self.dtype = self.params[0].data.dtype
        self._fs = []
        self.method = "fd" if method == "fd" else "exact"
        self.missing = []
        if method != "fd":
            self._record()
            if self.missing:
                if method == "exact":
                    self.close()
                    raise NoRule("no exact Hessian-vector rule for: " + ", ".join(self.missing)
                                 + " (use method='fd' or 'auto' for finite differences)")
                warnings.warn(f"Hessian: no exact rule for {', '.join(self.missing)}; using central "
                              "differences of the gradient (about 1e-6 relative error in float64, "
                              "1e-2 in float32)", RuntimeWarning, stacklevel=2)
                self.close()
                self.method = "fd"
        if self.method == "fd":
            self.grad, self.loss = _fd_grads(closure, self.params)

    # ------------------------------------------------------------------ recording
    def _record(self):
        loss = _loss_of(self.closure)
        self._loss_t = loss
        self.loss = float(loss.data)
        fs = self._fs = _graph(loss)
        # which tensors depend on the parameters (only their ops need a rule)
        live = {id(p) for p in self.params}
        self._active = []
        for f in fs:
            if any(id(x) in live for x in f.inputs):
                self._active.append(f)
                for o in _outputs(f):
                    if o is not None:
                        live.add(id(o))
                try:
                    rule_for(f)
                except NoRule:
                    name = type(f).__name__
                    if name not in self.missing:
                        self.missing.append(name)
        self._live = live
        if self.missing:
            return
        # the primal reverse pass, keeping every op's output gradients
        xp = self.xp
        grads = {id(loss): xp.ones_like(loss.data)}
        self._gys = {}
        for f in reversed(fs):
            outs = _outputs(f)
            gys = [None if o is None else grads.pop(id(o), None) for o in outs]
            if all(g is None for g in gys):
                continue
            if len(gys) > 1:
                gys = [xp.zeros(s, d) if g is None else g for g, (s, d) in zip(gys, f.out_meta)]
            self._gys[id(f)] = gys
            gxs = f.backward(*gys)
            gxs = gxs if isinstance(gxs, tuple) else (gxs,)
            for x, gx in zip(f.inputs, gxs):
                if gx is not None and x._requires_grad:
                    grads[id(x)] = gx if id(x) not in grads else grads[id(x)] + gx
        self.grad = [self._leaf(grads.get(id(p)), p) for p in self.params]

    def _leaf(self, g, p):
        if g is None:
            return self.xp.zeros_like(p.data)
        return g.astype(p.data.dtype, copy=False) if g.dtype != p.data.dtype else g

    # ------------------------------------------------------------------ products
    def matvec(self, v) -> list:
        """``H v`` for ``v`` a list of arrays shaped like the parameters."""
        if len(v) != len(self.params):
            raise ValueError(f"v has {len(v)} arrays but there are {len(self.params)} parameters")
        for vi, s in zip(v, self.shapes):
            if tuple(vi.shape) != tuple(s):
                raise ValueError(f"v's arrays must have the parameters' shapes {self.shapes}, got {vi.shape} for {s}")
        if self.method == "fd":
            return _fd_hvp(self.closure, self.params, v, self.eps)
        if self._fs and self._fs[0].inputs is None:
            raise RuntimeError("this HessianOperator was closed; make a new one")
        tan = {id(p): vi.astype(p.data.dtype, copy=False) for p, vi in zip(self.params, v)}
        for f in self._active:
            txs = [tan.get(id(x)) for x in f.inputs]
            if all(t is None for t in txs):
                continue
            tys = rule_for(f).jvp(f, [x.data for x in f.inputs], txs)
            for o, t in zip(_outputs(f), tys):
                if o is not None and t is not None:
                    tan[id(o)] = t
        xp = self.xp
        tg = {}
        for f in reversed(self._active):
            gys = self._gys.get(id(f))
            if gys is None:
                continue
            outs = _outputs(f)
            tgys = [None if o is None else tg.pop(id(o), None) for o in outs]
            txs = [tan.get(id(x)) for x in f.inputs]
            parts = [None] * len(f.inputs)
            if any(t is not None for t in tgys):
                if len(tgys) > 1:
                    tgys = [xp.zeros(s, d) if t is None else t for t, (s, d) in zip(tgys, f.out_meta)]
                lin = f.backward(*tgys)
                parts = list(lin) if isinstance(lin, tuple) else [lin]
            if any(t is not None for t in txs):
                ext = rule_for(f).extra(f, [x.data for x in f.inputs], txs, gys)
                parts = [a if b is None else (b if a is None else a + b) for a, b in zip(parts, ext)]
            for x, t in zip(f.inputs, parts):
                if t is not None and x._requires_grad and id(x) in self._live:
                    tg[id(x)] = t if id(x) not in tg else tg[id(x)] + t
        return [self._leaf(tg.get(id(p)), p) for p in self.params]

    def flatten(self, arrays) -> np.ndarray:
        """Parameter-shaped arrays -> one float64 NumPy vector (parameter order)."""
        from ...backend import to_device
        return np.concatenate([np.asarray(to_device(a, "cpu"), dtype=np.float64).reshape(-1) for a in arrays])

    def unflatten(self, vec) -> list:
        """One flat vector -> arrays shaped like the parameters (their dtype and device)."""
        out, k = [], 0
        for s, size in zip(self.shapes, self.sizes):
            out.append(self.xp.asarray(np.asarray(vec[k:k + size]).reshape(s), dtype=self.dtype))
            k += size
        return out

    def matvec_flat(self, v) -> np.ndarray:
        """``H v`` on flat float64 vectors of length ``n``."""
        v = np.asarray(v, dtype=np.float64)
        if v.shape != (self.n,):
            raise ValueError(f"v must have shape ({self.n},), got {v.shape}")
        return self.flatten(self.matvec(self.unflatten(v)))

    def close(self) -> None:
        """Free the recorded graph (recycles the ops' buffers)."""
        for f in self._fs:
            if f.inputs is not None:
                f.release()
        self._gys = {}
        self._loss_t = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---------------------------------------------------------------------------- finite differences
def _fd_grads(closure, params):
    """Loss and gradients of ``closure()`` w.r.t. ``params``, the params' own ``.grad`` kept."""
    saved = [p.grad for p in params]
    for p in params:
        p.grad = None
    try:
        loss = _loss_of(closure)
        loss.backward()
        grads = [p.grad if p.grad is not None else get_array_module(p.data).zeros_like(p.data) for p in params]
    finally:
        for p, g in zip(params, saved):
            p.grad = g
    return grads, float(loss.data)


def _fd_hvp(closure, params, v, eps):
    vnorm = math.sqrt(sum(sq_norms(list(v))))
    if vnorm == 0.0:
        return [get_array_module(p.data).zeros_like(p.data) for p in params]
    h = eps / vnorm
    saved = [p.data.copy() for p in params]
    try:
        for p, vi in zip(params, v):
            p.data += h * vi  # in place: optimizers may hold p.data as a view of a flat buffer
        g_plus = _fd_grads(closure, params)[0]
        for p, w, vi in zip(params, saved, v):
            p.data[...] = w
            p.data -= h * vi
        g_minus = _fd_grads(closure, params)[0]
    finally:
        for p, w in zip(params, saved):
            p.data[...] = w
    scale = vnorm / (2 * eps)  # undo the normalisation of v: the product is linear in v
    return [(gp - gm) * scale for gp, gm in zip(g_plus, g_minus)]


def hessian_vector_product(closure, params, v, eps: float = 1e-3, method: str = "auto") -> list:
    """``H v`` of the loss ``closure()`` at the current parameters.

    Args:
        closure: ``() -> scalar loss Tensor``, recomputing the forward pass.
        params: list of Parameters (or a Module: all its parameters).
        v: list of arrays, one per parameter.
        eps: finite-difference step along the unit direction (``method="fd"`` or fallback).
        method: ``"auto"`` (exact forward-over-reverse, finite differences for graphs with
            ops that have no exact rule), ``"exact"`` or ``"fd"``; see :class:`HessianOperator`.

    Parameters and their ``.grad`` are left bit-identical.
    """
    with HessianOperator(closure, params, method=method, eps=eps) as H:
        return H.matvec(list(v))
