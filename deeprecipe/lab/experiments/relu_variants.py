"""relu-variants: Leaky ReLU and PReLU keep a gradient for z < 0, so their units do not die as
ReLU units can; PReLU learns α (seeds 000, 001).

Setting — one where ReLUs do die: a deep MLP (``depth`` × ``width``, He init) whose hidden
biases start shifted to −``bias_shift`` (as after a large update pushed them negative, the
way units die in practice), trained three times from the same weights with the same SGD
budget: ReLU, Leaky ReLU (a = 0.01·z for z < 0, the lecture's slope) and PReLU (a = α·z,
one α per unit, learned, starting at 0.25 as in He et al. 2015,
https://arxiv.org/abs/1502.01852).  ``bias_shift`` = 0.3 with 5 layers was chosen from the
*initial* ReLU network alone (share of units inactive on the probe set at init: ~3% in the
first layer to ~60% in the last, no layer wholly inactive — a wholly dead layer would cut
every gradient below it), before any training; the former setting (no shift, 9 layers)
had 1.7% dead units, nothing to decide.

What the claim is about — a unit is **dead** when its incoming weights get *no gradient*
over the whole probe set (``probe_n`` training examples): the gradient of the loss summed
over the probe set w.r.t. that unit's weight row is exactly 0.  A ReLU unit with z ≤ 0 on
every probe example is dead; a Leaky/PReLU unit with all-negative inputs still passes
slope × gradient and is not.  Measured at the start and at the end of training.
Reported too: the share of units *inactive* (z ≤ 0 on every probe example) at the start
that are active at the end ("came back"), and the learned α against their start.

Decision (thresholds fixed from the claim's words before running), 95% intervals over
seeds, at the end of training:
  * the setting is one where ReLUs die: the ReLU net's dead share > 0.05 (otherwise there
    is nothing to decide: *inconclusive*, never "holds");
  * dead share ReLU − Leaky > 0 and ReLU − PReLU > 0, paired by seed;
  * PReLU learns α: the mean over units of |α − 0.25| > 0.01 (it would stay at 0.25 if α
    got no gradient).
"""
from __future__ import annotations

import numpy as np

from ..experiment import HOLDS, INCONCLUSIVE, Experiment
from ..plotting import color
from ..rules import Check, check_diff, check_mean, combine

ARMS = [("relu", "relu"), ("leaky", ("leaky_relu", 0.01)), ("prelu", ("prelu", "per_channel"))]
PRELU_INIT = 0.25


def unit_status(model, x, y) -> dict:
    """Per hidden layer: ``dead`` (units whose weight row gets exactly zero gradient from the
    summed loss over ``(x, y)``) and ``inactive`` (units with pre-activation ≤ 0 on every example).

    ``model`` is an ``nn.MLP`` (a Sequential whose hidden Linears are followed by activations).
    Leaves no gradient behind.
    """
    from ... import Tensor, functions as F, nn
    mods = list(model)
    hidden = [i for i, m in enumerate(mods[:-1]) if isinstance(m, nn.Linear)]
    params = list(model.parameters())
    for p in params:
        p.grad = None
    h, z = Tensor(x), {}
    with np.errstate(over="ignore", invalid="ignore"):
        for i, m in enumerate(mods):
            h = m(h)
            if i in hidden:
                z[i] = np.asarray(h.data)
        F.cross_entropy(h, y, reduction="sum").backward()
    dead = [np.all(np.asarray(mods[i].weight.grad) == 0, axis=1) for i in hidden]
    inactive = [np.all(z[i] <= 0, axis=0) for i in hidden]
    for p in params:
        p.grad = None
    return {"dead": np.stack(dead), "inactive": np.stack(inactive)}


def came_back(start_inactive, end_inactive) -> float:
    """Share of the units inactive at the start that are active at the end (nan if none was inactive)."""
    s, e = np.asarray(start_inactive, bool), np.asarray(end_inactive, bool)
    return float((s & ~e).sum() / s.sum()) if s.any() else float("nan")


def run(config, seed, ctx):
    from ... import nn
    from ..data import image_data
    from ..training import train_classifier
    data = image_data(config["data"], n_train=config["n_train"], n_test=config["n_test"], seed=seed)
    n = int(config["probe_n"])
    xp, yp = data.x_train[:n], data.y_train[:n]
    sizes = [int(data.x_train.shape[1]), *[int(config["width"])] * int(config["depth"]), int(data.n_classes)]
    out = {"arms": [a for a, _ in ARMS], "data": data.describe()}
    for arm, act in ARMS:
        model = nn.MLP(sizes, activation=act, init="he", rng=seed)
        for m in list(model)[:-1]:
            if isinstance(m, nn.Linear):
                m.bias.data[...] = -float(config["bias_shift"])
        start = unit_status(model, xp, yp)
        metrics, model = train_classifier(data, model=model, optimizer="sgd", lr=config["lr"], steps=config["steps"],
                                          batch_size=config["batch_size"], seed=seed, eval_every=10 ** 9,
                                          progress=ctx.progress)
        end = unit_status(model, xp, yp)
        m = {"final": dict(metrics["final"]), "step_loss": metrics["curves"]["step_loss"],
             "dead_start": start["dead"].mean(axis=1), "dead_end": end["dead"].mean(axis=1),
             "inactive_start": start["inactive"].mean(axis=1), "inactive_end": end["inactive"].mean(axis=1)}
        m["final"]["dead_frac"] = float(end["dead"].mean())
        m["final"]["dead_frac_start"] = float(start["dead"].mean())
        m["final"]["came_back"] = came_back(start["inactive"], end["inactive"])
        if arm == "prelu":
            m["alpha"] = np.stack([np.asarray(p.weight.data, dtype=np.float64) for p in model.modules()
                                   if isinstance(p, nn.PReLU)])      # (hidden layers, units)
        out[arm] = m
    return out


