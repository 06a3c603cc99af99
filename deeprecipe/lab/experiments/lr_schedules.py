"""lr-schedules: cyclical learning rates, SGDR and one-cycle find good minima with SGD
(seed 002, "改进SGDM": "让learning rate在上下界之间反复循环…", one-cycle "warm-up … annealing
… fine-tuning").

Setting: one MLP trained with SGD + momentum 0.9 for the same number of steps T under six
schedules of ``deeprecipe.optim.schedules`` (driven step by step by ``ScheduleLR``):

* ``constant``: η;
* ``step``: η·0.1^⌊t/(T/3)⌋;
* ``cosine``: cosine annealing from η to 0 over T;
* ``sgdr``: cosine with warm restarts, 3 cycles of T/3 (Loshchilov & Hutter 2017);
* ``cyclical``: triangular between η/10 and η, 3 cycles (Smith 2017);
* ``one_cycle``: one-cycle with max η over T (Smith & Topin 2018).

Momentum stays 0.9 throughout (torch's CyclicLR/OneCycleLR would also cycle it; left out
so that only the learning rate differs).  η (the peak) is each schedule's own best from
``lrs`` on validation accuracy.

Decision (fixed from the claim's words before running): each of cyclical, SGDR and
one-cycle reaches a higher final test accuracy than the constant learning rate — test
accuracy difference, paired over seeds, 95% interval above 0.  Step and cosine are
reported beside.  Sanity check (apart): the learning rate the optimizer used at every
step equals the schedule's closed form.
"""
from __future__ import annotations

from functools import partial

import numpy as np

from ..experiment import Experiment
from ..plotting import color, plot_band
from ..rules import check_diff, check_value
from ._optim_common import best_of_grid, picks, plot_grid, verdict_with_sanity

SCHEDULES = ("constant", "step", "cosine", "sgdr", "cyclical", "one_cycle")
CLAIMED = ("cyclical", "sgdr", "one_cycle")


def schedule(name: str, lr: float, total: int):
    """The schedule ``t -> lr`` for ``total`` steps, clamped at the last step."""
    from ...optim import schedules as S
    third = max(1, total // 3)
    fns = {
        "constant": partial(S.constant, base_lr=lr),
        "step": partial(S.step_decay, base_lr=lr, step_size=third, gamma=0.1),
        "cosine": partial(S.cosine, base_lr=lr, T_max=total),
        "sgdr": partial(S.cosine_warm_restarts, base_lr=lr, T_0=third),
        "cyclical": partial(S.cyclic, base_lr=lr / 10, max_lr=lr, step_size_up=max(1, total // 6)),
        "one_cycle": partial(S.one_cycle, max_lr=lr, total_steps=total),
    }
    if name not in fns:
        raise ValueError(f"unknown schedule {name!r}; choose one of {SCHEDULES}")
    fn = fns[name]
    return lambda t: fn(min(int(t), total - 1))


def _lr_recorder():
    from ...train.callbacks.base import Callback

    class LRRecorder(Callback):
        """The lr of the first parameter group at every optimizer step, read before the step."""
        def on_train_begin(self, logs=None):
            self.lrs = []

        def on_train_batch_begin(self, batch, logs=None):
            self.lrs.append(float(self.optimizer.param_groups[0]["lr"]))
    return LRRecorder()


def run(config, seed, ctx):
    from ...optim.lr_scheduler import ScheduleLR
    from ...train.callbacks import LearningRateScheduler
    from ..data import image_data
    from ..training import train_classifier
    data = image_data(config["data"], n_train=config["n_train"], n_val=config["n_val"], n_test=config["n_test"],
                      seed=seed)
    n, b = len(data.y_train), config["batch_size"]
    total = config["epochs"] * -(-n // b)
    out = {"data": data.describe(), "total_steps": total}
    for name in SCHEDULES:
        def train_at(lr, name=name):
            fn = schedule(name, lr, total)
            rec = _lr_recorder()
            m, _ = train_classifier(data, hidden=config["hidden"], optimizer="sgd", lr=lr,
                                    optimizer_kwargs={"momentum": 0.9}, steps=total, batch_size=b, seed=seed,
                                    eval_train_max=1000,
                                    callbacks=[LearningRateScheduler(lambda opt: ScheduleLR(opt, fn), interval="step"),
                                               rec])
            used = np.asarray(rec.lrs)
            expected = np.array([fn(t) for t in range(len(used))])
            m["lr_used"] = used
            m["lr_max_abs_err"] = float(np.max(np.abs(used - expected))) if used.size else 0.0
            return m
        out[name] = best_of_grid(train_at, config["lrs"])
    return out


def plot(results, fig):
    fig.set_size_inches(15, 4.5)
    ax1, ax2, ax3 = fig.subplots(1, 3)
    for i, name in enumerate(SCHEDULES):
        lr = np.asarray(results.first(f"{name}.lr_used"))
        ax1.plot(np.arange(len(lr)), lr, color=color(i), label=name)
        c = results.stack(f"{name}.curves.val_acc")
        plot_band(ax2, results.first(f"{name}.curves.epoch"), c, label=name, color=color(i))
    ax1.set_xlabel("step")
    ax1.set_ylabel("learning rate used (seed 0, at its chosen peak)")
    ax1.legend(fontsize=7)
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("validation accuracy")
    ax2.legend(fontsize=7)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    plot_grid(ax3, results, list(SCHEDULES), grid_name="peak learning rate")


def verdict(results):
    acc = {s: results.values(f"{s}.final.test_acc") for s in SCHEDULES}
    checks = [check_diff(f"test acc {s} - constant", acc[s], acc["constant"], ">", 0.0) for s in CLAIMED]
    err = max(float(np.max(results.values(f"{s}.lr_max_abs_err"))) for s in SCHEDULES)
    sanity = [check_value("max |lr used - schedule(t)| over all steps and schedules", err, "<=", 1e-12, fmt=".2g")]
    extra = {"test acc " + " / ".join(SCHEDULES): " / ".join(f"{acc[s].mean():.4f}" for s in SCHEDULES),
             **{f"peak lr picked ({s})": picks(results, s) for s in SCHEDULES}}
    return verdict_with_sanity(checks, sanity, "Cyclical, SGDR and one-cycle each reach a higher final test "
                                               "accuracy than a constant learning rate, with the same SGD+momentum "
                                               "budget (paired over seeds)", extra)


_GRID = [0.01, 0.03, 0.1, 0.3]

EXPERIMENT = Experiment(
    id="lr-schedules",
    title="Learning-rate schedules for SGD with momentum",
    source=("002",),
    claim="Cyclical learning rates, SGDR and one-cycle find good minima with SGD (better than a constant rate).",
    presets={
        "test": dict(data="synthetic", n_train=200, n_val=100, n_test=100, hidden=[16], epochs=2, batch_size=20,
                     lrs=[0.1], seeds=2),
        "quick": dict(data="fashion-mnist", n_train=2000, n_val=500, n_test=1000, hidden=[100], epochs=6,
                      batch_size=50, lrs=_GRID, seeds=3),
        "full": dict(data="fashion-mnist", n_train=55000, n_val=5000, n_test=10000, hidden=[100, 100], epochs=30,
                     batch_size=128, lrs=_GRID, seeds=3),
    },
    run=run, plot=plot, verdict=verdict)
