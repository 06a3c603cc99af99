"""Data: real datasets (Fashion-MNIST, MNIST, digits), synthetic problems, preprocessing,
the IDX file format and a reproducible DataLoader.

    (x_train, y_train), (x_test, y_test) = fashion_mnist()      # uint8 (N, 28, 28), int64 (N,)
    (x_tr, y_tr), (x_val, y_val) = train_val_split(x_train, y_train, 0.1, seed=0)
    loader = DataLoader(x_tr, y_tr, batch_size=128, seed=0, transform=scale01)
    for xb, yb in loader: ...
"""
from .datasets import (  # noqa: F401
    DATASETS, DatasetNotFoundError, cache_dir, candidate_dirs, digits, fashion_mnist, find_files,
    load, mnist,
)
from .catalog import CATALOG  # noqa: F401
from .download import ChecksumError, download_file  # noqa: F401
from .idx import read_idx, read_idx_header, write_idx  # noqa: F401
from .loader import DataLoader  # noqa: F401
from .preprocessing import (  # noqa: F401
    Standardizer, check_arrays, one_hot, scale01, train_val_split,
)
from .synthetic import FIZZBUZZ_CLASSES, blobs, fizzbuzz, fizzbuzz_labels, spirals  # noqa: F401

__all__ = [
    "CATALOG", "DATASETS", "DatasetNotFoundError", "cache_dir", "candidate_dirs", "digits", "fashion_mnist",
    "find_files", "load", "mnist", "ChecksumError", "download_file", "read_idx", "read_idx_header",
    "write_idx", "DataLoader", "Standardizer", "check_arrays", "one_hot", "scale01",
    "train_val_split", "FIZZBUZZ_CLASSES", "blobs", "fizzbuzz", "fizzbuzz_labels", "spirals",
]
