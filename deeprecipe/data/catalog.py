"""The dataset registry: every dataset a training job, the CLI or the lab can name.

An entry is ``loader(**options) -> ((x_train, y_train), (x_test, y_test) or None)``; a
consumer offers ``seed`` and ``progress`` to the loaders that take them
(``Registry.build(..., context=...)``).  Register your own::

    data.CATALOG.register("moons", my_moons_loader)      # deeprecipe train --data moons

(``data.DATASETS`` is another table: the download specs of the IDX datasets.)
"""
from __future__ import annotations

from ..registry import Registry
from .datasets import digits, fashion_mnist, mnist
from .preprocessing import train_val_split
from .synthetic import blobs, spirals

CATALOG = Registry("dataset")


def _fashion_mnist(root=None, download: bool = True, progress: bool = True):
    return fashion_mnist(root=root, download=download, progress=progress)


def _mnist(root=None, download: bool = True, progress: bool = True):
    return mnist(root=root, download=download, progress=progress)


def _digits(seed: int = 0, test_fraction: float = 0.2):
    return digits(test_fraction=test_fraction, seed=seed)


def _spirals(seed: int = 0, n_per_class: int = 100, classes: int = 3, noise: float = 0.2,
             test_fraction: float = 0.2):
    x, y = spirals(n_per_class=n_per_class, classes=classes, noise=noise, seed=seed)
    return train_val_split(x, y, test_fraction, seed=seed)


def _blobs(seed: int = 0, n: int = 300, centers: int = 3, dim: int = 2, std: float = 1.0,
           test_fraction: float = 0.2, standardize: bool = True):
    x, y = blobs(n=n, centers=centers, dim=dim, std=std, seed=seed)
    train, test = train_val_split(x, y, test_fraction, seed=seed)
    if standardize:
        # The centers lie in [-10, 10]: standardized with the training part's statistics, a
        # run on blobs is not an unnormalized-input run (the doctor would rightly say it is).
        from .preprocessing import Standardizer
        st = Standardizer().fit(train[0])
        train, test = (st.transform(train[0]), train[1]), (st.transform(test[0]), test[1])
    return train, test


CATALOG.register("fashion-mnist", _fashion_mnist, kind="images")
CATALOG.register("mnist", _mnist, kind="images")
CATALOG.register("digits", _digits, kind="images")
CATALOG.register("spirals", _spirals, kind="features")
CATALOG.register("blobs", _blobs, kind="features")
