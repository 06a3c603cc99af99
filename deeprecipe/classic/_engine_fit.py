"""Full-batch (or mini-batch) gradient descent with the library's engine and optimizers,
shared by :class:`~deeprecipe.classic.LogisticRegression` and the gradient-descent
:class:`~deeprecipe.classic.LinearRegression`."""
from __future__ import annotations

import math

import numpy as np


def gradient_descent(params: list, loss_fn, n: int, optimizer: str, lr: float, max_steps: int,
                     tol: float, batch_size: int | None, seed: int, optimizer_kwargs=None) -> dict:
    """Minimize ``loss_fn(index)`` (a scalar Tensor over the samples ``index``; ``None`` = all).

    ``batch_size=None`` is full-batch gradient descent, the lectures' setting: each step
    uses every sample, and training stops early once the largest gradient entry is at most
    ``tol`` (a stationary point).  With a batch size, the samples are reshuffled every
    epoch (seeded) and ``tol`` is not used.  The optimizer is one of ``deeprecipe.optim``
    by name (``'sgd'`` = plain gradient descent θ ← θ − η∇L).

    Returns ``{"loss_curve": (steps,) float64, "n_iter": steps, "converged": bool,
    "grad_max": last largest |gradient| entry}``; a non-finite loss (or non-finite parameters
    at the end) raises ``FloatingPointError`` naming the step or parameters and the learning rate.
    """
    from .. import optim
    if not (isinstance(max_steps, (int, np.integer)) and max_steps >= 1):
        raise ValueError(f"max_steps must be a positive integer, got {max_steps!r}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    if batch_size is not None and not (isinstance(batch_size, (int, np.integer)) and batch_size >= 1):
        raise ValueError(f"batch_size must be None (full batch) or a positive integer, got {batch_size!r}")
    opt = optim.create(optimizer, params, lr=float(lr), **(optimizer_kwargs or {}))
    rng = np.random.default_rng(seed)
    # A diverging run is reported by its non-finite loss or parameters (below); NumPy's
    # overflow warnings on the way there would only repeat it.
    with np.errstate(over="ignore", invalid="ignore"):
        curve, converged, grad_max = _loop(params, loss_fn, n, opt, lr, int(max_steps), tol, batch_size, rng)
    bad = [p.name or str(i) for i, p in enumerate(params) if not np.all(np.isfinite(p.data))]
    if bad:
        raise FloatingPointError(f"parameters {bad} became non-finite with lr={lr}; lower lr or standardize "
                                 "the features")
    return {"loss_curve": np.asarray(curve), "n_iter": len(curve), "converged": converged,
            "grad_max": grad_max}


def _loop(params, loss_fn, n, opt, lr, max_steps, tol, batch_size, rng):
    curve, converged, grad_max = [], False, math.inf
    order, pos = None, n
    for step in range(max_steps):
        if batch_size is None or batch_size >= n:
            index = None
        else:
            if pos + batch_size > n:
                order, pos = rng.permutation(n), 0
            index = order[pos:pos + batch_size]
            pos += batch_size
        opt.zero_grad()
        loss = loss_fn(index)
        value = float(loss.data)
        if not math.isfinite(value):
            raise FloatingPointError(f"the training loss became {value} at step {step} with lr={lr}; "
                                     "lower lr or standardize the features")
        loss.backward()
        curve.append(value)
        grad_max = max(float(np.max(np.abs(p.grad))) for p in params)
        if index is None and grad_max <= tol:
            converged = True
            break
        opt.step()
    return curve, converged, grad_max
