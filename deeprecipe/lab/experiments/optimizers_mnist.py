"""optimizers-mnist: Momentum, AdaGrad, Adam (and the library's other optimizers) learn faster
than plain SGD (seed 003, Saito ch06/optimizer_compare_mnist.py).

Setting (the book's): the whole training set, an MLP 784 → 4 × 100 (ReLU, He init) → 10
(the book's "5-layer" net), mini-batches of 128, 2000 steps, the training loss of every
step recorded.  Every optimizer starts from the same initial weights and sees the same
batches.  Learning rates: the book's where it gives one (SGD 0.01; Momentum 0.01 with
momentum 0.9; AdaGrad 0.01; RMSprop 0.01 with decay 0.99; Adam 0.001), otherwise the
library's default (the torch/paper default): Nesterov as Momentum; AMSGrad, AdamW, RAdam,
AdaBound, AMSBound, SWATS 0.001; NAdam 0.002; Lookahead wraps Adam (k = 5, α = 0.5).
SGDW is left out: without weight decay it is SGD.

Decision (fixed from the claim's words before running): the "final smoothed loss" of a
run is the mean training loss over its last ``tail_fraction`` of the steps (the book plots
a smoothed curve).  SGD is the slowest if, for every other optimizer X, SGD's final smoothed
loss minus X's, paired over seeds, has its 95% interval above 0.  Any interval below 0
refutes the claim; any interval across 0 (and none below) leaves it inconclusive.
"""
from __future__ import annotations

import math

import numpy as np

from ..experiment import Experiment
from ..plotting import color, plot_band
from ..rules import check_diff, combine

BASELINE = "SGD"

# name -> how to build it: optimizer class name in deeprecipe.optim.OPTIMIZERS and its
# hyperparameters; "lookahead" wraps the result.
OPTIMIZERS = {
    "SGD": {"optimizer": "sgd", "lr": 0.01},
    "Momentum": {"optimizer": "sgd", "lr": 0.01, "momentum": 0.9},
    "Nesterov": {"optimizer": "sgd", "lr": 0.01, "momentum": 0.9, "nesterov": True},
    "AdaGrad": {"optimizer": "adagrad", "lr": 0.01},
    "RMSprop": {"optimizer": "rmsprop", "lr": 0.01, "alpha": 0.99},
    "Adam": {"optimizer": "adam", "lr": 0.001},
    "AMSGrad": {"optimizer": "adam", "lr": 0.001, "amsgrad": True},
    "AdamW": {"optimizer": "adamw", "lr": 0.001},
    "NAdam": {"optimizer": "nadam", "lr": 0.002},
    "RAdam": {"optimizer": "radam", "lr": 0.001},
    "AdaBound": {"optimizer": "adabound", "lr": 0.001},
    "AMSBound": {"optimizer": "amsbound", "lr": 0.001},
    "SWATS": {"optimizer": "swats", "lr": 0.001},
    "Lookahead(Adam)": {"optimizer": "adam", "lr": 0.001, "lookahead": {"k": 5, "alpha": 0.5}},
}


def key(name: str) -> str:
    """A metric key for an optimizer name (no dots or parentheses)."""
    return name.replace("(", "_").replace(")", "").lower()


def build_optimizer(spec: dict, params):
    from ... import optim
    spec = dict(spec)
    cls = optim.get_optimizer(spec.pop("optimizer"))
    wrap = spec.pop("lookahead", None)
    opt = cls(list(params), **spec)
    return optim.Lookahead(opt, **wrap) if wrap else opt


