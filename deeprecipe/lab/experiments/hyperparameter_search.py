"""hyperparameter-search: random search of the learning rate and weight decay on a log scale,
judged on a validation set, narrowing the range round by round, finds better settings than
plain random search of the same budget; the test set is used once, at the end (seeds 003,
004; Saito ch06/hyperparameter_optimization.py).

Setting (the book's): 500 training images of which 20% are held out for validation,
an MLP 784 → 6 × 100 (ReLU, He init) → 10 trained by SGD, batch 100, 50 epochs, with
lr = 10^U(−6, −2) and L2 weight decay λ = 10^U(−8, −4) drawn at random; each trial is
scored by its final validation accuracy.  The book then narrows the range to where the
best results lie and searches again.  Here, per seed (another data subset):

* round 1: ``trials`` trials drawn from the book's ranges — shared by both methods;
* **narrowing**: rounds 2..``rounds`` draw ``trials`` trials each from a range that spans,
  per hyperparameter (log10), the best ``keep`` share (top quantile) of the previous
  round's trials — never narrower than ``min_width`` decades (a narrower span is widened
  about its centre, staying inside the book's range), so the range is never collapsed to
  a point;
* **plain random search**: the same number of further trials, (``rounds`` − 1)·``trials``,
  from the book's ranges.

Both methods therefore spend the same total budget, ``rounds``·``trials`` trainings, and
share round 1 (paired: the comparison is about what narrowing does with the rest).

The search never sees the test set: trials are trained on the training part and scored on
the validation part; the test arrays are held by a :class:`CountingTestSet` that counts
every evaluation made with them.  After the search the narrowing method's best
configuration (highest validation accuracy; ties → lower validation loss) is evaluated on
it — the count is measured, not written down.

Decision (fixed from the claim's words before running), over seeds: the best validation
accuracy found by narrowing minus that found by plain random search, paired by seed, has
its 95% interval above 0 (below 0: plain search does better, the claim does not hold;
across 0: inconclusive).  Sanity check beside the verdict: the test set was evaluated
exactly once per search (a property of this code, not of nature).  Reported: the ranges
per round, the chosen configuration, its validation and its one test accuracy (their gap
shows the optimism of picking the best of many trials on one validation set).

The rule was changed from "the last round's mean validation accuracy beats the first's"
(which holds by selection alone: later rounds only sample near the best trials) to this
comparison at equal budget before any run of the new code.  The ``full`` preset runs 3
rounds of 34 trials, about the book's 100 trials per method.  The ``quick`` preset was first
3 rounds of 6 trials of 50 epochs (verdict: inconclusive, −0.05 ± 0.075, in 54 s); it was
cut to 5 trials of 20 epochs to stay near 20 s — for time, after seeing that verdict.  With
20 epochs most trials stay at chance accuracy, so ties in validation accuracy are broken
by validation loss when a round's best trials are picked (added after that second run,
−0.16 ± 0.36, inconclusive, since ranking ties by order alone could narrow onto arbitrary
trials; the rerun with it gave the same numbers — no tie reached the picked trials there).
"""
from __future__ import annotations

import numpy as np

from ..experiment import Experiment
from ..plotting import color
from ..rules import check_diff, check_value, combine, mean_pair


def next_range(log_values, scores, keep: float, min_width: float, bounds, losses=None) -> list:
    """[low, high] (log10) spanned by the best ``keep`` share (at least 2) of a round's trials,
    widened about its centre to at least ``min_width`` and kept inside ``bounds``.

    Trials are ranked by ``scores`` (validation accuracy), ties by ``losses`` (validation
    loss, lower first) — many trials of a round can sit at chance accuracy."""
    v = np.asarray(log_values, dtype=np.float64)
    k = max(2, int(np.ceil(float(keep) * v.size)))
    tie = np.zeros(v.size) if losses is None else np.nan_to_num(np.asarray(losses, np.float64), nan=np.inf)
    order = np.lexsort((tie, -np.asarray(scores, dtype=np.float64)))[:k]
    lo, hi = float(v[order].min()), float(v[order].max())
    b_lo, b_hi = float(bounds[0]), float(bounds[1])
    width = min(max(hi - lo, float(min_width)), b_hi - b_lo)
    centre = 0.5 * (lo + hi)
    lo = min(max(centre - width / 2, b_lo), b_hi - width)
    return [lo, lo + width]


class CountingTestSet:
    """The test split, reachable only through :meth:`evaluate`, which counts its calls."""

    def __init__(self, x, y):
        self._x, self._y = x, y
        self.evaluations = 0

    def shares_memory_with(self, *arrays) -> bool:
        return any(np.shares_memory(a, self._x) or np.shares_memory(a, self._y) for a in arrays)

    def evaluate(self, model) -> dict:
        from ...train import evaluate
        self.evaluations += 1
        return evaluate(model, self._x, self._y)


