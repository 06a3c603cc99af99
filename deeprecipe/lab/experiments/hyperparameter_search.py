"""hyperparameter-search: random search of the learning rate and weight decay on a log scale,
judged on a validation set, narrowing the range round by round; the test set is used once,
at the end (seeds 003, 004; Saito ch06/hyperparameter_optimization.py).

Setting (the book's): 500 training images of which 20% are held out for validation,
an MLP 784 → 6 × 100 (ReLU, He init) → 10 trained by SGD, batch 100, 50 epochs, with
lr = 10^U(−6, −2) and L2 weight decay λ = 10^U(−8, −4) drawn at random (100 trials);
each trial is scored by its final validation accuracy.  The book then narrows the range
to where the best results lie and searches again; here that is automated: after each
round the new range of each hyperparameter (in log10) spans the ``top_k`` best trials
of that round, and ``rounds`` rounds are run.

The search never sees the test set: its trials are trained on the training part and
evaluated on the validation part only.  After the last round the configuration with the
best validation accuracy (of all rounds; ties → lower validation loss) is evaluated on
the test set, once.

Decision (fixed from the claim's words before running), over seeds (each seed repeats the
whole search on another data subset): narrowing the range concentrates the search where
the good settings are — the mean validation accuracy of the last round's trials minus that
of the first round's trials has its 95% interval above 0 (below 0 refutes it).
Reported, not deciding: the ranges per round; the best validation accuracy of the
narrowed rounds vs the first round's best (a maximum over few noisy trials, too noisy to
decide on a handful of seeds); the chosen configuration, its validation accuracy and its
one test accuracy (the gap between the two shows the optimism of picking the best of many
trials on the same validation set).
"""
from __future__ import annotations

import numpy as np

from ..experiment import Experiment
from ..plotting import color
from ..rules import check_diff, combine, mean_pair


