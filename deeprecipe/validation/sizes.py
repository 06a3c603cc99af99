"""Model sizes: layer widths, channel counts and input shapes given to the model builders.

A size must be an integer (a Python ``int`` or a NumPy integer; ``4.5`` or ``"4"`` are
refused instead of being truncated, ``True`` is not a size) and at least 1.  The number
of parameters the sizes imply is bounded by :data:`MAX_PARAMETERS` before any layer is
allocated, so a mistaken width (a label of ``10**6`` turned into an output size, a
width typed with extra zeros) is a clear error rather than a ``MemoryError`` or a
machine that swaps for minutes.
"""
from __future__ import annotations

import itertools
import numbers

#: Largest number of parameters a model builder accepts (4 GB of float32 weights, before
#: gradients and optimizer state multiply it); far beyond what deeprecipe trains on a CPU.
MAX_PARAMETERS = 10**9


class SizeError(ValueError):
    """A layer size that is not a positive integer, or sizes too large to allocate."""


def check_size(value, what: str) -> int:
    """``value`` as a positive ``int``; ``what`` names it in the message (e.g. ``"MLP: sizes[1]"``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        hint = ""
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            hint = f" (round it yourself, e.g. {int(value)}, if that is what you mean)"
        raise SizeError(f"{what} must be an integer, got {value!r} of type {type(value).__name__}{hint}")
    value = int(value)
    if value < 1:
        raise SizeError(f"{what} must be at least 1, got {value}")
    return value


def check_sizes(values, what: str, min_len: int = 1) -> list[int]:
    """Every entry of ``values`` a positive ``int`` (see :func:`check_size`); ``values`` has at
    least ``min_len`` entries."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise SizeError(f"{what} must be a list of integers, got {values!r}")
    values = list(values)
    if len(values) < min_len:
        raise SizeError(f"{what} needs at least {min_len} entries, got {values}")
    return [check_size(v, f"{what}[{i}]") for i, v in enumerate(values)]


def check_parameter_count(count: int, what: str, limit: int | None = None) -> None:
    """Refuse a model of more than ``limit`` (default :data:`MAX_PARAMETERS`, read at call time)
    parameters before it is allocated."""
    limit = MAX_PARAMETERS if limit is None else limit
    if count > limit:
        raise SizeError(
            f"{what} would have {count:,} parameters (about {count * 4 / 2**30:,.1f} GiB as float32), more than "
            f"the limit of {limit:,}; check the sizes (a stray class label or an extra zero?) or raise "
            f"deeprecipe.validation.sizes.MAX_PARAMETERS if you really mean it")


def mlp_parameter_count(sizes, pieces: int = 1) -> int:
    """Weights and biases of an MLP with these sizes (``pieces`` pre-activations per hidden unit)."""
    total = 0
    last = len(sizes) - 2
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        width = n_out * (pieces if i < last else 1)
        total += n_in * width + width
    return total
