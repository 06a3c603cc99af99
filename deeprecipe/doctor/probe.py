"""Model bias or optimization?  Seed 004 (L3): compare with a shallower network.

"If a shallower network reaches a *lower training loss* than the deep one, the deep one
has an optimization problem, not model bias" — the deeper net contains the shallower one
(its extra layers could be identities), so with a working optimizer it can only do better
on the training data.  :func:`run_control` trains that control (same data, optimizer,
learning rate, seed and epoch budget; written next to the run as ``RUN-probe``; the run
itself is never touched) and :func:`saddle_curvature` confirms a saddle point with a
negative Hessian eigenvalue at the run's final weights.
"""
from __future__ import annotations

import dataclasses
import math
import os

import numpy as np

from .signals import from_run_dir


def control_model(model: str) -> str:
    """The shallower control of a model spec: one hidden layer less (``mlp:512,256`` ->
    ``mlp:512``; ``mlp:64`` -> ``mlp``, a linear model); a CNN keeps its first block."""
    from ..train.config import parse_model_spec
    spec = parse_model_spec(model)
    if spec.kind == "mlp":
        return "mlp:" + ",".join(str(h) for h in spec.hidden[:-1]) if len(spec.hidden) > 1 else "mlp"
    if len(spec.hidden) > 1:
        return f"cnn:{spec.hidden[0]}/" + ",".join(str(h) for h in spec.fc)
    return f"cnn:{spec.hidden[0]}/"


def run_control(run_dir, out: str | None = None) -> dict:
    """Train the shallower control of the run in ``run_dir``; returns
    ``{"control_model", "control_loss", "run_loss", "control_dir"}`` (final training losses)."""
    from ..train.config import TrainConfig, validate
    from ..train.job import run
    sig = from_run_dir(run_dir)
    fields = set(TrainConfig.field_names())
    cfg = TrainConfig(**{k: v for k, v in sig.config.items() if k in fields})
    out = out or os.path.normpath(os.fspath(run_dir)) + "-probe"
    cfg = dataclasses.replace(cfg, model=control_model(cfg.model), out=out, overwrite=os.path.exists(out),
                              resume=False, progress="none", doctor="off", patience=0)
    summary = run(validate(cfg))
    loss = summary["history"]["history"]["loss"]
    control = float(loss[-1]) if loss and loss[-1] is not None else math.inf
    run_loss = sig.get("loss")
    return {"control_model": cfg.model, "control_loss": control,
            "run_loss": float(run_loss[-1]) if run_loss.size else math.nan, "control_dir": out}


def saddle_curvature(run_dir, n: int = 256, iters: int = 30) -> float:
    """Smallest Hessian eigenvalue of the training loss at the run's last checkpoint, on
    ``n`` training examples (float64, eval mode), by power iteration on ``λ_top·I − H``
    after the top eigenvalue (the top one from :func:`~deeprecipe.diagnostics.top_hessian_eigenvalue`).
    A clearly negative value confirms a saddle point (seed 004 L4)."""
    from .. import default_dtype
    from ..diagnostics import hessian_vector_product, top_hessian_eigenvalue
    from ..diagnostics.inspection import resolve_loss
    from ..engine.tensor import Tensor
    from ..train.config import TrainConfig, validate
    from ..train.job import build_model, load_data
    from ..serialization import load_checkpoint
    sig = from_run_dir(run_dir)
    fields = set(TrainConfig.field_names())
    cfg = validate(TrainConfig(**{k: v for k, v in sig.config.items() if k in fields}))
    data = load_data(cfg)
    with default_dtype(np.float64):
        model = build_model(cfg, data)
    state = load_checkpoint(os.path.join(run_dir, "checkpoints", "last.npz"), restore_rng=False)["model"]
    model.load_state_dict({k: np.asarray(v, np.float64) for k, v in state.items()})
    model.eval()
    x, y = Tensor(data.x_train[:n].astype(np.float64)), data.y_train[:n]
    fn = resolve_loss("cross_entropy")
    params = list(model.parameters())

    def closure():
        return fn(model(x), y)

    top = top_hessian_eigenvalue(closure, params, iters=iters, rng=0).eigenvalue
    shift = abs(top)
    rng = np.random.default_rng(0)
    v = [rng.standard_normal(p.data.shape) for p in params]
    lam = 0.0
    for _ in range(iters):
        nv = math.sqrt(sum(float((a * a).sum()) for a in v))
        v = [a / nv for a in v]
        hv = hessian_vector_product(closure, params, v)
        w = [shift * a - b for a, b in zip(v, hv)]                 # (shift·I − H) v
        lam = shift - sum(float((a * b).sum()) for a, b in zip(v, w))  # Rayleigh quotient of H
        v = w
    return float(lam)
