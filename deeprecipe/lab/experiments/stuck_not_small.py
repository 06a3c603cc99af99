"""stuck-not-small: training stuck ≠ small gradient — the loss plateaus while the gradient
norm stays large (seed 004, lecture L6: "has anyone recorded the norm of the gradient when
training got stuck?").

Setting: an MLP 784 → 32 → 10 (ReLU, He init) trained by full-batch gradient descent on a
Fashion-MNIST subset (the gradient of each step is the exact gradient of the training
loss, no sampling noise), at a fixed learning rate; every step's loss and gradient norm
are recorded.  The plateau is the last ``plateau_fraction`` of the steps.  At the end the
top Hessian eigenvalue (exact, power iteration) is measured beside 2/lr, the curvature
beyond which gradient descent bounces between the walls of a valley instead of going down
(Cohen et al. 2021, https://arxiv.org/abs/2103.00065).

Decision (fixed from the claim's words), per seed; levels are medians over windows of
``max(3, T/20)`` steps (gradient descent at this rate oscillates):
  * there is a plateau: over the plateau window the loss falls by less than
    ``stuck_share`` of its total fall since step 0 (otherwise there is nothing to test:
    inconclusive);
  * the gradient norm stays large on it: log10(median gradient norm on the plateau /
    median gradient norm while the loss was falling, from step w to the plateau) has its
    95% interval over seeds above log10(``large_ratio``) (holds) — entirely below, does
    not hold: the gradient did vanish where the loss stalled.
The gradient norm at initialization and at the plateau's end relative to its start are
shown beside.

Changed after a first run (said here, as the lab's rules ask): the first version compared
the plateau with the first 5 steps and read the loss at single steps; the gradient at a He
initialization is several times its later size and the loss oscillates, so the reference is
now the descent phase and the levels are window medians.  The setting (lr, steps, data)
did not change.
"""
from __future__ import annotations

import math

import numpy as np

from ..experiment import HOLDS, INCONCLUSIVE, Experiment
from ..plotting import color, plot_band
from ..rules import Check, check_mean, combine, mean_pair


def plateau_numbers(loss, gnorm, plateau_fraction: float) -> dict:
    """Plateau window numbers of one run (module docstring); levels are medians over windows
    of ``w = max(3, T // 20)`` steps, because gradient descent at a large rate oscillates."""
    loss, gnorm = np.asarray(loss, float), np.asarray(gnorm, float)
    T = len(loss)
    w = max(3, T // 20)
    s = max(w + 1, min(T - w, int(round(T * (1 - plateau_fraction)))))
    l0, ls, le = np.median(loss[:w]), np.median(loss[s:s + w]), np.median(loss[-w:])
    total = l0 - le
    return {
        "plateau_start": s,
        "stuck_share": float((ls - le) / total) if total > 0 else math.inf,
        "grad_init": float(np.median(gnorm[:w])),
        "grad_descent": float(np.median(gnorm[w:s])),
        "grad_plateau": float(np.median(gnorm[s:])),
        "grad_plateau_end_over_start": float(np.median(gnorm[-w:]) / np.median(gnorm[s:s + w])),
    }


def run(config, seed, ctx):
    from ... import nn
    from ...diagnostics.hessian import sharpness
    from ..data import image_data
    from ._loop import train_steps
    data = image_data(config["data"], n_train=config["n_train"], n_test=10, seed=seed)
    model = nn.MLP([data.x_train.shape[1], *config["hidden"], data.n_classes], init="he", rng=seed)
    rec = train_steps(model, data.x_train, data.y_train, lr=config["lr"], steps=config["steps"],
                      batch_size=len(data.y_train), seed=seed, grad_norm=True)
    eig = sharpness(model, data.x_train, data.y_train, iters=config["power_iters"], tol=1e-3, rng=seed)
    nums = plateau_numbers(rec["step_loss"], rec["grad_norm"], config["plateau_fraction"])
    return {"loss": rec["step_loss"], "grad_norm": rec["grad_norm"], "diverged": rec["diverged"],
            "sharpness": float(eig.eigenvalue), "two_over_lr": 2.0 / config["lr"], **nums}


def plot(results, fig):
    fig.set_size_inches(12, 4.5)
    a1, a2 = fig.subplots(1, 2, sharex=True)
    loss, gn = results.stack("loss"), results.stack("grad_norm")
    steps = np.arange(loss.shape[1])
    plot_band(a1, steps, loss, label="training loss", color=color(0))
    plot_band(a2, steps, gn, label="gradient norm", color=color(1))
    s = int(results.first("plateau_start"))
    for ax in (a1, a2):
        ax.axvspan(s, steps[-1], color="0.9", zorder=0, label="plateau window")
        ax.set_xlabel("full-batch gradient descent step")
        ax.legend()
    a1.set(ylabel="loss", title="the loss stalls ...")
    a2.set(ylabel="‖∇L‖", yscale="log", title="... while the gradient stays large")


def verdict(results):
    cfg = results.config
    stuck = results.values("stuck_share")
    ratio = np.log10(results.values("grad_plateau") / results.values("grad_descent"))
    has_plateau = bool(np.all(stuck < cfg["stuck_share"]))
    c1 = Check(f"loss fall on the plateau / total fall < {cfg['stuck_share']:g} (every seed)",
               HOLDS if has_plateau else INCONCLUSIVE,
               {"loss fall on the plateau / total fall": ", ".join(f"{v:.3f}" for v in stuck)})
    c2 = check_mean("log10(grad norm on plateau / while the loss fell)", ratio, ">", math.log10(cfg["large_ratio"]))
    extra = {
        "grad norm while falling / on plateau": mean_pair(results.values("grad_descent"),
                                                          results.values("grad_plateau")),
        "grad norm at initialization": f"{results.values('grad_init').mean():.4g}",
        "grad norm plateau end / plateau start": f"{results.values('grad_plateau_end_over_start').mean():.3f}",
        "sharpness at the end / (2 / lr)": mean_pair(results.values("sharpness"), results.values("two_over_lr"), ".3g"),
    }
    return combine([c1, c2], f"While the loss stalls (falls by < {cfg['stuck_share']:g} of its total fall over "
                             f"the last {cfg['plateau_fraction']:g} of the steps) the gradient norm stays at least "
                             f"{cfg['large_ratio']:g} times its size while the loss was falling", extra)


_COMMON = dict(hidden=[32], plateau_fraction=0.5, stuck_share=0.1, large_ratio=0.25)
EXPERIMENT = Experiment(
    id="stuck-not-small",
    title="Training stuck is not a small gradient",
    source=("004",),
    claim=("When training gets stuck the gradient is not necessarily small: the loss plateaus while the "
           "gradient norm stays large."),
    presets={
        "test": dict(_COMMON, data="synthetic", n_train=64, lr=0.5, steps=20, power_iters=5, seeds=2),
        "quick": dict(_COMMON, data="fashion-mnist", n_train=500, lr=0.5, steps=300, power_iters=50, seeds=3),
        "full": dict(_COMMON, data="fashion-mnist", n_train=5000, lr=0.5, steps=3000, power_iters=100, seeds=5),
    },
    run=run, plot=plot, verdict=verdict)
