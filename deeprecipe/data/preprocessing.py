"""Preprocessing: scaling, standardization, one-hot labels, stratified splits, input checks.

Statistics are fitted on the training split only (fitting on validation or test data
leaks information into the model and makes validation scores optimistic).
"""
from __future__ import annotations

import numpy as np


def scale01(x, max_value: float | None = None) -> np.ndarray:
    """Scale to float32 in [0, 1]: ``x / max_value``.

    ``max_value`` defaults to 255 for uint8 (images) and 1 for bool.  Float input without
    ``max_value`` must already lie in [0, 1] (it is returned as float32); other integer
    dtypes need ``max_value``, since their range is not implied by the dtype.
    """
    x = np.asarray(x)
    if max_value is None:
        if x.dtype == np.uint8:
            max_value = 255.0
        elif x.dtype == np.bool_:
            max_value = 1.0
        elif x.dtype.kind == "f":
            if x.size and (np.nanmin(x) < 0 or np.nanmax(x) > 1):
                raise ValueError(f"float input lies in [{np.nanmin(x)}, {np.nanmax(x)}], not [0, 1]; "
                                 f"pass max_value= to scale it")
            return x.astype(np.float32)
        else:
            raise TypeError(f"scale01 cannot infer the range of {x.dtype} data; pass max_value=")
    if max_value <= 0:
        raise ValueError(f"max_value must be > 0, got {max_value}")
    out = x.astype(np.float32)
    out *= np.float32(1.0 / max_value)  # in place: one temporary, not two
    return out


class Standardizer:
    """Per-feature standardization ``(x - mean) / std``, fitted on training data only.

    A feature is everything after the first (sample) axis, so images ``(N, H, W)`` get one
    mean/std per pixel.  Features with zero variance (e.g. always-black border pixels) get
    ``std = 1`` so they map to 0 instead of dividing by zero.  Statistics are computed in
    float64; outputs are float32 (or float64 for float64 input).
    """

    def __init__(self):
        self.mean = None
        self.std = None

    def fit(self, x) -> Standardizer:
        x = np.asarray(x)
        if x.ndim < 1 or x.shape[0] == 0:
            raise ValueError(f"fit needs at least one sample, got shape {x.shape}")
        self.mean = x.mean(axis=0, dtype=np.float64)
        std = x.std(axis=0, dtype=np.float64)
        std[std == 0] = 1.0
        self.std = std
        return self

    def _check(self, x):
        if self.mean is None:
            raise RuntimeError("Standardizer is not fitted: call fit(x_train) first")
        x = np.asarray(x)
        if x.shape[1:] != self.mean.shape:
            raise ValueError(f"features of shape {x.shape[1:]} do not match the fitted "
                             f"shape {self.mean.shape}")
        return x

    def _out_dtype(self, x):
        return np.float64 if x.dtype == np.float64 else np.float32

    def transform(self, x) -> np.ndarray:
        x = self._check(x)
        dt = self._out_dtype(x)
        out = x.astype(dt)          # the one full-size temporary
        out -= self.mean.astype(dt)
        out /= self.std.astype(dt)
        return out

    def fit_transform(self, x) -> np.ndarray:
        return self.fit(x).transform(x)

    def inverse_transform(self, z) -> np.ndarray:
        z = self._check(z)
        dt = self._out_dtype(z)
        out = z.astype(dt)
        out *= self.std.astype(dt)
        out += self.mean.astype(dt)
        return out

    def state_dict(self) -> dict:
        if self.mean is None:
            raise RuntimeError("Standardizer is not fitted: nothing to save")
        return {"mean": self.mean.copy(), "std": self.std.copy()}

    def load_state_dict(self, state: dict) -> None:
        mean = np.asarray(state["mean"], dtype=np.float64)
        std = np.asarray(state["std"], dtype=np.float64)
        if mean.shape != std.shape:
            raise ValueError(f"mean {mean.shape} and std {std.shape} shapes differ")
        if np.any(std <= 0):
            raise ValueError("std must be > 0 everywhere")
        self.mean, self.std = mean.copy(), std.copy()


def _as_labels(y, name="y") -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of class labels, got shape {y.shape}")
    if y.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer class labels, got dtype {y.dtype}; "
                        f"convert with y.astype(np.int64) if the values are whole numbers")
    return y


