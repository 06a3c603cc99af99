"""Validation at deeprecipe's boundaries: each rule in one module, called by every entry point.

=========================  ==================================================  ==========================
boundary                   rules                                               module
=========================  ==================================================  ==========================
command line / TOML        option names (with "did you mean"), types, ranges,  :mod:`.options`,
                           file encodings                                      ``train.config``
dataset files              header sizes vs file size, zip/CRC damage, pickled  :mod:`.files`,
                           members, empty splits, zero features                :mod:`.splits`
labels                     integer, non-negative, number of classes bounded,   :mod:`.labels`
                           no stray label, test labels in the training classes
model sizes                integers >= 1, parameter count bounded              :mod:`.sizes`
arrays given to ``fit``    lengths, finiteness, labels vs model outputs        ``train.validation``
result directories         manifest of what a run wrote; ``--overwrite`` only  :mod:`.rundir`
                           removes that; lab results read as regular files
                           inside the directory only
checkpoints                file integrity (zip, header, SHA-256) in            ``serialization``,
                           ``serialization``; every field a resumed ``fit``    :mod:`.checkpoints`
                           uses (counters, RNG, sums, finite weights)
atomic writes              one temporary-file name; orphans of killed writes   :mod:`.tempfiles`
                           removed on the next write of the same file
divergence                 a finite loss 1000x over its reference stops a run  ``train.callbacks.divergence``
=========================  ==================================================  ==========================

Every error is a ``ValueError``/``TypeError``/``OSError`` subclass whose message names the
file or argument, the offending value, and what to do.
"""
from .files import DataFileError, UnsafePathError, read_npz_arrays, regular_file_inside  # noqa: F401
from .labels import MAX_CLASSES, LabelError, infer_num_classes  # noqa: F401
from .sizes import MAX_PARAMETERS, SizeError, check_size, check_sizes  # noqa: F401
