"""early-stopping: stop where the validation loss is lowest, not where the training loss is
(seeds 000, 001).

The lecture: the training loss keeps falling, while the loss on unseen data turns up; one
should stop where the loss on the *testing* data is lowest — but as the test set is
unknown, a validation set stands in for it.

Setting: a small training set with a separate validation split, an MLP (ReLU, He init)
trained by Adam for a long run; after every epoch the loss and accuracy on the training,
validation and test sets are recorded (eval mode).  From the saved curves:

* the early-stopping epoch: the epoch of the lowest validation loss (the first one on ties);
* for comparison, the end of the run (where the training loss is lowest) and the epoch a
  patience rule would restore (Keras's ``EarlyStopping(monitor='val_loss', patience=P,
  restore_best_weights=True)``: stop after P epochs without improvement, keep the best).

Decision (fixed from the claim's words before running), paired over seeds with 95% intervals:
  * the run is long enough: in every seed the validation loss is lowest before the last
    epoch (otherwise there is nothing to stop early and the verdict is inconclusive,
    whatever the other numbers);
  * the test loss at the early-stopping epoch is lower than at the end (interval of
    end − stop above 0);
  * the test accuracy at the early-stopping epoch is higher than at the end (interval of
    stop − end above 0).
"""
from __future__ import annotations

import numpy as np

from ..experiment import HOLDS, INCONCLUSIVE, Experiment
from ..plotting import color, plot_band
from ..rules import Check, check_diff, combine, mean_pair


def best_index(val_loss) -> int:
    """Index of the lowest validation loss (first on ties; NaN never wins)."""
    v = np.asarray(val_loss, dtype=np.float64)
    return int(np.nanargmin(np.where(np.isfinite(v), v, np.inf))) if np.isfinite(v).any() else len(v) - 1


def patience_index(val_loss, patience: int) -> tuple:
    """What ``EarlyStopping(patience, restore_best_weights=True)`` does on this curve:
    ``(index of the restored best epoch, index at which training stops)``."""
    best, best_i, wait = np.inf, 0, 0
    for i, v in enumerate(np.asarray(val_loss, dtype=np.float64)):
        if v < best:
            best, best_i, wait = v, i, 0
        else:
            wait += 1
            if wait >= patience:
                return best_i, i
    return best_i, len(val_loss) - 1


def run(config, seed, ctx):
    from ..data import image_data
    from ..training import train_classifier
    data = image_data(config["data"], n_train=config["n_train"], n_val=config["n_val"], n_test=config["n_test"],
                      seed=seed)
    m, _ = train_classifier(data, hidden=config["hidden"], activation="relu", init="he",
                            optimizer=config["optimizer"], lr=config["lr"], epochs=config["epochs"],
                            batch_size=config["batch_size"], seed=seed, eval_every=1, progress=ctx.progress)
    m["data"] = data.describe()
    return m


def _at(results, key, idx):
    return np.array([np.asarray(results.get(r, key))[i] for r, i in zip(results.runs, idx)], dtype=np.float64)


def summary(results) -> dict:
    """Per-seed arrays: chosen (min val loss), patience-restored and last indices, and the
    test accuracy/loss at each."""
    val = [np.asarray(results.get(r, "curves.val_loss")) for r in results.runs]
    epochs = [np.asarray(results.get(r, "curves.epoch")) for r in results.runs]
    patience = int(results.config.get("patience", 5))
    stop = np.array([best_index(v) for v in val])
    pat = np.array([patience_index(v, patience)[0] for v in val])
    pat_end = np.array([patience_index(v, patience)[1] for v in val])
    last = np.array([len(v) - 1 for v in val])
    out = {"stop": stop, "patience": pat, "last": last,
           "stop_epoch": np.array([e[i] for e, i in zip(epochs, stop)]),
           "patience_epoch": np.array([e[i] for e, i in zip(epochs, pat)]),
           "patience_stopped_at": np.array([e[i] for e, i in zip(epochs, pat_end)]),
           "last_epoch": np.array([e[i] for e, i in zip(epochs, last)]),
           "train_loss_min_epoch": np.array([np.asarray(results.get(r, "curves.epoch"))[
               int(np.nanargmin(results.get(r, "curves.train_loss")))] for r in results.runs])}
    for name, idx in (("stop", stop), ("patience", pat), ("last", last)):
        out[f"test_acc_{name}"] = _at(results, "curves.test_acc", idx)
        out[f"test_loss_{name}"] = _at(results, "curves.test_loss", idx)
    return out