def one_hot(y, num_classes: int | None = None, dtype=np.float32) -> np.ndarray:
    """``(N,)`` integer labels → ``(N, num_classes)`` one-hot rows (``num_classes`` defaults
    to ``max(y) + 1``)."""
    y = _as_labels(y)
    if num_classes is None:
        num_classes = int(y.max()) + 1 if y.size else 0
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}), found range [{y.min()}, {y.max()}]")
    out = np.zeros((y.shape[0], num_classes), dtype=dtype)
    out[np.arange(y.shape[0]), y] = 1
    return out


def train_val_split(x, y, val_fraction: float = 0.1, seed: int = 0, stratify: bool = True):
    """Split into ``(x_train, y_train), (x_val, y_val)``, seeded.

    With ``stratify`` (labels must be integers) every class keeps its proportion: class c
    with ``n_c`` samples gives ``floor(n_c * val_fraction)`` or one more to validation, the
    extra ones going to the classes with the largest remainders so that the validation set
    has exactly ``round(N * val_fraction)`` samples.  Which samples go where is drawn by a
    generator seeded with ``seed``.  Both parts keep the original sample order.
    """
    x = np.asarray(x)
    y = np.asarray(y)
    n = len(x)
    if len(y) != n:
        raise ValueError(f"x has {n} samples but y has {len(y)}")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    rng = np.random.default_rng(seed)
    n_val = int(round(n * val_fraction))
    perm = rng.permutation(n)
    if not stratify:
        is_val = np.zeros(n, dtype=bool)
        is_val[perm[:n_val]] = True
    else:
        labels = _as_labels(y)
        classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
        exact = counts * val_fraction
        per_class = np.floor(exact).astype(np.int64)
        short = n_val - int(per_class.sum())
        if short > 0:  # largest remainders first; ties by a seeded random order
            tiebreak = rng.permutation(len(classes))
            order = np.lexsort((tiebreak, -(exact - per_class)))
            per_class[order[:short]] += 1
        # Group the shuffled indices by class (stable sort keeps the random order within
        # a class), then take the first per_class[c] of each group.
        grouped = perm[np.argsort(inverse[perm], kind="stable")]
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        rank = np.arange(n) - np.repeat(starts, counts)
        is_val = np.zeros(n, dtype=bool)
        is_val[grouped[rank < np.repeat(per_class, counts)]] = True
    val_idx = np.flatnonzero(is_val)
    train_idx = np.flatnonzero(~is_val)
    return (x[train_idx], y[train_idx]), (x[val_idx], y[val_idx])


def check_arrays(x, y=None, num_classes: int | None = None) -> None:
    """Raise a clear error when data would silently break training.

    Checks: ``x`` is numeric and finite (no NaN/inf); ``y`` (if given) has as many samples
    as ``x``; a 1-D ``y`` holds integer class labels in ``[0, num_classes)`` (``>= 0`` when
    ``num_classes`` is None).  A ``y`` with more dimensions (one-hot rows, regression
    targets) must be numeric and finite.
    """
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise TypeError(f"x must be numeric, got dtype {x.dtype}")
    if x.ndim < 1:
        raise ValueError("x must have a sample axis, got a scalar")
    if x.dtype.kind == "f":
        bad = ~np.isfinite(x)
        if bad.any():
            nbad = int(bad.sum())
            first = np.unravel_index(int(np.argmax(bad)), x.shape)
            raise ValueError(f"x holds {nbad} non-finite value(s) (NaN or inf), the first at index "
                             f"{tuple(int(i) for i in first)} = {x[first]}; clean or impute them")
    if y is None:
        return
    y = np.asarray(y)
    if y.ndim < 1 or len(y) != len(x):
        raise ValueError(f"x has {len(x)} samples but y has "
                         f"{len(y) if y.ndim else 'a scalar'}; they must match")
    if y.ndim > 1:
        if y.dtype.kind not in "biuf":
            raise TypeError(f"y must be numeric, got dtype {y.dtype}")
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            raise ValueError("y holds NaN or inf values")
        return
    _as_labels(y)
    if y.size == 0:
        return
    lo, hi = int(y.min()), int(y.max())
    if lo < 0:
        i = int(np.argmax(y < 0))
        raise ValueError(f"labels must be >= 0, found y[{i}] = {y[i]}")
    if num_classes is not None and hi >= num_classes:
        i = int(np.argmax(y >= num_classes))
        raise ValueError(f"labels must lie in [0, {num_classes}), found y[{i}] = {y[i]}; "
                         f"is num_classes right?")
