"""ce-vs-mse: square error is a poor classification loss — far from the target its gradient
is tiny (seeds 002, 004).

Hung-yi Lee's classification lecture: with cross-entropy the gradient with respect to the
logits is ``p − y`` — large when the prediction is far from the target; with square
error on the softmax outputs it is ``Jᵀ·2(p − y)`` where the softmax Jacobian
``J = diag(p) − ppᵀ`` vanishes as p saturates, so a confidently wrong prediction gets almost
no gradient, and training is slow.

Setting: one MLP (``hidden`` ReLU layers, He init) built twice from the same seed — the
same initial weights — and trained with the same SGD budget on the same data order with

* ``ce``:  softmax cross-entropy on the labels;
* ``mse``: Σ_c (softmax(z)_c − onehot(y)_c)², averaged over the batch (the lecture's square
  error on the network's outputs, summed over the classes as in the lecture's formula).

A probe measures the accuracy on ``probe_n`` training examples every ``probe_every`` steps,
and the global gradient norm of those steps.

Decision (thresholds fixed from the claim's words before running):
  * "training is slower": steps until the probe accuracy first reaches ``target_acc``; a run
    that never reaches it counts as the whole budget (a lower bound, which can only
    understate the gap).  Steps(MSE) − steps(CE), paired by seed, must have its 95% interval
    above 0.  If the CE run itself never reaches the target the check is inconclusive.
  * "its gradient is tiny": per seed, log10 of the ratio of the mean global gradient norm
    over the first ``early_steps`` steps, MSE / CE; interval below 0.
"""
from __future__ import annotations

import numpy as np

from ..experiment import INCONCLUSIVE, Experiment
from ..plotting import color, plot_band
from ..rules import Check, check_diff, check_mean, combine, mean_pair
from ._probes import train_probed


def mse_on_softmax(logits, y):
    """Σ_c (softmax(z)_c − onehot(y)_c)², averaged over the examples."""
    from ... import Tensor, functions as F
    from ...backend import get_array_module
    p = F.softmax(logits, dim=1)
    xp = get_array_module(p.data)
    n_classes = p.shape[1]
    target = xp.eye(n_classes, dtype=p.data.dtype)[xp.asarray(y).astype(xp.int64)]
    return F.mse_loss(p, Tensor(target)) * float(n_classes)


def steps_to(acc_step, acc, target: float, budget: int) -> tuple:
    """``(first step with acc ≥ target, reached?)``; ``(budget, False)`` when never reached."""
    acc = np.asarray(acc, dtype=np.float64)
    hit = np.nonzero(acc >= target)[0]
    if hit.size == 0:
        return int(budget), False
    return int(np.asarray(acc_step)[hit[0]]), True


def run(config, seed, ctx):
    from ...train.losses import LossSpec
    from ..data import image_data
    data = image_data(config["data"], n_train=config["n_train"], n_test=config["n_test"], seed=seed)
    out = {"data": data.describe()}
    for arm, loss in (("ce", "cross_entropy"), ("mse", LossSpec("mse_on_softmax", mse_on_softmax, "classes"))):
        metrics, _ = train_probed(
            data, hidden=config["hidden"], activation="relu", init="he", optimizer="sgd", lr=config["lr"],
            steps=config["steps"], batch_size=config["batch_size"], seed=seed, probe_n=config["probe_n"],
            probe_every=config["probe_every"], loss=loss, progress=ctx.progress)
        p = metrics["probe"]
        n, reached = steps_to(p["acc_step"], p["acc"], config["target_acc"], metrics["final"]["steps"])
        early = p["grad_step"] < config["early_steps"]
        metrics["final"]["steps_to_target"] = n
        metrics["final"]["reached_target"] = reached
        metrics["final"]["early_grad_norm"] = float(np.mean(p["global_grad_norm"][early]))
        out[arm] = metrics
    return out


