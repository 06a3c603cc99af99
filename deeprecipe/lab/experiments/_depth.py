"""The depth sweep shared by deep-sigmoid and relu-fixes-depth (seeds 000, 001).

Hung-yi Lee's "Hard to get the power of Deep" slide trains MLPs of 1 to 9 hidden layers
on MNIST with the Keras demo's recipe (the first 10000 training images, 689 units per
layer, SGD lr 0.1, batch 100, 20 epochs) and finds the deeper sigmoid nets *worse on the
training set*; ReLU fixes it.  Here every depth gets the same SGD budget (same steps,
batch and learning rate), cross-entropy on softmax, Fashion-MNIST instead of MNIST.
Sigmoid nets start from Glorot/Xavier-uniform weights (Keras's default), ReLU nets from
He-normal ones (the claim's "ReLU (He init)").

Per depth and seed the run saves the final accuracy on the whole training subset and on
the test subset, and the :class:`~._probes.StepProbe` records: probe-set accuracy every
``probe_every`` steps and the per-layer gradients of those steps (first entry = the
first hidden Linear, last = the output Linear).  The verdicts compare layers by the RMS
gradient *per weight* (``layer_grad_rms``: ‖∇W‖/√size(W)), not by whole-layer norms: the
first layer's 784×width matrix has far more entries than the output's width×10, and its
norm carries that √(parameter count) factor whatever the gradient per weight is.
"""
from __future__ import annotations

import numpy as np

from ..plotting import color, plot_band
from ..stats import mean_ci
from ._probes import log10_first_last, train_probed


def run_depths(config, seed, ctx, activation: str, init) -> dict:
    from ..data import image_data
    data = image_data(config["data"], n_train=config["n_train"], n_test=config["n_test"], seed=seed)
    out = {"depths": [int(d) for d in config["depths"]], "data": data.describe()}
    for d in config["depths"]:
        metrics, _ = train_probed(
            data, hidden=[config["width"]] * int(d), activation=activation, init=init, optimizer="sgd",
            lr=config["lr"], steps=config["steps"], batch_size=config["batch_size"], seed=seed,
            probe_n=config["probe_n"], probe_every=config["probe_every"], progress=ctx.progress)
        out[f"d{int(d)}"] = metrics
    return out


def depth_values(results, key: str) -> tuple:
    """``(depths, (n_seeds, n_depths) array)`` of ``d<depth>.<key>``."""
    depths = [int(d) for d in results.first("depths")]
    return depths, np.stack([results.values(f"d{d}.{key}") for d in depths], axis=1)


def mean_log_ratio(results, depth: int, key: str = "layer_grad_rms") -> np.ndarray:
    """Per seed: the mean over recorded steps of log10(RMS ∇W first layer / RMS ∇W last layer)
    (= log10 of the geometric mean of the ratio), for the net of ``depth`` hidden layers;
    ``key="layer_grad_norm"`` gives the same with whole-layer norms (reported, not deciding)."""
    return np.array([float(np.nanmean(log10_first_last(results.get(r, f"d{depth}.probe.{key}"))))
                     for r in results.runs])


def spearman(x, y) -> float:
    """Spearman's rank correlation of two equally long sequences (ties get average ranks)."""
    def ranks(v):
        v = np.asarray(v, dtype=np.float64)
        order = np.argsort(v, kind="mergesort")
        r = np.empty(len(v))
        r[order] = np.arange(len(v), dtype=np.float64)
        for val in np.unique(v):          # average the ranks of ties
            m = v == val
            r[m] = r[m].mean()
        return r
    rx, ry = ranks(x), ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def _errorbar(ax, x, values, **kw):
    cis = [mean_ci(values[:, j]) for j in range(values.shape[1])]
    means = np.array([c.mean for c in cis])
    half = np.array([0.0 if not np.isfinite(c.half_width) else c.half_width for c in cis])
    ax.errorbar(x, means, yerr=half, capsize=3, marker="o", **kw)


def plot_depths(results, fig, name: str) -> None:
    fig.set_size_inches(15, 4.5)
    ax1, ax2, ax3 = fig.subplots(1, 3)
    depths, train = depth_values(results, "final.train_acc_all")
    _, test = depth_values(results, "final.test_acc_all")
    _errorbar(ax1, depths, train, label="train", color=color(0))
    _errorbar(ax1, depths, test, label="test", color=color(1), linestyle="--")
    ax1.set_xlabel("hidden layers")
    ax1.set_ylabel("accuracy after the same SGD budget")
    ax1.set_xticks(depths)
    ax1.set_ylim(0, 1.0)
    ax1.grid(alpha=0.3)
    ax1.legend()
    ax1.set_title(f"{name}: accuracy vs depth (mean ± 95% CI, n={results.n})", fontsize=10)

    for i, d in enumerate(depths):
        g = results.stack(f"d{d}.probe.layer_grad_rms")           # (seeds, records, layers)
        with np.errstate(divide="ignore"):
            profile = np.nanmean(np.log10(g), axis=(0, 1))         # geometric mean per layer
        ax2.plot(np.arange(1, len(profile) + 1), 10 ** profile, marker="o", color=color(i),
                 label=f"{d} hidden")
    ax2.set_yscale("log")
    ax2.set_xlabel("layer (1 = nearest the input; last = output layer)")
    ax2.set_ylabel("RMS gradient per weight (geometric mean over steps)")
    ax2.grid(alpha=0.3, which="both")
    ax2.legend(fontsize=8)
    ax2.set_title("per-layer gradient per weight, ‖∇W‖/√size(W)", fontsize=10)

    for i, d in enumerate(depths):
        steps = np.asarray(results.first(f"d{d}.probe.acc_step"))
        plot_band(ax3, steps, results.stack(f"d{d}.probe.acc"), label=f"{d} hidden", color=color(i))
    ax3.set_xlabel("SGD step")
    ax3.set_ylabel(f"accuracy on {results.config.get('probe_n', '')} training examples")
    ax3.set_ylim(0, 1.0)
    ax3.grid(alpha=0.3)
    ax3.legend(fontsize=8)
    ax3.set_title("training curves", fontsize=10)


def presets() -> dict:
    """The presets of both depth experiments (the same budget for sigmoid and ReLU)."""
    full = dict(data="fashion-mnist", n_train=10000, n_test=10000, depths=list(range(1, 10)), width=689,
                lr=0.1, batch_size=100, steps=2000, probe_n=1000, probe_every=50, seeds=3)
    quick = dict(data="fashion-mnist", n_train=5000, n_test=2000, depths=[1, 3, 5, 7, 9], width=100,
                 lr=0.1, batch_size=100, steps=600, probe_n=1000, probe_every=30, seeds=3)
    test = dict(data="synthetic", n_train=200, n_test=100, depths=[1, 4], width=16, lr=0.1, batch_size=50,
                steps=12, probe_n=100, probe_every=4, seeds=2)
    return {"test": test, "quick": quick, "full": full}
