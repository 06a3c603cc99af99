"""Checks at the boundary of the classic models: arrays in, clear errors out."""
from __future__ import annotations

import numpy as np


def as_features(x, name: str = "X", n_features: int | None = None) -> np.ndarray:
    """``x`` as a finite float64 matrix ``(N, d)``; a 1-D array is one feature per sample."""
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got dtype {x.dtype}")
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {x.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} has no samples (shape {x.shape})")
    x = x.astype(np.float64, copy=False)
    bad = ~np.isfinite(x)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(f"{name} holds {int(bad.sum())} non-finite value(s) (NaN or inf), the first at "
                         f"[{i}, {j}] = {x[i, j]}; clean or impute them first")
    if n_features is not None and x.shape[1] != n_features:
        raise ValueError(f"{name} has {x.shape[1]} features but the model was fitted on {n_features}")
    return x


def as_targets(y, n: int, name: str = "y") -> np.ndarray:
    """Regression targets: a finite float64 vector of length ``n``."""
    y = np.asarray(y)
    if y.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got dtype {y.dtype}")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or len(y) != n:
        raise ValueError(f"{name} must be a vector of {n} targets (one per row of X), got shape {y.shape}")
    y = y.astype(np.float64, copy=False)
    if not np.isfinite(y).all():
        raise ValueError(f"{name} holds {int((~np.isfinite(y)).sum())} non-finite value(s); clean them first")
    return y


def as_labels(y, n: int, name: str = "y", min_classes: int = 2):
    """Class labels (any sortable values, like scikit-learn): returns ``(classes, index)``
    with ``classes`` sorted and ``index`` int64 in ``[0, len(classes))``."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or len(y) != n:
        raise ValueError(f"{name} must be a vector of {n} class labels (one per row of X), got shape {y.shape}")
    if y.dtype.kind == "f":
        if not np.isfinite(y).all():
            raise ValueError(f"{name} holds non-finite labels")
        if np.any(y != np.round(y)):
            raise ValueError(f"{name} holds non-integer floats ({y[y != np.round(y)][0]!r}); class labels "
                             "must be integers or strings (for real-valued targets use LinearRegression)")
    classes, index = np.unique(y, return_inverse=True)
    if len(classes) < min_classes:
        raise ValueError(f"{name} has {len(classes)} class(es) {classes.tolist()}; a classifier needs at "
                         f"least {min_classes}")
    return classes, index.astype(np.int64).ravel()


def check_fitted(model, attr: str) -> None:
    if getattr(model, attr, None) is None:
        raise RuntimeError(f"{type(model).__name__} is not fitted yet: call fit(X, y) first")


def accuracy(model, x, y) -> float:
    """Mean accuracy of ``model.predict(x)`` against ``y`` (scikit-learn's ``score``)."""
    y = np.asarray(y)
    pred = model.predict(x)
    if y.shape != pred.shape:
        y = y.reshape(pred.shape)
    return float(np.mean(pred == y))
