"""bn-inference: at test time batch norm uses moving averages of μ and σ, so one example
gets the same output whatever batch it is in; in training mode it does not (seed 004,
lecture L8; Ioffe & Szegedy 2015, https://arxiv.org/abs/1502.03167, Alg. 2).

Setting: an MLP 784 → 64 → 64 → 10 with batch norm before each ReLU, trained briefly by
SGD on a Fashion-MNIST subset so that its running statistics are those of real data.  For
each of ``n_probe`` test examples, ``n_batches`` batches are drawn (random sizes between 2
and ``max_batch``, random companions from the test subset, the probe at a random
position); the probe's output (logits) is measured:

* in eval mode: in each batch and alone (a batch of one), the largest difference from
  the alone output;
* in train mode (batch statistics; the running statistics are restored afterwards): the
  largest difference between its outputs in the different batches.

Differences are relative to the largest |logit| of the probe.  Sanity check (an identity
that only fails on a bug, shown beside): the eval-mode output equals a NumPy float64
forward pass with the moving averages, ``γ (z − μ̄)/√(σ̄² + ε) + β``.

Decision (fixed from the claim's words before running): eval-mode outputs are the same in
every batch, max relative difference ≤ 1e-5 (float32 matrix products of different batch
sizes may round differently, far below that); train-mode outputs differ, median over
probes of the max relative difference ≥ 1e-2.
"""
from __future__ import annotations

import numpy as np

from ..experiment import Experiment
from ..plotting import color
from ..rules import check_value, combine

EVAL_TOL, TRAIN_MIN = 1e-5, 1e-2


def manual_forward(model, x) -> np.ndarray:
    """The MLP's eval-mode output by hand in float64 (Linear, BatchNorm1d with running stats, ReLU)."""
    from ... import nn
    h = np.asarray(x, dtype=np.float64)
    for m in model:
        if isinstance(m, nn.Linear):
            h = h @ m.weight.data.astype(np.float64).T + m.bias.data
        elif isinstance(m, nn.BatchNorm1d):
            h = (h - m.running_mean) / np.sqrt(m.running_var.astype(np.float64) + m.eps) * m.weight.data + m.bias.data
        elif isinstance(m, nn.ReLU):
            h = np.maximum(h, 0)
        else:
            raise TypeError(f"manual_forward does not know {type(m).__name__}")
    return h


def run(config, seed, ctx):
    from ... import Tensor, nn, no_grad
    from ...diagnostics.hessian import frozen_modes
    from ..data import image_data
    from ._loop import train_steps
    data = image_data(config["data"], n_train=config["n_train"], n_test=config["n_test"], seed=seed)
    model = nn.MLP([data.x_train.shape[1], *config["hidden"], data.n_classes], norm="batch", init="he", rng=seed)
    train_steps(model, data.x_train, data.y_train, lr=config["lr"], steps=config["steps"], batch_size=64, seed=seed)
    rng = np.random.default_rng(seed)
    x = data.x_test
    eval_diff, train_diff, manual_err = [], [], []
    for _ in range(config["n_probe"]):
        i = int(rng.integers(len(x)))
        batches = []
        for _ in range(config["n_batches"]):
            b = int(rng.integers(2, config["max_batch"] + 1))
            others = rng.choice(np.delete(np.arange(len(x)), i), size=b - 1, replace=False)
            pos = int(rng.integers(b))
            idx = np.insert(others, pos, i)
            batches.append((x[idx], pos))
        with no_grad():
            model.eval()
            alone = model(Tensor(x[i:i + 1])).data[0]
            scale = float(np.abs(alone).max())
            e = [np.abs(model(Tensor(xb)).data[pos] - alone).max() / scale for xb, pos in batches]
            manual_err.append(float(np.abs(manual_forward(model, x[i:i + 1])[0] - alone).max() / scale))
            with frozen_modes(model, train=True):
                outs = [model(Tensor(xb)).data[pos] for xb, pos in batches]
        eval_diff.append(float(max(e)))
        train_diff.append(float(max(np.abs(o - outs[0]).max() for o in outs[1:]) / scale))
    return {"eval_max_rel_diff": np.asarray(eval_diff), "train_max_rel_diff": np.asarray(train_diff),
            "manual_max_rel_err": np.asarray(manual_err), "data": data.describe()}


def _pooled(results, key):
    return np.concatenate([np.asarray(r[key]).ravel() for r in results.runs])


def plot(results, fig):
    fig.set_size_inches(8, 4.5)
    ax = fig.subplots()
    ev, tr = _pooled(results, "eval_max_rel_diff"), _pooled(results, "train_max_rel_diff")
    floor = 1e-12  # exact zeros drawn at the floor of the log axis
    ax.scatter(np.zeros_like(ev) + np.random.default_rng(0).uniform(-0.1, 0.1, ev.size), np.maximum(ev, floor),
               color=color(0), label="eval mode (moving averages)")
    ax.scatter(np.ones_like(tr) + np.random.default_rng(1).uniform(-0.1, 0.1, tr.size), np.maximum(tr, floor),
               color=color(1), label="train mode (batch statistics)")
    ax.axhline(EVAL_TOL, color="k", ls=":", lw=1)
    ax.set(yscale="log", xticks=[0, 1], xticklabels=["eval", "train"], xlim=(-0.5, 1.5),
           ylabel="max |Δ output| / max |output| of one example across batches",
           title="one example's output in different batches")
    ax.legend()


def verdict(results):
    ev, tr = _pooled(results, "eval_max_rel_diff"), _pooled(results, "train_max_rel_diff")
    checks = [
        check_value("eval mode: max relative change across batches", float(ev.max()), "<=", EVAL_TOL, fmt=".3g"),
        check_value("train mode: median over probes of the max relative change", float(np.median(tr)), ">=",
                    TRAIN_MIN, fmt=".3g"),
    ]
    extra = {"sanity: eval output vs float64 moving-average formula (max rel. error)":
             f"{_pooled(results, 'manual_max_rel_err').max():.3g}",
             "probes × batches": f"{ev.size} × {results.config['n_batches']}"}
    return combine(checks, "In eval mode an example's output does not depend on the batch it is in (moving "
                           "averages), in train mode it does (batch statistics)", extra)


_COMMON = dict(hidden=[64, 64], lr=0.1)
EXPERIMENT = Experiment(
    id="bn-inference",
    title="Batch norm at test time: moving averages, one output per example",
    source=("004",),
    claim=("At test time batch norm normalizes with moving averages of μ and σ collected in training, so a "
           "single example gets a deterministic output whatever batch it is in."),
    presets={
        "test": dict(_COMMON, data="synthetic", n_train=64, n_test=64, steps=5, n_probe=3, n_batches=3,
                     max_batch=16, seeds=1),
        "quick": dict(_COMMON, data="fashion-mnist", n_train=2000, n_test=1000, steps=100, n_probe=20,
                      n_batches=10, max_batch=128, seeds=2),
        "full": dict(_COMMON, data="fashion-mnist", n_train=20000, n_test=10000, steps=2000, n_probe=200,
                     n_batches=20, max_batch=512, seeds=3),
    },
    run=run, plot=plot, verdict=verdict)
