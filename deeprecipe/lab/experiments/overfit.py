"""overfit: 300 training examples and a 7-layer net overfit (seed 003).

Setting: the book's ``ch06/overfit_weight_decay.py`` with λ = 0 (see ``_overfit_setting``).

Decision (thresholds fixed from the claim's words before running): the claim holds if
the final training accuracy is "~100%" — its 95% interval over seeds lies at or above
0.95 — and the test accuracy "stays far lower" — the train − test gap's interval lies at
or above 0.10.  An interval on the wrong side of a threshold refutes that part;
an interval across it is inconclusive.
"""
from __future__ import annotations

from ..experiment import Experiment
from ..rules import check_mean, combine
from ._overfit_setting import BOOK, QUICK, TEST, plot_train_test, train_arm


def run(config, seed, ctx):
    return train_arm(config, seed, ctx)


def plot(results, fig):
    fig.set_size_inches(7, 4.5)
    ax = fig.add_subplot(1, 1, 1)
    plot_train_test(ax, results, title=f"{results.config['n_train']} training examples, "
                                       f"{len(results.config['hidden']) + 1}-layer ReLU net, SGD "
                                       f"lr {results.config['lr']}")


def verdict(results):
    train = results.values("final.train_acc")
    test = results.values("final.test_acc")
    checks = [check_mean("final train accuracy", train, ">=", 0.95),
              check_mean("train - test accuracy gap", train - test, ">=", 0.10)]
    return combine(checks, "Training accuracy reaches ~100% (≥ 0.95) while test accuracy stays far lower "
                           "(gap ≥ 0.10)",
                   {"final test accuracy": f"{test.mean():.4f}"})


EXPERIMENT = Experiment(
    id="overfit",
    title="Overfitting with 300 examples and a 7-layer net",
    source=("003",),
    claim=("With 300 training examples and a 7-layer network, training accuracy reaches ~100% while "
           "test accuracy stays far lower."),
    presets={"test": dict(TEST, seeds=2), "quick": dict(QUICK, seeds=3), "full": dict(BOOK, seeds=5)},
    run=run, plot=plot, verdict=verdict)
