"""dropout-ensemble: test-time weight scaling vs the average over all dropout masks (seed 000).

The lecture: training with dropout trains up to 2^M weight-sharing sub-networks; at test
time, multiplying the weights by (1 − p) instead of averaging all of them gives the
average exactly for a linear network, and approximately for a ReLU network.

Setting: two small networks trained with dropout on M hidden units (the lecture's
convention, ``nn.Dropout(p, scale_at_test=True)``: no scaling while training, × (1 − p) at
test), on a Fashion-MNIST subset:

* linear:  x → Linear(784, M) → Dropout → Linear(M, 10)
* ReLU:    x → Linear(784, M) → ReLU → Dropout → Linear(M, H) → ReLU → Linear(H, 10)

Then, in float64, every one of the 2^M masks m is applied to the M units of each test
input and the network outputs are averaged with the masks' probabilities
(p^dropped (1 − p)^kept: all equal for p = 0.5) — the exact ensemble — and compared with
one forward pass with the units scaled by (1 − p).

Decision (fixed from the claim's words before running), on the ReLU net, the claim's
empirical part: the weight-scaled network predicts the same class as the ensemble on
≥ 95% of test inputs (95% interval over seeds), and agrees with it more often than a
single sub-network does (the median mask; paired over seeds).

Sanity check beside the verdict: for the linear net the largest |ensemble − weight-scaled|
output, relative to the largest |ensemble| output, is ≤ 1e-9 (float64 rounding only) in
every seed.  Linearity makes that an identity (E[W(m⊙h)] = W((1−p)h)); it fails only on a
bug in the enumeration or the dropout layer, so it does not decide the claim.
"""
from __future__ import annotations

import numpy as np

from ..experiment import Experiment
from ..plotting import color
from ..rules import check_diff, check_mean, check_value, combine


def all_masks(m: int, p: float):
    """Every keep-mask over ``m`` units, shape (2^m, m) float64, and its probability (2^m,)."""
    k = np.arange(2 ** m)[:, None]
    masks = ((k >> np.arange(m)) & 1).astype(np.float64)
    kept = masks.sum(axis=1)
    probs = (1.0 - p) ** kept * p ** (m - kept)
    return masks, probs


def _linears(model):
    from ... import nn
    return [(np.asarray(l.weight.data, np.float64), np.asarray(l.bias.data, np.float64))
            for l in model.modules() if isinstance(l, nn.Linear)]


def _head(h, layers, relu: bool):
    """The network after the dropout layer, on units ``h`` (..., M)."""
    out = h
    for i, (w, b) in enumerate(layers):
        out = out @ w.T + b
        if relu and i < len(layers) - 1:
            out = np.maximum(out, 0.0)
    return out


def ensemble_vs_scaling(model, x, p: float, relu: bool, chunk: int = 64):
    """Exact mask-average output, weight-scaled output, and per-mask predictions."""
    layers = _linears(model)
    w1, b1 = layers[0]
    h = np.asarray(x, np.float64) @ w1.T + b1
    if relu:
        h = np.maximum(h, 0.0)
    masks, probs = all_masks(h.shape[1], p)
    ens = np.zeros((len(x), layers[-1][0].shape[0]))
    preds = np.empty((len(masks), len(x)), dtype=np.int8)
    for s in range(0, len(masks), chunk):
        m = masks[s:s + chunk]
        out = _head(h[None, :, :] * m[:, None, :], layers[1:], relu)      # (k, n, classes)
        ens += np.tensordot(probs[s:s + chunk], out, axes=1)
        preds[s:s + chunk] = out.argmax(axis=2)
    scaled = _head((1.0 - p) * h, layers[1:], relu)
    return ens, scaled, preds, float(probs.sum())


def _net(kind: str, d_in: int, cfg: dict, seed: int):
    from ... import nn
    rng = np.random.default_rng(seed)
    m, p = cfg["units"], cfg["p"]
    drop = nn.Dropout(p, scale_at_test=True)
    if kind == "linear":
        return nn.Sequential(nn.Linear(d_in, m, init="xavier", rng=rng), drop,
                             nn.Linear(m, 10, init="xavier", rng=rng))
    return nn.Sequential(nn.Linear(d_in, m, init="he", rng=rng), nn.ReLU(), drop,
                         nn.Linear(m, cfg["hidden"], init="he", rng=rng), nn.ReLU(),
                         nn.Linear(cfg["hidden"], 10, init="he", rng=rng))


