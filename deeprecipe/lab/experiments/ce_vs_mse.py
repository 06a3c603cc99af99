"""ce-vs-mse: square error is a poor classification loss — far from the target its gradient
is tiny (seeds 002, 004).

Hung-yi Lee's classification lecture: with cross-entropy the gradient with respect to the
logits is ``p − y`` — large when the prediction is far from the target; with square
error on the softmax outputs it is ``Jᵀ·2(p − y)`` where the softmax Jacobian
``J = diag(p) − ppᵀ`` vanishes as p saturates, so a *confidently wrong* prediction gets
almost no gradient ("total loss" surface flat far from the target), and training is slow.

(a) Gradient far from the target.  An MLP (``hidden`` ReLU layers, He init) is built per
seed; its output layer is multiplied by each factor in ``logit_scales``, which makes its
predictions more and more confident — for most examples confidently wrong (at init the
predicted class is unrelated to the label).  On ``probe_n`` training examples the library's
autograd gives, per example, the gradient of each loss with respect to the logits, and the
predicted probability of the true class p_true.  Examples are binned: "confidently wrong"
= the predicted class is wrong and has probability ≥ 1 − ``wrong_p`` (0.99), "undecided"
= 0.2 ≤ p_true ≤ 0.8.  (A first version binned by p_true < 0.01 alone; the quick run showed
that bin is mostly examples whose mass is *split between wrong classes*, where square
error still has a gradient — moving mass between the wrong classes — so it did not measure
the confidently wrong prediction of the claim.  The bin was redefined after that run,
before deciding anything on it; the thresholds were kept.)

(b) Training speed.  The same network (the same initial weights) is trained by SGD with
softmax cross-entropy and with Σ_c (softmax(z)_c − onehot(y)_c)² (averaged over the
batch), **each at its own best learning rate** from the grid ``lrs``: per seed and loss,
the lr that reaches ``target_acc`` on the probe set (training examples) in the fewest
steps; runs stop once they reach it.  A loss that never reaches it counts as the whole
budget (a lower bound, which can only understate its slowness).

Decision (thresholds fixed from the claim's words before running), 95% intervals over
seeds:
  * (a) MSE's gradient vanishes where the prediction is confidently wrong: log10(median
    ‖∂L/∂z‖ confidently wrong / median undecided) for MSE below −1 (ten times smaller);
  * (a) CE's does not: the same log-ratio for CE above 0 (larger far from the target);
  * (b) steps to the target, MSE at its best lr − CE at its best lr, paired, above 0.  If
    CE itself does not reach the target in every seed this part is inconclusive.
The former rule (early global gradient norms MSE < CE from an ordinary start) held from
the size of the loss alone; it was replaced before any run of this code.
"""
from __future__ import annotations

import numpy as np

from ..experiment import INCONCLUSIVE, Experiment
from ..plotting import color
from ..rules import Check, check_diff, check_mean, combine, mean_pair
from ._probes import train_probed

ARMS = ("ce", "mse")
LABELS = {"ce": "softmax cross-entropy", "mse": "square error on softmax"}


def mse_on_softmax(logits, y):
    """Σ_c (softmax(z)_c − onehot(y)_c)², averaged over the examples."""
    from ... import Tensor, functions as F
    from ...backend import get_array_module
    p = F.softmax(logits, dim=1)
    xp = get_array_module(p.data)
    n_classes = p.shape[1]
    target = xp.eye(n_classes, dtype=p.data.dtype)[xp.asarray(y).astype(xp.int64)]
    return F.mse_loss(p, Tensor(target)) * float(n_classes)


def _loss(arm: str):
    from ...train.losses import LossSpec
    return "cross_entropy" if arm == "ce" else LossSpec("mse_on_softmax", mse_on_softmax, "classes")


def steps_to(acc_step, acc, target: float, budget: int) -> tuple:
    """``(first step with acc ≥ target, reached?)``; ``(budget, False)`` when never reached."""
    acc = np.asarray(acc, dtype=np.float64)
    hit = np.nonzero(acc >= target)[0]
    if hit.size == 0:
        return int(budget), False
    return int(np.asarray(acc_step)[hit[0]]), True


def logit_gradients(logits, y) -> dict:
    """Per example: p_true and ‖∂L/∂z‖ of each loss for ``logits`` (N, C) float64, by autograd.

    The losses are summed over the examples, so row i of ∂L/∂z is example i's own gradient.
    """
    from ... import Tensor, default_dtype, functions as F
    z = np.asarray(logits, dtype=np.float64)
    out = {}
    with default_dtype(np.float64):
        for arm in ARMS:
            t = Tensor(z.copy(), requires_grad=True)
            loss = (F.cross_entropy(t, y, reduction="sum") if arm == "ce"
                    else mse_on_softmax(t, y) * float(len(y)))
            loss.backward()
            out[f"grad_{arm}"] = np.linalg.norm(np.asarray(t.grad, dtype=np.float64), axis=1)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    out["p_true"] = p[np.arange(len(y)), y]
    out["p_pred"] = p.max(axis=1)
    out["wrong"] = p.argmax(axis=1) != y
    return out


