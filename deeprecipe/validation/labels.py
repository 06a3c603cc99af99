"""Class labels: what a set of integer labels may say about the number of classes.

The command line infers the number of classes ``C`` from the labels (``max + 1``) and
builds a model with ``C`` outputs, so a label sets a size.  These rules run before
anything is allocated from it:

* labels are integers of shape ``(N,)``, at least one of them, and none negative;
* ``C`` is at most :data:`MAX_CLASSES` (one stray label ``2**40`` would otherwise ask
  for a 32 TiB output layer);
* most of the classes ``0..C-1`` occur in the training labels: when more than half of
  them have no sample (:data:`MIN_CLASS_COVERAGE`), the labels are a stray value or an
  encoding that is not ``0..C-1`` (e.g. ``{0, 1000000}``), and training a ``C``-class
  model on them would silently be wrong;
* every test (and validation) label is one of the training classes ``0..C-1``: a test
  label beyond them would otherwise widen the model to a class it never saw.

Each failure is a :class:`LabelError` (a ``ValueError``) naming the array, the value,
its index and what to do (usually ``np.unique(y, return_inverse=True)`` to re-encode).
"""
from __future__ import annotations

import numpy as np

#: Largest number of classes inferred from labels (far above any dataset deeprecipe
#: targets; ImageNet-21k has 21,841). Pass labels through np.unique to re-encode.
MAX_CLASSES = 100_000
#: Fewer than this fraction of the classes 0..C-1 present in the training labels is refused.
MIN_CLASS_COVERAGE = 0.5

_REENCODE = "re-encode them as 0..C-1 with `classes, y = np.unique(y, return_inverse=True)`"


class LabelError(ValueError):
    """Class labels that cannot define (or do not fit) a classification problem."""


def check_label_array(y, name: str = "y_train"):
    """``y`` as an integer array of shape ``(N,)`` with no negative entry; returns it."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise LabelError(f"{name} must be integer class labels of shape (N,), got shape {y.shape}")
    if y.dtype.kind not in "iu":
        raise LabelError(f"{name} must be integer class labels, got dtype {y.dtype}; "
                         "convert with y.astype(np.int64) (or " + _REENCODE + ")")
    if len(y) == 0:
        raise LabelError(f"{name} is empty: there is no label to learn from")
    lo = int(y.min())
    if lo < 0:
        i = int(np.argmax(y < 0))
        n = int((y < 0).sum())
        every = "every label is negative" if n == len(y) else f"{n} of {len(y)} labels are negative"
        raise LabelError(f"{name}[{i}] = {int(y[i])}: class labels must be >= 0 ({every}); {_REENCODE}")
    return y


def infer_num_classes(y_train, y_test=None, *, train_name: str = "y_train", test_name: str = "y_test",
                      max_classes: int = MAX_CLASSES) -> int:
    """The number of classes ``C`` the training labels define, checked by every rule above.

    ``y_test`` (optional, or a list of ``(name, labels)`` pairs for several splits) must
    lie in the training classes ``[0, C)``.  Nothing of size ``C`` is allocated before
    ``C`` is known to be at most ``max_classes``.
    """
    y = check_label_array(y_train, train_name)
    hi = int(y.max())
    c = hi + 1
    if c > max_classes:
        i = int(np.argmax(y == hi))
        raise LabelError(
            f"{train_name}[{i}] = {hi} would make a model with {c:,} classes, more than the limit of "
            f"{max_classes:,}; a stray label or labels that are not 0..C-1: {_REENCODE}")
    present = len(np.unique(y))  # sorts a copy; never allocates anything of size C
    if present < MIN_CLASS_COVERAGE * c:
        i = int(np.argmax(y == hi))
        raise LabelError(
            f"{train_name} uses only {present} of the {c} classes 0..{hi} that its largest label "
            f"{train_name}[{i}] = {hi} implies: a stray label, or labels that are not 0..C-1; {_REENCODE} "
            "(and the same mapping for the test labels)")
    others = [] if y_test is None else (y_test if isinstance(y_test, list) else [(test_name, y_test)])
    for name, yt in others:
        if yt is None:
            continue
        yt = check_label_array(yt, name)
        bad = yt >= c
        if bad.any():
            i = int(np.argmax(bad))
            raise LabelError(
                f"{name}[{i}] = {int(yt[i])} is not one of the training classes 0..{hi} ({int(bad.sum())} "
                f"{name} label(s) are outside them): a model cannot learn a class it never sees; "
                f"drop those samples or use the same label encoding for both splits")
    return c
