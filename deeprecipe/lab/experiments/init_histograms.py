"""init-histograms: how the initial weight scale shapes each layer's activations (seed 003).

The book's ``ch06/weight_init_activation_histogram.py``: 1000 Gaussian inputs of 100
features pass through 5 fully connected layers of 100 units (no bias); the weights are
N(0, σ²) with σ = 1, 0.01, Xavier (1/√n; for these square layers Glorot's √(2/(n_in+n_out))
is the same) or He (√(2/n)).  The activations of every layer are recorded by the
diagnostics' ``ActivationMonitor`` and histogrammed.

Decision (thresholds fixed from the claim's words before running):
  * sigmoid, σ = 1 "pushes activations to 0 and 1": in every layer at least half of the
    activations lie within 0.1 of 0 or 1 (a uniform spread would put 20% there);
  * sigmoid, σ = 0.01 "bunches them at 0.5": in every layer at least 90% lie within 0.1 of 0.5;
  * sigmoid, Xavier "spreads them": in every layer neither of the two (fewer than 50% near
    0/1 and fewer than 90% near 0.5);
  * ReLU, He "keeps every layer's spread": the last layer's activation std is within a
    factor 2 of the first layer's; and the spread shrinks more with Xavier and most with
    σ = 0.01 (ratio He > Xavier > 0.01).
Each quantity is averaged over seeds; "in every layer" uses the worst layer of each seed.
"""
from __future__ import annotations

import numpy as np

from ..experiment import Experiment
from ..plotting import color
from ..rules import check_mean, combine

CONFIGS = [  # (name, activation, init spec for nn.Linear)
    ("sigmoid-std1", "sigmoid", ("normal", 1.0)),
    ("sigmoid-std0_01", "sigmoid", ("normal", 0.01)),
    ("sigmoid-xavier", "sigmoid", "xavier"),
    ("relu-std0_01", "relu", ("normal", 0.01)),
    ("relu-xavier", "relu", "xavier"),
    ("relu-he", "relu", "he"),
]
BINS = 30


def _network(n_units: int, n_layers: int, activation: str, init, seed: int):
    from ... import nn
    rng = np.random.default_rng(seed)
    layers = []
    for _ in range(n_layers):
        layers.append(nn.Linear(n_units, n_units, bias=False, init=init, rng=rng))
        layers.append(nn.Sigmoid() if activation == "sigmoid" else nn.ReLU())
    return nn.Sequential(*layers)


def run(config, seed, ctx):
    from ... import Tensor, no_grad
    from ...diagnostics import ActivationMonitor, histogram
    n, units, depth = config["n_inputs"], config["n_units"], config["n_layers"]
    x = ctx.rng.standard_normal((n, units)).astype(np.float32)
    out = {"configs": [c[0] for c in CONFIGS]}
    bar = ctx.progress(len(CONFIGS), "configs")
    for i, (name, act, init) in enumerate(CONFIGS):
        net = _network(units, depth, act, init, seed * 1000 + i)
        mon = ActivationMonitor(net, modules=lambda nm, m: type(m).__name__ in ("Sigmoid", "ReLU"),
                                bins=BINS, keep_arrays=True)
        with no_grad(), mon.record():
            net(Tensor(x))
        mon.remove()
        arrays = [np.asarray(a, dtype=np.float64) for a in mon.arrays.values()]
        stats = list(mon.stats.values())
        if act == "sigmoid":
            hi = 1.0
            hists = [histogram(a, BINS, (0.0, 1.0))[0] for a in arrays]
        else:  # ReLU: the non-zero activations on one range shared by the layers
            pos = [a[a > 0] for a in arrays]
            hi = max([float(np.percentile(p, 99.5)) for p in pos if p.size] or [1.0])
            hists = [histogram(p, BINS, (0.0, hi))[0] for p in pos]
        out[name] = {
            "std": np.array([a.std() for a in arrays]),
            "mean": np.array([a.mean() for a in arrays]),
            "near_ends": np.array([np.mean((a < 0.1) | (a > 0.9)) for a in arrays]),
            "near_half": np.array([np.mean(np.abs(a - 0.5) <= 0.1) for a in arrays]),
            "frac_zero": np.array([np.mean(a == 0) for a in arrays]),
            "frac_saturated": np.array([s.get("frac_saturated", np.nan) for s in stats]),
            "frac_dead": np.array([s.get("frac_dead", np.nan) for s in stats]),
            "hist": np.stack(hists).astype(np.int64),
            "hist_max": hi,
            "kind": next(iter(mon.kinds.values())),
        }
        bar.update(1)
    bar.close()
    return out


