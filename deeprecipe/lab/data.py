"""Data for experiments: seeded subsets of Fashion-MNIST (or MNIST), or a synthetic stand-in.

    data = image_data("fashion-mnist", n_train=300, n_test=2000, seed=seed)
    data.x_train  # float32 (300, 784) in [0, 1];  data.y_train int64 (300,)

``source="synthetic"`` gives data of the same shapes without any file: ten classes of
28×28 "images", each a noisy blend of a smooth class prototype with another class's
prototype, so that a small MLP learns it but not perfectly.  The ``test`` preset of
every experiment uses it, so the test-suite needs no dataset.

Real datasets are never downloaded from inside an experiment (worker processes would
race to download the same file): when missing, :class:`DataUnavailableError` says how
to get them (``python -m deeprecipe.demo`` does it for you).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

SOURCES = ("fashion-mnist", "mnist", "synthetic")


class DataUnavailableError(RuntimeError):
    """A real dataset is not on this machine; the message says how to get it."""


@dataclass
class ImageData:
    """Arrays of one experiment's data; ``x_*`` float32 (N, 784) (or (N, 28, 28) unflattened),
    ``y_*`` int64 (N,).  ``x_val``/``y_val`` are empty when no validation split was asked."""
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    n_classes: int = 10

    def describe(self) -> dict:
        """A JSON-able summary to save with the metrics."""
        return {"source": self.source, "n_train": int(len(self.y_train)), "n_val": int(len(self.y_val)),
                "n_test": int(len(self.y_test)), "n_features": int(np.prod(self.x_train.shape[1:]))}


@functools.lru_cache(maxsize=4)
def _load_real(source: str):
    try:
        from .. import data as dr_data
    except ImportError as e:  # pragma: no cover - the data package is part of deeprecipe
        raise DataUnavailableError(f"deeprecipe.data cannot be imported: {e}") from e
    loader = dr_data.fashion_mnist if source == "fashion-mnist" else dr_data.mnist
    try:
        return loader(download=False, progress=False)
    except dr_data.DatasetNotFoundError as e:
        raise DataUnavailableError(
            f"{e}\n(The lab never downloads inside an experiment; `python -m deeprecipe.demo` "
            "or `deeprecipe data fetch` gets the data first. Tests use source='synthetic'.)") from None


@functools.lru_cache(maxsize=2)
def _prototypes(n_classes: int, side: int) -> np.ndarray:
    """Smooth class prototypes in [0, 1], fixed (seed 12345) so train and test share them."""
    rng = np.random.default_rng(12345)
    coarse = rng.random((n_classes, 7, 7))
    rep = -(-side // 7)
    img = np.kron(coarse, np.ones((rep, rep)))[:, :side, :side]
    # a 3x3 box blur smooths the blocky upsampling
    pad = np.pad(img, ((0, 0), (1, 1), (1, 1)), mode="edge")
    img = sum(pad[:, i:i + side, j:j + side] for i in range(3) for j in range(3)) / 9.0
    img = (img - img.min(axis=(1, 2), keepdims=True))
    img /= img.max(axis=(1, 2), keepdims=True)
    return img.astype(np.float32)


def synthetic_images(n: int, seed: int, n_classes: int = 10, side: int = 28):
    """``n`` synthetic images (uint8, (n, side, side)) and labels, balanced over classes.

    Each image: 0.6·prototype[y] + 0.4·prototype[other class] + Gaussian noise (std 0.15),
    clipped to [0, 1] and quantized to 0..255 like real pixels.
    """
    rng = np.random.default_rng(seed)
    protos = _prototypes(n_classes, side)
    y = np.resize(np.arange(n_classes, dtype=np.int64), n)
    rng.shuffle(y)
    other = (y + rng.integers(1, n_classes, size=n)) % n_classes
    x = 0.6 * protos[y] + 0.4 * protos[other] + 0.15 * rng.standard_normal((n, side, side))
    x = np.clip(x, 0.0, 1.0)
    return np.round(x * 255).astype(np.uint8), y


def _scale(x: np.ndarray, scale: str, ref: np.ndarray | None = None, eps: float = 1e-8):
    x = x.astype(np.float32)
    if scale == "01":
        return x / np.float32(255.0)
    if scale == "raw":
        return x
    if scale == "standardize":  # per-feature, with the training part's statistics
        ref = x if ref is None else ref.astype(np.float32)
        mean = ref.mean(axis=0)
        std = ref.std(axis=0)
        return (x - mean) / (std + np.float32(eps))
    raise ValueError(f"scale must be '01', 'raw' or 'standardize', got {scale!r}")


def image_data(source: str = "fashion-mnist", n_train: int | None = None, n_val: int = 0,
               n_test: int | None = None, seed: int = 0, flatten: bool = True,
               scale: str = "01") -> ImageData:
    """A seeded subset of an image dataset, ready for an MLP.

    source:  ``'fashion-mnist'`` (default), ``'mnist'`` or ``'synthetic'``.
    n_train: training examples (None: all 60000; synthetic: 1000); drawn at random
             with ``seed``, then ``n_val`` more (disjoint) for validation.
    n_test:  test examples (None: all 10000; synthetic: 1000), a seeded random subset.
    flatten: (N, 784) if True, else (N, 28, 28).
    scale:   ``'01'`` pixels/255; ``'raw'`` 0..255 as float; ``'standardize'`` per-pixel
             zero mean, unit variance with the training subset's statistics.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown data source {source!r}; choose one of {SOURCES}")
    for name, v in (("n_train", n_train), ("n_test", n_test)):
        if v is not None and (not isinstance(v, (int, np.integer)) or v < 1):
            raise ValueError(f"{name} must be a positive integer or None, got {v!r}")
    if not isinstance(n_val, (int, np.integer)) or n_val < 0:
        raise ValueError(f"n_val must be a non-negative integer, got {n_val!r}")
    rng = np.random.default_rng(seed)
    if source == "synthetic":
        n_tr = 1000 if n_train is None else int(n_train)
        n_te = 1000 if n_test is None else int(n_test)
        # disjoint streams for train(+val) and test; fixed prototypes shared by both
        x_all, y_all = synthetic_images(n_tr + n_val, seed=seed * 2 + 1)
        x_te, y_te = synthetic_images(n_te, seed=seed * 2 + 2)
        x_tr, y_tr = x_all[:n_tr], y_all[:n_tr]
        x_va, y_va = x_all[n_tr:], y_all[n_tr:]
    else:
        (x_train_all, y_train_all), (x_test_all, y_test_all) = _load_real(source)
        n_tr = len(x_train_all) if n_train is None else int(n_train)
        if n_tr + n_val > len(x_train_all):
            raise ValueError(f"n_train + n_val = {n_tr + n_val} exceeds the {len(x_train_all)} "
                             f"training examples of {source}")
        idx = rng.permutation(len(x_train_all))[:n_tr + n_val]
        x_tr, y_tr = x_train_all[idx[:n_tr]], y_train_all[idx[:n_tr]]
        x_va, y_va = x_train_all[idx[n_tr:]], y_train_all[idx[n_tr:]]
        n_te = len(x_test_all) if n_test is None else min(int(n_test), len(x_test_all))
        tidx = np.sort(rng.permutation(len(x_test_all))[:n_te])
        x_te, y_te = x_test_all[tidx], y_test_all[tidx]
    n_feat = int(np.prod(x_tr.shape[1:]))
    ref = x_tr.reshape(len(x_tr), n_feat)
    out = []
    for x in (x_tr, x_va, x_te):
        flat = x.reshape(len(x), n_feat)
        s = _scale(flat, scale, ref)
        out.append(s if flatten else s.reshape(x.shape))
    return ImageData(out[0], y_tr.astype(np.int64), out[1], y_va.astype(np.int64), out[2],
                     y_te.astype(np.int64), source)
