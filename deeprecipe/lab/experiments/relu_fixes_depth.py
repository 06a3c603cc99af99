"""relu-fixes-depth: ReLU removes the vanishing gradient, deep nets train (seeds 000, 001).

Setting: :mod:`._depth` — the same depth sweep and SGD budget as ``deep-sigmoid``, with
ReLU units and He-normal initialization.

Decision (thresholds fixed from the claim's words before running):
  * "deep ReLU nets train": the deepest net's final training accuracy minus the shallowest
    net's, paired by seed, has its 95% interval above −0.02 (depth costs at most 2 points);
  * "first/last layer gradient ratio near 1": for the deepest net the mean over recorded
    steps of log10(RMS ∇W first / RMS ∇W last) — the RMS gradient per weight of each
    layer's matrix; whole-layer norms carry a √(parameter count) factor and are reported
    only — lies in (−1, 1), i.e. within a factor 10 of 1 (both bounds decided by the 95%
    interval over seeds).  The former rule used whole-layer norms; it was changed before
    any run of this code.
"""
from __future__ import annotations

from ..experiment import Experiment
from ..rules import check_diff, check_mean, combine
from ._depth import depth_values, mean_log_ratio, plot_depths, presets, run_depths, spearman


def run(config, seed, ctx):
    return run_depths(config, seed, ctx, activation="relu", init="he")


def plot(results, fig):
    plot_depths(results, fig, "ReLU (He init)")


def verdict(results):
    depths, train = depth_values(results, "final.train_acc_all")
    shallow, deep = min(depths), max(depths)
    i_s, i_d = depths.index(shallow), depths.index(deep)
    ratio = mean_log_ratio(results, deep)
    name = f"log10 RMS grad first / last layer ({deep} hidden)"
    checks = [
        check_diff(f"train acc ({deep} hidden) - train acc ({shallow} hidden)", train[:, i_d], train[:, i_s],
                   ">", -0.02),
        check_mean(name, ratio, ">", -1.0),
        check_mean(name, ratio, "<", 1.0),
    ]
    extra = {
        "Spearman(depth, mean train acc)": round(spearman(depths, train.mean(axis=0)), 3),
        f"log10 whole-layer norm first / last ({deep} hidden)":
            round(float(mean_log_ratio(results, deep, "layer_grad_norm").mean()), 3),
        f"train acc by depth {depths}": "[" + ", ".join(f"{v:.3f}" for v in train.mean(axis=0)) + "]",
    }
    return combine(checks, "With the same SGD budget the deepest ReLU net trains (its training accuracy is at "
                           "most 2 points below the shallowest net's) and its first/last layer RMS gradient per "
                           "weight ratio is within a factor 10 of 1", extra)


EXPERIMENT = Experiment(
    id="relu-fixes-depth",
    title="ReLU (He init) trains deep nets",
    source=("000", "001"),
    claim=("ReLU removes the vanishing gradient problem: with ReLU units deep networks train, and the "
           "layers near the input get gradients as large as those near the output."),
    presets=presets(),
    run=run, plot=plot, verdict=verdict)