def plot(results, fig):
    fig.set_size_inches(12, 4.5)
    a1, a2 = fig.subplots(1, 2)
    epochs = np.asarray(results.first("curves.epoch"))
    s = summary(results)
    for i, split in enumerate(("train", "val", "test")):
        plot_band(a1, epochs, results.stack(f"curves.{split}_loss"), label=f"{split} loss", color=color(i))
    for e in s["stop_epoch"]:
        a1.axvline(e, color="gray", linestyle=":", linewidth=1)
    a1.axvline(np.nan, color="gray", linestyle=":", label="min validation loss (per seed)")
    a1.set_yscale("log")
    a1.set_xlabel("epoch")
    a1.set_ylabel("cross-entropy loss")
    a1.grid(alpha=0.3)
    a1.legend(fontsize=8)
    c = results.config
    a1.set_title(f"{c.get('n_train')} train / {c.get('n_val')} val images, MLP {c.get('hidden')}, "
                 f"{c.get('optimizer')} lr {c.get('lr')}", fontsize=10)
    plot_band(a2, epochs, results.stack("curves.test_acc"), label="test accuracy", color=color(2))
    plot_band(a2, epochs, results.stack("curves.val_acc"), label="validation accuracy", color=color(1),
              linestyle="--")
    a2.scatter(s["stop_epoch"], s["test_acc_stop"], color="black", zorder=3, label="at min validation loss")
    a2.scatter(s["last_epoch"], s["test_acc_last"], color=color(3), marker="s", zorder=3, label="at the end")
    a2.set_xlabel("epoch")
    a2.set_ylabel("accuracy")
    a2.grid(alpha=0.3)
    a2.legend(fontsize=8, loc="lower right")
    a2.set_title(f"mean ± 95% CI over {results.n} seeds; points: each seed", fontsize=10)


def verdict(results):
    s = summary(results)
    early = s["stop"] < s["last"]
    long_enough = Check("the validation loss is lowest before the last epoch in every seed",
                        HOLDS if early.all() else INCONCLUSIVE,
                        {"seeds with an interior validation-loss minimum": f"{int(early.sum())}/{early.size}"})
    comparisons = [check_diff("test loss: end - early stop", s["test_loss_last"], s["test_loss_stop"], ">", 0.0),
                   check_diff("test acc: early stop - end", s["test_acc_stop"], s["test_acc_last"], ">", 0.0)]
    # where the minimum is the last epoch, "stop there" and "the end" coincide: nothing is tested
    checks = [long_enough] + (comparisons if early.all() else [])
    extra = {
        "early-stopping epoch (min val loss)": ", ".join(str(int(e)) for e in s["stop_epoch"]),
        "last epoch (min train loss at epoch)": f"{int(s['last_epoch'][0])} "
                                                f"({', '.join(str(int(e)) for e in s['train_loss_min_epoch'])})",
        "test acc at early stop / at end": mean_pair(s['test_acc_stop'], s['test_acc_last']),
        "test loss at early stop / at end": mean_pair(s['test_loss_stop'], s['test_loss_last']),
        f"patience {int(results.config.get('patience', 5))}: restored epoch, test acc":
            f"{', '.join(str(int(e)) for e in s['patience_epoch'])}; {s['test_acc_patience'].mean():.4f}",
    }
    return combine(checks, "Stopping at the epoch of the lowest validation loss gives a lower test loss and a "
                           "higher test accuracy than training to the end, where the training loss is lowest "
                           "(paired over seeds)", extra)


EXPERIMENT = Experiment(
    id="early-stopping",
    title="Early stopping on the validation loss",
    source=("000", "001"),
    claim=("Stop training where the loss on a validation set (standing in for the unknown test set) is lowest, "
           "not where the training loss is lowest: the test results are better there."),
    presets={
        "test": dict(data="synthetic", n_train=60, n_val=60, n_test=100, hidden=[32], optimizer="adam", lr=0.01,
                     batch_size=20, epochs=8, patience=2, seeds=2),
        "quick": dict(data="fashion-mnist", n_train=1000, n_val=500, n_test=2000, hidden=[100, 100],
                      optimizer="adam", lr=1e-3, batch_size=100, epochs=100, patience=5, seeds=5),
        "full": dict(data="fashion-mnist", n_train=8000, n_val=2000, n_test=10000, hidden=[500, 500],
                     optimizer="adam", lr=1e-3, batch_size=100, epochs=100, patience=5, seeds=5),
    },
    run=run, plot=plot, verdict=verdict)
