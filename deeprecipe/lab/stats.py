"""Mean ± confidence interval over seeds, without SciPy.

The lab runs a noisy experiment with several seeds and reports ``mean ± h`` where
``h = t_{(1+c)/2, n-1} · s / √n`` is the half-width of the Student-t confidence
interval (``s`` the sample standard deviation, ``c`` the confidence, 0.95 by default).
The t quantile is computed here exactly (to ~1e-12) by inverting the t distribution's
CDF, which is a regularized incomplete beta function evaluated by its continued
fraction (Numerical Recipes, 3rd ed., §6.4) — so any ``n`` and any confidence work.

With one value there is no interval: ``half_width`` is ``nan`` and rules that need an
interval treat the value as a point estimate (see :mod:`deeprecipe.lab.rules`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz's method)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta function I_x(a, b) for a, b > 0 and 0 ≤ x ≤ 1."""
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"betainc needs 0 <= x <= 1, got {x}")
    if x in (0.0, 1.0):
        return x
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    # The continued fraction converges fast for x < (a+1)/(a+b+2); use the symmetry
    # I_x(a, b) = 1 - I_{1-x}(b, a) on the other side.
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """CDF of Student's t distribution with ``df`` degrees of freedom."""
    if df <= 0:
        raise ValueError(f"degrees of freedom must be positive, got {df}")
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_ppf(q: float, df: float) -> float:
    """Quantile of Student's t: the ``t`` with ``t_cdf(t, df) == q`` (0 < q < 1).

    Bisection on the monotone CDF: slow-ish (~100 CDF calls) but exact and
    dependency-free; the lab calls it a handful of times per report.
    """
    if not 0.0 < q < 1.0:
        raise ValueError(f"quantile level must be in (0, 1), got {q}")
    if q == 0.5:
        return 0.0
    if q < 0.5:
        return -t_ppf(1.0 - q, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < q:
        hi *= 2.0
        if hi > 1e12:
            return math.inf
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < q:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-13 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


@dataclass(frozen=True)
class MeanCI:
    """``mean ± half_width`` at ``confidence`` from ``n`` values (``half_width`` nan if n == 1)."""
    mean: float
    half_width: float
    n: int
    std: float
    confidence: float = 0.95

    @property
    def low(self) -> float:
        return self.mean - self.half_width if self.n > 1 else self.mean

    @property
    def high(self) -> float:
        return self.mean + self.half_width if self.n > 1 else self.mean

    def __str__(self) -> str:
        return format_ci(self)


def mean_ci(values, confidence: float = 0.95) -> MeanCI:
    """Mean and Student-t confidence interval of ``values`` (a 1-D sequence of numbers).

    NaNs are not dropped silently: a NaN value (a diverged run) makes the mean NaN.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size == 0:
        raise ValueError("mean_ci needs at least one value")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    n = int(x.size)
    mean = float(x.mean())
    if n == 1:
        return MeanCI(mean, math.nan, 1, math.nan, confidence)
    std = float(x.std(ddof=1))
    half = t_ppf(0.5 + confidence / 2.0, n - 1) * std / math.sqrt(n)
    return MeanCI(mean, half, n, std, confidence)


def diff_ci(a, b, paired: bool = False, confidence: float = 0.95) -> MeanCI:
    """Confidence interval of ``mean(a) - mean(b)``.

    ``paired=True``: ``a[i]`` and ``b[i]`` come from the same seed (same data and
    initialization), so the interval is that of the per-seed differences — much tighter
    when the seed explains most of the noise.  Unpaired: Welch's interval (unequal
    variances, Welch–Satterthwaite degrees of freedom).
    """
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if paired:
        if a.shape != b.shape:
            raise ValueError(f"paired samples need equal lengths, got {a.size} and {b.size}")
        return mean_ci(a - b, confidence)
    if a.size == 0 or b.size == 0:
        raise ValueError("diff_ci needs at least one value on each side")
    mean = float(a.mean() - b.mean())
    if a.size < 2 or b.size < 2:
        return MeanCI(mean, math.nan, 1, math.nan, confidence)
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = math.sqrt(va + vb)
    if se == 0.0:
        return MeanCI(mean, 0.0, int(a.size + b.size), 0.0, confidence)
    df = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1))
    half = t_ppf(0.5 + confidence / 2.0, df) * se
    return MeanCI(mean, half, int(a.size + b.size), se, confidence)


def _fmt(x: float, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "nan"
    return f"{x:.{digits}g}"


def format_ci(ci: MeanCI, digits: int = 4) -> str:
    """``'0.9531 ± 0.012 (n=3)'``; a single value prints as ``'0.9531 (n=1)'``."""
    if ci.n == 1 or math.isnan(ci.half_width):
        return f"{_fmt(ci.mean, digits)} (n={ci.n})"
    return f"{_fmt(ci.mean, digits)} ± {_fmt(ci.half_width, 2)} (n={ci.n})"


def curve_band(curves, confidence: float = 0.95):
    """Per-point mean and CI half-width of equally long curves, shape (n_seeds, T) → (T,), (T,).

    With one curve the half-width is all zeros (nothing to shade).
    """
    c = np.asarray(curves, dtype=np.float64)
    if c.ndim == 1:
        c = c[None]
    mean = c.mean(axis=0)
    n = c.shape[0]
    if n < 2:
        return mean, np.zeros_like(mean)
    half = t_ppf(0.5 + confidence / 2.0, n - 1) * c.std(axis=0, ddof=1) / math.sqrt(n)
    return mean, half