def run(config, seed, ctx):
    from ... import Tensor, no_grad
    from ..data import image_data
    from ..training import train_classifier
    data = image_data(config["data"], n_train=config["n_train"], n_test=config["n_test"], seed=seed)
    p = config["p"]
    out = {"data": data.describe(), "n_masks": 2 ** config["units"]}
    for kind in ("linear", "relu"):
        model = _net(kind, data.x_train.shape[1], config, seed)
        metrics, model = train_classifier(data, model=model, optimizer="adam", lr=config["lr"],
                                          epochs=config["epochs"], batch_size=config["batch_size"], seed=seed,
                                          eval_every=config["epochs"], progress=ctx.progress)
        ens, scaled, preds, total_prob = ensemble_vs_scaling(model, data.x_test, p, relu=(kind == "relu"))
        model.eval()
        with no_grad():
            lib = np.asarray(model(Tensor(data.x_test)).data, np.float64)
        y = data.y_test
        ens_pred = ens.argmax(1)
        single_agree = (preds == ens_pred[None, :]).mean(axis=1)             # per mask
        single_acc = (preds == y[None, :]).mean(axis=1)
        out[kind] = {
            "max_abs_gap": float(np.max(np.abs(ens - scaled))),
            "rel_gap": float(np.max(np.abs(ens - scaled)) / np.max(np.abs(ens))),
            "mean_rel_gap": float(np.mean(np.abs(ens - scaled)) / np.mean(np.abs(ens))),
            "agreement": float(np.mean(scaled.argmax(1) == ens_pred)),
            "single_agreement_median": float(np.median(single_agree)),
            "single_agreement": single_agree,
            "acc_ensemble": float(np.mean(ens_pred == y)),
            "acc_scaled": float(np.mean(scaled.argmax(1) == y)),
            "acc_single_median": float(np.median(single_acc)),
            "library_eval_vs_scaled": float(np.max(np.abs(lib - scaled)) / np.max(np.abs(scaled))),
            "mask_probability_total": total_prob,
            "ensemble_sample": ens[:200, 0], "scaled_sample": scaled[:200, 0],
            "train": metrics["final"],
        }
    return out


def plot(results, fig):
    fig.set_size_inches(13, 4.2)
    a1, a2, a3 = fig.subplots(1, 3)
    for i, kind in enumerate(("linear", "relu")):
        ens = np.concatenate([np.asarray(r[kind]["ensemble_sample"]) for r in results.runs])
        sc = np.concatenate([np.asarray(r[kind]["scaled_sample"]) for r in results.runs])
        ax = a1 if kind == "linear" else a2
        ax.scatter(ens, sc, s=6, color=color(i), alpha=0.6)
        lo, hi = float(min(ens.min(), sc.min())), float(max(ens.max(), sc.max()))
        ax.plot([lo, hi], [lo, hi], "k--", linewidth=0.8)
        ax.set_xlabel(f"average over all {results.first('n_masks')} masks (output 0)")
        ax.set_ylabel("weights scaled by (1 - p)")
        gap = np.max(results.values(kind + ".rel_gap"))
        ax.set_title(f"{'linear' if kind == 'linear' else 'ReLU'} net: max relative gap {gap:.2g}", fontsize=10)
    agree = results.stack("relu.single_agreement").ravel()
    a3.hist(agree, bins=30, color=color(2), alpha=0.8, label="single sub-networks")
    for v in results.values("relu.agreement"):
        a3.axvline(v, color=color(1), linewidth=2)
    a3.axvline(np.nan, color=color(1), linewidth=2, label="weight scaling")
    a3.set_xlabel("share of test predictions equal to the ensemble's")
    a3.legend(fontsize=8)
    a3.set_title("ReLU net: agreement with the mask ensemble", fontsize=10)


def verdict(results):
    lin = results.values("linear.rel_gap")
    agree = results.values("relu.agreement")
    single = results.values("relu.single_agreement_median")
    sanity = [check_value("linear: max relative gap (worst seed)", float(np.max(lin)), "<=", 1e-9, fmt=".3g")]
    checks = [
        check_mean("ReLU: prediction agreement of weight scaling with the ensemble", agree, ">=", 0.95),
        check_diff("ReLU: agreement of weight scaling - of the median single mask", agree, single, ">", 0.0),
    ]
    extra = {
        "ReLU: max relative gap": f"{results.values('relu.rel_gap').mean():.3g}",
        "ReLU test acc ensemble / scaled / median mask":
            f"{results.values('relu.acc_ensemble').mean():.4f} / {results.values('relu.acc_scaled').mean():.4f}"
            f" / {results.values('relu.acc_single_median').mean():.4f}",
        "library eval output vs weight scaling (rel.)":
            f"{max(results.values(f'{k}.library_eval_vs_scaled').max() for k in ('linear', 'relu')):.2g}",
    }
    return combine(checks, "Weight scaling by (1-p) equals the average over all 2^M masks for the linear "
                           "net (to rounding) and predicts like it for the ReLU net (≥ 95% agreement, better "
                           "than one sub-network); the linear identity is a sanity check", extra, sanity=sanity)


EXPERIMENT = Experiment(
    id="dropout-ensemble",
    title="Dropout as an ensemble: weight scaling vs all masks",
    source=("000",),
    claim=("Test-time weight scaling by (1 − p) equals the average over all 2^M dropout masks for a "
           "linear network, and approximates it for a ReLU network."),
    presets={
        "test": dict(data="synthetic", n_train=100, n_test=50, units=4, hidden=8, p=0.5, lr=1e-2, epochs=2,
                     batch_size=25, seeds=2),
        "quick": dict(data="fashion-mnist", n_train=3000, n_test=1000, units=10, hidden=32, p=0.5, lr=1e-3,
                      epochs=8, batch_size=100, seeds=3),
        "full": dict(data="fashion-mnist", n_train=60000, n_test=2000, units=12, hidden=32, p=0.5, lr=1e-3,
                     epochs=10, batch_size=100, seeds=5),
    },
    run=run, plot=plot, verdict=verdict)
