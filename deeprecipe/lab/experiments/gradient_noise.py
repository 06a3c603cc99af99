"""gradient-noise: adding annealed Gaussian noise to the gradient helps very deep nets train
(seed 002, "Gradient noise"; Neelakantan et al. 2015, https://arxiv.org/abs/1511.06807).

Setting (the paper's MNIST experiment, scaled down in the quick preset): a deep ReLU MLP
(``hidden``, the paper uses 20 layers of 50 units) with the paper's "simple init" N(0, 0.1²)
— the hard case where noise helped most — trained with SGD twice per seed, from the same
initialization and data order:

* ``plain``: no noise;
* ``noise``: g ← g + N(0, σ_t²), σ_t² = η/(1+t)^γ with η = ``eta`` (the paper's grid is
  {0.01, 0.3, 1.0}), γ = 0.55, from ``optim.GradientNoise`` seeded by the run's seed.

Both at their own best lr from ``lrs`` (validation loss); the same number of epochs.

Decision (fixed from the claim's words before running): the final training loss (eval
mode, whole training subset) with noise minus without, paired over seeds, has its 95%
interval below 0.  A diverged run counts as the loss of chance level, ln 10.

Known limit of the quick preset: in its 5 epochs neither arm leaves chance level (the
N(0, 0.1²) init of 20 layers shrinks the signal ~2× per layer), so it cannot decide the
claim and comes out "inconclusive"; the paper trains for far longer (``full``).
"""
from __future__ import annotations

import math

from ..experiment import Experiment
from ..plotting import color, plot_band
from ..rules import check_diff, combine, mean_pair
from ._optim_common import best_of_grid, finite_or, picks, plot_grid

ARMS = ("plain", "noise")


def make(arm: str, eta: float, gamma: float, seed: int):
    from ... import optim

    def build(model, lr):
        transforms = [optim.GradientNoise(eta=eta, gamma=gamma, seed=seed)] if arm == "noise" else None
        return optim.SGD(model.parameters(), lr=lr, transforms=transforms)
    return build


def run(config, seed, ctx):
    from ... import nn
    from ..data import image_data
    from ..training import train_classifier
    data = image_data(config["data"], n_train=config["n_train"], n_val=config["n_val"], n_test=config["n_test"],
                      seed=seed)
    sizes = [int(data.x_train.shape[1]), *config["hidden"], int(data.n_classes)]
    out = {"data": data.describe()}
    for arm in ARMS:
        def train_at(lr, arm=arm):
            model = nn.MLP(sizes, activation="relu", init=("normal", config["init_std"]), rng=seed)
            m, _ = train_classifier(data, model=model, optimizer=make(arm, config["eta"], config["gamma"], seed),
                                    lr=lr, epochs=config["epochs"], batch_size=config["batch_size"], seed=seed)
            return m
        m = best_of_grid(train_at, config["lrs"], score="val_loss", higher=False)
        m["final_train_loss"] = finite_or(m["final"]["train_loss"], math.log(10))
        out[arm] = m
    return out


def plot(results, fig):
    fig.set_size_inches(12, 4.5)
    ax1, ax2 = fig.subplots(1, 2)
    for i, arm in enumerate(ARMS):
        plot_band(ax1, results.first(f"{arm}.curves.epoch"), results.stack(f"{arm}.curves.train_loss"),
                  label=arm, color=color(i))
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("training loss (eval mode, own best lr)")
    ax1.set_yscale("log")
    ax1.grid(alpha=0.3)
    ax1.legend()
    c = results.config
    ax1.set_title(f"{len(c['hidden'])} × {c['hidden'][0]} ReLU, init N(0, {c['init_std']}²), η = {c['eta']}",
                  fontsize=9)
    plot_grid(ax2, results, list(ARMS), score_label="validation loss")


def verdict(results):
    a, b = results.values("noise.final_train_loss"), results.values("plain.final_train_loss")
    checks = [check_diff("final train loss with noise - without", a, b, "<", 0.0)]
    extra = {"final train loss with / without noise": mean_pair(a, b),
             "test acc with / without noise": mean_pair(results.values("noise.final.test_acc"),
                                                        results.values("plain.final.test_acc")),
             **{f"lr picked ({x})": picks(results, x) for x in ARMS}}
    return combine(checks, "With annealed gradient noise the very deep net ends with a lower training loss than "
                           "without (each at its own best lr, paired over seeds)", extra)


EXPERIMENT = Experiment(
    id="gradient-noise",
    title="Annealed gradient noise for a very deep net",
    source=("002",),
    claim="Adding annealed Gaussian noise to the gradients helps very deep networks train (lower training loss).",
    presets={
        "test": dict(data="synthetic", n_train=200, n_val=100, n_test=100, hidden=[16] * 6, init_std=0.1, eta=0.01,
                     gamma=0.55, epochs=2, batch_size=20, lrs=[0.01, 0.1], seeds=2),
        "quick": dict(data="fashion-mnist", n_train=2000, n_val=500, n_test=1000, hidden=[50] * 20, init_std=0.1,
                      eta=0.01, gamma=0.55, epochs=5, batch_size=50, lrs=[0.01, 0.03, 0.1], seeds=3),
        "full": dict(data="fashion-mnist", n_train=55000, n_val=5000, n_test=10000, hidden=[50] * 20,
                     init_std=0.1, eta=0.01, gamma=0.55, epochs=20, batch_size=100, lrs=[0.01, 0.03, 0.1], seeds=5),
    },
    run=run, plot=plot, verdict=verdict)
