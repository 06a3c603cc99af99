"""Input checks that run before training writes anything.

``fit`` (and the CLI, before it creates its output folder) checks that

* ``x`` and ``y`` have the same number of samples, ``x`` is numeric and finite
  (:func:`deeprecipe.data.check_arrays`);
* the model accepts one sample of ``x`` (a no-grad forward in eval mode, which
  draws no random numbers and updates no running statistics, so it changes nothing);
* class labels lie in ``[0, C)`` for the model's ``C`` outputs; regression and
  binary targets have the output's shape per sample.

Each failure is a ``ValueError``/``TypeError`` naming the data set (``train``/``val``)
and what to do.
"""
from __future__ import annotations

import numpy as np

from ..backend import device_of, to_device
from ..config import no_grad
from ..engine.tensor import Tensor


def model_device(model) -> str:
    for p in model.parameters():
        return device_of(p.data)
    return "cpu"


def model_dtype(model):
    for p in model.parameters():
        return p.data.dtype
    from ..backend import get_default_dtype
    return get_default_dtype()


def prepare_batch(xb, device: str, dtype):
    """Put a batch on the model's device in the model's float dtype (ints, e.g. uint8
    pixels, are cast; float data of another precision too, so the graph stays one dtype)."""
    if xb.dtype != dtype:
        xb = xb.astype(dtype)
    if device != "cpu":
        xb = to_device(xb, device)
    return xb


def probe_output_shape(model, x_sample, name: str = "train") -> tuple:
    """Shape of ``model(x_sample)`` (``x_sample`` a batch of one), computed without a graph in
    eval mode; a clear ``ValueError`` when the model cannot take inputs of this shape."""
    was_training = getattr(model, "training", True)
    model.eval()
    try:
        with no_grad():
            xb = prepare_batch(np.asarray(x_sample), model_device(model), model_dtype(model))
            out = model(Tensor(xb))
    except Exception as e:  # any shape error from inside the model
        raise ValueError(
            f"the model cannot take the {name} inputs: each sample has shape {tuple(x_sample.shape[1:])} "
            f"(a batch has shape (N, {', '.join(map(str, x_sample.shape[1:]))})) and the forward pass failed "
            f"with {type(e).__name__}: {e}. Reshape the data (e.g. (N, 784) for an MLP on 28x28 images, "
            f"(N, 1, 28, 28) for a ConvNet) or change the model's input size") from e
    finally:
        model.train(was_training)
    return tuple(out.shape)


def check_numeric_finite(a, what: str = "x") -> None:
    """``a`` is a numeric array without NaN or inf.

    The common case costs one float64 sum and no array-sized temporary (a sum is NaN or
    inf when an element is, barring overflow of float64 itself); only when the sum is
    not finite is the array scanned for the culprit, which the message names.
    """
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{what} must be numeric, got dtype {a.dtype}")
    if a.ndim < 1:
        raise ValueError(f"{what} must have a sample axis (N, ...), got a scalar")
    if a.dtype.kind != "f" or a.size == 0:
        return
    with np.errstate(over="ignore", invalid="ignore"):
        total = a.sum(dtype=np.float64)
    if np.isfinite(total):
        return
    bad = ~np.isfinite(a)
    if bad.any():  # else the float64 sum merely overflowed
        first = np.unravel_index(int(np.argmax(bad)), a.shape)
        raise ValueError(
            f"{what} holds {int(bad.sum())} non-finite value(s) (NaN or inf), the first at index "
            f"{tuple(int(i) for i in first)} = {a[first]}; clean or impute them")


def callback_list(callbacks) -> list:
    """``callbacks`` (None or an iterable of callbacks) as a new list; a clear error for anything else."""
    if callbacks is None:
        return []
    if isinstance(callbacks, (str, bytes, dict)) or not hasattr(callbacks, "__iter__"):
        raise TypeError(f"callbacks must be a list of callbacks, got {type(callbacks).__name__} {callbacks!r}")
    return list(callbacks)


