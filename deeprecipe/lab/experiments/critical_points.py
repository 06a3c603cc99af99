"""critical-points: training rarely stops at local minima — where the gradient is ~0 the
Hessian almost always has negative eigenvalues (saddle points), the "minimum ratio" is
rarely 1 — and stepping along an eigenvector of a negative eigenvalue lowers the loss
(seed 004, lecture L4).

Setting: many small nets (16 → h → 1, tanh, binary cross-entropy: no continuous symmetry,
so no eigenvalue is 0 by construction) on two hard-to-separate Fashion-MNIST classes
(T-shirt vs shirt) shrunk to 4×4 pixels (7×7 block means, standardized).  Each run starts
from its own initialization, trains with Adam for a random number of steps (log-uniform in
``adam_steps``: some runs stop early, some late), then is driven to a critical point by
damped Newton on ``∇L = 0`` (Levenberg-Marquardt on the gradient, the full exact Hessian
each iteration; :func:`newton_to_critical`) until ``‖∇L‖ ≤ grad_tol`` (runs that do not get
there within ``newton_iters`` iterations are counted and left out).  Newton's method is
attracted by critical points of every index, so it finds the point the run was near,
whatever it is.  At each converged point: the full Hessian's eigenvalues (float64, exact
Hessian-vector products), the lecture's minimum ratio = #(λ > τ) / #λ and the index
#(λ < −τ) with τ = max(``eig_tol`` · max|λ|, ‖∇L‖) (an eigenvalue below the remaining
gradient norm is not trusted with a sign), and the loss.  At each saddle the escape is
measured: the loss at θ + t·u (u the eigenvector of the lowest eigenvalue, its sign making
gᵀu ≤ 0) for t in ``escape_steps``, the best t kept, beside the prediction ½t²λ_min.

Decision (fixed from the claim's words before running), over all converged points of all
seeds:
  * the minimum ratio is rarely 1: the share of points with index 0 (local minima) has
    its 95% Wilson interval below 1/4 (holds), above 1/4 (does not hold), else
    inconclusive;
  * escaping lowers the loss: at ≥ 90% of the saddle points the measured step lowers the
    loss (no saddle found: inconclusive).

Changed after a first run (said here, as the lab's rules ask): the quick preset's
``grad_tol`` was 1e-4 with 16-24 runs; only 5 of 16 runs got there in the iteration budget,
too few points to decide (inconclusive).  It is now 1e-3 — two orders of magnitude below
the gradient norm at initialization, which is saved (``init_grad_norm``) — with 30 runs;
the full preset keeps 1e-4 with more iterations.  The sign rule τ ≥ ‖∇L‖ above keeps a
looser tolerance from creating negative eigenvalues out of the remaining gradient.
"""
from __future__ import annotations

import math

import numpy as np

from ..experiment import INCONCLUSIVE, Experiment
from ..plotting import color
from ..rules import Check, check_value, combine

MINIMA_SHARE = 0.25   # "rarely": fewer than one point in four
ESCAPE_SHARE = 0.9


def wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple:
    """95% Wilson score interval of a proportion ``k/n`` (``(nan, nan)`` when ``n == 0``)."""
    if n == 0:
        return math.nan, math.nan
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, c - h), min(1.0, c + h)


def small_images(config, seed):
    """Two classes, 4×4 block means, standardized with the training statistics (float64)."""
    from ..data import image_data
    data = image_data(config["data"], n_train=config["n_pool"], n_test=10, seed=seed, flatten=False)
    keep = np.isin(data.y_train, config["classes"])
    x = data.x_train[keep][: config["n_train"]]
    y = (data.y_train[keep][: config["n_train"]] == config["classes"][1]).astype(np.float64)
    n = len(x)
    x = x.reshape(n, 4, 7, 4, 7).mean(axis=(2, 4)).reshape(n, 16).astype(np.float64)
    x = (x - x.mean(0)) / (x.std(0) + 1e-8)
    return x, y[:, None]


def _set(params, flat_arrays):
    for p, a in zip(params, flat_arrays):
        p.data[...] = a


def _grad_norm(closure, params):
    from ...diagnostics.hessian import HessianOperator
    with HessianOperator(closure, params, method="exact") as op:
        return float(np.linalg.norm(op.flatten(op.grad)))