def plot(results, fig):
    fig.set_size_inches(15, 4.5)
    ax1, ax2, ax3 = fig.subplots(1, 3)
    width = 0.27
    for i, (arm, _) in enumerate(ARMS):
        start = results.stack(f"{arm}.dead_start").mean(axis=0)
        end = results.stack(f"{arm}.dead_end").mean(axis=0)
        x = np.arange(1, end.size + 1)
        ax1.bar(x + (i - 1) * width, end, width=width, color=color(i), label=f"{arm}: end")
        ax1.scatter(x + (i - 1) * width, start, marker="_", s=120, color="k",
                    label="start" if i == 0 else None, zorder=3)
    ax1.set_xlabel("hidden layer")
    ax1.set_ylabel("share of dead units (zero gradient on the probe set)")
    ax1.set_title(f"dead units (biases start at −{results.config.get('bias_shift')})", fontsize=10)
    ax1.grid(alpha=0.3, axis="y")
    ax1.legend(fontsize=8)
    for i, (arm, _) in enumerate(ARMS):
        start = results.stack(f"{arm}.inactive_start").mean(axis=0)
        end = results.stack(f"{arm}.inactive_end").mean(axis=0)
        x = np.arange(1, end.size + 1)
        ax2.plot(x, start, linestyle=":", marker="o", color=color(i))
        ax2.plot(x, end, linestyle="-", marker="o", color=color(i), label=f"{arm} (dotted: start)")
    ax2.set_xlabel("hidden layer")
    ax2.set_ylabel("share of units with z ≤ 0 on every probe example")
    ax2.set_title("inactive units, start vs end", fontsize=10)
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=8)
    alpha = results.stack("prelu.alpha")                                  # (seeds, layers, units)
    layers = np.arange(1, alpha.shape[1] + 1)
    ax3.violinplot([alpha[:, j - 1].ravel() for j in layers], positions=layers, showmedians=True)
    ax3.axhline(PRELU_INIT, color="gray", linestyle="--", label=f"start α = {PRELU_INIT}")
    ax3.set_xlabel("hidden layer")
    ax3.set_ylabel("learned PReLU slope α (one per unit, all seeds)")
    ax3.set_title("PReLU: learned α vs its start", fontsize=10)
    ax3.grid(alpha=0.3)
    ax3.legend(fontsize=8)


def verdict(results):
    dead = {arm: results.values(f"{arm}.final.dead_frac") for arm, _ in ARMS}
    alpha = np.stack([np.asarray(results.get(r, "prelu.alpha"), dtype=np.float64) for r in results.runs])
    shift = np.abs(alpha - PRELU_INIT).reshape(alpha.shape[0], -1).mean(axis=1)
    setting = check_mean("ReLU dead share at the end", dead["relu"], ">", 0.05)
    setting = Check(setting.text + " (else inconclusive: no dying ReLUs to compare)",
                    HOLDS if setting.outcome == HOLDS else INCONCLUSIVE, setting.numbers)
    checks = [
        setting,
        check_diff("dead share ReLU - Leaky", dead["relu"], dead["leaky"], ">", 0.0),
        check_diff("dead share ReLU - PReLU", dead["relu"], dead["prelu"], ">", 0.0),
        check_mean("mean |α - 0.25| (PReLU)", shift, ">", 0.01),
    ]
    q = np.quantile(alpha, [0.05, 0.5, 0.95])
    extra = {f"dead share at start {arm}": round(float(results.values(f"{arm}.final.dead_frac_start").mean()), 4)
             for arm, _ in ARMS}
    for arm, _ in ARMS:
        extra[f"inactive at start that came back: {arm}"] = round(float(np.nanmean(
            results.values(f"{arm}.final.came_back"))), 4)
    extra["PReLU α 5% / 50% / 95% (start 0.25)"] = " / ".join(f"{v:.3f}" for v in q)
    extra["PReLU α mean per layer"] = "[" + ", ".join(f"{a:.3f}" for a in alpha.mean(axis=(0, 2))) + "]"
    for arm, _ in ARMS:
        extra[f"train acc {arm}"] = round(float(results.values(f"{arm}.final.train_acc").mean()), 4)
    return combine(checks, "In a setting where ReLU units die (biases shifted negative), the ReLU net ends with "
                           "more units that get no gradient on the probe set than the Leaky ReLU and the PReLU "
                           "nets, and PReLU's slopes move from their initial 0.25", extra)


EXPERIMENT = Experiment(
    id="relu-variants",
    title="Leaky ReLU and PReLU: no dead units, learned slopes",
    source=("000", "001"),
    claim=("Leaky ReLU (a = 0.01z for z < 0) and Parametric ReLU (a = αz, α learned by gradient descent) "
           "keep a gradient for negative inputs, so units do not die as ReLU units can."),
    presets={
        "test": dict(data="synthetic", n_train=200, n_test=100, depth=3, width=16, bias_shift=0.3, lr=0.1,
                     batch_size=50, steps=12, probe_n=100, seeds=2),
        "quick": dict(data="fashion-mnist", n_train=5000, n_test=2000, depth=5, width=100, bias_shift=0.3,
                      lr=0.1, batch_size=100, steps=600, probe_n=1000, seeds=3),
        "full": dict(data="fashion-mnist", n_train=10000, n_test=10000, depth=5, width=689, bias_shift=0.3,
                     lr=0.1, batch_size=100, steps=2000, probe_n=1000, seeds=5),
    },
    run=run, plot=plot, verdict=verdict)
