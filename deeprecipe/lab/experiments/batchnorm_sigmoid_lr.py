"""batchnorm-sigmoid-lr: with batch normalization a deep sigmoid network trains, and it
tolerates a 5× larger learning rate (seed 004, lecture L8, after Ioffe & Szegedy 2015,
https://arxiv.org/abs/1502.03167, Fig. 2 / 3: "BN-x5").

Setting: an MLP 784 → 6 × 64 → 10 with sigmoid units (Glorot init) on a Fashion-MNIST
subset, SGD with batch 64 for a fixed number of steps.  The base rate η is the plain
(no-BN) network's best rate from a grid, chosen on validation loss per seed (the baseline's
own best rate, as Ioffe & Szegedy start from the baseline's); then four arms from the same
initial weights and data order: plain at η and 5η, batch norm (before each sigmoid) at η
and 5η.  Measured: the training loss on the whole training subset in eval mode at the
end, train/test accuracy, and the mini-batch loss curves.

Decision (fixed from the claim's words before running), paired over seeds:
  * with BN the sigmoid net trains (better): final training loss plain(η) − BN(η) > 0;
  * BN tolerates the 5× rate: log(loss BN(5η) / loss BN(η)) < log(1.1) (at 5η BN ends no
    more than 10% above its loss at η).
Plain at 5η (diverged runs count as loss ln 10 = chance) is shown beside.
"""
from __future__ import annotations

import math

import numpy as np

from ..experiment import Experiment
from ..plotting import color
from ..rules import check_diff, combine, mean_pair
from ._loop import final_metrics, padded_curve, pick_lr, plot_step_losses, train_steps

ARMS = ("plain_x1", "plain_x5", "bn_x1", "bn_x5")
LABELS = {"plain_x1": "sigmoid, lr η", "plain_x5": "sigmoid, lr 5η", "bn_x1": "sigmoid + BN, lr η",
          "bn_x5": "sigmoid + BN, lr 5η"}
TOLERATE = 1.1


def run(config, seed, ctx):
    from ... import nn
    from ..data import image_data
    data = image_data(config["data"], n_train=config["n_train"], n_val=config["n_val"], n_test=config["n_test"],
                      seed=seed)
    chance = math.log(data.n_classes)

    def make(norm=None):
        return nn.MLP([data.x_train.shape[1], *config["hidden"], data.n_classes], activation="sigmoid",
                      init="xavier", norm=norm, rng=seed)
    kw = dict(steps=config["steps"], batch_size=config["batch_size"], seed=seed)
    base = pick_lr(make, data, config["lrs"], **kw)
    eta = base["lr"]
    out = {"eta": eta, "grid_val_loss": base["val_loss"], "data": data.describe()}
    for arm in ARMS:
        lr = eta * (5 if arm.endswith("x5") else 1)
        model = make("batch" if arm.startswith("bn") else None)
        rec = train_steps(model, data.x_train, data.y_train, lr=lr, **kw)
        fin = final_metrics(model, data)
        loss = fin["train_loss"] if not rec["diverged"] and math.isfinite(fin["train_loss"]) else chance
        out[arm] = {"lr": lr, "train_loss": loss, "train_acc": fin["train_acc"], "test_acc": fin["test_acc"],
                    "diverged": rec["diverged"], "step_loss": padded_curve(rec["step_loss"], config["steps"])}
    return out


def plot(results, fig):
    fig.set_size_inches(12, 4.5)
    a1, a2 = fig.subplots(1, 2)
    plot_step_losses(a1, results, [f"{a}.step_loss" for a in ARMS], [LABELS[a] for a in ARMS],
                     styles=["--" if a.endswith("x5") else "-" for a in ARMS])
    a1.set_title("training curves")
    x = np.arange(len(ARMS))
    for j, key in enumerate(("train_acc", "test_acc")):
        a2.bar(x + 0.4 * j, [results.values(f"{a}.{key}").mean() for a in ARMS], width=0.4, color=color(4 + j),
               label=key.replace("_", " "))
    a2.set_xticks(x + 0.2, [LABELS[a] for a in ARMS], fontsize=7)
    a2.set(ylabel="accuracy", title=f"final accuracy (η = {results.first('eta'):g} on the first seed)")
    a2.legend()


def verdict(results):
    loss = {a: results.values(f"{a}.train_loss") for a in ARMS}
    checks = [
        check_diff("train loss: plain(η) - BN(η)", loss["plain_x1"], loss["bn_x1"], ">", 0.0),
        check_diff("log train loss: BN(5η) / BN(η)", np.log(loss["bn_x5"]), np.log(loss["bn_x1"]), "<",
                   math.log(TOLERATE)),
    ]
    extra = {
        "train loss plain η / BN η": mean_pair(loss["plain_x1"], loss["bn_x1"]),
        "train loss plain 5η / BN 5η": mean_pair(loss["plain_x5"], loss["bn_x5"]),
        "diverged runs (plain 5η / BN 5η)": f"{int(results.values('plain_x5.diverged').sum())} / "
                                           f"{int(results.values('bn_x5.diverged').sum())}",
        "η per seed": ", ".join(f"{v:g}" for v in results.values("eta")),
    }
    return combine(checks, "At the plain sigmoid net's best rate η, batch norm reaches a lower training loss, and "
                           "with batch norm a 5× rate ends no more than 10% above the loss at η (paired over "
                           "seeds)", extra)


_COMMON = dict(batch_size=64)
EXPERIMENT = Experiment(
    id="batchnorm-sigmoid-lr",
    title="Batch norm lets a deep sigmoid net train, at a 5× larger rate",
    source=("004",),
    claim=("With batch normalization a deep sigmoid network trains (without it, it barely does), and it "
           "tolerates a 5 times larger learning rate."),
    presets={
        "test": dict(_COMMON, data="synthetic", n_train=128, n_val=64, n_test=64, hidden=[8] * 3, lrs=[0.5],
                     steps=8, seeds=2),
        "quick": dict(_COMMON, data="fashion-mnist", n_train=2000, n_val=500, n_test=1000, hidden=[64] * 6,
                      lrs=[0.1, 0.5, 2.0], steps=300, seeds=3),
        "full": dict(_COMMON, data="fashion-mnist", n_train=20000, n_val=5000, n_test=10000, hidden=[100] * 6,
                     lrs=[0.03, 0.1, 0.3, 1.0, 3.0], steps=5000, seeds=5),
    },
    run=run, plot=plot, verdict=verdict)
