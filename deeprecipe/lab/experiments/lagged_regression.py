"""lagged-regression: a linear model on more lagged days lowers the training loss while the
test loss levels off (seed 004, lecture 1: predicting tomorrow's views of the channel from
the last 1, 7, 28, 56 days — train MAE 0.48k → 0.38k → 0.33k → 0.32k, test 0.58k → 0.49k →
0.46k → 0.46k).

Series: the lecture's own data, the daily views of its YouTube channel 2017-2021, are not
published.  In their place: Seattle's daily maximum temperature (°C), 2012-01-01..2015-12-31,
1,461 consecutive days of NOAA records as shipped in the ``vega_datasets`` package (read
offline with the ``csv`` module).  The ``test`` preset uses a seeded synthetic AR(1) series.

Model: ``y_t = b + Σ_{j=1}^{k} w_j y_{t−j}`` for k in ``lags``, fitted by least squares
(``classic.LinearRegression``, closed form by ``lstsq``; the lecture fits by gradient descent
and reports MAE, so MAE is the reported loss here).  Every k predicts the same days (from day
max(lags) on), so the losses are comparable.

Splits are chronological (no shuffling, no future in training): seed s tests the block of
``block`` days that ends ``s·block`` days before the end of the series and trains on every day
before that block (an expanding window).  ``quick``: the four quarters of 2015; ``full``:
the eight quarters of 2014-2015.

Decision (fixed from the claim's words before running):
  * "training MAE falls with more lags": for each step 1→7, 7→28, 28→56 the paired per-split
    difference train MAE(fewer) − train MAE(more) has its 95% interval above 0;
  * "test MAE levels off (or rises)": at the last step 28→56 the relative change of test MAE,
    (MAE(56) − MAE(28)) / MAE(28), has its 95% interval above −1% (it improves by less than
    1%, or gets worse); an interval entirely below −1% means the test loss still falls:
    does not hold.
Sanity (shown apart): the lag matrix reads no day on or after its target day (a count of
such reads, expected 0).
"""
from __future__ import annotations

import numpy as np

from ..experiment import Experiment
from ..rules import check_diff, check_mean, combine, mean_pair
from ._classic_data import daily_series

LEVEL_OFF = -0.01   # relative change of test MAE above this = "levels off or rises"


def future_reads(n_days: int, lags: int, start: int) -> int:
    """How many entries of ``lagged``'s matrix come from the target's day or later (0 = no leak)."""
    from ...classic import lagged
    src, tgt = lagged(np.arange(n_days), lags, start)
    return int(np.sum(src >= tgt[:, None]))


def run(config, seed, ctx):
    from ...classic import LinearRegression, lagged
    values, info = daily_series(config["series"], config.get("column", "temp_max"), seed)
    lags = [int(k) for k in config["lags"]]
    start, block = max(lags), int(config["block"])
    n = len(values) - start                                  # rows (target days) of every model
    test_end = n - seed * block
    test_begin = test_end - block
    if test_begin < 2 * max(lags):
        raise ValueError(f"seed {seed}: the test block would start at row {test_begin}; the series is too short "
                         f"for {seed + 1} blocks of {block} days — use fewer seeds")
    train = slice(0, test_begin)
    test = slice(test_begin, test_end)
    rec = {"train_mae": [], "test_mae": [], "train_mse": [], "test_mse": [], "future_reads": []}
    coefs = {}
    for k in lags:
        x, y = lagged(values, k, start)
        m = LinearRegression().fit(x[train], y[train])
        rec["train_mae"].append(m.mae(x[train], y[train]))
        rec["test_mae"].append(m.mae(x[test], y[test]))
        rec["train_mse"].append(m.mse(x[train], y[train]))
        rec["test_mse"].append(m.mse(x[test], y[test]))
        rec["future_reads"].append(future_reads(len(values), k, start))
        coefs[f"lags{k}"] = np.concatenate([[m.intercept_], m.coef_])
    out = {key: np.asarray(v, dtype=np.float64) for key, v in rec.items()}
    out["lags"] = np.asarray(lags, dtype=np.int64)
    out["coef"] = coefs
    out["split"] = {"train_days": int(test_begin), "test_first_row": int(test_begin), "test_days": int(block)}
    out["data"] = info
    return out


