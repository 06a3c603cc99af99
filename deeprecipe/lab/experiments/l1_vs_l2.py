"""l1-vs-l2: L1 regularization gives sparse weights (many near 0, some large); L2 gives
uniformly small ones (seeds 000, 001).

The lecture's argument: with L1 every update subtracts a fixed η·λ₁·sgn(w), so small
weights are driven to 0 while large ones shrink no faster than small ones; with L2 every
update multiplies w by (1 − ηλ₂), which pulls large weights hard and small ones barely,
leaving all weights small but few at 0.

Setting: the book's overfitting network (``_overfit_setting``: 300 images, MLP
784 → 6 × 100 ReLU → 10, He init, SGD lr 0.01, batch 100), trained twice per seed from the
same initial weights and data order, with a penalty on the weight matrices (not biases)
added to the gradient by ``deeprecipe.optim`` transforms:

* ``l2``: ``L2Penalty(λ₂)``, g ← g + λ₂w, with the book's λ₂ = 0.1;
* ``l1``: ``L1Penalty(λ₁)``, g ← g + λ₁·sgn(w), with λ₁ chosen before training so that both
  penalties add the same amount to the loss at the initial weights:
  λ₁·Σ|w₀| = λ₂/2·Σw₀²  (neither regularizer is the stronger one a priori).

After training, over all weights of the weight matrices: the fraction with |w| below
``near_zero`` (1e-3), the 99.9th percentile of |w| ("some large"), and histograms of w and
of log10|w|.

Decision (fixed from the claim's words before running), paired over seeds with 95%
intervals: the near-zero fraction is higher with L1 than with L2 (interval of the
difference above 0), and the largest weights (99.9th percentile of |w|) are larger with L1
than with L2 (interval above 0).
"""
from __future__ import annotations

import numpy as np

from ..experiment import Experiment
from ..plotting import color
from ..rules import check_diff, combine, mean_pair
from ._overfit_setting import BOOK, QUICK, TEST

ARMS = ("l1", "l2")
LABELS = {"l1": "L1", "l2": "L2"}
LOG_EDGES = np.linspace(-8.0, 0.0, 65)       # log10|w| histogram; values outside are clipped in
LIN_HALF = 0.4                               # w histogram over [-0.4, 0.4]
LIN_EDGES = np.linspace(-LIN_HALF, LIN_HALF, 81)


def weight_vector(model) -> np.ndarray:
    """All entries of the weight matrices (ndim ≥ 2; biases excluded), float64."""
    return np.concatenate([np.asarray(p.data, dtype=np.float64).ravel()
                           for p in model.parameters() if p.data.ndim >= 2])


def matched_l1(weights, l2: float) -> float:
    """λ₁ with λ₁·Σ|w| = λ₂/2·Σw² at ``weights`` (both penalties equal there)."""
    w = np.asarray(weights, dtype=np.float64)
    return float(0.5 * l2 * np.sum(w * w) / np.sum(np.abs(w)))


def weight_stats(w, near_zero: float) -> dict:
    """Sparsity and size of a weight vector, plus its histograms (``LIN_EDGES``, ``LOG_EDGES``)."""
    a = np.abs(np.asarray(w, dtype=np.float64))
    logs = np.log10(np.maximum(a, 1e-300))
    return {
        "frac_near_zero": float(np.mean(a < near_zero)),
        "q999_abs": float(np.quantile(a, 0.999)),
        "median_abs": float(np.median(a)),
        "mean_abs": float(a.mean()),
        "max_abs": float(a.max()),
        "hist_w": np.histogram(np.clip(w, LIN_EDGES[0], LIN_EDGES[-1]), bins=LIN_EDGES)[0].astype(np.int64),
        "hist_log_abs": np.histogram(np.clip(logs, LOG_EDGES[0], LOG_EDGES[-1]), bins=LOG_EDGES)[0].astype(np.int64),
    }


def run(config, seed, ctx):
    from ... import nn, optim
    from ..data import image_data
    from ..training import train_classifier
    data = image_data(config["data"], n_train=config["n_train"], n_test=config["n_test"], seed=seed)
    sizes = [int(data.x_train.shape[1]), *config["hidden"], int(data.n_classes)]

    def build():
        return nn.MLP(sizes, activation="relu", init="he", rng=seed)

    l2 = float(config["l2"])
    l1 = matched_l1(weight_vector(build()), l2)
    out = {"l1_lambda": l1, "l2_lambda": l2, "data": data.describe()}
    penalties = {"l1": optim.L1Penalty(l1, mask=optim.exclude_1d),
                 "l2": optim.L2Penalty(l2, mask=optim.exclude_1d)}
    for arm in ARMS:
        model = build()
        m, model = train_classifier(data, model=model, optimizer="sgd", lr=config["lr"], epochs=config["epochs"],
                                    batch_size=config["batch_size"], seed=seed, eval_every=config["eval_every"],
                                    optimizer_kwargs={"transforms": [penalties[arm]]}, progress=ctx.progress)
        m["weights"] = weight_stats(weight_vector(model), config["near_zero"])
        out[arm] = m
    return out