def train_steps(model, opt, x, y, steps: int, batch_size: int, seed: int, bar=None) -> np.ndarray:
    """``steps`` optimizer steps of ``deeprecipe.train.fit``; returns every step's batch loss."""
    from ...train import fit
    from ...train.callbacks.base import Callback

    class StepLoss(Callback):
        def on_train_begin(self, logs=None):
            self.losses = []

        def on_train_batch_end(self, batch, logs=None):
            self.losses.append(float(logs["loss"]))
            if bar is not None:
                bar.update(1)
            if len(self.losses) >= steps or not math.isfinite(self.losses[-1]):
                self.trainer.stop(f"reached {steps} steps" if math.isfinite(self.losses[-1]) else "non-finite loss")

    rec = StepLoss()
    per_epoch = -(-len(x) // batch_size)
    fit(model, (x, y), optimizer=opt, epochs=-(-steps // per_epoch), batch_size=batch_size, seed=seed,
        callbacks=[rec], verbose=0)
    losses = np.full(steps, np.nan)
    losses[:len(rec.losses)] = rec.losses
    return losses


def tail_mean(losses, fraction: float) -> float:
    """Mean of the last ``fraction`` of a loss curve (at least 5 steps): the final smoothed loss."""
    losses = np.asarray(losses, dtype=np.float64)
    n = max(5, int(round(len(losses) * fraction)))
    return float(np.mean(losses[-n:]))


def run(config, seed, ctx):
    from ... import nn
    from ...train import evaluate
    from ..data import image_data
    data = image_data(config["data"], n_train=config["n_train"], n_test=config["n_test"], seed=seed)
    sizes = [int(data.x_train.shape[1]), *config["hidden"], int(data.n_classes)]
    names = list(config["optimizers"])
    bar = ctx.progress(len(names) * config["steps"], "steps")
    out = {"data": data.describe(), "names": names}
    for name in names:
        model = nn.MLP(sizes, activation="relu", init="he", rng=seed)        # the same start for every optimizer
        opt = build_optimizer(config["optimizers"][name], model.parameters())
        losses = train_steps(model, opt, data.x_train, data.y_train, config["steps"], config["batch_size"], seed, bar)
        test = evaluate(model, data.x_test, data.y_test) if np.isfinite(losses).all() else \
            {"accuracy": math.nan, "loss": math.nan}
        out[key(name)] = {"step_loss": losses, "final_loss": tail_mean(losses, config["tail_fraction"]),
                          "test_acc": float(test["accuracy"])}
    bar.close()
    return out


def smooth(curves, window: int) -> np.ndarray:
    """Moving average along the last axis (valid part), for plotting."""
    c = np.asarray(curves, dtype=np.float64)
    window = max(1, min(int(window), c.shape[-1]))
    k = np.ones(window) / window
    return np.apply_along_axis(lambda v: np.convolve(v, k, mode="valid"), -1, c)


def plot(results, fig):
    fig.set_size_inches(13, 5)
    a1, a2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.6, 1]})
    names = list(results.first("names"))
    steps = results.config.get("steps")
    window = max(1, steps // 40)
    means, peaks = [], {}
    for i, name in enumerate(names):
        curves = smooth(results.stack(f"{key(name)}.step_loss"), window)
        x = np.arange(curves.shape[-1]) + window
        plot_band(a1, x, curves, label=name, color=color(i), linewidth=2.5 if name == BASELINE else 1.2,
                  linestyle="-" if i < 10 else "--")
        m = curves.mean(axis=0)
        means.append(m)
        peaks[name] = float(np.nanmax(m)) if np.isfinite(m).any() else math.inf
    a1.set_yscale("log")
    # One optimizer's early blow-up (e.g. RMSprop's first steps) must not flatten the others:
    # the axis spans the curves' typical start down to their lowest mean; what goes above is named.
    starts = [m[0] for m in means if m.size and np.isfinite(m[0])]
    lows = [np.nanmin(m) for m in means if np.isfinite(m).any()]
    if starts and lows:
        top = 1.5 * float(np.median(starts))
        a1.set_ylim(0.8 * float(min(lows)), top)
        off = [f"{n} (peak {v:.3g})" for n, v in peaks.items() if v > top]
        if off:
            a1.text(0.02, 0.02, "off the axis: " + ", ".join(off), transform=a1.transAxes, fontsize=7,
                    color="dimgray")
    a1.set_xlabel("step")
    a1.set_ylabel(f"training loss (moving average of {window} steps)")
    a1.grid(alpha=0.3)
    a1.legend(fontsize=7, ncol=2)
    a1.set_title(f"MLP 784-{'-'.join(map(str, results.config.get('hidden', [])))}-10, batch "
                 f"{results.config.get('batch_size')}, mean ± 95% CI over {results.n} seeds", fontsize=10)
    finals = np.array([results.values(f"{key(n)}.final_loss").mean() for n in names])
    order = np.argsort(finals)
    a2.barh(np.arange(len(names)), finals[order], color=[color(j) for j in order])
    a2.set_yticks(np.arange(len(names)), [names[j] for j in order], fontsize=8)
    a2.invert_yaxis()
    a2.set_xlabel(f"final smoothed loss (last {results.config.get('tail_fraction', 0.1):.0%} of steps)")
    a2.grid(alpha=0.3, axis="x")
    a2.set_title("lower is faster", fontsize=10)


def verdict(results):
    names = list(results.first("names"))
    sgd = results.values(f"{key(BASELINE)}.final_loss")
    checks = [check_diff(f"final loss {BASELINE} - {n}", sgd, results.values(f"{key(n)}.final_loss"), ">", 0.0)
              for n in names if n != BASELINE]
    finals = {n: results.values(f"{key(n)}.final_loss").mean() for n in names}
    ranking = sorted(finals, key=finals.get)
    extra = {
        "ranking (fastest first)": ", ".join(ranking),
        f"{BASELINE} rank (1 = fastest)": f"{ranking.index(BASELINE) + 1} of {len(ranking)}",
        "final smoothed loss": "; ".join(f"{n} {finals[n]:.3f}" for n in ranking),
        f"test acc {BASELINE} / Adam": f"{results.values(f'{key(BASELINE)}.test_acc').mean():.4f} / "
                                       f"{results.values(key('Adam') + '.test_acc').mean():.4f}"
        if "Adam" in names else "n/a",
    }
    return combine(checks, f"After the same number of steps from the same start, {BASELINE}'s final smoothed "
                           "training loss is higher than every other optimizer's (paired over seeds)", extra)


EXPERIMENT = Experiment(
    id="optimizers-mnist",
    title="Optimizers compared on Fashion-MNIST",
    source=("003",),
    claim=("Momentum, AdaGrad and Adam (and the other adaptive or momentum methods) learn faster than plain SGD: "
           "after the same number of steps, SGD's training loss is the highest."),
    presets={
        "test": dict(data="synthetic", n_train=200, n_test=100, hidden=[16, 16], batch_size=32, steps=12,
                     tail_fraction=0.25, optimizers={k: OPTIMIZERS[k] for k in ("SGD", "Momentum", "Adam")},
                     seeds=2),
        "quick": dict(data="fashion-mnist", n_train=None, n_test=2000, hidden=[100] * 4, batch_size=128, steps=150,
                      tail_fraction=0.1, optimizers=OPTIMIZERS, seeds=3),
        "full": dict(data="fashion-mnist", n_train=None, n_test=10000, hidden=[100] * 4, batch_size=128,
                     steps=2000, tail_fraction=0.1, optimizers=OPTIMIZERS, seeds=3),
    },
    run=run, plot=plot, verdict=verdict)
