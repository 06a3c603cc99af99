"""Small helpers shared by the layer modules."""
from __future__ import annotations

import numpy as np

from ... import backend
from ...engine.tensor import Parameter


def new_parameter(shape, dtype=None, fill=0.0) -> Parameter:
    """A Parameter of ``shape`` filled with ``fill`` in ``dtype`` (default: the library default)."""
    dt = backend.get_default_dtype() if dtype is None else np.dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"parameters must have a floating-point dtype, got {dt}")
    return Parameter(np.full(shape, fill, dtype=dt))


def affine_parameters(module, shape, dtype, enabled: bool) -> None:
    """Register a normalization layer's affine map: ``weight`` (ones) and ``bias`` (zeros)
    of ``shape`` when ``enabled``, else both as declared-absent (``None``) parameters."""
    if enabled:
        module.weight = new_parameter(shape, dtype, 1.0)
        module.bias = new_parameter(shape, dtype, 0.0)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


def float_dtype(dtype):
    dt = backend.get_default_dtype() if dtype is None else np.dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"layer dtype must be floating point, got {dt}")
    return dt


def positive_int(value, what):
    """``value`` as an int >= 1 (the one rule for sizes: :func:`deeprecipe.validation.sizes.check_size`)."""
    from ...validation.sizes import check_size
    return check_size(value, what)


def pair(value, what):
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{what} must be an int or a pair of ints, got {value!r}")
        return (int(value[0]), int(value[1]))
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{what} must be an int or a pair of ints, got {value!r}")
    return (int(value), int(value))