def newton_to_critical(closure, params, grad_tol, max_iter):
    """Drive ``params`` to a point where ``‖∇L‖ ≤ grad_tol``: damped Newton on ``∇L = 0``
    (Levenberg-Marquardt on the residual g: step ``−(H² + μI)⁻¹ H g`` from the exact full
    Hessian, μ shrunk after a step that lowers ‖g‖ and raised until one does).  Unlike
    gradient descent it is attracted by critical points of any index.

    Returns ``(converged, eigenvalues, eigenvectors, loss, grad, iterations)`` at the last point.
    """
    from ...diagnostics.hessian import HessianOperator, full_hessian
    mu = None
    for it in range(max_iter + 1):
        with HessianOperator(closure, params, method="exact") as op:
            g = op.flatten(op.grad)
            w, V = np.linalg.eigh(0.5 * (lambda H: H + H.T)(full_hessian(op)))
            loss, theta, unflat = op.loss, op.flatten([p.data for p in params]), op.unflatten
        gn = float(np.linalg.norm(g))
        if gn <= grad_tol or it == max_iter:
            return gn <= grad_tol, w, V, loss, g, it
        mu = 1e-4 * float(np.max(w * w)) if mu is None else mu
        gv = V.T @ g
        for _ in range(40):
            _set(params, unflat(theta - V @ ((w / (w * w + mu)) * gv)))
            if _grad_norm(closure, params) < gn:
                mu = max(mu / 4, 1e-30)
                break
            mu *= 4
        else:  # no damping lowers ‖g‖: stuck
            _set(params, unflat(theta))
            return False, w, V, loss, g, it
    raise AssertionError("unreachable")


def run(config, seed, ctx):
    from ... import Tensor, nn, no_grad
    from ... import functions as F
    from ...diagnostics.hessian import HessianOperator
    x, y = small_images(config, seed)
    xt = Tensor(x)
    rng = np.random.default_rng(seed)
    lo, hi = np.log10(config["adam_steps"][0]), np.log10(config["adam_steps"][1])
    rows = {k: [] for k in ("width", "adam_steps", "init_grad_norm", "converged", "iterations", "loss",
                            "grad_norm", "min_ratio", "index", "lam_min", "lam_max", "escape_t", "escape_dloss",
                            "escape_pred")}
    bar = ctx.progress(config["runs"], "critical points")
    for r in range(config["runs"]):
        width = int(config["widths"][r % len(config["widths"])])
        model = nn.MLP([16, width, 1], activation="tanh", init="xavier", rng=int(rng.integers(2**31)),
                       dtype=np.float64)
        params = list(model.parameters())

        def closure(model=model):
            return F.binary_cross_entropy_with_logits(model(xt), y)
        steps = int(round(10 ** rng.uniform(lo, hi)))
        rows["init_grad_norm"].append(_grad_norm(closure, params))
        _adam(model, closure, config["adam_lr"], steps)
        conv, w, V, loss, g, it = newton_to_critical(closure, params, config["grad_tol"], config["newton_iters"])
        # an eigenvalue smaller than the remaining gradient norm is not trusted with a sign
        tol = max(config["eig_tol"] * float(np.abs(w).max()), float(np.linalg.norm(g)))
        rows["width"].append(width)
        rows["adam_steps"].append(steps)
        rows["converged"].append(bool(conv))
        rows["iterations"].append(int(it))
        rows["loss"].append(loss)
        rows["grad_norm"].append(float(np.linalg.norm(g)))
        rows["min_ratio"].append(float(np.count_nonzero(w > tol)) / w.size)
        rows["index"].append(int(np.count_nonzero(w < -tol)))
        rows["lam_min"].append(float(w[0]))
        rows["lam_max"].append(float(w[-1]))
        t_best, dl, pred = math.nan, math.nan, math.nan
        if w[0] < -tol:
            u = V[:, 0] if g @ V[:, 0] <= 0 else -V[:, 0]
            with HessianOperator(closure, params, method="exact") as op:
                theta = op.flatten([p.data for p in params])
                unflat = op.unflatten
            for t in config["escape_steps"]:
                _set(params, unflat(theta + t * u))
                with no_grad():
                    lt = float(closure().item())
                if math.isnan(dl) or lt - loss < dl:
                    t_best, dl = float(t), lt - loss
            _set(params, unflat(theta))
            pred = 0.5 * t_best ** 2 * float(w[0]) + t_best * float(g @ u)
        rows["escape_t"].append(t_best)
        rows["escape_dloss"].append(dl)
        rows["escape_pred"].append(pred)
        bar.update(1)
    bar.close()
    out = {k: np.asarray(v) for k, v in rows.items()}
    out["n_params"] = int(sum(p.size for p in params))
    return out


def _adam(model, closure, lr, steps):
    from ...optim import Adam
    opt = Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        closure().backward()
        opt.step()


def _pooled(results, key):
    return np.concatenate([np.asarray(r[key]).ravel() for r in results.runs])


