"""maxout: maxout can represent ReLU and learns its own piecewise-linear activation (seeds 000, 001).

Maxout (Goodfellow et al. 2013, https://arxiv.org/abs/1302.4389): each unit is the max of
k linear pieces, ``a = max_i (w_i·x + b_i)``; the lecture shows that with k = 2 and one
piece fixed at w = 0, b = 0 the unit *is* ReLU, and that in general each unit learns its
own convex piecewise-linear activation.

(a) Exactness.  A maxout layer (``nn.Maxout``, k = 2) gets random weights, then the second
piece of every unit is set to zero.  On real inputs its pre-activations ``z`` (one linear
map for all pieces) go through ``F.maxout`` and, separately, the first pieces through
``F.relu``; outputs and the gradients reaching the non-zero pieces are compared
bit for bit.  (A ReLU layer computed by a *separate* matrix product of a different shape
differs by float32 rounding only — BLAS sums in another order; that difference is shown,
not decided on.)

(b) Learning.  A ReLU MLP and a maxout MLP (k = 2) with the same number of hidden layers
and (as nearly as integer widths allow) the same number of parameters are trained with
the same SGD budget.  Each starts from the Gaussian init that keeps its activations' second
moment through a layer: He (var 2/fan_in) for ReLU, since E[relu(z)²] = σ²/2, and LeCun
(var 1/fan_in) for 2-piece maxout, since E[max(z₁, z₂)²] = σ² for independent pieces
(max = (z₁+z₂)/2 + |z₁−z₂|/2, two uncorrelated halves of variance σ²/2 each).  (He init
doubles the second moment at every layer of the maxout net and made it diverge at this
learning rate in a trial run — a wrong init, not a property of maxout.)  The learned activation of a few
first-layer maxout units is drawn along a line through input space, x(t) = x₀ + t·(x₁ − x₀)
between two test images: each piece is linear in t and the unit is their max.

Decision (thresholds fixed from the claim's words before running): (b) "comparable
accuracy" — test accuracy of maxout minus ReLU, paired by seed, has its 95% interval
inside (−0.02, +0.02), within 2 points either way.

Sanity checks beside the verdict: (a) max |maxout − ReLU| over all outputs == 0 and max
|gradient difference| == 0.  That is an identity of the definitions — it fails only on a
bug in ``F.maxout``/``F.relu`` — so it is shown apart and does not decide the claim.
"""
from __future__ import annotations

import numpy as np

from ..experiment import Experiment
from ..plotting import color, plot_band
from ..rules import check_diff, check_value, combine
from ._probes import train_probed

N_SHAPES = 6          # first-layer maxout units whose learned activation is drawn
T = np.linspace(-1.0, 2.0, 61)


def n_params(n_in: int, width: int, layers: int, n_out: int, pieces: int = 1) -> int:
    """Parameters of an MLP with ``layers`` hidden layers of ``width`` units of ``pieces`` pieces."""
    first = n_in * pieces * width + pieces * width
    middle = (layers - 1) * (width * pieces * width + pieces * width)
    return first + middle + width * n_out + n_out


def matched_width(n_in: int, relu_width: int, layers: int, n_out: int, pieces: int) -> int:
    """The maxout width whose parameter count is nearest the ReLU net's."""
    target = n_params(n_in, relu_width, layers, n_out)
    widths = np.arange(1, relu_width + 1)
    counts = np.array([n_params(n_in, int(w), layers, n_out, pieces) for w in widths])
    return int(widths[np.argmin(np.abs(counts - target))])


