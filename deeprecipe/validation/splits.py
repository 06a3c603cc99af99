"""Data splits (train / validation / test) as a job builds them from a data set.

* every split that exists has at least one sample: an empty validation split (too few
  samples for ``val_fraction``) or an empty test array in a data file is named, with
  the fix, instead of failing later inside a reshape or a mean over nothing;
* every sample has at least one feature (``x`` of shape ``(N, 0)`` or ``(N, 28, 0)``);
* ``x`` and ``y`` of a split have the same number of samples.
"""
from __future__ import annotations

import numpy as np


class SplitError(ValueError):
    """A split that is empty, or whose samples have no features, or whose x and y disagree."""


def check_split(x, y, name: str, fix: str = "") -> None:
    """``x`` ``(N, ...)`` and ``y`` ``(N,)`` of the split ``name`` (``'train'``, ``'val'``, ``'test'``)."""
    x = np.asarray(x)
    if x.ndim == 0:
        raise SplitError(f"x_{name} must have a sample axis (N, ...), got a scalar")
    if y is not None:
        y = np.asarray(y)
        if y.ndim == 0 or len(y) != len(x):
            n = "a scalar" if y.ndim == 0 else len(y)
            raise SplitError(f"x_{name} has {len(x)} samples but y_{name} has {n}; they must match")
    if len(x) == 0:
        raise SplitError(f"the {name} split is empty (x_{name} has shape {x.shape})" + (f"; {fix}" if fix else ""))
    if x.ndim >= 2 and int(np.prod(x.shape[1:])) == 0:
        raise SplitError(f"x_{name} has shape {x.shape}: its samples have no features; "
                         "give at least one value per sample")
