"""relu-variants: Leaky ReLU and PReLU keep a gradient for z < 0; PReLU learns α (seeds 000, 001).

Setting: one deep MLP (``hidden`` layers, He init with the gain of each activation's
negative slope) trained three times from the same seed with the same SGD budget:
ReLU, Leaky ReLU (a = 0.01·z for z < 0, the lecture's slope) and PReLU (a = α·z, one α per
unit, learned, starting at 0.25 as in He et al. 2015, https://arxiv.org/abs/1502.01852).
A unit is *dead* when its output is ≤ 0 on every one of ``probe_n`` training examples
(the diagnostics' ``frac_dead``): for ReLU no gradient then reaches its weights, while
Leaky/PReLU units still pass slope·gradient and can come back.  Dead fractions are
recorded along training; the decision uses the end of training.

Decision (thresholds fixed from the claim's words before running):
  * "fewer dead units with Leaky ReLU": the final fraction of dead hidden units of the ReLU
    net minus the Leaky net's, paired by seed, has its 95% interval above 0;
  * the same for ReLU minus PReLU;
  * "PReLU learns α": the mean over units of |α − 0.25| at the end has its interval above
    0.01 (the slopes moved away from their initial value).
The learned α (mean, min, max per layer) and the final training accuracies are reported.
"""
from __future__ import annotations

import numpy as np

from ..experiment import Experiment
from ..plotting import color, plot_band
from ..rules import check_diff, check_mean, combine
from ._probes import train_probed

ARMS = [("relu", "relu"), ("leaky", ("leaky_relu", 0.01)), ("prelu", ("prelu", "per_channel"))]
PRELU_INIT = 0.25


def run(config, seed, ctx):
    from ... import nn
    from ..data import image_data
    data = image_data(config["data"], n_train=config["n_train"], n_test=config["n_test"], seed=seed)
    out = {"arms": [a for a, _ in ARMS], "data": data.describe()}
    for arm, act in ARMS:
        metrics, model = train_probed(
            data, hidden=[config["width"]] * config["depth"], activation=act, init="he", optimizer="sgd",
            lr=config["lr"], steps=config["steps"], batch_size=config["batch_size"], seed=seed,
            probe_n=config["probe_n"], probe_every=config["probe_every"], activations=True,
            progress=ctx.progress)
        dead = metrics["probe"]["dead"]                    # (records, hidden layers)
        metrics["final"]["dead_frac"] = float(dead[-1].mean())
        metrics["final"]["dead_frac_init"] = float(dead[0].mean())
        if arm == "prelu":
            alphas = [np.asarray(m.weight.data, dtype=np.float64) for m in model.modules()
                      if isinstance(m, nn.PReLU)]
            metrics["alpha"] = np.stack(alphas)            # (hidden layers, units)
        out[arm] = metrics
    return out


def plot(results, fig):
    fig.set_size_inches(15, 4.5)
    ax1, ax2, ax3 = fig.subplots(1, 3)
    for i, (arm, _) in enumerate(ARMS):
        steps = np.asarray(results.first(f"{arm}.probe.acc_step"))
        dead = results.stack(f"{arm}.probe.dead").mean(axis=2)          # (seeds, records)
        plot_band(ax1, steps, dead, label=arm, color=color(i))
    ax1.set_xlabel("SGD step")
    ax1.set_ylabel("fraction of dead hidden units")
    ax1.set_title(f"dead units (output ≤ 0 on all {results.config.get('probe_n')} probe examples)", fontsize=10)
    ax1.grid(alpha=0.3)
    ax1.legend()

    width = 0.27
    for i, (arm, _) in enumerate(ARMS):
        per_layer = results.stack(f"{arm}.probe.dead")[:, -1, :]        # (seeds, layers)
        x = np.arange(1, per_layer.shape[1] + 1)
        ax2.bar(x + (i - 1) * width, per_layer.mean(axis=0), width=width, color=color(i), label=arm)
    ax2.set_xlabel("hidden layer")
    ax2.set_ylabel("dead fraction at the end")
    ax2.set_title("dead units per layer (mean over seeds)", fontsize=10)
    ax2.grid(alpha=0.3, axis="y")
    ax2.legend()

    alpha = results.stack("prelu.alpha")                                  # (seeds, layers, units)
    layers = np.arange(1, alpha.shape[1] + 1)
    for s in range(alpha.shape[0]):
        for j in layers:
            ax3.scatter(np.full(alpha.shape[2], j) + 0.08 * (s - 1), alpha[s, j - 1], s=4, alpha=0.4,
                        color=color(s))
    ax3.plot(layers, alpha.mean(axis=(0, 2)), "k-o", label="mean α")
    ax3.axhline(PRELU_INIT, color="gray", linestyle="--", label=f"initial α = {PRELU_INIT}")
    ax3.set_xlabel("hidden layer")
    ax3.set_ylabel("learned PReLU slope α (one per unit)")
    ax3.set_title("PReLU: learned α", fontsize=10)
    ax3.grid(alpha=0.3)
    ax3.legend(fontsize=8)


def verdict(results):
    dead = {arm: results.values(f"{arm}.final.dead_frac") for arm, _ in ARMS}
    alpha_shift = np.array([float(np.mean(np.abs(np.asarray(results.get(r, "prelu.alpha")) - PRELU_INIT)))
                            for r in results.runs])
    checks = [
        check_diff("dead fraction ReLU - Leaky", dead["relu"], dead["leaky"], ">", 0.0),
        check_diff("dead fraction ReLU - PReLU", dead["relu"], dead["prelu"], ">", 0.0),
        check_mean("mean |α - 0.25| (PReLU)", alpha_shift, ">", 0.01),
    ]
    alpha = np.stack([np.asarray(results.get(r, "prelu.alpha")) for r in results.runs])
    per_layer = alpha.mean(axis=(0, 2))
    extra = {f"dead fraction {arm}": round(float(v.mean()), 4) for arm, v in dead.items()}
    extra["PReLU α mean per layer"] = "[" + ", ".join(f"{a:.3f}" for a in per_layer) + "]"
    extra["PReLU α min / max"] = f"{alpha.min():.3f} / {alpha.max():.3f}"
    for arm, _ in ARMS:
        extra[f"train acc {arm}"] = round(float(results.values(f"{arm}.final.train_acc_all").mean()), 4)
    return combine(checks, "After the same SGD budget the ReLU net has more dead units than the Leaky ReLU and "
                           "the PReLU nets, and PReLU's slopes moved from their initial 0.25", extra)


EXPERIMENT = Experiment(
    id="relu-variants",
    title="Leaky ReLU and PReLU: fewer dead units, learned slopes",
    source=("000", "001"),
    claim=("Leaky ReLU (a = 0.01z for z < 0) and Parametric ReLU (a = αz, α learned by gradient descent) "
           "keep a gradient for negative inputs, so units do not die as ReLU units can."),
    presets={
        "test": dict(data="synthetic", n_train=200, n_test=100, depth=3, width=16, lr=0.1, batch_size=50,
                     steps=12, probe_n=100, probe_every=4, seeds=2),
        "quick": dict(data="fashion-mnist", n_train=5000, n_test=2000, depth=9, width=100, lr=0.1,
                      batch_size=100, steps=600, probe_n=1000, probe_every=30, seeds=3),
        "full": dict(data="fashion-mnist", n_train=10000, n_test=10000, depth=9, width=689, lr=0.1,
                     batch_size=100, steps=2000, probe_n=1000, probe_every=50, seeds=5),
    },
    run=run, plot=plot, verdict=verdict)
