"""weight-decay: L2 weight decay shrinks the overfitting gap (003); it multiplies w by
(1 − ηλ) each step (000, 001).

Setting: the book's ``ch06/overfit_weight_decay.py`` (see ``_overfit_setting``), trained
twice per seed from the same initialization and data order: λ = 0 and λ = 0.1 (the
book's value; L2 on the weights, not the biases: loss + λ/2·‖W‖²).

Decision (fixed from the claim's words before running): the gap shrinks — the paired
per-seed difference gap(λ=0) − gap(λ=0.1) has its 95% interval above 0.

Sanity check beside the verdict (an identity that only a bug can break, so it does not
decide the empirical claim): a few steps of ``optim.SGD(lr=η, weight_decay=λ)`` on random
float64 weights and gradients equal (1 − ηλ)·w − η·g to within 1e-12 (rounding) —
measured on each run, not assumed.
The weights' Σw² with and without decay are reported (decay should shrink them).
"""
from __future__ import annotations

import numpy as np

from ..experiment import Experiment
from ..rules import check_diff, check_value, combine, mean_pair
from ._overfit_setting import BOOK, QUICK, TEST, plot_train_test, train_arm


def update_rule_error(lr: float, lam: float, seed: int, steps: int = 3) -> float:
    """Max |w_library − ((1 − ηλ)w − ηg)| over a few SGD steps with weight decay, float64."""
    from ... import Parameter, default_dtype, optim
    rng = np.random.default_rng(seed)
    with default_dtype(np.float64):
        w = Parameter(rng.standard_normal((20, 30)))
        opt = optim.SGD([w], lr=lr, weight_decay=lam)
        err = 0.0
        for _ in range(steps):
            g = rng.standard_normal(w.shape)
            expected = (1.0 - lr * lam) * w.data.copy() - lr * g
            w.grad = g.copy()
            opt.step()
            err = max(err, float(np.max(np.abs(w.data - expected))))
    return err


def run(config, seed, ctx):
    lam = config["weight_decay"]
    return {
        "no_decay": train_arm(config, seed, ctx, weight_decay=0.0),
        "decay": train_arm(config, seed, ctx, weight_decay=lam),
        "update_rule_max_error": update_rule_error(config["lr"], lam, seed),
    }


def plot(results, fig):
    fig.set_size_inches(12, 4.5)
    a1, a2 = fig.subplots(1, 2, sharey=True)
    lam = results.config["weight_decay"]
    plot_train_test(a1, results, "no_decay", title="no weight decay")
    plot_train_test(a2, results, "decay", title=f"weight decay λ = {lam}")


def verdict(results):
    gap0 = results.values("no_decay.final.gap")
    gap1 = results.values("decay.final.gap")
    err = float(np.max(results.values("update_rule_max_error")))
    checks = [check_diff("gap without decay - gap with decay", gap0, gap1, ">", 0.0, paired=True)]
    sanity = [check_value("max |SGD step - ((1-ηλ)w - ηg)|", err, "<=", 1e-12, fmt=".3g")]
    extra = {
        "gap without decay": f"{gap0.mean():.4f}", "gap with decay": f"{gap1.mean():.4f}",
        "test acc without / with decay": mean_pair(results.values('no_decay.final.test_acc'),
                                                   results.values('decay.final.test_acc')),
        "Σw² without / with decay": mean_pair(results.values('no_decay.final.weight_sq_norm'),
                                              results.values('decay.final.weight_sq_norm'), ".4g"),
    }
    return combine(checks, "Weight decay makes the train-test gap smaller (paired over seeds)", extra,
                   sanity=sanity)


EXPERIMENT = Experiment(
    id="weight-decay",
    title="L2 weight decay against overfitting",
    source=("003", "000", "001"),
    claim=("L2 weight decay (λ = 0.1 in the book) shrinks the gap between training and test accuracy; "
           "with gradient descent it multiplies w by (1 − ηλ) each step."),
    presets={"test": dict(TEST, weight_decay=0.1, seeds=2),
             "quick": dict(QUICK, weight_decay=0.1, seeds=3),
             "full": dict(BOOK, weight_decay=0.1, seeds=5)},
    run=run, plot=plot, verdict=verdict)
