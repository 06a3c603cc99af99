"""Small synthetic classification problems that need no files: spirals, blobs, fizzbuzz.

All return ``(x, y)`` with x float32 and y int64 class labels, and are deterministic given
``seed`` (fizzbuzz has no randomness).
"""
from __future__ import annotations

import numpy as np


def _check_positive_int(name, v):
    if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
        raise ValueError(f"{name} must be a positive integer, got {v!r}")
    return int(v)


def spirals(n_per_class: int = 100, classes: int = 3, noise: float = 0.2, seed: int = 0):
    """Interleaved 2-D spirals, one arm per class (the CS231n toy problem).

    Point i of arm c has radius ``r = i / (n - 1)`` and angle
    ``theta = 4 c + 4 r + noise * N(0, 1)`` radians; ``x = r (sin theta, cos theta)``.
    A linear model cannot separate the arms; a small MLP can.

    Returns x float32 ``(n_per_class * classes, 2)`` and y int64 ``(n_per_class * classes,)``,
    ordered class by class.
    """
    n = _check_positive_int("n_per_class", n_per_class)
    k = _check_positive_int("classes", classes)
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    rng = np.random.default_rng(seed)
    r = np.linspace(0.0, 1.0, n)                                    # (n,)
    theta = 4.0 * np.arange(k)[:, None] + 4.0 * r[None, :]          # (k, n)
    theta = theta + noise * rng.standard_normal((k, n))
    x = np.stack([r * np.sin(theta), r * np.cos(theta)], axis=-1)   # (k, n, 2)
    y = np.repeat(np.arange(k, dtype=np.int64), n)
    return x.reshape(k * n, 2).astype(np.float32), y


def blobs(n: int = 300, centers=3, dim: int = 2, std: float = 1.0, seed: int = 0,
          center_box: tuple[float, float] = (-10.0, 10.0)):
    """Isotropic Gaussian blobs: ``n`` points split as evenly as possible among the centers.

    ``centers`` is a count (centers drawn uniformly from ``center_box`` in each of ``dim``
    dimensions) or an array ``(k, dim)`` of given centers.  Returns x float32 ``(n, dim)``,
    y int64 ``(n,)``, ordered class by class.
    """
    n = _check_positive_int("n", n)
    rng = np.random.default_rng(seed)
    if np.ndim(centers) == 0:
        k = _check_positive_int("centers", centers)
        dim = _check_positive_int("dim", dim)
        lo, hi = center_box
        c = rng.uniform(lo, hi, size=(k, dim))
    else:
        c = np.asarray(centers, dtype=np.float64)
        if c.ndim != 2:
            raise ValueError(f"centers must be an int or an array (k, dim), got shape {c.shape}")
        k, dim = c.shape
    if std < 0:
        raise ValueError(f"std must be >= 0, got {std}")
    counts = np.full(k, n // k)
    counts[: n % k] += 1                        # remainder to the first centers
    y = np.repeat(np.arange(k, dtype=np.int64), counts)
    x = c[y] + std * rng.standard_normal((n, dim))
    return x.astype(np.float32), y


FIZZBUZZ_CLASSES = ("number", "fizz", "buzz", "fizzbuzz")


def fizzbuzz_labels(numbers) -> np.ndarray:
    """0 = the number itself, 1 = fizz (divisible by 3), 2 = buzz (by 5), 3 = fizzbuzz (by 15)."""
    m = np.asarray(numbers, dtype=np.int64)
    return ((m % 3 == 0).astype(np.int64) + 2 * (m % 5 == 0)).astype(np.int64)


def fizzbuzz(lo: int = 1, hi: int = 101, bits: int = 10):
    """Fizz Buzz as classification (J. Grus, "Fizz Buzz in Tensorflow", 2016).

    The integers ``lo <= i < hi`` (half-open, like ``range``) encoded in binary, least
    significant bit first: x float32 ``(hi - lo, bits)`` of 0/1; y int64 in
    ``{0: number, 1: fizz, 2: buzz, 3: fizzbuzz}``.  The lecture's setup trains on
    ``fizzbuzz(101, 1001)`` and tests on ``fizzbuzz(1, 101)``.
    """
    bits = _check_positive_int("bits", bits)
    if not (isinstance(lo, (int, np.integer)) and isinstance(hi, (int, np.integer))):
        raise TypeError(f"lo and hi must be integers, got {lo!r}, {hi!r}")
    if lo < 0 or hi <= lo:
        raise ValueError(f"need 0 <= lo < hi, got lo={lo}, hi={hi}")
    if hi - 1 >= 2 ** bits:
        raise ValueError(f"{hi - 1} does not fit in {bits} bits; use bits >= {int(hi - 1).bit_length()}")
    numbers = np.arange(lo, hi, dtype=np.int64)
    x = ((numbers[:, None] >> np.arange(bits)) & 1).astype(np.float32)
    return x, fizzbuzz_labels(numbers)