def _search_view(data):
    """The data a trial may see: the training part, and the validation part in the role of
    the held-out split that ``train_classifier`` evaluates (no test arrays at all)."""
    from ..data import ImageData
    empty_x, empty_y = data.x_val[:0], data.y_val[:0]
    return ImageData(data.x_train, data.y_train, empty_x, empty_y, data.x_val, data.y_val, data.source,
                     data.n_classes)


def _trial(view, config, seed, log_lr, log_wd) -> tuple:
    from ..training import train_classifier
    m, model = train_classifier(view, hidden=config["hidden"], activation="relu", init="he", optimizer="sgd",
                                lr=10.0 ** log_lr, weight_decay=10.0 ** log_wd, epochs=config["epochs"],
                                batch_size=config["batch_size"], seed=seed, eval_every=config["epochs"])
    va, vl = m["final"]["test_acc"], m["final"]["test_loss"]   # the view's "test" is the validation part
    return (va if np.isfinite(va) else 0.0), (vl if np.isfinite(vl) else np.inf), model


def run(config, seed, ctx):
    from ..data import image_data
    n_total = int(config["n_examples"])
    n_val = int(round(n_total * config["val_fraction"]))
    data = image_data(config["data"], n_train=n_total - n_val, n_val=n_val, n_test=config["n_test"], seed=seed)
    test_set = CountingTestSet(data.x_test, data.y_test)
    view = _search_view(data)
    rounds, trials = int(config["rounds"]), int(config["trials"])
    lr_bounds, wd_bounds = list(map(float, config["log10_lr"])), list(map(float, config["log10_wd"]))
    shape = (rounds, trials)
    log_lr, log_wd, val_acc, val_loss = (np.zeros(shape) for _ in range(4))
    plain = {k: np.zeros((rounds - 1, trials)) for k in ("log10_lr", "log10_wd", "val_acc")}
    ranges_lr, ranges_wd = [], []
    best = None                                  # (val_acc, -val_loss, round, trial, model)
    lr_range, wd_range = list(lr_bounds), list(wd_bounds)
    bar = ctx.progress(trials * (2 * rounds - 1), "trials")
    t_seed = seed * 100_003
    for r in range(rounds):
        ranges_lr.append(list(lr_range))
        ranges_wd.append(list(wd_range))
        for t in range(trials):
            log_lr[r, t], log_wd[r, t] = ctx.rng.uniform(*lr_range), ctx.rng.uniform(*wd_range)
            va, vl, model = _trial(view, config, t_seed, log_lr[r, t], log_wd[r, t])
            t_seed += 1
            val_acc[r, t], val_loss[r, t] = va, vl
            if best is None or (va, -vl) > best[:2]:
                best = (va, -vl, r, t, model)
            bar.update(1)
        lr_range = next_range(log_lr[r], val_acc[r], config["keep"], config["min_width"], lr_bounds, val_loss[r])
        wd_range = next_range(log_wd[r], val_acc[r], config["keep"], config["min_width"], wd_bounds, val_loss[r])
    for r in range(rounds - 1):                  # plain random search: the same budget from the book's ranges
        for t in range(trials):
            a, b = ctx.rng.uniform(*lr_bounds), ctx.rng.uniform(*wd_bounds)
            plain["log10_lr"][r, t], plain["log10_wd"][r, t] = a, b
            plain["val_acc"][r, t] = _trial(view, config, t_seed, a, b)[0]
            t_seed += 1
            bar.update(1)
    bar.close()
    _, _, br, bt, model = best
    test = test_set.evaluate(model)              # the one look at the test set
    return {
        "log10_lr": log_lr, "log10_wd": log_wd, "val_acc": val_acc, "val_loss": val_loss,
        "range_log10_lr": np.asarray(ranges_lr), "range_log10_wd": np.asarray(ranges_wd),
        "plain": plain,
        "best_val_acc": {"narrowing": float(val_acc.max()),
                         "plain": float(max(val_acc[0].max(), plain["val_acc"].max(initial=0.0)))},
        "chosen": {"round": br + 1, "trial": bt, "log10_lr": float(log_lr[br, bt]),
                   "log10_wd": float(log_wd[br, bt]), "val_acc": float(val_acc[br, bt]),
                   "val_loss": float(val_loss[br, bt]), "test_acc": float(test["accuracy"]),
                   "test_loss": float(test["loss"])},
        "test_set_evaluations": int(test_set.evaluations),
        "trial_data_shares_test_memory": bool(test_set.shares_memory_with(
            view.x_train, view.y_train, view.x_test, view.y_test)),
        "data": data.describe(),
    }


