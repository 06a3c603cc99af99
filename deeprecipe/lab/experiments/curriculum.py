"""curriculum: easy (clean) examples first, then the hard (noisy) ones, can find a better
region than a random order (seed 002, "Curriculum learning：先用简单的没有噪声的数据去训练，
找到大概的位置…再用难的数据").

Setting: a training subset in which a fraction ``noisy_fraction`` of the examples get a
uniformly random wrong label (the "hard" part; which examples are noisy is known by
construction — an oracle curriculum).  One MLP (SGD with momentum) sees, in the same
number of steps (``epochs`` passes' worth of mini-batches of the whole set):

* ``curriculum``: the first ``easy_fraction`` of the steps only clean examples (fresh
  random order each pass over them), then every example in random order;
* ``random``: every example in random order from the start.

Both are one stream of mini-batches given to ``train_classifier`` in that order
(``shuffle=False``), so one optimizer runs through both phases.  Each arm at its own best
learning rate from ``lrs`` (accuracy on a clean validation split).

Decision (fixed from the claim's words before running): test accuracy curriculum − random,
paired over seeds, has its 95% interval above 0 (holds), below 0 (does not hold), or
across 0 (inconclusive).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..experiment import Experiment
from ..plotting import color
from ..rules import check_diff, combine, mean_pair
from ._optim_common import best_of_grid, picks, plot_grid, smooth

ARMS = ("curriculum", "random")


def corrupt(y, fraction: float, n_classes: int, rng):
    """Labels with ``fraction`` of them replaced by a random *other* class; and the noisy mask."""
    y = np.asarray(y).copy()
    noisy = np.zeros(len(y), dtype=bool)
    noisy[rng.permutation(len(y))[:int(round(fraction * len(y)))]] = True
    y[noisy] = (y[noisy] + rng.integers(1, n_classes, size=int(noisy.sum()))) % n_classes
    return y, noisy


def stream(pools, lengths, rng) -> np.ndarray:
    """Indices: for each (pool, length), passes over the pool in fresh random orders, cut at length."""
    out = []
    for pool, n in zip(pools, lengths):
        pool = np.asarray(pool)
        reps = -(-int(n) // len(pool))
        out.append(np.concatenate([pool[rng.permutation(len(pool))] for _ in range(reps)])[:int(n)])
    return np.concatenate(out)


def run(config, seed, ctx):
    from ..data import image_data
    from ..training import train_classifier
    rng = np.random.default_rng(seed + 104729)
    data = image_data(config["data"], n_train=config["n_train"], n_val=config["n_val"], n_test=config["n_test"],
                      seed=seed)
    y_noisy, noisy = corrupt(data.y_train, config["noisy_fraction"], data.n_classes, rng)
    n, b = len(y_noisy), config["batch_size"]
    total = config["epochs"] * (n // b) * b
    n_easy = int(round(config["easy_fraction"] * total / b)) * b
    all_idx, clean_idx = np.arange(n), np.nonzero(~noisy)[0]
    orders = {"curriculum": stream([clean_idx, all_idx], [n_easy, total - n_easy], rng),
              "random": stream([all_idx], [total], rng)}
    out = {"data": data.describe(), "noisy_share": float(noisy.mean()), "easy_steps": n_easy // b}
    for arm in ARMS:
        idx = orders[arm]
        d = dataclasses.replace(data, x_train=data.x_train[idx], y_train=y_noisy[idx])

        def train_at(lr, d=d):
            m, _ = train_classifier(d, hidden=config["hidden"], optimizer="sgd", lr=lr,
                                    optimizer_kwargs={"momentum": 0.9}, epochs=1, batch_size=b, seed=seed,
                                    shuffle=False, eval_train_max=1000)
            return m
        m = best_of_grid(train_at, config["lrs"])
        m["noisy_in_stream"] = float(noisy[idx].mean())
        out[arm] = m
    return out


def plot(results, fig):
    fig.set_size_inches(12, 4.5)
    ax1, ax2 = fig.subplots(1, 2)
    w = max(1, results.stack("random.curves.step_loss").shape[1] // 40)
    for i, arm in enumerate(ARMS):
        c = smooth(results.stack(f"{arm}.curves.step_loss"), w)
        ax1.plot(np.arange(c.shape[1]) + w, c.mean(axis=0), color=color(i), label=arm)
    ax1.axvline(float(np.mean(results.values("easy_steps"))), color="0.5", linestyle=":",
                label="curriculum: noisy examples join")
    acc = {a: results.values(f"{a}.final.test_acc") for a in ARMS}
    ax1.set_title("test accuracy " + ", ".join(f"{a} {acc[a].mean():.3f}" for a in ARMS), fontsize=9)
    ax1.set_xlabel("step")
    ax1.set_ylabel(f"training mini-batch loss (noisy labels), moving average of {w}")
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3)
    plot_grid(ax2, results, list(ARMS))


def verdict(results):
    acc = {a: results.values(f"{a}.final.test_acc") for a in ARMS}
    checks = [check_diff("test acc curriculum - random", acc["curriculum"], acc["random"], ">", 0.0)]
    extra = {"test acc curriculum / random": mean_pair(acc["curriculum"], acc["random"]),
             "share of noisy labels": f"{results.values('noisy_share').mean():.2f}",
             **{f"lr picked ({a})": picks(results, a) for a in ARMS}}
    return combine(checks, "Clean examples first, then all, reaches a higher test accuracy than a random order "
                           "in the same number of steps (paired over seeds)", extra)


_GRID = [0.003, 0.01, 0.03, 0.1]

EXPERIMENT = Experiment(
    id="curriculum",
    title="Curriculum: clean examples first",
    source=("002",),
    claim=("Curriculum learning: training first on easy (clean) examples, then on the hard (noisy) ones, "
           "can find a better region than a random order."),
    presets={
        "test": dict(data="synthetic", n_train=200, n_val=100, n_test=100, hidden=[16], noisy_fraction=0.4,
                     easy_fraction=0.4, epochs=2, batch_size=20, lrs=[0.01, 0.1], seeds=2),
        "quick": dict(data="fashion-mnist", n_train=2000, n_val=500, n_test=1000, hidden=[100],
                      noisy_fraction=0.4, easy_fraction=0.4, epochs=5, batch_size=50, lrs=_GRID, seeds=3),
        "full": dict(data="fashion-mnist", n_train=20000, n_val=5000, n_test=10000, hidden=[100, 100],
                     noisy_fraction=0.4, easy_fraction=0.4, epochs=10, batch_size=100, lrs=_GRID, seeds=5),
    },
    run=run, plot=plot, verdict=verdict)
