"""normalizers: layer, instance, group and weight normalization as alternatives to batch
norm on the same network (seed 004, lecture L8).

Setting: one small ConvNet (two 3×3 conv stages of 8 and 16 channels, each conv → norm →
ReLU → 2×2 max-pool, then a linear classifier) on Fashion-MNIST shrunk to 7×7 pixels (4×4
block means; a CPU budget), in six variants that differ only in the normalization after
each conv: none, batch norm (Ioffe & Szegedy 2015), layer norm (Ba et al. 2016, as group
norm with one group), instance norm (Ulyanov et al. 2016), group norm (Wu & He 2018) and
weight normalization (Salimans & Kingma 2016: every conv and linear weight reparameterized
as g·v/‖v‖, no activation statistics).  Each variant trains with Adam for the same number
of steps, at its own best learning rate from a grid (validation loss, per seed), from the
same seed.  Measured: mini-batch loss curves, final training loss (eval mode, whole
training subset) and test accuracy.

Decision (the claim is that they are alternatives, "no verdict needed beyond trains"):
every variant with a normalization trains — its final training loss has its 95% interval
over seeds below half the loss of a uniform guess, ln(10)/2.  The ranking by test accuracy
is shown beside, not decided.
"""
from __future__ import annotations

import math

import numpy as np

from ..experiment import Experiment
from ..plotting import color
from ..rules import check_mean, combine
from ._loop import plot_step_losses

VARIANTS = ("none", "batch", "layer", "instance", "group", "weight")


def make_net(variant: str, seed: int, shape):
    """The ConvNet of the module docstring with one normalization variant."""
    from ... import nn
    m = nn.ConvNet(shape, channels=(8, 16), hidden=(), norm=None if variant in ("none", "weight") else variant,
                   rng=seed)
    if variant == "weight":
        for name, child in list(m._modules.items()):
            if isinstance(child, (nn.Conv2d, nn.Linear)):
                m.add_module(name, nn.WeightNorm(child))
    return m


def shrink(x, factor: int):
    """``(N, 28, 28)`` images → ``(N, 1, 28/factor, 28/factor)`` block means."""
    n, h, w = x.shape
    return x.reshape(n, h // factor, factor, w // factor, factor).mean(axis=(2, 4))[:, None].astype(np.float32)


def run(config, seed, ctx):
    from ..data import image_data
    from ._loop import padded_curve, pick_lr
    data = image_data(config["data"], n_train=config["n_train"], n_val=config["n_val"], n_test=config["n_test"],
                      seed=seed, flatten=False)
    for split in ("train", "val", "test"):
        setattr(data, f"x_{split}", shrink(getattr(data, f"x_{split}"), config["shrink"]))
    shape = data.x_train.shape[1:]
    out = {"data": data.describe()}
    for v in VARIANTS:
        best = pick_lr(lambda v=v: make_net(v, seed, shape), data, config["lrs"], steps=config["steps"],
                       batch_size=config["batch_size"], seed=seed, optimizer="adam")
        out[v] = {"lr": best["lr"], "step_loss": padded_curve(best["curves"]["step_loss"], config["steps"]),
                  "diverged": best["curves"]["diverged"], **best["final"]}
    return out


def plot(results, fig):
    fig.set_size_inches(12, 4.5)
    a1, a2 = fig.subplots(1, 2)
    plot_step_losses(a1, results, [f"{v}.step_loss" for v in VARIANTS], VARIANTS)
    a1.set_title("training curves (Adam, own best lr)")
    x = np.arange(len(VARIANTS))
    a2.bar(x, [results.values(f"{v}.test_acc").mean() for v in VARIANTS], color=[color(i) for i in x])
    a2.set_xticks(x, VARIANTS)
    a2.set(ylabel="test accuracy", title="final test accuracy (mean over seeds)")


def verdict(results):
    limit = math.log(10) / 2
    checks = [check_mean(f"train loss, {v} norm", results.values(f"{v}.train_loss"), "<", limit)
              for v in VARIANTS if v != "none"]
    acc = {v: results.values(f"{v}.test_acc").mean() for v in VARIANTS}
    extra = {"test acc by variant": ", ".join(f"{v} {acc[v]:.3f}" for v in sorted(acc, key=acc.get, reverse=True)),
             "train loss without normalization": f"{results.values('none.train_loss').mean():.4f}",
             "chosen lr (first seed)": ", ".join(f"{v}={results.first(v + '.lr'):g}" for v in VARIANTS)}
    return combine(checks, "Every normalization (batch, layer, instance, group, weight) trains the same network: "
                           "final training loss below half that of a uniform guess (ln 10 / 2)", extra)


_COMMON = dict(shrink=4, batch_size=32)
EXPERIMENT = Experiment(
    id="normalizers",
    title="Layer, instance, group and weight normalization as alternatives",
    source=("004",),
    claim="Layer, instance and weight normalization (and group norm) are alternatives to batch normalization.",
    presets={
        "test": dict(_COMMON, data="synthetic", n_train=64, n_val=32, n_test=32, lrs=[0.01], steps=4, seeds=1),
        "quick": dict(_COMMON, data="fashion-mnist", n_train=1000, n_val=300, n_test=1000, lrs=[0.003, 0.01],
                      steps=120, seeds=2),
        "full": dict(_COMMON, shrink=1, data="fashion-mnist", n_train=20000, n_val=5000, n_test=10000,
                     lrs=[0.0003, 0.001, 0.003, 0.01], steps=4000, seeds=3),
    },
    run=run, plot=plot, verdict=verdict)
