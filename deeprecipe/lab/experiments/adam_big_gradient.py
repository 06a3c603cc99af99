"""adam-big-gradient: after many small gradients one huge gradient moves Adam by at most
~lr·√(1/(1−β2)); AMSGrad keeps the largest v̂, so its steps stay small afterwards (seed 002).

The note's example ("改进Adam"): 1000 steps with gradient 1, then one gradient of 100000
(CLAIMS.md; the note's text says 10000).  With β1 = 0 (the slide's form, an RMSProp with
Adam's v) the step at the spike is lr·G/√(β2·v + (1−β2)G²) < lr/√(1−β2) = 10√10·lr for
β2 = 0.999, however large G is — "只能达到10倍根号10的learning rate".  AMSGrad
(Reddi et al. 2018, https://openreview.net/forum?id=ryQu7f-RZ) divides by the largest v
seen, so after the spike its steps stay tiny ("learning rate会一直减小"), while Adam's
recover as v forgets the spike.

Setting: one float64 parameter driven by ``deeprecipe.optim.Adam`` (torch semantics, bias
corrected) with the gradient sequence 1 × ``n_small``, ``G`` once, then 1 × ``n_tail``;
β1 ∈ ``beta1s``, β2 = 0.999, with and without ``amsgrad``.  The run is arithmetic, so one
seed, and every preset is the note's setting.

Decision (fixed from the claim's words before running):
  * for every β1, the measured step at the spike is at most the note's bound lr/√(1−β2);
  * with β1 = 0 (the note's form) it is at least half that bound (the bound is what the
    spike achieves, "~", not a loose over-estimate);
  * AMSGrad keeps its steps small after the spike: its last step is below 0.01·lr, while
    Adam's last step has recovered above 0.5·lr.
Sanity checks (shown apart): the library's steps equal an independent float64
re-implementation of the closed form (relative error ≤ 1e-6: the steps are measured as
differences of the parameter, so steps of ~1e-7 on a parameter of ~1 carry ~1e-9 of
rounding), and AMSGrad's max-v never decreases.
"""
from __future__ import annotations

import numpy as np

from ..experiment import Experiment
from ..plotting import color
from ..rules import check_true, check_value
from ._optim_common import verdict_with_sanity


def gradients(n_small: int, spike: float, n_tail: int) -> np.ndarray:
    return np.concatenate([np.ones(n_small), [float(spike)], np.ones(n_tail)])


def library_steps(grads, lr: float, beta1: float, beta2: float, amsgrad: bool, eps: float = 1e-8):
    """|Δθ| of each step of ``optim.Adam`` on one float64 parameter fed ``grads``; and the
    optimizer's max-v state after each step (AMSGrad) or v (Adam)."""
    from ... import Parameter, default_dtype, optim
    with default_dtype(np.float64):
        p = Parameter(np.zeros(1))
        opt = optim.Adam([p], lr=lr, betas=(beta1, beta2), eps=eps, amsgrad=amsgrad)
        steps = np.empty(len(grads))
        vmax = np.empty(len(grads))
        key = "max_exp_avg_sq" if amsgrad else "exp_avg_sq"
        for t, g in enumerate(grads):
            before = float(p.data[0])
            p.grad = np.array([g])
            opt.step()
            steps[t] = abs(float(p.data[0]) - before)
            vmax[t] = float(opt.param_state(p)[key][0])
    return steps, vmax


