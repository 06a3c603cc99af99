"""adaptive-lr-burst: Adagrad/RMSProp steps can burst in a direction whose gradients stayed
tiny for long; learning-rate decay tames it (seed 004, L6 "adagrad 會累積到噴").

The lecture's adaptive step is θ ← θ − η/σ·g with σ the root mean square of the past
gradients of that parameter: over *all* of them for Adagrad (σ_t² = (1/(t+1))·Σ g²) or
an exponential average for RMSProp.  On an elongated bowl the steep direction converges
first; its gradients then stay tiny, σ shrinks, η/σ grows, until the step overshoots and
the path bursts out — then σ grows again and it settles, and the story repeats.  A
decaying η^t keeps η^t/σ from growing.

Setting: f(x, y) = ½(a_x·x² + a_y·y²) with a_y ≫ a_x (``curvature``), from ``start``,
``steps`` steps, driven by the library.  The gradient carries a small Gaussian noise of
std ``grad_noise`` (seeded; mini-batch noise in miniature): on an exact quadratic the
steep coordinate underflows to exactly 0 and nothing can ever burst out of it — the first
run of this experiment, without noise, showed exactly that.

* ``adagrad``: ``optim.Adagrad`` (σ² = Σ g²) with lr_t = η·√(t+1) from a
  ``ScheduleLR`` — exactly the lecture's mean form η/σ_t (up to ε);
* ``rmsprop``: ``optim.RMSprop(alpha, init='first_grad')`` — the lecture's σ⁰ = |g⁰|;

each with a constant η and with the decay η^t = η/(1 + t/τ) (``decay_tau``).  The
noise differs per seed.

Decision (fixed from the claim's words before running), per optimizer; the late window is
the second half of the run; log10 ratios, mean ± 95% interval over seeds:
  * a burst: without decay, the largest step of the late window is ≥ 10× the window's
    median step (log10 ratio > 1);
  * in a direction whose gradient stayed tiny for long: over the ``quiet`` steps before
    that largest step, the median |g_y| is < 1% of the first |g_y| (log10 ratio < −2);
  * tamed: with decay, the largest late step is ≤ 0.1× the largest late step without
    (log10 ratio < −1).
"""
from __future__ import annotations

import numpy as np

from ..experiment import Experiment
from ..plotting import color
from ..rules import check_mean, combine, mean_pair

OPTIMIZERS = ("adagrad", "rmsprop")


def trajectory(name: str, cfg: dict, decay: bool, seed: int = 0):
    """Positions (steps+1, 2) and gradients (steps, 2) of one run, float64."""
    from ... import Parameter, default_dtype, optim
    from ...optim.lr_scheduler import ScheduleLR
    eta, tau = cfg["eta"], cfg["decay_tau"]
    a = np.asarray(cfg["curvature"], dtype=np.float64)

    def factor(t):
        return 1.0 / (1.0 + t / tau) if decay else 1.0

    noise = np.random.default_rng(seed).standard_normal((cfg["steps"], 2)) * cfg["grad_noise"]

    with default_dtype(np.float64):
        p = Parameter(np.array(cfg["start"], dtype=np.float64))
        if name == "adagrad":
            opt = optim.Adagrad([p], lr=eta)
            sched = ScheduleLR(opt, lambda t: eta * np.sqrt(t + 1.0) * factor(t))
        elif name == "rmsprop":
            opt = optim.RMSprop([p], lr=eta, alpha=cfg["alpha"], init="first_grad")
            sched = ScheduleLR(opt, lambda t: eta * factor(t))
        else:
            raise ValueError(f"unknown optimizer {name!r}; choose one of {OPTIMIZERS}")
        path, grads = [p.data.copy()], []
        for t in range(cfg["steps"]):
            g = a * p.data + noise[t]
            grads.append(g.copy())
            p.grad = g
            opt.step()
            sched.step()
            path.append(p.data.copy())
    return np.array(path), np.array(grads)


def burst_stats(path, grads, quiet: int) -> dict:
    steps = np.linalg.norm(np.diff(path, axis=0), axis=1)
    half = len(steps) // 2
    late = steps[half:]
    k = half + int(np.argmax(late))
    before = np.abs(grads[max(0, k - quiet):k, 1])
    return {"step_norm": steps, "late_max": float(late.max()), "late_median": float(np.median(late)),
            "late_argmax": k, "quiet_grad_ratio": float(np.median(before) / abs(grads[0, 1])) if before.size
            else float("nan")}