def exactness(x, units: int, seed: int) -> dict:
    """Part (a): maxout with the second piece fixed at 0 vs ReLU, on inputs ``x``."""
    from ... import Tensor, functions as F, nn
    layer = nn.Maxout(x.shape[1], units, pieces=2, rng=seed)
    layer.weight.data[1::2] = 0.0           # piece 2 of unit j is row 2j+1: w = 0, b = 0
    layer.bias.data[1::2] = 0.0
    z = F.linear(Tensor(x), layer.weight, layer.bias)            # (N, 2·units), all pieces
    z_max = Tensor(z.data.copy(), requires_grad=True)
    z_relu = Tensor(z.data[:, 0::2].copy(), requires_grad=True)
    a_max = F.maxout(z_max, 2, dim=-1)
    a_relu = F.relu(z_relu)
    rng = np.random.default_rng(seed)
    g = rng.standard_normal(a_max.shape).astype(a_max.dtype)    # an arbitrary upstream gradient
    (a_max * Tensor(g)).sum().backward()
    (a_relu * Tensor(g)).sum().backward()
    grad_pieces = z_max.grad[:, 0::2]
    # the same comparison end to end, with ReLU's linear map as a separate (differently shaped) product
    a_layer = layer(Tensor(x)).data
    a_sep = F.relu(F.linear(Tensor(x), Tensor(layer.weight.data[0::2].copy()),
                            Tensor(layer.bias.data[0::2].copy()))).data
    return {
        "max_abs_diff": float(np.max(np.abs(a_max.data - a_relu.data))),
        "max_abs_grad_diff": float(np.max(np.abs(grad_pieces - z_relu.grad))),
        "zero_piece_max_abs": float(np.max(np.abs(z.data[:, 1::2]))),
        "zero_piece_grad_max_abs": float(np.max(np.abs(z_max.grad[:, 1::2][z.data[:, 0::2] > 0]), initial=0.0)),
        "separate_matmul_max_abs_diff": float(np.max(np.abs(a_layer - a_sep))),
        "n_values": int(a_max.data.size),
        "frac_active": float(np.mean(a_relu.data > 0)),
    }


def learned_shapes(model, x0, x1) -> dict:
    """Pieces of the first ``N_SHAPES`` first-layer maxout units along x(t) = x0 + t (x1 − x0)."""
    lin = model[0]                                        # first Linear: (pieces·width, 784)
    k = next(m.pieces for m in model.modules() if hasattr(m, "pieces"))
    w = np.asarray(lin.weight.data, dtype=np.float64)
    b = np.asarray(lin.bias.data, dtype=np.float64)
    xs = x0[None, :] + T[:, None] * (x1 - x0)[None, :]    # (T, 784)
    z = xs @ w.T + b                                      # (T, pieces·width)
    width = w.shape[0] // k
    pieces = z.T.reshape(width, k, len(T))[:N_SHAPES]     # (units, pieces, T)
    wn = np.linalg.norm(w.reshape(width, k, -1), axis=2)  # (width, pieces) weight norm per piece
    ratio = wn.min(axis=1) / np.maximum(wn.max(axis=1), 1e-30)
    return {"t": T.copy(), "pieces": pieces, "piece_norm_ratio": ratio}


def run(config, seed, ctx):
    from ..data import image_data
    data = image_data(config["data"], n_train=config["n_train"], n_test=config["n_test"], seed=seed)
    n_in = data.x_train.shape[1]
    out = {"data": data.describe(), "exact": exactness(data.x_train[:config["probe_n"]], config["exact_units"], seed)}
    layers, w_relu, k = len(config["hidden"]), int(config["hidden"][0]), int(config["pieces"])
    if any(int(h) != w_relu for h in config["hidden"]):
        raise ValueError(f"maxout: hidden layers must share one width, got {config['hidden']}")
    w_max = matched_width(n_in, w_relu, layers, data.n_classes, k)
    for arm, act, width, init in (("relu", "relu", w_relu, "he"), ("maxout", ("maxout", k), w_max, "lecun")):
        metrics, model = train_probed(
            data, hidden=[width] * layers, activation=act, init=init, optimizer="sgd", lr=config["lr"],
            steps=config["steps"], batch_size=config["batch_size"], seed=seed, probe_n=config["probe_n"],
            probe_every=config["probe_every"], progress=ctx.progress)
        metrics["width"] = width
        metrics["init"] = init
        metrics["n_params"] = int(model.num_parameters())
        if arm == "maxout":
            metrics["shapes"] = learned_shapes(model, data.x_test[0].astype(np.float64),
                                               data.x_test[1].astype(np.float64))
        out[arm] = metrics
    return out


