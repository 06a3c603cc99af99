"""logistic-regression: logistic regression σ(w·x + b) trained on the cross-entropy by gradient
descent — the discriminative twin of the shared-covariance Gaussian classifier — compared with
the generative models at several training-set sizes (seed 002, "Logistic Regression";
the lecture's "discriminative vs generative": the discriminative model usually does better,
but with little data a generative model's assumptions can win).

Data: as ``generative-shared-cov`` (``quick``: breast cancer, 30 features; ``full``: the
lecture's Pokémon water vs normal, six base stats).  Each seed draws a stratified test set
(``test_fraction`` of the table) and, from the rest, a stratified training subset of each size
in ``sizes``; features are standardized with that subset's statistics.

Arms at every size:
  * ``logistic``: ``classic.LogisticRegression`` (no penalty, as the lecture), weights from 0,
    full-batch gradient descent (``optim.SGD``) for ``steps`` steps; its learning rate is picked
    per fit from ``lrs`` by the lowest final training cross-entropy (the quantity gradient
    descent minimizes; no test data is used);
  * ``shared``: ``GaussianGenerative(shared_cov=True)`` (the same function set σ(w·x + b),
    fitted generatively; NaN where its covariance is singular, n − 2 < d);
  * ``naive_bayes``: ``GaussianNB`` (the generative model that works with the least data).

Decision (fixed from the claim's words before running):
  * "discriminative usually better": at the largest size, the paired per-seed difference
    test acc(logistic) − test acc(shared Σ) has its 95% interval above 0;
  * "with little data the generative model can win": at the smallest size, test acc(naive
    Bayes) − test acc(logistic) has its 95% interval above 0.
Convergence is reported (the fraction of gradient-descent fits that reached a gradient
≤ 1e-6 and the final training loss); on separable small sets unpenalized logistic regression
never converges (its weights grow without bound), so its fits are the step-budget ones.
"""
from __future__ import annotations

import math

import numpy as np

from ..experiment import Experiment
from ..rules import check_diff, combine, mean_pair
from ._classic_data import standardize, stratified_split, two_class_table

ARMS = ("logistic", "shared", "naive_bayes")
LABELS = {"logistic": "logistic regression (GD)", "shared": "generative, shared Σ", "naive_bayes": "naive Bayes"}


def fit_logistic(x_train, y_train, lrs, steps):
    """The best of the learning rates ``lrs`` by final training loss: ``(model, lr)``."""
    from ...classic import LogisticRegression
    best = None
    for lr in lrs:
        try:
            m = LogisticRegression(lr=float(lr), max_steps=int(steps), tol=1e-6).fit(x_train, y_train)
        except FloatingPointError:
            continue
        loss = float(m.loss_curve_[-1])
        if best is None or loss < best[0]:
            best = (loss, m, float(lr))
    if best is None:
        raise FloatingPointError(f"logistic regression diverged at every learning rate {list(lrs)}")
    return best[1], best[2]


def run(config, seed, ctx):
    from ...classic import GaussianGenerative, GaussianNB
    x, y, info = two_class_table(config["dataset"], config.get("features"), seed)
    n_test = int(round(config["test_fraction"] * len(y)))
    pool, test = stratified_split(y, len(y) - n_test, seed)
    sizes = [int(s) for s in config["sizes"]]
    if max(sizes) > len(pool):
        raise ValueError(f"sizes go up to {max(sizes)} but only {len(pool)} examples are left for training")
    rec = {arm: {"test_acc": [], "train_acc": []} for arm in ARMS}
    rec["logistic"].update(lr=[], converged=[], final_loss=[], grad_max=[])
    bar = ctx.progress(len(sizes), "sizes")
    for k, n in enumerate(sizes):
        sub, _ = stratified_split(y[pool], n, seed * 1000 + k) if n < len(pool) else (np.arange(len(pool)), None)
        tr = pool[sub]
        x_tr, x_te = standardize(x[tr], x[test])
        y_tr, y_te = y[tr], y[test]
        lr_model, lr = fit_logistic(x_tr, y_tr, config["lrs"], config["steps"])
        models = {"logistic": lr_model, "shared": GaussianGenerative(shared_cov=True), "naive_bayes": GaussianNB()}
        for arm, m in models.items():
            if arm != "logistic":
                try:
                    m.fit(x_tr, y_tr)
                except ValueError:            # singular pooled covariance (n - 2 < d)
                    rec[arm]["test_acc"].append(math.nan)
                    rec[arm]["train_acc"].append(math.nan)
                    continue
            rec[arm]["test_acc"].append(m.score(x_te, y_te))
            rec[arm]["train_acc"].append(m.score(x_tr, y_tr))
        rec["logistic"]["lr"].append(lr)
        rec["logistic"]["converged"].append(float(lr_model.converged_))
        rec["logistic"]["final_loss"].append(float(lr_model.loss_curve_[-1]))
        rec["logistic"]["grad_max"].append(float(lr_model.grad_max_))
        bar.update(1)
    bar.close()
    out = {arm: {k: np.asarray(v, dtype=np.float64) for k, v in d.items()} for arm, d in rec.items()}
    out["sizes"] = np.asarray(sizes, dtype=np.int64)
    out["data"] = dict(info, n_test=len(test))
    return out


