"""batch-size: big batches take about as long per update on parallel hardware (so an epoch
is faster) but generalize worse; small noisy batches find flatter minima (seeds 000, 004;
Keskar et al. 2017, https://arxiv.org/abs/1609.04836).

Setting: an MLP 784 → 64 → 10 (ReLU, He init) on a Fashion-MNIST subset, trained by plain
SGD for the same number of *updates* (the lecture's framing: on parallel hardware an
update costs about the same at any batch size) at each batch size from 1 to the full
training set, each at its own best learning rate from a grid (validation loss, per seed).
Measured per batch size:

* time per update (forward + backward + SGD step) on this machine, the median of
  ``timing_repeats`` interleaved repeats, and time per epoch = time per update × updates
  per epoch; the device is saved (the lab runs on the CPU: one BLAS thread);
* test accuracy, and final training loss (convergence);
* sharpness: the top eigenvalue of the Hessian of the training loss on the whole training
  subset at the end (exact Hessian-vector products, power iteration;
  :func:`deeprecipe.diagnostics.hessian.sharpness`).

Decision (fixed from the claim's words before running), paired over seeds, comparing the
small batch ``small_batch`` with the full batch:
  * small batches generalize better: test accuracy(small) − test accuracy(full) > 0;
  * large batches end sharper: log(sharpness(full) / sharpness(small)) > 0;
  * an epoch is faster with the full batch: time per epoch(full) / time per epoch(1) < 1.
The "about as long per update" part needs parallel hardware: the measured ratio time per
update(full) / (1) is shown with the device, and not decided on a CPU.
"""
from __future__ import annotations

import math
import statistics
import time

import numpy as np

from ..experiment import Experiment
from ..plotting import color
from ..rules import check_diff, check_value, combine, mean_pair
from ._loop import pick_lr


def time_per_update(make_model, x, y, batch_sizes, repeats: int, lr: float = 0.01) -> dict:
    """Median seconds of one SGD update at each batch size, repeats interleaved across sizes."""
    from ... import Tensor
    from ... import functions as F
    from ..training import make_optimizer
    models = {b: make_model() for b in batch_sizes}
    opts = {b: make_optimizer(models[b], "sgd", lr) for b in batch_sizes}
    times = {b: [] for b in batch_sizes}
    for r in range(repeats + 1):  # the first round warms up (allocations, caches)
        for b in batch_sizes:
            xb, yb = Tensor(x[:b]), y[:b]
            t0 = time.perf_counter()
            opts[b].zero_grad()
            F.cross_entropy(models[b](xb), yb).backward()
            opts[b].step()
            if r:
                times[b].append(time.perf_counter() - t0)
    return {b: statistics.median(ts) for b, ts in times.items()}


def run(config, seed, ctx):
    from ... import nn
    from ...diagnostics.hessian import sharpness
    from ...lab.environment import device_info
    from ..data import image_data
    data = image_data(config["data"], n_train=config["n_train"], n_val=config["n_val"], n_test=config["n_test"],
                      seed=seed)
    n = len(data.y_train)
    sizes = [int(min(b, n)) for b in config["batch_sizes"]]

    def make():
        return nn.MLP([data.x_train.shape[1], *config["hidden"], data.n_classes], init="he", rng=seed)
    t_update = time_per_update(make, data.x_train, data.y_train, sizes, config["timing_repeats"])
    out = {"batch_sizes": sizes, "n_train": n, "device": device_info()["device"], "data": data.describe(),
           "time_per_update": [t_update[b] for b in sizes],
           "time_per_epoch": [t_update[b] * math.ceil(n / b) for b in sizes]}
    per = {k: [] for k in ("lr", "test_acc", "train_loss", "train_acc", "sharpness", "sharpness_converged")}
    curves = []
    for b in sizes:
        best = pick_lr(make, data, config["lrs"], steps=config["steps"], batch_size=b, seed=seed)
        eig = sharpness(best["model"], data.x_train, data.y_train, iters=config["power_iters"], tol=1e-3, rng=seed)
        per["lr"].append(best["lr"])
        per["test_acc"].append(best["final"]["test_acc"])
        per["train_loss"].append(best["final"]["train_loss"])
        per["train_acc"].append(best["final"]["train_acc"])
        per["sharpness"].append(float(eig.eigenvalue))
        per["sharpness_converged"].append(bool(eig.converged))
        curves.append(best["curves"]["step_loss"])
        ctx.log(f"batch {b}: lr {best['lr']}, test acc {best['final']['test_acc']:.4f}, sharpness {eig.eigenvalue:.3g}")
    out.update({k: np.asarray(v) for k, v in per.items()})
    out["step_loss"] = np.stack([np.pad(c, (0, config["steps"] - len(c)), constant_values=np.nan) for c in curves])
    return out