def plot(results, fig):
    fig.set_size_inches(12, 4.5)
    ax1, ax2 = fig.subplots(1, 2)
    target = results.config.get("target_acc")
    for i, arm in enumerate(("ce", "mse")):
        label = {"ce": "softmax cross-entropy", "mse": "square error on softmax"}[arm]
        steps = np.asarray(results.first(f"{arm}.probe.acc_step"))
        plot_band(ax1, steps, results.stack(f"{arm}.probe.acc"), label=label, color=color(i))
        gsteps = np.asarray(results.first(f"{arm}.probe.grad_step"))
        plot_band(ax2, gsteps, np.log10(results.stack(f"{arm}.probe.global_grad_norm")), label=label,
                  color=color(i))
    if target is not None:
        ax1.axhline(target, color="gray", linestyle="--", label=f"target {target}")
    ax1.set_xlabel("SGD step")
    ax1.set_ylabel(f"accuracy on {results.config.get('probe_n')} training examples")
    ax1.set_ylim(0, 1.0)
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=8, loc="lower right")
    ax1.set_title("same net, same initial weights, same SGD budget", fontsize=10)
    ax2.axvspan(0, results.config.get("early_steps", 0), color="gray", alpha=0.15, label="early steps")
    ax2.set_xlabel("SGD step")
    ax2.set_ylabel("log10 global gradient norm")
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=8)
    ax2.set_title("gradient norm (mean ± 95% CI of log10 over seeds)", fontsize=10)


def verdict(results):
    s_ce, s_mse = results.values("ce.final.steps_to_target"), results.values("mse.final.steps_to_target")
    reached_ce = results.values("ce.final.reached_target")
    reached_mse = results.values("mse.final.reached_target")
    target = results.config.get("target_acc", "?")
    name = f"steps to {target} acc: MSE - CE"
    speed = check_diff(name, s_mse, s_ce, ">", 0.0)
    if not reached_ce.all():
        speed = Check(speed.text + " (CE did not reach the target in every seed)", INCONCLUSIVE, speed.numbers)
    g_ce, g_mse = results.values("ce.final.early_grad_norm"), results.values("mse.final.early_grad_norm")
    checks = [speed, check_mean("log10 early grad norm MSE / CE", np.log10(g_mse / g_ce), "<", 0.0)]
    extra = {
        f"steps to {target}: CE": round(float(s_ce.mean()), 1),
        f"steps to {target}: MSE": round(float(s_mse.mean()), 1),
        "MSE runs that reached the target": f"{int(reached_mse.sum())}/{len(reached_mse)}",
        "early grad norm CE / MSE": mean_pair(g_ce, g_mse, ".3g"),
        "final train acc CE / MSE": mean_pair(results.values('ce.final.train_acc_all'),
                                              results.values('mse.final.train_acc_all')),
    }
    return combine(checks, "From the same initial weights, square error on the softmax outputs needs more SGD "
                           "steps than cross-entropy to reach the target training accuracy, and its gradients "
                           "are smaller early in training", extra)


EXPERIMENT = Experiment(
    id="ce-vs-mse",
    title="Cross-entropy vs square error for classification",
    source=("002", "004"),
    claim=("Square error is a poor loss for classification: far from the target its gradient is tiny, so "
           "training with it is slow; cross-entropy keeps a large gradient there."),
    presets={
        "test": dict(data="synthetic", n_train=200, n_test=100, hidden=[16], lr=0.1, batch_size=50, steps=16,
                     probe_n=100, probe_every=4, target_acc=0.3, early_steps=8, seeds=2),
        "quick": dict(data="fashion-mnist", n_train=5000, n_test=2000, hidden=[100, 100], lr=0.1,
                      batch_size=100, steps=800, probe_n=1000, probe_every=10, target_acc=0.8,
                      early_steps=50, seeds=5),
        "full": dict(data="fashion-mnist", n_train=60000, n_test=10000, hidden=[100, 100], lr=0.1,
                     batch_size=100, steps=3000, probe_n=1000, probe_every=10, target_acc=0.8,
                     early_steps=50, seeds=5),
    },
    run=run, plot=plot, verdict=verdict)
