"""A plain seeded training loop and a learning-rate grid, shared by the landscape and
normalization experiments (plain-vs-residual, batch-size, stuck-not-small,
batchnorm-sigmoid-lr, normalizers).

``train_steps`` is ``fit`` without callbacks: shuffle without replacement each epoch
(seeded), forward, backward, optimizer step; it records every step's mini-batch loss
(train mode) and, when asked, the global gradient norm of that step, and stops at a
non-finite loss (``diverged``).  Deep nets of small width spend their time in per-op
Python overhead, so the loop keeps none of its own.  ``pick_lr`` trains one arm at each
learning rate of a grid and keeps the one with the lowest *validation* loss (a diverged
run counts as +inf), so every arm of a comparison runs at its own best rate.
"""
from __future__ import annotations

import math

import numpy as np

from ._probes import evaluate_arrays


def train_steps(model, x, y, *, lr: float, steps: int, batch_size: int, seed: int, optimizer: str = "sgd",
                optimizer_kwargs=None, grad_norm: bool = False) -> dict:
    """Train ``model`` in place for ``steps`` optimizer steps; returns the curves (module docstring)."""
    from ... import Tensor
    from ... import functions as F
    from ...diagnostics import global_grad_norm
    from ..training import make_optimizer
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size must be positive, got {steps}, {batch_size}")
    opt = make_optimizer(model, optimizer, lr, **(optimizer_kwargs or {}))
    rng = np.random.default_rng(seed)
    n = len(x)
    batch_size = min(int(batch_size), n)
    losses, norms = [], []
    order, pos = rng.permutation(n), 0
    model.train()
    diverged = False
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for _ in range(int(steps)):
            if pos + batch_size > n:  # a new epoch: reshuffle (the short tail is dropped)
                order, pos = rng.permutation(n), 0
            idx = order[pos:pos + batch_size]
            pos += batch_size
            opt.zero_grad()
            out = F.cross_entropy(model(Tensor(x[idx])), y[idx])
            out.backward()
            value = float(out.item())
            losses.append(value)
            if grad_norm:
                norms.append(float(global_grad_norm(model)))
            if not math.isfinite(value):
                diverged = True
                break
            opt.step()
    rec = {"step_loss": np.asarray(losses), "diverged": diverged, "steps": len(losses)}
    if grad_norm:
        rec["grad_norm"] = np.asarray(norms)
    return rec


def final_metrics(model, data) -> dict:
    """Accuracy and cross-entropy on the whole train/val/test splits, eval mode."""
    out = {}
    for name in ("train", "val", "test"):
        x, y = getattr(data, f"x_{name}"), getattr(data, f"y_{name}")
        if len(y):
            out[f"{name}_acc"], out[f"{name}_loss"] = evaluate_arrays(model, x, y)
    return out


def pick_lr(make_model, data, lrs, **train_kw) -> dict:
    """Train a fresh ``make_model()`` at each rate of ``lrs``; keep the lowest validation loss.

    Returns ``{"lr", "val_loss" (per grid rate), "model", "curves", "final"}`` of the best run.
    """
    best, val = None, []
    for lr in lrs:
        model = make_model()
        rec = train_steps(model, data.x_train, data.y_train, lr=float(lr), **train_kw)
        fin = final_metrics(model, data)
        v = fin.get("val_loss", math.nan)
        v = v if math.isfinite(v) and not rec["diverged"] else math.inf
        val.append(v)
        if best is None or v < best[0]:
            best = (v, float(lr), model, rec, fin)
    return {"lr": best[1], "val_loss": np.asarray(val), "model": best[2], "curves": best[3], "final": best[4]}


def padded_curve(step_loss, steps: int) -> np.ndarray:
    """A run's per-step losses padded with NaN to ``steps`` (a diverged run stops early),
    so curves of all seeds stack into one array."""
    curve = np.full(int(steps), np.nan)
    curve[:len(step_loss)] = step_loss
    return curve


def plot_step_losses(ax, results, keys, labels, points: int = 30, styles=None) -> None:
    """Mean mini-batch loss curves over seeds with 95% bands, one per ``keys`` entry (a
    ``'<arm>.step_loss'`` metric), averaged over blocks of steps (``points`` per curve)."""
    from ..plotting import color, plot_band
    for i, (key, label) in enumerate(zip(keys, labels)):
        c = results.stack(key)
        k = max(1, c.shape[1] // points)
        T = (c.shape[1] // k) * k
        with np.errstate(all="ignore"):
            sm = np.nanmean(c[:, :T].reshape(c.shape[0], -1, k), axis=2)
        plot_band(ax, np.arange(sm.shape[1]) * k, sm, label=label, color=color(i),
                  **({} if styles is None else {"linestyle": styles[i]}))
    ax.set(xlabel="step", ylabel="mini-batch training loss")
    ax.legend()
