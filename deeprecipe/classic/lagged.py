r"""The design matrix of a lagged (autoregressive) linear model: predict day t from the
``lags`` days before it (seed 004: ``y = b + Σ_{j=1}^{k} w_j x_j`` with x_j the views of
j days earlier, k = 1, 7, 28, 56).
"""
from __future__ import annotations

import numpy as np


def lagged(series, lags: int, start: int | None = None):
    """Rows ``[s[t-1], s[t-2], ..., s[t-lags]]`` and targets ``s[t]`` for ``t = start .. len(s)-1``.

    Args:
        series: a 1-D sequence of numbers in time order (one per day).
        lags: how many previous days each row holds (column j-1 is the value j days back,
            the lecture's x_j).
        start: the first target index (default ``lags``, the first day with a full history).
            Give the same ``start`` (≥ the largest lag) to models with different ``lags``
            so that they predict the same days.

    Returns:
        ``(X, y)``: X float64 ``(len(s) - start, lags)``, y float64 ``(len(s) - start,)``.
        Row i only reads days before its target day ``start + i``: no value from the
        target's day or after (no leak from the future).
    """
    s = np.asarray(series)
    if s.ndim != 1:
        raise ValueError(f"series must be 1-D (one value per day), got shape {s.shape}")
    if s.dtype.kind not in "biuf":
        raise TypeError(f"series must be numeric, got dtype {s.dtype}")
    if not (isinstance(lags, (int, np.integer)) and not isinstance(lags, bool) and lags >= 1):
        raise ValueError(f"lags must be a positive integer, got {lags!r}")
    start = int(lags) if start is None else start
    if not isinstance(start, (int, np.integer)) or start < lags:
        raise ValueError(f"start must be an integer >= lags ({lags}) so every row has {lags} earlier days, "
                         f"got {start!r}")
    if start >= len(s):
        raise ValueError(f"the series has {len(s)} values: too short for start={start} (lags={lags})")
    s = s.astype(np.float64, copy=False)
    t = np.arange(start, len(s))                                   # target days
    index = t[:, None] - np.arange(1, lags + 1)[None, :]           # (rows, lags), all < t
    return s[index], s[t].copy()