def plot(results, fig):
    fig.set_size_inches(14, 4.2)
    a1, a2, a3 = fig.subplots(1, 3)
    ok = _pooled(results, "converged").astype(bool)
    ratio, loss, index = _pooled(results, "min_ratio")[ok], _pooled(results, "loss")[ok], _pooled(results, "index")[ok]
    a1.scatter(ratio[index > 0], loss[index > 0], color=color(0), s=18, label="saddle (index ≥ 1)")
    a1.scatter(ratio[index == 0], loss[index == 0], color=color(1), s=18, label="no negative eigenvalue")
    a1.set(xlabel="minimum ratio  (#positive eigenvalues / #eigenvalues)", ylabel="training loss",
           title="critical points")
    a1.legend(fontsize=8)
    a2.hist(ratio, bins=20, range=(min(0.5, ratio.min(initial=1.0)), 1.0), color=color(0))
    a2.set(xlabel="minimum ratio", ylabel="points", title="histogram of the minimum ratio")
    dl, pred = _pooled(results, "escape_dloss"), _pooled(results, "escape_pred")
    m = np.isfinite(dl)
    if m.any():
        a3.scatter(-pred[m], -dl[m], s=18, color=color(2))
        lim = [min((-pred[m]).min(), (-dl[m]).min()) * 0.8, max((-pred[m]).max(), (-dl[m]).max()) * 1.2]
        if lim[0] > 0:
            a3.plot(lim, lim, "k:", lw=1)
            a3.set(xscale="log", yscale="log")
    a3.set(xlabel="predicted decrease −(½t²λ_min + t gᵀu)", ylabel="measured decrease L(θ) − L(θ + t u)",
           title="escaping along a negative eigen-direction")


def verdict(results):
    ok = _pooled(results, "converged").astype(bool)
    index = _pooled(results, "index")[ok]
    n = int(ok.sum())
    k_min = int(np.count_nonzero(index == 0))
    lo, hi = wilson(k_min, n)
    if n == 0 or math.isnan(lo):
        c1 = Check(f"share of local minima < {MINIMA_SHARE:g}", INCONCLUSIVE, {"local minima": "no converged point"})
    else:
        outcome = "holds" if hi < MINIMA_SHARE else ("does not hold" if lo > MINIMA_SHARE else INCONCLUSIVE)
        c1 = Check(f"share of local minima (index 0) < {MINIMA_SHARE:g} (95% Wilson interval)", outcome,
                   {"local minima / critical points": f"{k_min}/{n} = {k_min / n:.3f} [{lo:.3f}, {hi:.3f}]"})
    dl = _pooled(results, "escape_dloss")[ok]
    sad = index > 0
    n_sad = int(sad.sum())
    lowered = int(np.count_nonzero(dl[sad] < 0))
    frac = lowered / n_sad if n_sad else math.nan
    c2 = check_value("share of saddles where the escape step lowers the loss", frac, ">=", ESCAPE_SHARE, fmt=".3f")
    ratio = _pooled(results, "min_ratio")[ok]
    extra = {
        "saddles lowered / saddles": f"{lowered}/{n_sad}",
        "converged / runs": f"{n}/{ok.size}",
        "gradient norm at init (median) / tolerance": f"{np.median(_pooled(results, 'init_grad_norm')):.3g} / "
                                                      f"{results.config['grad_tol']:g}",
        "minimum ratio median [min, max]": f"{np.median(ratio):.3f} [{ratio.min():.3f}, {ratio.max():.3f}]"
        if n else "n/a",
        "loss at minima / at saddles (median)":
            f"{np.median(_pooled(results, 'loss')[ok][index == 0]) if k_min else math.nan:.4f} / "
            f"{np.median(_pooled(results, 'loss')[ok][sad]) if n_sad else math.nan:.4f}",
        "parameters per net": int(results.first("n_params")),
    }
    return combine([c1, c2], "Among the critical points reached (gradient norm below the tolerance), local minima "
                             "(no negative Hessian eigenvalue) are rare, and a step along the eigenvector of a "
                             "negative eigenvalue lowers the loss at the saddles", extra)


_COMMON = dict(classes=[0, 6], adam_lr=0.01, eig_tol=1e-6,
               escape_steps=[0.01, 0.03, 0.1, 0.3, 1.0])
EXPERIMENT = Experiment(
    id="critical-points",
    title="Critical points are saddles, not local minima",
    source=("004",),
    claim=("Where the gradient is ~0 the Hessian almost always has negative eigenvalues (saddle points): the "
           "minimum ratio (share of positive eigenvalues) is rarely 1, and moving along an eigenvector of a "
           "negative eigenvalue lowers the loss."),
    presets={
        "test": dict(_COMMON, data="synthetic", n_pool=200, n_train=40, widths=[2, 3], runs=3,
                     adam_steps=[5, 30], newton_iters=8, grad_tol=1e-2, seeds=1),
        "quick": dict(_COMMON, data="fashion-mnist", n_pool=2000, n_train=200, widths=[3, 4], runs=30,
                      adam_steps=[10, 1000], newton_iters=30, grad_tol=1e-3, seeds=1),
        "full": dict(_COMMON, data="fashion-mnist", n_pool=6000, n_train=1000, widths=[3, 4, 6, 8, 12], runs=100,
                     adam_steps=[10, 10000], newton_iters=60, grad_tol=1e-4, seeds=3),
    },
    run=run, plot=plot, verdict=verdict)
