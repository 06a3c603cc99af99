"""Small array helpers shared by the op modules."""
from __future__ import annotations


def sum_to_array(x, shape):
    """Sum ``x`` down to ``shape`` (the reverse of broadcasting ``shape`` up to ``x.shape``)."""
    shape = tuple(shape)
    if x.shape == shape:
        return x
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, s in enumerate(shape) if s == 1 and x.shape[i + lead] != 1)
    y = x.sum(axis=axes, keepdims=True)
    if lead:
        y = y.reshape(y.shape[lead:])
    return y.reshape(shape)


def normalize_axis(axis, ndim):
    """``axis`` (None, int or tuple, negatives allowed) as a sorted tuple of non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    if not isinstance(axis, tuple):
        axis = (axis,)
    out = []
    for a in axis:
        if not -ndim <= a < max(ndim, 1):
            raise ValueError(f"axis {a} is out of range for an array of {ndim} dimensions")
        out.append(a % ndim if ndim else 0)
    return tuple(sorted(out))


def expand_reduced(gy, in_shape, axis, keepdims):
    """Reshape a reduction's gradient ``gy`` so it broadcasts against the input shape."""
    if keepdims or axis is None and gy.ndim == 0:
        return gy.reshape(gy.shape if keepdims else (1,) * len(in_shape)) if gy.ndim else gy
    shape = list(in_shape)
    for a in normalize_axis(axis, len(in_shape)):
        shape[a] = 1
    return gy.reshape(shape)


#: default of the deprecated ``axis=`` keyword (``F`` takes torch's ``dim``)
AXIS_UNSET = object()


def resolve_dim(op: str, dim, axis, default):
    """``dim`` (torch's name), or the deprecated ``axis=`` keyword with a DeprecationWarning.

    ``axis`` stays accepted while code written against the old name is migrated."""
    if axis is AXIS_UNSET:
        return dim
    import warnings
    warnings.warn(f"F.{op}(..., axis=...) is deprecated; use dim=... (torch's name)", DeprecationWarning,
                  stacklevel=3)
    if dim is not default and dim != default:
        raise TypeError(f"{op}: got both dim={dim!r} and axis={axis!r}; pass dim only")
    return axis
