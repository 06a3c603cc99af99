"""deep-sigmoid: deeper sigmoid nets do worse, on the training set too (seeds 000, 001).

Setting: :mod:`._depth` — MLPs with 1 … 9 hidden sigmoid layers (Glorot-uniform init),
all trained with the same SGD budget; per-layer gradients recorded along the way.

Decision (thresholds fixed from the claim's words before running):
  * "deeper nets do worse on the training set": the deepest net's final training accuracy
    minus the shallowest net's, paired by seed, has its 95% interval below 0;
  * "the first layer's gradient is orders of magnitude below the last": for the deepest
    net, the mean over recorded steps of log10(RMS ∇W first / RMS ∇W last) — the RMS
    gradient per weight of each layer's matrix; whole-layer norms carry a √(parameter
    count) factor and are reported only — has its interval below −2 (at least two orders
    of magnitude).  The former rule used whole-layer norms; it was changed before any run
    of this code.
Shown, not deciding: Spearman's rank correlation of depth and mean training accuracy,
and the deepest net's train − test gap (small when the net underfits rather than overfits).
"""
from __future__ import annotations

from ..experiment import Experiment
from ..rules import check_diff, check_mean, combine
from ._depth import depth_values, mean_log_ratio, plot_depths, presets, run_depths, spearman


def run(config, seed, ctx):
    return run_depths(config, seed, ctx, activation="sigmoid", init="xavier_uniform")


def plot(results, fig):
    plot_depths(results, fig, "sigmoid (Glorot init)")


def verdict(results):
    depths, train = depth_values(results, "final.train_acc_all")
    _, test = depth_values(results, "final.test_acc_all")
    shallow, deep = min(depths), max(depths)
    i_s, i_d = depths.index(shallow), depths.index(deep)
    checks = [
        check_diff(f"train acc ({deep} hidden) - train acc ({shallow} hidden)", train[:, i_d], train[:, i_s], "<", 0.0),
        check_mean(f"log10 RMS grad first / last layer ({deep} hidden)", mean_log_ratio(results, deep), "<", -2.0),
    ]
    extra = {
        "Spearman(depth, mean train acc)": round(spearman(depths, train.mean(axis=0)), 3),
        f"log10 whole-layer norm first / last ({deep} hidden)":
            round(float(mean_log_ratio(results, deep, "layer_grad_norm").mean()), 3),
        f"train acc by depth {depths}": "[" + ", ".join(f"{v:.3f}" for v in train.mean(axis=0)) + "]",
        f"train - test gap ({deep} hidden)": round(float((train[:, i_d] - test[:, i_d]).mean()), 4),
    }
    return combine(checks, "With the same SGD budget the deepest sigmoid net reaches a lower training accuracy "
                           "than the shallowest, and its first layer's RMS gradient per weight is at least two "
                           "orders of magnitude below its output layer's", extra)


EXPERIMENT = Experiment(
    id="deep-sigmoid",
    title="Deeper sigmoid nets train worse (vanishing gradient)",
    source=("000", "001"),
    claim=("Deeper sigmoid networks do worse, on the training set too — it is not overfitting: near the "
           "input the gradients are tiny (vanishing gradient), so the first layers barely learn."),
    presets=presets(),
    run=run, plot=plot, verdict=verdict)
