"""init-mnist: with std 0.01 a 5-layer ReLU net does not learn; Xavier and He do, He best (seed 003).

The book's ``ch06/weight_init_compare.py``: an MLP 784 → 4 × 100 (ReLU) → 10 (five weight
layers), biases 0, weights N(0, σ²) with σ = 0.01, "Xavier" σ = 1/√n or He σ = √(2/n)
(n = the layer's fan-in), trained by plain SGD (lr 0.01, batch 128) for 2000 steps;
the mini-batch loss of every step is plotted.  The book's "Xavier" (1/√n) is what this
library calls LeCun normal (``init='lecun'``); Glorot's own scheme averages fan-in and
fan-out.  Here the data is Fashion-MNIST, and batches come from shuffled epochs instead of
draws with replacement.

Decision (thresholds fixed from the claim's words before running), on the final loss =
the mean mini-batch loss over the last 10% of the steps, averaged over seeds with a 95%
interval:
  * std 0.01 "does not learn": its final loss stays near ln 10 = 2.303 (the loss of a
    uniform guess over 10 classes): ≥ 0.95 · ln 10;
  * Xavier and He "learn": final loss < 0.5 · ln 10 each;
  * "He best": final loss of He minus Xavier, paired by seed, below 0.
"""
from __future__ import annotations

import math

import numpy as np

from ..experiment import Experiment
from ..plotting import color, plot_band
from ..rules import check_diff, check_mean, combine

ARMS = [("std0_01", ("normal", 0.01), "std = 0.01"), ("xavier", "lecun", "Xavier (1/√n)"),
        ("he", "he", "He (√(2/n))")]
LN10 = math.log(10.0)


def run(config, seed, ctx):
    from ..data import image_data
    from ..training import train_classifier
    data = image_data(config["data"], n_train=config["n_train"], n_test=config["n_test"], seed=seed)
    out = {"arms": [a for a, _, _ in ARMS], "data": data.describe()}
    for arm, init, _ in ARMS:
        metrics, _ = train_classifier(
            data, hidden=config["hidden"], activation="relu", init=init, optimizer="sgd", lr=config["lr"],
            steps=config["steps"], batch_size=config["batch_size"], seed=seed, eval_every=10 ** 9,
            progress=ctx.progress)
        loss = metrics["curves"]["step_loss"]
        tail = max(1, len(loss) // 10)
        metrics["final"]["final_loss"] = float(np.mean(loss[-tail:]))
        out[arm] = metrics
    return out


def smooth(y, window: int = 20) -> np.ndarray:
    """Moving average over ``window`` steps (shorter at the start), like the book's smooth_curve."""
    y = np.asarray(y, dtype=np.float64)
    c = np.cumsum(np.insert(y, 0, 0.0))
    idx = np.arange(1, len(y) + 1)
    lo = np.maximum(0, idx - window)
    return (c[idx] - c[lo]) / (idx - lo)


def plot(results, fig):
    fig.set_size_inches(12, 4.5)
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.6, 1]})
    for i, (arm, _, label) in enumerate(ARMS):
        curves = [np.asarray(results.get(r, f"{arm}.curves.step_loss")) for r in results.runs]
        n = min(len(c) for c in curves)
        plot_band(ax1, np.arange(1, n + 1), np.stack([smooth(c[:n]) for c in curves]), label=label,
                  color=color(i))
    ax1.axhline(LN10, color="gray", linestyle="--", linewidth=1, label="ln 10 (uniform guess)")
    ax1.set_xlabel("SGD step")
    ax1.set_ylabel("mini-batch loss (moving average of 20 steps)")
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=8)
    ax1.set_title(f"{len(results.config.get('hidden', []))} × {results.config.get('hidden', ['?'])[0]} ReLU "
                  f"MLP, SGD lr {results.config.get('lr')}, batch {results.config.get('batch_size')}", fontsize=10)
    for i, (arm, _, _label) in enumerate(ARMS):
        acc = results.values(f"{arm}.final.test_acc")
        ax2.bar(i, acc.mean(), color=color(i))
        ax2.scatter(np.full(len(acc), i), acc, color="k", s=12, zorder=3)
    ax2.set_xticks(range(len(ARMS)))
    ax2.set_xticklabels([lbl for _, _, lbl in ARMS], fontsize=8)
    ax2.set_ylim(0, 1.0)
    ax2.set_ylabel("final test accuracy (dots: seeds)")
    ax2.grid(alpha=0.3, axis="y")


def verdict(results):
    loss = {arm: results.values(f"{arm}.final.final_loss") for arm, _, _ in ARMS}
    checks = [
        check_mean("final loss std 0.01", loss["std0_01"], ">=", 0.95 * LN10),
        check_mean("final loss Xavier", loss["xavier"], "<", 0.5 * LN10),
        check_mean("final loss He", loss["he"], "<", 0.5 * LN10),
        check_diff("final loss He - Xavier", loss["he"], loss["xavier"], "<", 0.0),
    ]
    extra = {f"test acc {lbl}": round(float(results.values(f"{arm}.final.test_acc").mean()), 4)
             for arm, _, lbl in ARMS}
    return combine(checks, "std 0.01 keeps the loss near ln 10 (≥ 0.95·ln 10) while Xavier and He bring it below "
                           "half of ln 10, He lower than Xavier (final loss = mean of the last 10% of the steps)",
                   extra)


EXPERIMENT = Experiment(
    id="init-mnist",
    title="Weight initialization on MNIST-like data",
    source=("003",),
    claim=("On MNIST a 5-layer ReLU network whose weights start with std 0.01 does not learn at all, while "
           "Xavier and He initialization learn, He fastest."),
    presets={
        "test": dict(data="synthetic", n_train=256, n_test=100, hidden=[16] * 4, lr=0.01, batch_size=32,
                     steps=16, seeds=2),
        "quick": dict(data="fashion-mnist", n_train=10000, n_test=2000, hidden=[100] * 4, lr=0.01,
                      batch_size=128, steps=1000, seeds=3),
        "full": dict(data="fashion-mnist", n_train=60000, n_test=10000, hidden=[100] * 4, lr=0.01,
                     batch_size=128, steps=2000, seeds=5),
    },
    run=run, plot=plot, verdict=verdict)