def plot(results, fig):
    from ..plotting import plot_band
    fig.set_size_inches(11, 4.2)
    a1, a2 = fig.subplots(1, 2)
    sizes = np.asarray(results.first("sizes"))
    for i, arm in enumerate(ARMS):
        acc = results.stack(f"{arm}.test_acc")
        ok = ~np.isnan(acc).any(axis=0)
        plot_band(a1, sizes[ok], acc[:, ok], label=LABELS[arm], color=f"C{i}", marker="o")
    a1.set_xscale("log")
    a1.set_xlabel("training examples")
    a1.set_ylabel("test accuracy")
    a1.set_title(f"{results.first('data.source').split(' (')[0]} (mean ± 95% CI, {results.n} seeds)", fontsize=9)
    a1.legend(fontsize=8)
    plot_band(a2, sizes, results.stack("logistic.final_loss"), label="final training cross-entropy", color="C0",
              marker="o")
    a2.axhline(math.log(2), color="gray", ls=":", label="ln 2 (weights at 0)")
    a2.set_xscale("log")
    a2.set_xlabel("training examples")
    a2.set_ylabel("logistic regression training loss")
    conv = np.mean(results.stack("logistic.converged"))
    a2.set_title(f"gradient descent: {conv:.0%} of fits reached |grad| ≤ 1e-6", fontsize=9)
    a2.legend(fontsize=8)


def _mean(v) -> str:
    """Mean over the seeds where the model could be fitted ("n/a" where it never could)."""
    v = np.asarray(v, dtype=np.float64)
    return "n/a (singular Σ)" if np.isnan(v).all() else f"{np.nanmean(v):.4f}"


def verdict(results):
    sizes = np.asarray(results.first("sizes"))
    lo, hi = int(sizes[0]), int(sizes[-1])
    acc = {arm: results.stack(f"{arm}.test_acc") for arm in ARMS}
    checks = [
        check_diff(f"test acc logistic − shared Σ at n={hi}", acc["logistic"][:, -1], acc["shared"][:, -1], ">", 0.0),
        check_diff(f"test acc naive Bayes − logistic at n={lo}", acc["naive_bayes"][:, 0], acc["logistic"][:, 0],
                   ">", 0.0),
    ]
    extra = {}
    for j, n in enumerate(sizes):
        extra[f"n={int(n)}: logistic / shared Σ / naive Bayes"] = " / ".join(_mean(acc[a][:, j]) for a in ARMS)
    extra["logistic GD converged (fraction of fits)"] = f"{np.mean(results.stack('logistic.converged')):.2f}"
    extra["logistic final training loss, smallest / largest n"] = mean_pair(
        results.stack("logistic.final_loss")[:, 0], results.stack("logistic.final_loss")[:, -1])
    extra["data"] = f"{results.first('data.source')} ({results.n} seeds, test n {results.first('data.n_test')})"
    return combine(checks, "Logistic regression beats the shared-covariance generative model with the most training "
                           "data, while naive Bayes beats logistic regression with the least (paired over seeds)",
                   extra)


EXPERIMENT = Experiment(
    id="logistic-regression",
    title="Logistic regression by gradient descent vs the generative models",
    source=("002",),
    claim=("Logistic regression, σ(w·x + b) trained on the cross-entropy by gradient descent, usually classifies "
           "better than the Gaussian generative model with the same linear form; with little training data the "
           "generative model's assumptions can make it better."),
    presets={
        "test": dict(dataset="synthetic", test_fraction=0.4, sizes=[10, 40, 160], lrs=[0.1, 0.3], steps=100,
                     seeds=3),
        "quick": dict(dataset="breast-cancer", test_fraction=0.4, sizes=[10, 20, 40, 80, 160, 320],
                      lrs=[0.03, 0.1, 0.3], steps=300, seeds=10),
        "full": dict(dataset="pokemon", test_fraction=0.4, sizes=[10, 20, 40, 80, 140],
                     features=["hp", "attack", "defense", "special_attack", "special_defense", "speed"],
                     lrs=[0.03, 0.1, 0.3, 1.0], steps=1000, seeds=30),
    },
    run=run, plot=plot, verdict=verdict)