def closed_form_steps(grads, lr: float, beta1: float, beta2: float, amsgrad: bool, eps: float = 1e-8):
    """The same steps from the formulas of OPTIM_SPEC (torch's Adam/AMSGrad), independently."""
    m = v = vmax = 0.0
    out = np.empty(len(grads))
    for t, g in enumerate(grads, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        vmax = max(vmax, v)
        denom = np.sqrt((vmax if amsgrad else v) / (1 - beta2 ** t)) + eps
        out[t - 1] = abs(lr * (m / (1 - beta1 ** t)) / denom)
    return out


def arm_key(beta1: float, amsgrad: bool) -> str:
    return f"{'amsgrad' if amsgrad else 'adam'}_b{str(beta1).replace('.', '_')}"


def run(config, seed, ctx):
    g = gradients(config["n_small"], config["spike"], config["n_tail"])
    lr, b2 = config["lr"], config["beta2"]
    out = {"bound": lr / np.sqrt(1 - b2), "spike_index": int(config["n_small"])}
    for b1 in config["beta1s"]:
        for ams in (False, True):
            steps, vmax = library_steps(g, lr, b1, b2, ams)
            ref = closed_form_steps(g, lr, b1, b2, ams)
            out[arm_key(b1, ams)] = {
                "steps": steps, "spike_step": float(steps[config["n_small"]]), "last_step": float(steps[-1]),
                "closed_form_rel_err": float(np.max(np.abs(steps - ref) / np.maximum(np.abs(ref), 1e-300))),
                "v_monotone": bool(np.all(np.diff(vmax) >= 0)) if ams else True,
            }
    return out


def plot(results, fig):
    fig.set_size_inches(12, 4.5)
    ax1, ax2 = fig.subplots(1, 2)
    cfg = results.config
    lr, r = cfg["lr"], results.runs[0]
    n = int(r["spike_index"])
    t = np.arange(1, n + 2 + cfg["n_tail"])
    i = 0
    for b1 in cfg["beta1s"]:
        for ams in (False, True):
            s = np.asarray(r[arm_key(b1, ams)]["steps"]) / lr
            label = f"{'AMSGrad' if ams else 'Adam'} β1={b1}"
            ax1.plot(t[n - 20:n + 40], s[n - 20:n + 40], "o-" if not ams else "x--", color=color(i),
                     markersize=3, label=label)
            ax2.plot(t, s, color=color(i), linestyle="-" if not ams else "--", label=label)
            i += 1
    for ax in (ax1, ax2):
        ax.axhline(r["bound"] / lr, color="k", linestyle=":", label="note's bound 1/√(1−β2)")
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("|step| / lr")
        ax.grid(alpha=0.3)
    ax1.set_title(f"around the spike g = {cfg['spike']:g} at step {n + 1}", fontsize=10)
    ax2.set_title(f"the tail: {cfg['n_tail']} more steps of g = 1 (Adam recovers, AMSGrad does not)",
                  fontsize=10)
    ax2.legend(fontsize=7)


def verdict(results):
    cfg = results.config
    r = results.runs[0]
    lr, bound = cfg["lr"], float(r["bound"])
    checks, sanity, extra = [], [], {"note's bound lr/√(1−β2) / lr": round(bound / lr, 4)}
    for b1 in cfg["beta1s"]:
        a = r[arm_key(b1, False)]
        checks.append(check_value(f"Adam β1={b1}: spike step / bound", a["spike_step"] / bound, "<=", 1.0))
        if b1 == 0:
            checks.append(check_value("Adam β1=0: spike step / bound (the bound is reached, '~')",
                                      a["spike_step"] / bound, ">=", 0.5))
        for ams in (False, True):
            x = r[arm_key(b1, ams)]
            name = f"{'AMSGrad' if ams else 'Adam'} β1={b1}"
            sanity.append(check_value(f"{name}: library vs closed form, max relative error",
                                      x["closed_form_rel_err"], "<=", 1e-6, fmt=".2g"))
            if ams:
                sanity.append(check_true(f"{name}: max v never decreases", x["v_monotone"]))
        am = r[arm_key(b1, True)]
        checks.append(check_value(f"AMSGrad β1={b1}: last step / lr", am["last_step"] / lr, "<", 0.01))
        checks.append(check_value(f"Adam β1={b1}: last step / lr", a["last_step"] / lr, ">", 0.5))
        extra[f"Adam / AMSGrad β1={b1}: spike step / lr"] = \
            f"{a['spike_step'] / lr:.4g} / {am['spike_step'] / lr:.4g}"
    return verdict_with_sanity(
        checks, sanity,
        "After n_small gradients of 1, the step at the huge gradient is at most lr/√(1−β2) (and, with β1 = 0 as "
        "in the note, at least half of it); after the spike AMSGrad's steps stay below 0.01·lr while Adam's "
        "recover above 0.5·lr", extra)


_NOTE = dict(n_small=1000, spike=1e5, n_tail=20000, lr=1e-3, beta1s=[0.0, 0.9], beta2=0.999, seeds=1)

EXPERIMENT = Experiment(
    id="adam-big-gradient",
    title="One huge gradient after many small ones: Adam vs AMSGrad",
    source=("002",),
    claim=("After a long run of small gradients, one huge gradient moves Adam by at most about "
           "lr·√(1/(1−β2)) (10√10·lr); AMSGrad keeps the largest v̂, so its later steps stay small."),
    presets={"test": dict(_NOTE, n_small=200, n_tail=300), "quick": dict(_NOTE), "full": dict(_NOTE)},
    run=run, plot=plot, verdict=verdict)
