"""normalize-input: unnormalized inputs train poorly (seeds 000, 004).

Hung-yi Lee's Keras demo (lecture 9-2 in seed 000: "資料未做標準化會造成效能不佳") drops the
``/255`` on the pixels and the network stops learning; lecture 004 motivates feature
normalization by the elongated error surface that unscaled features create.

Setting: one MLP (``hidden`` ReLU layers, Glorot-uniform init — Keras's default, as in
the demo) built from the same seed, trained with the same SGD budget (cross-entropy,
``lr``, ``batch_size``) on the same training subset presented three ways:

* ``raw``:          pixels 0..255 as floats;
* ``scaled``:       pixels / 255, in [0, 1];
* ``standardized``: per pixel zero mean and unit variance (statistics of the training subset).

A run whose loss becomes non-finite stops there (``diverged``); its accuracy is still
measured (non-finite logits predict class 0), i.e. what that network would deliver.

Decision (thresholds fixed from the claim's words before running): "trains poorly" = a
final test accuracy more than 2 points below each normalized variant's: test accuracy of
``scaled`` minus ``raw`` and of ``standardized`` minus ``raw``, paired by seed, each with
its 95% interval above 0.02.
"""
from __future__ import annotations

import numpy as np

from ..experiment import Experiment
from ..plotting import color, plot_band
from ..rules import check_diff, combine
from ._probes import train_probed

ARMS = [("raw", "raw"), ("scaled", "01"), ("standardized", "standardize")]


def run(config, seed, ctx):
    from ..data import image_data
    out = {"arms": [a for a, _ in ARMS]}
    for arm, scale in ARMS:
        data = image_data(config["data"], n_train=config["n_train"], n_test=config["n_test"], seed=seed,
                          scale=scale)
        metrics, _ = train_probed(
            data, hidden=config["hidden"], activation="relu", init="xavier_uniform", optimizer="sgd",
            lr=config["lr"], steps=config["steps"], batch_size=config["batch_size"], seed=seed,
            probe_n=config["probe_n"], probe_every=config["probe_every"], progress=ctx.progress)
        metrics["input_range"] = [float(data.x_train.min()), float(data.x_train.max())]
        out[arm] = metrics
    out["data"] = data.describe()
    return out


def plot(results, fig):
    fig.set_size_inches(12, 4.5)
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.6, 1]})
    for i, (arm, _) in enumerate(ARMS):
        steps = np.asarray(results.first(f"{arm}.probe.acc_step"))
        curves = [np.asarray(results.get(r, f"{arm}.probe.acc")) for r in results.runs]
        n = min(len(c) for c in curves)                     # a diverged run stops early
        lo, hi = results.first(f"{arm}.input_range")
        plot_band(ax1, steps[:n], np.stack([c[:n] for c in curves]),
                  label=f"{arm} (inputs in [{lo:.3g}, {hi:.3g}])", color=color(i))
    ax1.set_xlabel("SGD step")
    ax1.set_ylabel(f"accuracy on {results.config.get('probe_n')} training examples")
    ax1.set_ylim(0, 1.0)
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=8, loc="lower right")
    ax1.set_title("same net, same init, same SGD budget", fontsize=10)
    for i, (arm, _) in enumerate(ARMS):
        acc = results.values(f"{arm}.final.test_acc_all")
        ax2.bar(i, acc.mean(), color=color(i))
        ax2.scatter(np.full(len(acc), i), acc, color="k", s=12, zorder=3)
        div = int(results.values(f"{arm}.final.diverged").sum())
        if div:
            ax2.text(i, acc.mean() + 0.02, f"{div} diverged", ha="center", fontsize=8)
    ax2.set_xticks(range(len(ARMS)))
    ax2.set_xticklabels([a for a, _ in ARMS])
    ax2.set_ylim(0, 1.0)
    ax2.set_ylabel("final test accuracy (dots: seeds)")
    ax2.grid(alpha=0.3, axis="y")
    ax2.set_title("after the budget", fontsize=10)


def verdict(results):
    acc = {arm: results.values(f"{arm}.final.test_acc_all") for arm, _ in ARMS}
    checks = [check_diff("test acc scaled - raw", acc["scaled"], acc["raw"], ">", 0.02),
              check_diff("test acc standardized - raw", acc["standardized"], acc["raw"], ">", 0.02)]
    extra = {f"test acc {arm}": round(float(v.mean()), 4) for arm, v in acc.items()}
    for arm, _ in ARMS:
        extra[f"diverged runs {arm}"] = f"{int(results.values(f'{arm}.final.diverged').sum())}/{results.n}"
    return combine(checks, "After the same SGD budget, raw 0..255 inputs give a test accuracy more than 2 points "
                           "below both scaled and standardized inputs", extra)


EXPERIMENT = Experiment(
    id="normalize-input",
    title="Unnormalized inputs train poorly",
    source=("000", "004"),
    claim=("Inputs that are not normalized (raw 0..255 pixels) make training perform poorly; scaling or "
           "standardizing the features fixes it."),
    presets={
        "test": dict(data="synthetic", n_train=200, n_test=100, hidden=[16], lr=0.1, batch_size=50, steps=12,
                     probe_n=100, probe_every=4, seeds=2),
        "quick": dict(data="fashion-mnist", n_train=5000, n_test=2000, hidden=[100, 100], lr=0.1,
                      batch_size=100, steps=600, probe_n=1000, probe_every=30, seeds=3),
        "full": dict(data="fashion-mnist", n_train=10000, n_test=10000, hidden=[689, 689, 689], lr=0.1,
                     batch_size=100, steps=2000, probe_n=1000, probe_every=50, seeds=5),
    },
    run=run, plot=plot, verdict=verdict)