def plot(results, fig):
    from matplotlib.patches import Rectangle
    fig.set_size_inches(13, 4.8)
    a1, a2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.3, 1]})
    lr, wd = np.asarray(results.first("log10_lr")), np.asarray(results.first("log10_wd"))
    rlr, rwd = np.asarray(results.first("range_log10_lr")), np.asarray(results.first("range_log10_wd"))
    acc = np.asarray(results.first("val_acc"))
    a1.scatter(np.ravel(results.first("plain.log10_lr")), np.ravel(results.first("plain.log10_wd")), marker="x",
               color="gray", s=18, label="plain random search")
    for r in range(acc.shape[0]):
        c = color(r)
        a1.add_patch(Rectangle((rlr[r, 0], rwd[r, 0]), rlr[r, 1] - rlr[r, 0], rwd[r, 1] - rwd[r, 0], fill=False,
                               edgecolor=c, linestyle="--", linewidth=1.2))
        a1.scatter(lr[r], wd[r], color=c, s=14 + 30 * acc[r], label=f"round {r + 1} (size ∝ val acc)")
    ch = results.first("chosen")
    a1.scatter([ch["log10_lr"]], [ch["log10_wd"]], marker="*", s=250, color="red", edgecolors="black",
               label="chosen", zorder=4)
    a1.set_xlabel("log10 learning rate")
    a1.set_ylabel("log10 weight decay")
    a1.legend(fontsize=7, loc="lower left")
    a1.set_title(f"seed {results.seeds[0]}: sampled points and the range of each round (dashed)", fontsize=10)
    nar, pla = results.values("best_val_acc.narrowing"), results.values("best_val_acc.plain")
    for s in range(results.n):
        a2.plot([0, 1], [pla[s], nar[s]], color=color(s), marker="o", label=f"seed {results.seeds[s]}")
    a2.scatter(np.full(results.n, 1.25), results.values("chosen.test_acc"), marker="s", color="black",
               label="chosen config: test acc (once)")
    a2.set_xticks([0, 1, 1.25], ["plain random", "narrowing", "test"])
    a2.set_xlim(-0.3, 1.5)
    a2.set_ylabel("best validation accuracy")
    a2.grid(alpha=0.3)
    a2.legend(fontsize=7, loc="lower right")
    a2.set_title("same budget: best validation accuracy found", fontsize=10)


def verdict(results):
    nar, pla = results.values("best_val_acc.narrowing"), results.values("best_val_acc.plain")
    checks = [check_diff("best val acc: narrowing - plain random search", nar, pla, ">", 0.0)]
    n_eval = results.values("test_set_evaluations")
    sanity = [check_value("max over seeds |test-set evaluations per search - 1| (counted)",
                          float(np.max(np.abs(n_eval - 1))), "<=", 0.0),
              check_value("trial data sharing memory with the test set (seeds)",
                          float(results.values("trial_data_shares_test_memory").sum()), "<=", 0.0)]
    rlr, rwd = results.stack("range_log10_lr"), results.stack("range_log10_wd")

    def fmt_ranges(rr):
        return " → ".join(f"[{lo:.2f}, {hi:.2f}]" for lo, hi in rr)

    va, te = results.values("chosen.val_acc"), results.values("chosen.test_acc")
    extra = {
        "best val acc narrowing / plain": mean_pair(nar, pla),
        "log10 lr range per round (seed 0)": fmt_ranges(rlr[0]),
        "log10 wd range per round (seed 0)": fmt_ranges(rwd[0]),
        "chosen lr, wd (per seed)": "; ".join(f"{10 ** a:.3g}, {10 ** b:.3g}" for a, b in
                                             zip(results.values("chosen.log10_lr"), results.values("chosen.log10_wd"))),
        "chosen config: val acc / test acc (reported once)": mean_pair(va, te),
        "test-set evaluations per search": "/".join(str(int(v)) for v in n_eval),
    }
    return combine(checks, "At the same total number of trainings, narrowing the log-scale ranges round by round "
                           "(judged on the validation set only) finds a higher best validation accuracy than plain "
                           "random search over the original ranges", extra, sanity=sanity)


_BOOK = dict(data="fashion-mnist", n_examples=500, val_fraction=0.2, n_test=10000, hidden=[100] * 6,
             batch_size=100, log10_lr=[-6.0, -2.0], log10_wd=[-8.0, -4.0], keep=0.25, min_width=0.5)

EXPERIMENT = Experiment(
    id="hyperparameter-search",
    title="Hyperparameter search: narrowing vs plain random search",
    source=("003", "004"),
    claim=("Search the learning rate and weight decay at random on a log scale, judged on a validation set, and "
           "narrow the range round by round — this finds better settings than searching the whole range for as "
           "long; never tune on the test set (use it once, at the end)."),
    presets={
        "test": dict(data="synthetic", n_examples=100, val_fraction=0.2, n_test=100, hidden=[16, 16],
                     batch_size=20, log10_lr=[-4.0, 0.0], log10_wd=[-8.0, -4.0], epochs=2, rounds=2, trials=4,
                     keep=0.5, min_width=0.5, seeds=2),
        "quick": dict(_BOOK, n_test=2000, epochs=20, rounds=3, trials=5, seeds=3),
        "full": dict(_BOOK, epochs=50, rounds=3, trials=34, seeds=3),
    },
    run=run, plot=plot, verdict=verdict)