def plot(results, fig):
    fig.set_size_inches(14, 4.5)
    a1, a2, a3 = fig.subplots(1, 3)
    centers_log = 0.5 * (LOG_EDGES[:-1] + LOG_EDGES[1:])
    centers_lin = 0.5 * (LIN_EDGES[:-1] + LIN_EDGES[1:])
    nz = results.config.get("near_zero", 1e-3)
    for i, arm in enumerate(ARMS):
        lam = results.values(f"{arm}_lambda").mean()
        label = f"{LABELS[arm]} (λ = {lam:.3g})"
        h_log = results.stack(f"{arm}.weights.hist_log_abs").sum(axis=0)
        a1.step(centers_log, h_log / h_log.sum(), where="mid", color=color(i), label=label)
        h_lin = results.stack(f"{arm}.weights.hist_w").sum(axis=0)
        a2.step(centers_lin, h_lin / h_lin.sum(), where="mid", color=color(i), label=label)
    a1.axvline(np.log10(nz), color="gray", linestyle="--", label=f"|w| = {nz:g}")
    a1.set_xlabel("log10 |w|  (all weight matrices, all seeds)")
    a1.set_ylabel("fraction of weights")
    a1.legend(fontsize=8)
    a1.grid(alpha=0.3)
    a1.set_title("magnitudes: L1 piles weights up near 0", fontsize=10)
    a2.set_yscale("log")
    a2.set_xlabel(f"w (clipped to ±{LIN_HALF})")
    a2.set_ylabel("fraction of weights (log scale)")
    a2.legend(fontsize=8)
    a2.grid(alpha=0.3)
    a2.set_title("weight histogram", fontsize=10)
    names = ["near-zero fraction", "99.9th pct |w|", "median |w|"]
    keys = ["frac_near_zero", "q999_abs", "median_abs"]
    x = np.arange(len(keys))
    for i, arm in enumerate(ARMS):
        vals = [results.values(f"{arm}.weights.{k}") for k in keys]
        a3.bar(x + (i - 0.5) * 0.38, [v.mean() for v in vals], width=0.38, color=color(i), label=LABELS[arm],
               yerr=[v.std(ddof=1) if v.size > 1 else 0 for v in vals], capsize=3)
    a3.set_xticks(x, names, fontsize=9)
    a3.set_yscale("log")
    a3.legend(fontsize=8)
    a3.grid(alpha=0.3, axis="y")
    a3.set_title(f"mean ± sd over {results.n} seeds", fontsize=10)


def verdict(results):
    nz1, nz2 = results.values("l1.weights.frac_near_zero"), results.values("l2.weights.frac_near_zero")
    q1, q2 = results.values("l1.weights.q999_abs"), results.values("l2.weights.q999_abs")
    thr = results.config.get("near_zero", 1e-3)
    checks = [
        check_diff(f"fraction of |w| < {thr:g}: L1 - L2", nz1, nz2, ">", 0.0),
        check_diff("99.9th percentile of |w|: L1 - L2", q1, q2, ">", 0.0),
    ]
    extra = {
        "near-zero fraction L1 / L2": mean_pair(nz1, nz2),
        "99.9th pct |w| L1 / L2": mean_pair(q1, q2, ".4g"),
        "median |w| L1 / L2": mean_pair(results.values('l1.weights.median_abs'),
                                        results.values('l2.weights.median_abs'), ".4g"),
        "λ1 / λ2": mean_pair(results.values('l1_lambda'), results.values('l2_lambda'), ".4g"),
        "test acc L1 / L2": mean_pair(results.values('l1.final.test_acc'), results.values('l2.final.test_acc')),
    }
    return combine(checks, "With penalties of equal size at the initial weights, L1 leaves more weights near zero "
                           "than L2 and keeps its largest weights larger (paired over seeds)", extra)


EXPERIMENT = Experiment(
    id="l1-vs-l2",
    title="L1 vs L2 regularization: sparse vs uniformly small weights",
    source=("000", "001"),
    claim=("L1 regularization yields sparse weights — many near 0 and some large — while L2 yields weights that "
           "are all uniformly small."),
    presets={
        "test": dict(TEST, l2=0.1, near_zero=1e-3, seeds=2),
        "quick": dict(QUICK, eval_every=20, l2=0.1, near_zero=1e-3, seeds=3),
        "full": dict(BOOK, l2=0.1, near_zero=1e-3, seeds=5),
    },
    run=run, plot=plot, verdict=verdict)