def run(config, seed, ctx):
    out = {}
    for name in OPTIMIZERS:
        for decay in (False, True):
            path, grads = trajectory(name, config, decay, seed)
            out[f"{name}_{'decay' if decay else 'constant'}"] = {"path": path, **burst_stats(path, grads,
                                                                                              config["quiet"])}
    return out


def plot(results, fig):
    fig.set_size_inches(13, 8)
    axes = fig.subplots(2, 2)
    r = results.runs[0]   # the first seed
    for i, name in enumerate(OPTIMIZERS):
        ax_s, ax_p = axes[i]
        for j, mode in enumerate(("constant", "decay")):
            d = r[f"{name}_{mode}"]
            s = np.asarray(d["step_norm"])
            ax_s.plot(np.arange(1, len(s) + 1), s, color=color(j), linewidth=0.8, label=f"{name}, η {mode}")
            path = np.asarray(d["path"])
            ax_p.plot(path[:, 0], path[:, 1], color=color(j), linewidth=0.8, label=f"η {mode}")
        ax_s.axvline(len(s) // 2, color="0.5", linestyle=":")
        ax_s.set_yscale("log")
        ax_s.set_xlabel("step (late window right of the dotted line)")
        ax_s.set_ylabel("step length")
        ax_s.legend(fontsize=8)
        ax_s.grid(alpha=0.3)
        ax_p.plot(0, 0, "k+", markersize=10)
        ax_p.set_xlabel("x (flat)")
        ax_p.set_ylabel("y (steep)")
        ax_p.set_title(f"{name}: path", fontsize=9)
        ax_p.legend(fontsize=8)
    cfg = results.config
    fig.suptitle(f"f = ½({cfg['curvature'][0]}·x² + {cfg['curvature'][1]}·y²), η = {cfg['eta']}, "
                 f"decay η/(1+t/{cfg['decay_tau']:g}); step lengths and paths of seed 0")


def verdict(results):
    q = results.config.get("quiet", 100)
    checks, extra = [], {}
    for name in OPTIMIZERS:
        c, d = f"{name}_constant", f"{name}_decay"
        cmax, dmax = results.values(f"{c}.late_max"), results.values(f"{d}.late_max")
        checks += [
            check_mean(f"{name}: log10(late max step / late median step), constant η",
                       np.log10(cmax / np.maximum(results.values(f"{c}.late_median"), 1e-300)), ">", 1.0),
            check_mean(f"{name}: log10(median |g_y| over the {q} steps before it / first |g_y|)",
                       np.log10(np.maximum(results.values(f"{c}.quiet_grad_ratio"), 1e-300)), "<", -2.0),
            check_mean(f"{name}: log10(late max step with decay / without)",
                       np.log10(dmax / np.maximum(cmax, 1e-300)), "<", -1.0),
        ]
        extra[f"{name}: late max step constant / decay"] = mean_pair(cmax, dmax, ".3g")
        extra[f"{name}: step of the late burst (per seed)"] = ", ".join(
            str(int(k) + 1) for k in results.values(f"{c}.late_argmax"))
    return combine(checks, "Without decay the largest late step is ≥ 10× the late median, in the steep "
                           "direction after its gradient stayed below 1% of its start; with η decay the "
                           "largest late step is at most a tenth of that", extra)


_LECTURE = dict(curvature=[0.02, 2.0], start=[-10.0, 3.0], eta=0.2, alpha=0.999, steps=6000, decay_tau=100.0,
                quiet=100, grad_noise=1e-3, seeds=3)

EXPERIMENT = Experiment(
    id="adaptive-lr-burst",
    title="Adaptive learning rates burst late; decay tames them",
    source=("004",),
    claim=("Adagrad/RMSProp steps can burst in directions whose gradients stayed tiny for long; "
           "learning-rate decay (or warm-up) tames it."),
    presets={"test": dict(_LECTURE, steps=200, seeds=2), "quick": dict(_LECTURE), "full": dict(_LECTURE, steps=20000)},
    run=run, plot=plot, verdict=verdict)