def gradient_vs_confidence(model, x, y, scales) -> dict:
    """:func:`logit_gradients` of ``model`` with its output layer's weights and bias multiplied
    by each factor of ``scales`` (confident starts), concatenated over the factors."""
    from ... import Tensor, nn, no_grad
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    w0, b0 = last.weight.data.copy(), last.bias.data.copy()
    parts = []
    try:
        for s in scales:
            last.weight.data[...] = w0 * s
            last.bias.data[...] = b0 * s
            model.eval()
            with no_grad():
                z = np.asarray(model(Tensor(x)).data, dtype=np.float64)
            parts.append(logit_gradients(z, y))
    finally:
        last.weight.data[...] = w0
        last.bias.data[...] = b0
        model.train()
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def confidently_wrong(g: dict, wrong_p: float) -> np.ndarray:
    """Mask of the examples whose predicted class is wrong with probability ≥ 1 − wrong_p."""
    return np.asarray(g["wrong"], bool) & (np.asarray(g["p_pred"]) >= 1.0 - wrong_p)


def bin_log_ratio(g: dict, arm: str, wrong_p: float) -> float:
    """log10(median ‖∂L/∂z‖ of the confidently wrong examples / median of the undecided ones,
    0.2 ≤ p_true ≤ 0.8) for loss ``arm``; nan if a bin is empty."""
    p_true, grad = np.asarray(g["p_true"]), np.asarray(g[f"grad_{arm}"])
    wrong, mid = grad[confidently_wrong(g, wrong_p)], grad[(p_true >= 0.2) & (p_true <= 0.8)]
    if wrong.size == 0 or mid.size == 0:
        return float("nan")
    with np.errstate(divide="ignore"):
        return float(np.log10(np.median(wrong)) - np.log10(np.median(mid)))


def run(config, seed, ctx):
    from ... import nn
    from ..data import image_data
    data = image_data(config["data"], n_train=config["n_train"], n_test=config["n_test"], seed=seed)
    sizes = [int(data.x_train.shape[1]), *config["hidden"], int(data.n_classes)]
    n = int(config["probe_n"])
    model = nn.MLP(sizes, activation="relu", init="he", rng=seed)
    g = gradient_vs_confidence(model, data.x_train[:n], data.y_train[:n], config["logit_scales"])
    out = {"data": data.describe(), "grad": g}
    for arm in ARMS:
        g[f"log_ratio_{arm}"] = bin_log_ratio(g, arm, config["wrong_p"])
    g["n_confidently_wrong"] = int(confidently_wrong(g, config["wrong_p"]).sum())
    lrs = [float(v) for v in config["lrs"]]
    for arm in ARMS:
        steps, reached, curves = [], [], []
        for lr in lrs:
            m, _ = train_probed(data, hidden=config["hidden"], activation="relu", init="he", optimizer="sgd", lr=lr,
                                steps=config["steps"], batch_size=config["batch_size"], seed=seed, probe_n=n,
                                probe_every=config["probe_every"], loss=_loss(arm), progress=ctx.progress,
                                stop_at_acc=config["target_acc"])
            s, r = steps_to(m["probe"]["acc_step"], m["probe"]["acc"], config["target_acc"], config["steps"])
            steps.append(s)
            reached.append(r)
            curves.append(np.stack([m["probe"]["acc_step"].astype(np.float64), m["probe"]["acc"]]))
        best = int(np.argmin(steps))          # ties → the first, i.e. the smaller lr
        out[arm] = {"lrs": np.asarray(lrs), "steps_to_target": np.asarray(steps), "reached": np.asarray(reached),
                    "best_lr": lrs[best], "best_steps": int(steps[best]), "best_reached": bool(reached[best]),
                    "best_curve": curves[best]}
    return out