def next_range(log_values, scores, top_k: int) -> list:
    """[low, high] (log10) spanned by the ``top_k`` best-scoring trials of a round."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")[:int(top_k)]
    v = np.asarray(log_values, dtype=np.float64)[order]
    return [float(v.min()), float(v.max())]


def _search_view(data):
    """The data a trial may see: the training part, and the validation part in the role of
    the held-out split that ``train_classifier`` evaluates (the test set is left out)."""
    from ..data import ImageData
    empty_x, empty_y = data.x_val[:0], data.y_val[:0]
    return ImageData(data.x_train, data.y_train, empty_x, empty_y, data.x_val, data.y_val, data.source,
                     data.n_classes)


def run(config, seed, ctx):
    from ...train import evaluate
    from ..data import image_data
    from ..training import train_classifier
    n_total = int(config["n_examples"])
    n_val = int(round(n_total * config["val_fraction"]))
    data = image_data(config["data"], n_train=n_total - n_val, n_val=n_val, n_test=config["n_test"], seed=seed)
    view = _search_view(data)
    rounds, trials = int(config["rounds"]), int(config["trials"])
    lr_range, wd_range = list(map(float, config["log10_lr"])), list(map(float, config["log10_wd"]))
    log_lr = np.zeros((rounds, trials))
    log_wd = np.zeros((rounds, trials))
    val_acc = np.zeros((rounds, trials))
    val_loss = np.zeros((rounds, trials))
    train_acc = np.zeros((rounds, trials))
    ranges_lr, ranges_wd = [], []
    best = None                                   # (val_acc, -val_loss, round, trial, model)
    bar = ctx.progress(rounds * trials, "trials")
    for r in range(rounds):
        ranges_lr.append(list(lr_range))
        ranges_wd.append(list(wd_range))
        for t in range(trials):
            log_lr[r, t] = ctx.rng.uniform(*lr_range)
            log_wd[r, t] = ctx.rng.uniform(*wd_range)
            m, model = train_classifier(view, hidden=config["hidden"], activation="relu", init="he",
                                        optimizer="sgd", lr=10.0 ** log_lr[r, t], weight_decay=10.0 ** log_wd[r, t],
                                        epochs=config["epochs"], batch_size=config["batch_size"],
                                        seed=seed * 100_003 + r * trials + t, eval_every=config["epochs"])
            # "test_*" of the view is the validation part (see _search_view)
            va, vl = m["final"]["test_acc"], m["final"]["test_loss"]
            va = 0.0 if not np.isfinite(va) else va
            vl = np.inf if not np.isfinite(vl) else vl
            val_acc[r, t], val_loss[r, t], train_acc[r, t] = va, vl, m["final"]["train_acc"]
            key = (va, -vl)
            if best is None or key > best[:2]:
                best = (va, -vl, r, t, model)
            bar.update(1)
        lr_range = next_range(log_lr[r], val_acc[r], config["top_k"])
        wd_range = next_range(log_wd[r], val_acc[r], config["top_k"])
    bar.close()
    _, _, br, bt, model = best
    test = evaluate(model, data.x_test, data.y_test)        # the one look at the test set
    return {
        "log10_lr": log_lr, "log10_wd": log_wd, "val_acc": val_acc, "val_loss": val_loss, "train_acc": train_acc,
        "range_log10_lr": np.asarray(ranges_lr), "range_log10_wd": np.asarray(ranges_wd),
        "chosen": {"round": br + 1, "trial": bt, "log10_lr": float(log_lr[br, bt]),
                   "log10_wd": float(log_wd[br, bt]), "val_acc": float(val_acc[br, bt]),
                   "val_loss": float(val_loss[br, bt]), "test_acc": float(test["accuracy"]),
                   "test_loss": float(test["loss"])},
        "test_set_evaluations": 1,
        "data": data.describe(),
    }


def round_stats(results) -> dict:
    """Per-seed arrays: mean and best validation accuracy of the first round, the last round
    and rounds 2..R."""
    acc = results.stack("val_acc")                 # (seeds, rounds, trials)
    return {"mean_first": acc[:, 0].mean(axis=1), "mean_last": acc[:, -1].mean(axis=1),
            "best_first": acc[:, 0].max(axis=1), "best_later": acc[:, 1:].reshape(acc.shape[0], -1).max(axis=1)
            if acc.shape[1] > 1 else np.full(acc.shape[0], np.nan)}


def plot(results, fig):
    from matplotlib.patches import Rectangle
    fig.set_size_inches(13, 4.8)
    a1, a2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.3, 1]})
    lr = np.asarray(results.first("log10_lr"))
    wd = np.asarray(results.first("log10_wd"))
    acc = np.asarray(results.first("val_acc"))
    rlr = np.asarray(results.first("range_log10_lr"))
    rwd = np.asarray(results.first("range_log10_wd"))
    for r in range(acc.shape[0]):
        c = color(r)
        a1.add_patch(Rectangle((rlr[r, 0], rwd[r, 0]), rlr[r, 1] - rlr[r, 0], rwd[r, 1] - rwd[r, 0], fill=False,
                               edgecolor=c, linestyle="--", linewidth=1))
        sc = a1.scatter(lr[r], wd[r], c=acc[r], cmap="viridis", vmin=0, vmax=max(acc.max(), 1e-9),
                        edgecolors=c, s=28 + 10 * r, label=f"round {r + 1}")
    ch = results.first("chosen")
    a1.scatter([ch["log10_lr"]], [ch["log10_wd"]], marker="*", s=250, color="red", edgecolors="black",
               label="chosen", zorder=4)
    fig.colorbar(sc, ax=a1, label="validation accuracy")
    a1.set_xlabel("log10 learning rate")
    a1.set_ylabel("log10 weight decay")
    a1.legend(fontsize=8, loc="lower left")
    a1.set_title("seed 0: trials and the range of each round (dashed boxes)", fontsize=10)
    acc_all = results.stack("val_acc")
    rounds = np.arange(1, acc_all.shape[1] + 1)
    for s in range(results.n):
        a2.plot(rounds, acc_all[s].mean(axis=1), color=color(s), marker="o", label=f"seed {results.seeds[s]}: mean")
        a2.plot(rounds, acc_all[s].max(axis=1), color=color(s), marker="^", linestyle="--",
                label=f"seed {results.seeds[s]}: best")
    tests = results.values("chosen.test_acc")
    a2.scatter(np.full(results.n, rounds[-1] + 0.35), tests, marker="s", color="black",
               label="chosen config: test acc (once)")
    a2.set_xticks(list(rounds) + [rounds[-1] + 0.35], [str(r) for r in rounds] + ["test"])
    a2.set_xlabel("round")
    a2.set_ylabel("validation accuracy")
    a2.set_ylim(0, 1)
    a2.grid(alpha=0.3)
    a2.legend(fontsize=7, ncol=2, loc="lower right")
    a2.set_title("validation accuracy of each round's trials", fontsize=10)


def verdict(results):
    st = round_stats(results)
    checks = [check_diff("mean val acc: last round - first round", st["mean_last"], st["mean_first"], ">", 0.0)]
    rlr, rwd = results.stack("range_log10_lr"), results.stack("range_log10_wd")

    def fmt_ranges(rr):
        return " → ".join(f"[{lo:.2f}, {hi:.2f}]" for lo, hi in rr)

    va, te = results.values("chosen.val_acc"), results.values("chosen.test_acc")
    extra = {
        "log10 lr range per round (seed 0)": fmt_ranges(rlr[0]),
        "log10 wd range per round (seed 0)": fmt_ranges(rwd[0]),
        "mean val acc first / last round": mean_pair(st['mean_first'], st['mean_last']),
        "best val acc round 1 / rounds 2..": mean_pair(st['best_first'], st['best_later']),
        "chosen lr, wd (per seed)": "; ".join(f"{10 ** a:.3g}, {10 ** b:.3g}" for a, b in
                                             zip(results.values("chosen.log10_lr"), results.values("chosen.log10_wd"))),
        "chosen config: val acc / test acc (reported once)": mean_pair(va, te),
        "test-set evaluations per search": int(results.values("test_set_evaluations").max()),
    }
    return combine(checks, "Narrowing the log-scale ranges round by round, judged on the validation set only, "
                           "raises the mean validation accuracy of the trials; the test set is evaluated once, for "
                           "the chosen configuration",
                   extra)


_BOOK = dict(data="fashion-mnist", n_examples=500, val_fraction=0.2, n_test=10000, hidden=[100] * 6,
             batch_size=100, log10_lr=[-6.0, -2.0], log10_wd=[-8.0, -4.0])

EXPERIMENT = Experiment(
    id="hyperparameter-search",
    title="Hyperparameter search on a validation set",
    source=("003", "004"),
    claim=("Search the learning rate and weight decay at random on a log scale, judged on a validation set, and "
           "narrow the range round by round; never tune on the test set (use it once, at the end)."),
    presets={
        "test": dict(data="synthetic", n_examples=100, val_fraction=0.2, n_test=100, hidden=[16, 16],
                     batch_size=20, log10_lr=[-4.0, 0.0], log10_wd=[-8.0, -4.0], epochs=2, rounds=2, trials=4,
                     top_k=2, seeds=2),
        "quick": dict(_BOOK, n_test=2000, epochs=50, rounds=3, trials=8, top_k=2, seeds=2),
        "full": dict(_BOOK, epochs=50, rounds=3, trials=100, top_k=20, seeds=3),
    },
    run=run, plot=plot, verdict=verdict)
