"""decoupled-decay: L2 regularization inside Adam is not weight decay; AdamW decouples it
(seed 002, "关于正则化项": "17年的一篇paper提出不要加"; Loshchilov & Hutter 2019,
https://arxiv.org/abs/1711.05101).

With L2 inside Adam the penalty's gradient λθ goes through m and v: the decay a weight
gets is divided by √v̂ + ε, so weights with a large gradient history are shrunk *less*
than the others.  AdamW shrinks every weight by the same factor (1 − γλ) per step.

Setting: one MLP trained with Adam (``lr``) from the same initialization and data order
three ways — ``none`` (no penalty), ``l2`` (Adam, coupled ``weight_decay`` λ on the
weights, not the biases) and ``adamw`` (AdamW, decoupled decay λ on the weights).

1. Per parameter, at the matched strength λ = ``lam_probe`` for both: the shrink of each
   weight, log|θ_arm| − log|θ_none|, against its gradient history v (Adam's ``exp_avg_sq``
   at the end of the ``none`` run).  Asymmetry of an arm = median shrink of the top quarter
   of weights by v minus that of the bottom quarter (> 0: large-v weights shrink less).
2. Accuracy: ``l2`` and ``adamw`` each at its own best λ from ``lams`` (validation
   accuracy); weight norms reported.

Decision (fixed from the claim's words before running): asymmetry(l2) − asymmetry(adamw),
paired over seeds, has its 95% interval above 0.  Reported beside: test accuracy at each
arm's best λ and Σw².  Sanity check (apart): one AdamW step equals (1 − γλ)θ followed by
the plain Adam step, to 1e-12 in float64.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..experiment import Experiment
from ..plotting import color
from ..rules import check_diff, check_value
from ._optim_common import best_of_grid, picks, plot_grid, verdict_with_sanity

ARMS = ("l2", "adamw")


def adamw_step_error(lr: float, lam: float, seed: int) -> float:
    """max |AdamW step − ((1−γλ)θ − Adam step)| on random float64 data, 3 steps."""
    from ... import Parameter, default_dtype, optim
    rng = np.random.default_rng(seed)
    with default_dtype(np.float64):
        w0 = rng.standard_normal((8, 5))
        a, b = Parameter(w0.copy()), Parameter(w0.copy())
        opt_w = optim.AdamW([a], lr=lr, weight_decay=lam)
        opt_a = optim.Adam([b], lr=lr)
        err = 0.0
        for _ in range(3):
            g = rng.standard_normal(w0.shape)
            b.data[...] = a.data * (1 - lr * lam)     # same start, decayed by hand
            a.grad, b.grad = g.copy(), g.copy()
            opt_w.step()
            opt_a.step()
            err = max(err, float(np.max(np.abs(a.data - b.data))))
    return err


def make(arm: str, lam: float, keep: dict | None = None):
    """Factory ``f(model, lr)``: Adam/AdamW with λ on the weights only (biases undecayed)."""
    from ... import optim

    def build(model, lr):
        groups = optim.weight_decay_groups(model.named_parameters(), lam)
        opt = optim.AdamW(groups, lr=lr) if arm == "adamw" else optim.Adam(groups, lr=lr)
        if keep is not None:
            keep["opt"] = opt
        return opt
    return build


def weights(model) -> np.ndarray:
    return np.concatenate([p.data.ravel() for p in model.parameters() if p.data.ndim >= 2]).astype(np.float64)


def asymmetry(w_arm, w_none, v_none, quantile: float = 0.25) -> float:
    """Median log-shrink of the top-``quantile`` weights by v minus that of the bottom ones."""
    shrink = np.log(np.abs(w_arm) + 1e-12) - np.log(np.abs(w_none) + 1e-12)
    lo, hi = np.quantile(v_none, [quantile, 1 - quantile])
    return float(np.median(shrink[v_none >= hi]) - np.median(shrink[v_none <= lo]))


def run(config, seed, ctx):
    from ..data import image_data
    from ..training import train_classifier
    data = image_data(config["data"], n_train=config["n_train"], n_val=config["n_val"], n_test=config["n_test"],
                      seed=seed)
    kw = dict(hidden=config["hidden"], lr=config["lr"], epochs=config["epochs"], batch_size=config["batch_size"],
              seed=seed, eval_train_max=1000, eval_every=config["epochs"])
    keep: dict = {}
    m_none, model_none = train_classifier(data, optimizer=make("none", 0.0, keep), **kw)
    opt = keep["opt"]
    v_none = np.concatenate([opt.param_state(p)["exp_avg_sq"].ravel() for p in model_none.parameters()
                             if p.data.ndim >= 2])
    w_none = weights(model_none)
    out = {"data": data.describe(), "none": {"final": m_none["final"], "weight_sq_norm": float(w_none @ w_none)},
           "adamw_step_error": adamw_step_error(config["lr"], config["lam_probe"], seed)}
    edges = np.quantile(v_none, np.linspace(0, 1, 11))
    for arm in ARMS:
        probe = {}

        def train_at(lam, arm=arm, probe=probe):
            m, model = train_classifier(data, optimizer=make(arm, lam), **kw)
            if lam == config["lam_probe"]:
                probe["w"] = weights(model)
            m["weight_sq_norm"] = float(weights(model) @ weights(model))
            return m
        m = best_of_grid(train_at, config["lams"])
        w = probe["w"]
        shrink = np.log(np.abs(w) + 1e-12) - np.log(np.abs(w_none) + 1e-12)
        bins = np.clip(np.searchsorted(edges, v_none, side="right") - 1, 0, 9)
        m["asymmetry"] = asymmetry(w, w_none, v_none)
        m["shrink_by_v_decile"] = np.array([np.median(shrink[bins == k]) if np.any(bins == k) else np.nan
                                            for k in range(10)])
        out[arm] = m
    return out


def plot(results, fig):
    fig.set_size_inches(12, 4.5)
    ax1, ax2 = fig.subplots(1, 2)
    lam = results.config["lam_probe"]
    for i, arm in enumerate(ARMS):
        s = results.stack(f"{arm}.shrink_by_v_decile")
        with warnings.catch_warnings():     # a decile can be empty when many v are equal (tiny test data)
            warnings.simplefilter("ignore", RuntimeWarning)
            mean, std = np.nanmean(s, axis=0), np.nanstd(s, axis=0)
        ax1.errorbar(np.arange(1, 11) + 0.1 * i, mean, yerr=std, fmt="o-",
                     color=color(i), label=f"{'Adam + L2' if arm == 'l2' else 'AdamW'} λ = {lam:g}", markersize=4)
    ax1.set_xlabel("decile of the weight's gradient history v (Adam without decay)")
    ax1.set_ylabel("median log(|w| / |w without decay|)")
    ax1.set_title("L2 inside Adam spares weights with large v", fontsize=9)
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=8)
    plot_grid(ax2, results, list(ARMS), labels=["Adam + L2", "AdamW"], grid_name="λ")


def verdict(results):
    a_l2, a_w = results.values("l2.asymmetry"), results.values("adamw.asymmetry")
    checks = [check_diff("asymmetry (top-v minus bottom-v log-shrink): Adam+L2 - AdamW", a_l2, a_w, ">", 0.0)]
    sanity = [check_value("max |AdamW step - ((1-γλ)θ - Adam step)|", float(np.max(results.values(
        "adamw_step_error"))), "<=", 1e-12, fmt=".2g")]
    extra = {"asymmetry Adam+L2 / AdamW": f"{a_l2.mean():.3f} / {a_w.mean():.3f}",
             "test acc none / Adam+L2 / AdamW (own best λ)": " / ".join(
                 f"{results.values(f'{a}.final.test_acc').mean():.4f}" for a in ("none", *ARMS)),
             "Σw² none / Adam+L2 / AdamW": " / ".join(
                 f"{results.values(f'{a}.weight_sq_norm').mean():.4g}" for a in ("none", *ARMS)),
             **{f"λ picked ({a})": picks(results, a) for a in ARMS}}
    return verdict_with_sanity(checks, sanity, "At the same λ, L2 inside Adam shrinks the weights with the largest "
                                               "gradient history less (relative to the smallest) than AdamW does "
                                               "(paired over seeds)", extra)


EXPERIMENT = Experiment(
    id="decoupled-decay",
    title="L2 inside Adam vs decoupled weight decay (AdamW)",
    source=("002",),
    claim=("L2 regularization inside Adam is not weight decay: its decay is divided by √v̂, so weights with a large "
           "gradient history are shrunk less; AdamW/SGDW decouple the decay from the adaptive step."),
    presets={
        "test": dict(data="synthetic", n_train=200, n_val=100, n_test=100, hidden=[16], lr=1e-3, epochs=2,
                     batch_size=20, lams=[1e-2, 1e-1], lam_probe=1e-1, seeds=2),
        "quick": dict(data="fashion-mnist", n_train=2000, n_val=500, n_test=1000, hidden=[100], lr=1e-3, epochs=5,
                      batch_size=50, lams=[1e-3, 1e-2, 1e-1], lam_probe=1e-1, seeds=3),
        "full": dict(data="fashion-mnist", n_train=55000, n_val=5000, n_test=10000, hidden=[100, 100], lr=1e-3,
                     epochs=20, batch_size=128, lams=[1e-4, 1e-3, 1e-2, 1e-1], lam_probe=1e-1, seeds=3),
    },
    run=run, plot=plot, verdict=verdict)