def plot(results, fig):
    fig.set_size_inches(11, 4.2)
    a1, a2 = fig.subplots(1, 2)
    lags = np.asarray(results.first("lags"))
    # splits differ in level (seasons), so each split is drawn thin and the mean bold; the
    # verdict compares lag counts within a split (paired)
    for key, c, name in (("train_mae", "C0", "train MAE"), ("test_mae", "C3", "test MAE")):
        curves = results.stack(key)
        for row in curves:
            a1.plot(lags, row, color=c, alpha=0.25, lw=0.8)
        a1.plot(lags, curves.mean(axis=0), color=c, marker="o", lw=2, label=f"{name} (mean; thin: each split)")
    a1.set_xscale("log")
    a1.set_xticks(lags)
    a1.set_xticklabels([str(k) for k in lags])
    a1.set_xlabel("lagged days k in y = b + Σ w_j x_j")
    data = results.first("data")
    a1.set_ylabel(f"MAE ({data.get('unit', '')})")
    a1.set_title(f"{data.get('name', '')}: {results.n} chronological splits", fontsize=9)
    a1.legend()
    k7 = [k for k in lags if k == 7]
    if k7:
        w = results.stack("coef.lags7")            # (seeds, 1 + 7): b, w_1..w_7
        a2.bar(np.arange(1, 8), w[:, 1:].mean(axis=0), color="C0")
        a2.set_xlabel("j (days back)")
        a2.set_ylabel("w_j")
        a2.set_title(f"weights of the 7-day model (b = {w[:, 0].mean():.2f}), mean over splits", fontsize=9)
    else:
        a2.axis("off")


def verdict(results):
    lags = [int(k) for k in results.first("lags")]
    tr, te = results.stack("train_mae"), results.stack("test_mae")
    checks = [check_diff(f"train MAE {lags[i]} − {lags[i + 1]} lags", tr[:, i], tr[:, i + 1], ">", 0.0)
              for i in range(len(lags) - 1)]
    rel = (te[:, -1] - te[:, -2]) / te[:, -2]
    checks.append(check_mean(f"relative change of test MAE {lags[-2]}→{lags[-1]} lags", rel, ">", LEVEL_OFF))
    extra = {f"k={k}: train / test MAE": mean_pair(tr[:, i], te[:, i], ".3f") for i, k in enumerate(lags)}
    reads = int(np.sum(results.stack("future_reads")))
    extra["sanity (not deciding): lag-matrix reads of the target day or later"] = \
        f"{reads} ({'ok' if reads == 0 else 'FAILED'})"
    d = results.first("data")
    extra["series"] = f"{d.get('name', '')} — {d.get('source', '')} ({results.n} chronological splits)"
    return combine(checks, "Training MAE falls at every step to more lagged days, while the test MAE improves by "
                           "less than 1% (or worsens) at the last step", extra)


EXPERIMENT = Experiment(
    id="lagged-regression",
    title="Lagged linear regression: more days lower training loss, test loss levels off",
    source=("004",),
    claim=("A linear model that predicts tomorrow from the last 1, 7, 28 or 56 days has a lower training loss "
           "with more days, while its loss on later, unseen days levels off (lecture: train MAE 0.48k → 0.32k, "
           "test 0.58k → 0.46k → 0.46k)."),
    presets={
        "test": dict(series="synthetic", lags=[1, 7, 28, 56], block=60, seeds=3),
        "quick": dict(series="seattle-weather", column="temp_max", lags=[1, 7, 28, 56], block=91, seeds=4),
        "full": dict(series="seattle-weather", column="temp_max", lags=[1, 7, 28, 56], block=91, seeds=8),
    },
    run=run, plot=plot, verdict=verdict)
