"""Small fake MNIST-format datasets that the tests write themselves (no downloads)."""
import numpy as np

from deeprecipe.data import write_idx

FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


def make_fake_dataset(directory, n_train=30, n_test=10, seed=0, gz=True):
    """Write the four IDX files into ``directory``; return the arrays written."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for part, a in arrays.items():
        name = FILES[part] if gz else FILES[part][:-3]
        write_idx(directory / name, a, compress=gz)
    return arrays
