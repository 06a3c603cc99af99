"""The book's overfitting setting, shared by overfit, weight-decay and dropout (seed 003).

Saito's ``ch06/overfit_weight_decay.py`` / ``overfit_dropout.py``: 300 training images,
an MLP 784 → 6 × 100 (ReLU, He init) → 10, SGD lr 0.01, batch 100, 201 epochs, train
and test accuracy measured after every epoch (eval mode, whole split).  Here the 300
images are a seeded random subset of Fashion-MNIST (the book takes MNIST's first 300),
so different seeds see different subsets and initializations.
"""
from __future__ import annotations

import numpy as np

from ..plotting import color, plot_band

BOOK = dict(data="fashion-mnist", n_train=300, n_test=10000, hidden=[100] * 6, lr=0.01, batch_size=100,
            epochs=201, eval_every=1)
QUICK = dict(BOOK, n_test=2000, eval_every=5)
TEST = dict(data="synthetic", n_train=60, n_test=100, hidden=[24] * 3, lr=0.05, batch_size=20, epochs=4,
            eval_every=1)


def weight_sq_norm(model) -> float:
    """Σ w² over the weight matrices (what the L2 penalty ½λ‖W‖² measures; biases excluded)."""
    return float(sum(float((np.asarray(p.data, dtype=np.float64) ** 2).sum())
                     for p in model.parameters() if p.data.ndim >= 2))


def train_arm(config, seed, ctx, weight_decay: float = 0.0, dropout: float = 0.0) -> dict:
    """Train the book's network once; returns curves, final numbers and the weights' Σw²."""
    from ..data import image_data
    from ..training import train_classifier
    data = image_data(config["data"], n_train=config["n_train"], n_test=config["n_test"], seed=seed)
    metrics, model = train_classifier(
        data, hidden=config["hidden"], activation="relu", init="he", optimizer="sgd", lr=config["lr"],
        weight_decay=weight_decay, dropout=dropout, epochs=config["epochs"], batch_size=config["batch_size"],
        seed=seed, eval_every=config.get("eval_every", 1), progress=ctx.progress)
    metrics["final"]["gap"] = metrics["final"]["train_acc"] - metrics["final"]["test_acc"]
    metrics["final"]["weight_sq_norm"] = weight_sq_norm(model)
    metrics["data"] = data.describe()
    return metrics


def plot_train_test(ax, results, prefix: str = "", title: str = "") -> None:
    """Train and test accuracy per epoch, mean ± 95% CI over seeds."""
    p = f"{prefix}." if prefix else ""
    epochs = np.asarray(results.first(f"{p}curves.epoch"))
    plot_band(ax, epochs, results.stack(f"{p}curves.train_acc"), label="train", color=color(0))
    plot_band(ax, epochs, results.stack(f"{p}curves.test_acc"), label="test", color=color(1))
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    if title:
        ax.set_title(title, fontsize=10)
