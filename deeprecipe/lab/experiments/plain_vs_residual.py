"""plain-vs-residual: a 56-layer plain net reaches a *higher training* loss than a
20-layer one — an optimization problem, not overfitting — and residual connections fix it
(seeds 000, 004; He et al. 2016, https://arxiv.org/abs/1512.03385, Fig. 1 and 6).

Setting: three :class:`~deeprecipe.nn.DeepNet` s of one width with batch norm after every
weight layer (as He et al.), MLP blocks on Fashion-MNIST: plain ``shallow`` (20 layers),
plain ``deep`` (56) and residual ``deep`` (56, identity skips around every two layers; the
same parameters as the plain 56).  Each arm trains with SGD + momentum 0.9 for the same
number of steps and batch size, at its own best learning rate from a small grid chosen on
validation loss (per seed).  Measured: the training loss on the whole training subset in
eval mode at the end, plus validation/test accuracy and the mini-batch loss curves.

Decision (fixed from the claim's words before running), paired over seeds:
  * degradation: final training loss of plain deep − plain shallow has its 95% interval
    above 0 (the deeper plain net fits its *training* data worse);
  * residual fixes it: final training loss of plain deep − residual deep above 0.
The residual deep − plain shallow difference and the test accuracies are shown beside.
The quick preset trains a few hundred steps, far from convergence (the losses are
reported); the full preset trains longer on more data.
"""
from __future__ import annotations

import numpy as np

from ..experiment import Experiment
from ..plotting import color
from ..rules import check_diff, combine, mean_pair
from ._loop import padded_curve, pick_lr, plot_step_losses

ARMS = ("plain_shallow", "plain_deep", "residual_deep")


def _label(arm, config):
    depth = config["shallow"] if arm == "plain_shallow" else config["deep"]
    return f"{'residual' if arm.startswith('residual') else 'plain'} {depth} layers"


def run(config, seed, ctx):
    from ... import nn
    from ..data import image_data
    data = image_data(config["data"], n_train=config["n_train"], n_val=config["n_val"], n_test=config["n_test"],
                      seed=seed)
    out = {"data": data.describe()}
    for arm in ARMS:
        depth = config["shallow"] if arm == "plain_shallow" else config["deep"]

        def make(depth=depth, arm=arm):
            return nn.DeepNet(depth, config["width"], input_shape=(data.x_train.shape[1],),
                              num_classes=data.n_classes, residual=arm.startswith("residual"),
                              norm=config["norm"], rng=seed)
        best = pick_lr(make, data, config["lrs"], steps=config["steps"], batch_size=config["batch_size"],
                       seed=seed, optimizer="sgd", optimizer_kwargs={"momentum": 0.9})
        out[arm] = {"lr": best["lr"], "grid_val_loss": best["val_loss"],
                    "step_loss": padded_curve(best["curves"]["step_loss"], config["steps"]),
                    "diverged": best["curves"]["diverged"], **best["final"],
                    "params": int(sum(p.size for p in best["model"].parameters()))}
        ctx.log(f"{arm}: lr {best['lr']}, train loss {best['final']['train_loss']:.4f}")
    return out


def plot(results, fig):
    fig.set_size_inches(12, 4.5)
    a1, a2 = fig.subplots(1, 2)
    cfg = results.config
    plot_step_losses(a1, results, [f"{a}.step_loss" for a in ARMS], [_label(a, cfg) for a in ARMS])
    a1.set_title("training curves")
    for j, split in enumerate(("train_loss", "test_loss")):
        vals = [results.values(f"{arm}.{split}") for arm in ARMS]
        a2.bar(np.arange(3) + 0.4 * j, [v.mean() for v in vals], width=0.4,
               label=split.replace("_", " "), color=color(3 + j))
    a2.set_xticks(np.arange(3) + 0.2, [_label(a, cfg) for a in ARMS], fontsize=8)
    a2.set(ylabel="final loss (eval mode)", title="final loss, mean over seeds")
    a2.legend()


def verdict(results):
    tr = {arm: results.values(f"{arm}.train_loss") for arm in ARMS}
    checks = [
        check_diff("train loss: plain deep - plain shallow", tr["plain_deep"], tr["plain_shallow"], ">", 0.0),
        check_diff("train loss: plain deep - residual deep", tr["plain_deep"], tr["residual_deep"], ">", 0.0),
    ]
    extra = {
        "train loss plain shallow / plain deep": mean_pair(tr["plain_shallow"], tr["plain_deep"]),
        "train loss residual deep": f"{tr['residual_deep'].mean():.4f}",
        "residual deep - plain shallow (train loss)": f"{(tr['residual_deep'] - tr['plain_shallow']).mean():+.4f}",
        "test acc plain shallow / plain deep": mean_pair(results.values("plain_shallow.test_acc"),
                                                        results.values("plain_deep.test_acc")),
        "test acc residual deep": f"{results.values('residual_deep.test_acc').mean():.4f}",
        "chosen lr (first seed)": ", ".join(f"{a}={results.first(a + '.lr'):g}" for a in ARMS),
    }
    return combine(checks, "The deep plain net ends with a higher training loss than the shallow plain net "
                           "(paired over seeds), and the deep residual net with a lower one than the deep plain "
                           "net", extra)


_COMMON = dict(norm="batch", batch_size=64)
EXPERIMENT = Experiment(
    id="plain-vs-residual",
    title="Deep plain nets train worse; residual connections fix it",
    source=("000", "004"),
    claim=("A 56-layer plain network has a higher training error than a 20-layer one — an optimization "
           "difficulty, not overfitting — and residual connections remove the degradation."),
    presets={
        "test": dict(_COMMON, data="synthetic", n_train=120, n_val=60, n_test=60, shallow=4, deep=8, width=6,
                     lrs=[0.05], steps=6, seeds=2),
        "quick": dict(_COMMON, data="fashion-mnist", n_train=1000, n_val=500, n_test=1000, shallow=20, deep=56,
                      width=16, lrs=[0.02, 0.1], steps=120, seeds=2),
        "full": dict(_COMMON, data="fashion-mnist", n_train=10000, n_val=2000, n_test=10000, shallow=20, deep=56,
                     width=32, lrs=[0.01, 0.03, 0.1], steps=3000, seeds=3),
    },
    run=run, plot=plot, verdict=verdict)
