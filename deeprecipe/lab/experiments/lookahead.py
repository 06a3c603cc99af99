"""lookahead: Lookahead (k fast steps, then the slow weights move a fraction α of the way)
is more stable (seed 002, Zhang et al. 2019, https://arxiv.org/abs/1907.08610).

The note shows the paper's figure: the fast weights alone lose accuracy, the interpolation
recovers it; the paper's robustness claim is that Lookahead's accuracy depends less on the
inner optimizer's learning rate.

Setting: one MLP trained from the same initialization and data order with ``adam`` and
with ``lookahead`` = ``optim.Lookahead(optim.Adam(...), k=5, alpha=0.5)``, at every
learning rate of a log grid ``lrs``, same number of epochs.  The validation accuracy at
every grid point is saved.

Decision (fixed from the claim's words before running): "more stable" = a smaller spread
of validation accuracy across the learning-rate grid.  Spread = standard deviation over
the grid points; spread(Adam) − spread(Lookahead), paired over seeds, has its 95% interval
above 0.  The best accuracy of each (at its own best lr) is reported beside.
"""
from __future__ import annotations

import numpy as np

from ..experiment import Experiment
from ..rules import check_diff, combine, mean_pair
from ._optim_common import best_of_grid, picks, plot_grid

ARMS = ("adam", "lookahead")


def make(arm: str, k: int, alpha: float):
    """An optimizer factory ``f(model, lr)`` for ``train_classifier``."""
    from ... import optim

    def build(model, lr):
        opt = optim.Adam(model.parameters(), lr=lr)
        return optim.Lookahead(opt, k=k, alpha=alpha) if arm == "lookahead" else opt
    return build


def run(config, seed, ctx):
    from ..data import image_data
    from ..training import train_classifier
    data = image_data(config["data"], n_train=config["n_train"], n_val=config["n_val"], n_test=config["n_test"],
                      seed=seed)
    out = {"data": data.describe()}
    for arm in ARMS:
        factory = make(arm, config["k"], config["alpha"])

        def train_at(lr, factory=factory):
            m, _ = train_classifier(data, hidden=config["hidden"], optimizer=factory, lr=lr,
                                    epochs=config["epochs"], batch_size=config["batch_size"], seed=seed,
                                    eval_train_max=1000, eval_every=config["epochs"])
            return m
        m = best_of_grid(train_at, config["lrs"])
        scores = np.nan_to_num(m["grid_score"], nan=0.1)       # a diverged run is at chance level
        m["spread"] = float(np.std(scores))
        m["mean_over_grid"] = float(np.mean(scores))
        out[arm] = m
    return out


def plot(results, fig):
    fig.set_size_inches(7, 4.5)
    ax = fig.subplots(1, 1)
    plot_grid(ax, results, list(ARMS), labels=[
        "Adam", f"Lookahead(Adam), k={results.config.get('k', 5)} α={results.config.get('alpha', 0.5):g}"])
    s = {a: results.values(f"{a}.spread") for a in ARMS}
    ax.set_title(f"spread (std over the grid): Adam {s['adam'].mean():.3f}, Lookahead {s['lookahead'].mean():.3f}",
                 fontsize=10)


def verdict(results):
    s = {a: results.values(f"{a}.spread") for a in ARMS}
    checks = [check_diff("accuracy spread over lr: Adam - Lookahead", s["adam"], s["lookahead"], ">", 0.0)]
    extra = {"spread Adam / Lookahead": mean_pair(s["adam"], s["lookahead"]),
             "mean val acc over the grid Adam / Lookahead": mean_pair(results.values("adam.mean_over_grid"),
                                                                     results.values("lookahead.mean_over_grid")),
             "test acc at own best lr Adam / Lookahead": mean_pair(results.values("adam.final.test_acc"),
                                                                   results.values("lookahead.final.test_acc")),
             **{f"lr picked ({a})": picks(results, a) for a in ARMS}}
    return combine(checks, "Lookahead(Adam)'s validation accuracy varies less across the learning-rate grid than "
                           "Adam's (std over the grid, paired over seeds)", extra)


_GRID = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1]

EXPERIMENT = Experiment(
    id="lookahead",
    title="Lookahead(Adam) vs Adam across learning rates",
    source=("002",),
    claim=("Lookahead (k fast steps, then the slow weights interpolated by α) is more stable: its accuracy "
           "varies less with the learning rate."),
    presets={
        "test": dict(data="synthetic", n_train=200, n_val=100, n_test=100, hidden=[16], epochs=2, batch_size=20,
                     lrs=[1e-3, 1e-2, 1e-1], k=5, alpha=0.5, seeds=2),
        "quick": dict(data="fashion-mnist", n_train=2000, n_val=500, n_test=1000, hidden=[100], epochs=3,
                      batch_size=50, lrs=_GRID, k=5, alpha=0.5, seeds=3),
        "full": dict(data="fashion-mnist", n_train=55000, n_val=5000, n_test=10000, hidden=[100, 100], epochs=10,
                     batch_size=128, lrs=_GRID, k=5, alpha=0.5, seeds=3),
    },
    run=run, plot=plot, verdict=verdict)