def plot(results, fig):
    fig.set_size_inches(13, 4.5)
    ax1, ax2 = fig.subplots(1, 2)
    wrong_p = results.config.get("wrong_p", 0.01)
    p_min = 1e-8
    for i, arm in enumerate(ARMS):
        p = np.concatenate([np.asarray(results.get(r, "grad.p_true")) for r in results.runs])
        gr = np.concatenate([np.asarray(results.get(r, f"grad.grad_{arm}")) for r in results.runs])
        cw = np.concatenate([confidently_wrong(results.get(r, "grad"), wrong_p) for r in results.runs])
        # gradients below 1e-9 (e.g. square error on confidently *right* examples) sit on the bottom edge
        ax1.scatter(np.maximum(p[~cw], 1e-300), np.maximum(gr[~cw], 1e-9), s=3, alpha=0.2, color=color(i),
                    label=LABELS[arm])
        ax1.scatter(np.maximum(p[cw], 1e-300), np.maximum(gr[cw], 1e-9), s=5, alpha=0.5, color=color(i),
                    marker="x", label=f"{LABELS[arm]}: confidently wrong (wrong class ≥ {1 - wrong_p:g})")
        p_min = min(p_min, float(np.min(p[p > 0]))) if np.any(p > 0) else p_min
    ax1.axvspan(0.2, 0.8, color="gold", alpha=0.12, label="undecided (0.2 ≤ p_true ≤ 0.8)")
    ax1.set_xscale("log")
    ax1.set_yscale("log")
    ax1.set_xlim(max(p_min, 1e-300) / 3, 1.0)
    ax1.set_ylim(5e-10, None)
    ax1.set_xlabel("predicted probability of the true class")
    ax1.set_ylabel("‖∂loss/∂logits‖ per example")
    ax1.grid(alpha=0.3, which="both")
    ax1.legend(fontsize=7, loc="lower right")
    ax1.set_title("(a) gradient vs confidence, confident starts (all seeds)", fontsize=10)
    target = results.config.get("target_acc")
    for i, arm in enumerate(ARMS):
        for s, r in enumerate(results.runs):
            c = np.asarray(results.get(r, f"{arm}.best_curve"))
            lr = results.get(r, f"{arm}.best_lr")
            ax2.plot(c[0], c[1], color=color(i), alpha=0.8,
                     label=f"{LABELS[arm]} (best lr per seed)" if s == 0 else None)
            ax2.annotate(f"lr {lr:g}", (c[0][-1], c[1][-1]), fontsize=6, color=color(i))
    if target is not None:
        ax2.axhline(target, color="gray", linestyle="--", label=f"target {target}")
    ax2.set_xlabel("SGD step")
    ax2.set_ylabel(f"accuracy on {results.config.get('probe_n')} training examples")
    ax2.set_ylim(0, 1.0)
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=7, loc="lower right")
    ax2.set_title("(b) each loss at its own best lr (runs stop at the target)", fontsize=10)


def verdict(results):
    r_ce, r_mse = results.values("grad.log_ratio_ce"), results.values("grad.log_ratio_mse")
    s_ce, s_mse = results.values("ce.best_steps"), results.values("mse.best_steps")
    reached_ce, reached_mse = results.values("ce.best_reached"), results.values("mse.best_reached")
    target = results.config.get("target_acc", "?")
    speed = check_diff(f"steps to {target} acc at each loss's best lr: MSE - CE", s_mse, s_ce, ">", 0.0)
    if not reached_ce.all():
        speed = Check(speed.text + " (CE did not reach the target in every seed)", INCONCLUSIVE, speed.numbers)
    checks = [check_mean("MSE: log10 median grad confidently wrong / undecided", r_mse, "<", -1.0),
              check_mean("CE: log10 median grad confidently wrong / undecided", r_ce, ">", 0.0),
              speed]
    lrs = np.asarray(results.first("ce.lrs"))
    edge = [f"{a} ({v:g})" for a in ARMS for v in results.values(f"{a}.best_lr") if v in (lrs.min(), lrs.max())]
    extra = {
        f"steps to {target} CE / MSE (best lr)": mean_pair(s_ce, s_mse, ".1f"),
        "best lr per seed CE; MSE": "; ".join(" ".join(f"{v:g}" for v in results.values(f"{a}.best_lr"))
                                              for a in ARMS),
        "MSE runs that reached the target": f"{int(reached_mse.sum())}/{len(reached_mse)}",
        "confidently wrong examples per seed": "/".join(str(int(v)) for v in
                                                        results.values("grad.n_confidently_wrong")),
        "best lr at the grid's edge": ", ".join(sorted(set(edge))) or "none",
    }
    return combine(checks, "(a) From confident starts, the softmax + square-error gradient w.r.t. the logits is "
                           "ten times smaller for confidently wrong predictions than for undecided ones, while "
                           "cross-entropy's is larger there; (b) with each loss at its own best lr, square error "
                           "needs more SGD steps to reach the target training accuracy", extra)


EXPERIMENT = Experiment(
    id="ce-vs-mse",
    title="Cross-entropy vs square error for classification",
    source=("002", "004"),
    claim=("Square error is a poor loss for classification: far from the target its gradient is tiny, so "
           "training with it is slow; cross-entropy keeps a large gradient there."),
    presets={
        "test": dict(data="synthetic", n_train=200, n_test=100, hidden=[16], lrs=[0.1, 0.3], batch_size=50,
                     steps=16, probe_n=100, probe_every=4, target_acc=0.3, logit_scales=[1.0, 10.0, 30.0],
                     wrong_p=0.01, seeds=2),
        "quick": dict(data="fashion-mnist", n_train=5000, n_test=2000, hidden=[100, 100],
                      lrs=[0.03, 0.1, 0.3, 1.0], batch_size=100, steps=600, probe_n=1000, probe_every=10,
                      target_acc=0.75, logit_scales=[1.0, 3.0, 10.0, 30.0], wrong_p=0.01, seeds=3),
        "full": dict(data="fashion-mnist", n_train=60000, n_test=10000, hidden=[100, 100],
                     lrs=[0.01, 0.03, 0.1, 0.3, 1.0, 3.0], batch_size=100, steps=3000, probe_n=1000,
                     probe_every=10, target_acc=0.8, logit_scales=[1.0, 3.0, 10.0, 30.0], wrong_p=0.01,
                     seeds=5),
    },
    run=run, plot=plot, verdict=verdict)
