"""optimizer-paths: SGD, Momentum, AdaGrad and Adam on f(x, y) = x²/20 + y² (seed 003).

The book's ``ch06/optimizer_compare_naive.py``: start at (−7, 2), 30 steps, step sizes
SGD 0.95, Momentum 0.1 (μ = 0.9), AdaGrad 1.5, Adam 0.3.  The library's optimizers
(``deeprecipe.optim``) move a 2-element Parameter; the gradient comes from autodiff
of f.  f is 20× steeper in y than in x, so a step size that makes progress along x
overshoots along y.

Decision (thresholds fixed from the claim's words before running; the run is
deterministic, so one seed):
  * "SGD zig-zags": at least half of SGD's consecutive y-steps reverse direction;
  * "Momentum overshoots": its path passes the minimum along x by more than 0.1;
  * "AdaGrad and Adam go smoothly": each reverses its y-direction at most half as often as SGD.
Path length and final distance to the minimum are reported for every optimizer.
"""
from __future__ import annotations

import numpy as np

from ..experiment import Experiment
from ..plotting import color
from ..rules import check_value, combine

OPTIMIZERS = ("SGD", "Momentum", "AdaGrad", "Adam")


def f(x, y):
    return x ** 2 / 20.0 + y ** 2


def _make(name, params, cfg):
    from ... import optim
    if name == "SGD":
        return optim.SGD(params, lr=cfg["lr_sgd"])
    if name == "Momentum":  # the book's v ← αv − ηg, θ ← θ + v
        return optim.SGD(params, lr=cfg["lr_momentum"], momentum=0.9, form="lecture")
    if name == "AdaGrad":   # the book adds 1e-7 to √h
        return optim.Adagrad(params, lr=cfg["lr_adagrad"], eps=1e-7)
    if name == "Adam":
        return optim.Adam(params, lr=cfg["lr_adam"], betas=(0.9, 0.999))
    raise ValueError(name)


def path_of(name, cfg):
    """Positions visited by optimizer ``name``: array (steps + 1, 2), float64."""
    from ... import Parameter, default_dtype
    with default_dtype(np.float64):
        p = Parameter(np.array(cfg["start"], dtype=np.float64))
        opt = _make(name, [p], cfg)
        path = [p.data.copy()]
        for _ in range(cfg["steps"]):
            opt.zero_grad()
            loss = p[0] ** 2 / 20.0 + p[1] ** 2
            loss.backward()
            opt.step()
            path.append(p.data.copy())
    return np.array(path)


def zigzag(path) -> float:
    """Share of consecutive y-steps that reverse direction (0: monotone, 1: every step)."""
    dy = np.diff(path[:, 1])
    prod = dy[1:] * dy[:-1]
    moving = prod != 0
    return float(np.mean(prod[moving] < 0)) if moving.any() else 0.0


def run(config, seed, ctx):
    out = {}
    for name in OPTIMIZERS:
        path = path_of(name, config)
        steps = np.diff(path, axis=0)
        out[name] = {
            "path": path,
            "path_length": float(np.linalg.norm(steps, axis=1).sum()),
            "final_distance": float(np.linalg.norm(path[-1])),
            "final_loss": float(f(*path[-1])),
            "zigzag_y": zigzag(path),
            "x_overshoot": float(max(0.0, path[:, 0].max())) if config["start"][0] < 0 else
            float(max(0.0, -path[:, 0].min())),
        }
    return out


def plot(results, fig):
    fig.set_size_inches(12, 8)
    axes = fig.subplots(2, 2).ravel()
    cfg = results.config
    xs = np.linspace(-10, 10, 200)
    ys = np.linspace(-5, 5, 200)
    X, Y = np.meshgrid(xs, ys)
    Z = f(X, Y)
    for i, (ax, name) in enumerate(zip(axes, OPTIMIZERS)):
        r = results.runs[0][name]
        path = np.asarray(r["path"])
        ax.contour(X, Y, Z, levels=np.linspace(0.5, 25, 12), colors="0.75", linewidths=0.7)
        ax.plot(path[:, 0], path[:, 1], "o-", color=color(i), markersize=3, linewidth=1)
        ax.plot(0, 0, "+", color="k", markersize=10)
        lr = cfg[{"SGD": "lr_sgd", "Momentum": "lr_momentum", "AdaGrad": "lr_adagrad", "Adam": "lr_adam"}[name]]
        ax.set_title(f"{name} (lr {lr}): length {r['path_length']:.3g}, final distance "
                     f"{r['final_distance']:.2g}, y-reversals {r['zigzag_y']:.0%}", fontsize=9)
        ax.set_xlim(-10, 10)
        ax.set_ylim(-5, 5)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
    fig.suptitle(f"f(x, y) = x²/20 + y², {cfg['steps']} steps from {tuple(cfg['start'])}")


def verdict(results):
    r = results.runs[0]
    sgd = r["SGD"]["zigzag_y"]
    checks = [
        check_value("SGD y-reversal share", sgd, ">=", 0.5),
        check_value("Momentum x-overshoot past the minimum", r["Momentum"]["x_overshoot"], ">", 0.1),
        check_value("AdaGrad y-reversal share / SGD's", r["AdaGrad"]["zigzag_y"] / max(sgd, 1e-12), "<=", 0.5),
        check_value("Adam y-reversal share / SGD's", r["Adam"]["zigzag_y"] / max(sgd, 1e-12), "<=", 0.5),
    ]
    extra = {}
    for name in OPTIMIZERS:
        extra[f"{name} path length"] = round(r[name]["path_length"], 3)
        extra[f"{name} final distance"] = float(f"{r[name]['final_distance']:.3g}")
    return combine(checks, "SGD zig-zags in y, Momentum overshoots the minimum in x, AdaGrad and Adam "
                           "reverse their y-direction at most half as often as SGD", extra)


_BOOK = dict(start=[-7.0, 2.0], steps=30, lr_sgd=0.95, lr_momentum=0.1, lr_adagrad=1.5, lr_adam=0.3, seeds=1)

EXPERIMENT = Experiment(
    id="optimizer-paths",
    title="Optimizer trajectories on an elongated bowl",
    source=("003",),
    claim=("On f(x,y) = x²/20 + y², SGD zig-zags, Momentum overshoots and rolls, AdaGrad and Adam go "
           "smoothly toward the minimum."),
    presets={"test": dict(_BOOK), "quick": dict(_BOOK), "full": dict(_BOOK)},
    run=run, plot=plot, verdict=verdict)