def _idx(results):
    sizes = list(results.first("batch_sizes"))
    small = sizes.index(min(results.config["small_batch"], max(sizes)))
    return sizes, small, sizes.index(max(sizes)), sizes.index(min(sizes))


def plot(results, fig):
    fig.set_size_inches(14, 4)
    axes = fig.subplots(1, 3)
    sizes, *_ = _idx(results)
    x = np.arange(len(sizes))
    for key, ax, title in (("time_per_update", axes[0], "time (s)"), ("sharpness", axes[2], "top Hessian eigenvalue")):
        v = results.stack(key)
        ax.errorbar(x, v.mean(0), yerr=v.std(0) if len(v) > 1 else None, marker="o", color=color(0), label=key)
        ax.set(xticks=x, xticklabels=[str(s) for s in sizes], xlabel="batch size", ylabel=title, yscale="log")
    axes[0].plot(x, results.stack("time_per_epoch").mean(0), marker="s", color=color(1), label="time_per_epoch")
    axes[0].legend()
    axes[0].set_title(f"timing on {results.first('device')}")
    axes[2].set_title("sharpness at the end")
    acc = results.stack("test_acc")
    axes[1].errorbar(x, acc.mean(0), yerr=acc.std(0) if len(acc) > 1 else None, marker="o", color=color(2),
                     label="test accuracy")
    axes[1].plot(x, results.stack("train_acc").mean(0), marker="s", color=color(3), label="train accuracy")
    axes[1].set(xticks=x, xticklabels=[str(s) for s in sizes], xlabel="batch size", title="accuracy")
    axes[1].legend()


def verdict(results):
    sizes, small, full, one = _idx(results)
    acc, sharp = results.stack("test_acc"), results.stack("sharpness")
    tpe, tpu = results.stack("time_per_epoch"), results.stack("time_per_update")
    log_sharp = np.log(np.maximum(sharp[:, full], 1e-300) / np.maximum(sharp[:, small], 1e-300))
    epoch_ratio = float(np.median(tpe[:, full] / tpe[:, one]))
    checks = [
        check_diff(f"test acc: batch {sizes[small]} - full batch {sizes[full]}", acc[:, small], acc[:, full], ">", 0.0),
        check_diff(f"log sharpness: full batch / batch {sizes[small]}", log_sharp, np.zeros_like(log_sharp), ">", 0.0),
        check_value(f"time per epoch: full batch / batch {sizes[one]}", epoch_ratio, "<", 1.0, fmt=".3g"),
    ]
    extra = {
        f"time per update full / batch {sizes[one]} ({results.first('device')})":
            f"{float(np.median(tpu[:, full] / tpu[:, one])):.3g}x (the 'about the same on parallel hardware' "
            "part needs a GPU; not decided here)",
        f"sharpness batch {sizes[small]} / full": mean_pair(sharp[:, small], sharp[:, full], ".4g"),
        f"final train loss batch {sizes[small]} / full": mean_pair(results.stack("train_loss")[:, small],
                                                                  results.stack("train_loss")[:, full]),
        "power iteration converged": f"{int(results.stack('sharpness_converged').sum())}/{sharp.size}",
    }
    return combine(checks, "Small batches reach a higher test accuracy and a flatter minimum (lower top Hessian "
                           "eigenvalue) than the full batch at the same number of updates, each at its best "
                           "learning rate; an epoch takes less time with the full batch", extra)


EXPERIMENT = Experiment(
    id="batch-size",
    title="Batch size: time per update, generalization, sharpness",
    source=("000", "004"),
    claim=("Big batches take about as long per update on parallel hardware (so an epoch is faster) but "
           "generalize worse; small noisy batches find flatter minima."),
    presets={
        "test": dict(data="synthetic", n_train=64, n_val=32, n_test=64, hidden=[8], batch_sizes=[1, 8, 64],
                     small_batch=8, lrs=[0.1], steps=8, timing_repeats=2, power_iters=5, seeds=2),
        "quick": dict(data="fashion-mnist", n_train=500, n_val=500, n_test=2000, hidden=[64],
                      batch_sizes=[1, 16, 500], small_batch=16, lrs=[0.01, 0.05, 0.25], steps=800,
                      timing_repeats=15, power_iters=40, seeds=2),
        "full": dict(data="fashion-mnist", n_train=5000, n_val=1000, n_test=10000, hidden=[256],
                     batch_sizes=[1, 16, 128, 1024, 5000], small_batch=16, lrs=[0.003, 0.01, 0.03, 0.1, 0.3],
                     steps=5000, timing_repeats=30, power_iters=100, seeds=3),
    },
    run=run, plot=plot, verdict=verdict)