def plot(results, fig):
    # 30 small panels: one ``stairs`` artist per histogram and a fixed layout keep drawing fast
    fig.set_layout_engine("none")
    fig.set_size_inches(13, 9)
    depth = results.stack("relu-he.std").shape[1]
    axes = fig.subplots(len(CONFIGS), depth, sharey="row", gridspec_kw=dict(
        left=0.08, right=0.99, bottom=0.04, top=0.93, wspace=0.08, hspace=0.55))
    for r, (name, act, _) in enumerate(CONFIGS):
        hist = results.stack(f"{name}.hist").sum(axis=0)       # pooled over seeds
        hi = float(np.max(results.values(f"{name}.hist_max")))
        stds = results.stack(f"{name}.std").mean(axis=0)
        edges = np.linspace(0.0, hi, hist.shape[1] + 1)
        for c in range(depth):
            ax = axes[r, c]
            ax.stairs(hist[c], edges, fill=True, color=color(r))
            ax.set_title(f"layer {c + 1}  std {stds[c]:.3g}", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.locator_params(axis="x", nbins=3)
            if c == 0:
                ax.set_ylabel(name + ("\n(non-zero)" if act == "relu" else ""), fontsize=8)
            else:
                ax.tick_params(labelleft=False)
    fig.suptitle("Activation histograms per layer (5 layers × 100 units, 1000 Gaussian inputs)")


def _worst(results, name, key, reduce):
    return np.array([reduce(np.asarray(r[name][key])) for r in results.runs])


def verdict(results):
    checks = [
        check_mean("sigmoid σ=1: min over layers of share within 0.1 of 0 or 1",
                   _worst(results, "sigmoid-std1", "near_ends", np.min), ">=", 0.5),
        check_mean("sigmoid σ=0.01: min over layers of share within 0.1 of 0.5",
                   _worst(results, "sigmoid-std0_01", "near_half", np.min), ">=", 0.9),
        check_mean("sigmoid Xavier: max over layers of share within 0.1 of 0 or 1",
                   _worst(results, "sigmoid-xavier", "near_ends", np.max), "<", 0.5),
        check_mean("sigmoid Xavier: max over layers of share within 0.1 of 0.5",
                   _worst(results, "sigmoid-xavier", "near_half", np.max), "<", 0.9),
    ]
    ratio = {name: np.array([r[name]["std"][-1] / r[name]["std"][0] for r in results.runs])
             for name in ("relu-std0_01", "relu-xavier", "relu-he")}
    checks += [
        check_mean("ReLU He: std last/first layer", ratio["relu-he"], ">=", 0.5),
        check_mean("ReLU He: std last/first layer", ratio["relu-he"], "<=", 2.0),
        check_mean("ReLU: He ratio - Xavier ratio", ratio["relu-he"] - ratio["relu-xavier"], ">", 0.0),
        check_mean("ReLU: Xavier ratio - σ=0.01 ratio", ratio["relu-xavier"] - ratio["relu-std0_01"], ">", 0.0),
    ]
    extra = {"ReLU Xavier std ratio": float(f"{ratio['relu-xavier'].mean():.4g}"),
             "ReLU σ=0.01 std ratio": float(f"{ratio['relu-std0_01'].mean():.4g}")}
    return combine(checks, "Sigmoid: σ=1 saturates at 0/1, σ=0.01 bunches at 0.5, Xavier spreads; "
                           "ReLU: He keeps the spread (last/first std in [0.5, 2]), Xavier and σ=0.01 shrink it",
                   extra)


EXPERIMENT = Experiment(
    id="init-histograms",
    title="Initial weights and activation distributions",
    source=("003",),
    claim=("With sigmoid, weights of std 1 push activations to 0 and 1; std 0.01 bunches them at 0.5; "
           "Xavier spreads them. With ReLU, He initialization keeps every layer's spread."),
    presets={
        "test": dict(n_inputs=200, n_units=30, n_layers=5, seeds=2),
        "quick": dict(n_inputs=1000, n_units=100, n_layers=5, seeds=3),
        "full": dict(n_inputs=1000, n_units=100, n_layers=5, seeds=5),
    },
    run=run, plot=plot, verdict=verdict)