def as_array(a, what: str) -> np.ndarray:
    """``np.asarray(a)``, with a message naming ``what`` when ``a`` is ragged or not array-like."""
    if isinstance(a, np.ndarray):
        return a
    try:
        return np.asarray(a)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{what} cannot be made into one array ({e}); give an array of shape (N, ...) "
                         "whose samples all have the same shape") from None


def check_fits_dtype(x, dtype, what: str = "x") -> None:
    """Float values of ``x`` that overflow the model's float ``dtype`` (1e300 cast to float32 is inf)
    are refused: training would silently see inf."""
    dtype = np.dtype(dtype)
    if x.dtype.kind != "f" or dtype.kind != "f" or x.dtype.itemsize <= dtype.itemsize or x.size == 0:
        return
    big = np.finfo(dtype).max
    hi, lo = x.max(), x.min()  # two passes, no temporary array
    if hi > big or lo < -big:
        v = hi if hi > big else lo
        raise ValueError(f"{what} holds {v:.3g}, beyond the largest {dtype.name} ({big:.3g}) the model computes in: "
                         f"it would become inf. Scale the inputs (e.g. standardize them) first")


def check_fit_arrays(model, x, y, loss_kind: str, name: str = "train", transform=None) -> tuple:
    """Check one data set against the model and loss; returns the model's output shape
    for one sample batch. ``transform`` is the loader's batch transform, if any."""
    x = np.asarray(x)
    y = None if y is None else np.asarray(y)
    if y is None:
        raise ValueError(f"the {name} data has no targets y; fit needs (x, y)")
    try:
        check_numeric_finite(x, "x")
        if transform is None:
            check_fits_dtype(x, model_dtype(model), "x")
        if y.ndim < 1 or len(y) != len(x):
            raise ValueError(f"x has {len(x)} samples but y has {len(y) if y.ndim else 'a scalar'}; "
                             "they must match")
        check_numeric_finite(y, "y")
    except (ValueError, TypeError) as e:
        raise type(e)(f"{name} data: {e}") from None
    if len(x) == 0:
        raise ValueError(f"the {name} data is empty")
    sample = x[:1] if transform is None else np.asarray(transform(x[:1]))
    out_shape = probe_output_shape(model, sample, name)
    if loss_kind == "classes":
        if len(out_shape) != 2:
            raise ValueError(
                f"a classification loss needs model outputs of shape (N, classes), but the model gives "
                f"{out_shape} for one {name} sample")
        c = out_shape[1]
        if y.ndim == 1:
            if y.dtype.kind not in "iu":
                raise TypeError(f"{name} labels must be integers for cross-entropy, got dtype {y.dtype}; "
                                "convert with y.astype(np.int64)")
            lo, hi = int(y.min()), int(y.max())
            if lo < 0 or hi >= c:
                bad = int(np.argmax((y < 0) | (y >= c)))
                raise ValueError(
                    f"{name} labels must lie in [0, {c}) for a model with {c} outputs, but y[{bad}] = {y[bad]} "
                    f"(labels range over [{lo}, {hi}]); fix the labels or give the model more outputs")
        elif y.shape[1:] != (c,):
            raise ValueError(f"{name} targets of shape {y.shape} do not match the model's {c} outputs: "
                             f"give integer labels (N,) or probability rows (N, {c})")
        elif y.dtype.kind != "f":
            raise TypeError(f"{name} targets of shape {y.shape} are read as probability rows, which must be floats, "
                            f"got dtype {y.dtype}; give integer labels of shape (N,) or y.astype(np.float32)")
    elif loss_kind in ("binary", "regression"):
        if tuple(y.shape[1:]) != tuple(out_shape[1:]):
            raise ValueError(
                f"{name} targets have shape {tuple(y.shape[1:])} per sample but the model outputs "
                f"{tuple(out_shape[1:])}; reshape y (e.g. y[:, None]) or change the model's output size")
        if loss_kind == "binary" and (np.min(y) < 0 or np.max(y) > 1):
            raise ValueError(f"{name} targets for binary cross-entropy must lie in [0, 1], "
                             f"found [{np.min(y)}, {np.max(y)}]")
    return out_shape