def plot(results, fig):
    fig.set_size_inches(15, 4.5)
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.6]})
    for i, arm in enumerate(("relu", "maxout")):
        steps = np.asarray(results.first(f"{arm}.probe.acc_step"))
        label = f"{arm} ({results.first(f'{arm}.width')} units/layer, {results.first(f'{arm}.n_params')} params)"
        plot_band(ax1, steps, results.stack(f"{arm}.probe.acc"), label=label, color=color(i))
    ax1.set_xlabel("SGD step")
    ax1.set_ylabel(f"accuracy on {results.config.get('probe_n')} training examples")
    ax1.set_ylim(0, 1.0)
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=8, loc="lower right")
    ax1.set_title("ReLU vs maxout, equal parameter count", fontsize=10)

    t = np.asarray(results.first("maxout.shapes.t"))
    pieces = np.asarray(results.first("maxout.shapes.pieces"))      # (units, k, T), first seed
    ax2.axis("off")
    n = pieces.shape[0]
    sub = [ax2.inset_axes([j / n + 0.01, 0.0, 1 / n - 0.02, 0.88]) for j in range(n)]
    for j, ax in enumerate(sub):
        for p in range(pieces.shape[1]):
            ax.plot(t, pieces[j, p], linestyle=":", color=color(p + 2), linewidth=1)
        ax.plot(t, pieces[j].max(axis=0), color="k", linewidth=2)
        ax.set_title(f"unit {j}", fontsize=8)
        ax.tick_params(labelsize=6)
        ax.set_xlabel("t", fontsize=7)
        for t_mark in (0.0, 1.0):       # t = 0: image x0, t = 1: image x1
            ax.axvline(t_mark, color="gray", linewidth=0.5)
    ax2.set_title("learned maxout activations of first-layer units along x₀ + t(x₁ − x₀) "
                  "(dotted: pieces, black: max; grey: x₀, x₁)", fontsize=10)


def verdict(results):
    exact = results.values("exact.max_abs_diff").max()
    grad = results.values("exact.max_abs_grad_diff").max()
    relu, mx = results.values("relu.final.test_acc_all"), results.values("maxout.final.test_acc_all")
    name = "test acc maxout - ReLU"
    checks = [check_diff(name, mx, relu, ">", -0.02), check_diff(name, mx, relu, "<", 0.02)]
    sanity = [check_value("max |maxout(z, 0) - relu(z)|", exact, "<=", 0.0),
              check_value("max |grad difference|", grad, "<=", 0.0)]
    p_relu, p_max = results.first("relu.n_params"), results.first("maxout.n_params")
    ratio = np.concatenate([np.asarray(results.get(r, "maxout.shapes.piece_norm_ratio")) for r in results.runs])
    extra = {
        "params ReLU / maxout": f"{p_relu} / {p_max} ({100 * (p_max - p_relu) / p_relu:+.2f}%)",
        "test acc ReLU": round(float(relu.mean()), 4), "test acc maxout": round(float(mx.mean()), 4),
        "train acc ReLU": round(float(results.values("relu.final.train_acc_all").mean()), 4),
        "train acc maxout": round(float(results.values("maxout.final.train_acc_all").mean()), 4),
        "median |w small piece| / |w large piece| (ReLU-like = 0)": round(float(np.median(ratio)), 3),
        "separate-matmul ReLU layer max diff (float32 rounding)":
            float(f"{results.values('exact.separate_matmul_max_abs_diff').max():.3g}"),
    }
    return combine(checks, "(b) A maxout net and a ReLU net with equal parameter counts reach test accuracies "
                           "within 2 points of each other; (a) a maxout unit whose second piece is fixed at 0 gives "
                           "exactly ReLU's outputs and gradients (sanity check)", extra, sanity=sanity)


EXPERIMENT = Experiment(
    id="maxout",
    title="Maxout: ReLU as a special case, learned activations",
    source=("000", "001"),
    claim=("Maxout can represent ReLU exactly (one piece fixed at 0) and learns its own piecewise-linear "
           "activation per unit; a maxout network is a competitive alternative to ReLU."),
    presets={
        "test": dict(data="synthetic", n_train=200, n_test=100, hidden=[16, 16], pieces=2, lr=0.1,
                     batch_size=50, steps=12, probe_n=100, probe_every=4, exact_units=8, seeds=2),
        "quick": dict(data="fashion-mnist", n_train=5000, n_test=2000, hidden=[100, 100], pieces=2, lr=0.1,
                      batch_size=100, steps=800, probe_n=1000, probe_every=50, exact_units=100, seeds=5),
        "full": dict(data="fashion-mnist", n_train=60000, n_test=10000, hidden=[100, 100], pieces=2, lr=0.1,
                     batch_size=100, steps=6000, probe_n=1000, probe_every=100, exact_units=100, seeds=5),
    },
    run=run, plot=plot, verdict=verdict)
