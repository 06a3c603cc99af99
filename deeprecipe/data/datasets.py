"""Real datasets: Fashion-MNIST, MNIST (IDX files) and scikit-learn's 8x8 digits.

Where the IDX datasets are looked for, in order (the first directory holding all four
files wins; each file may be gzipped or plain):

1. ``root``, when given;
2. ``$DEEPRECIPE_DATA`` and ``$DEEPRECIPE_DATA/<name>`` (e.g. ``.../fashion-mnist``);
3. the user cache ``$XDG_CACHE_HOME/deeprecipe/<name>`` (default ``~/.cache/deeprecipe/<name>``);
4. system locations: ``/usr/share/datasets/<name>`` (Debian's ``dataset-fashion-mnist``
   package installs Fashion-MNIST there) and ``/usr/local/share/datasets/<name>``.

Otherwise, with ``download=True``, the files are downloaded from the official mirrors into
``root`` (if given) or the cache, each verified against its published MD5 (the ones
torchvision uses).  Offline and not found: :class:`DatasetNotFoundError` says how to get
the data.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import download as _dl
from .idx import read_idx

ENV_VAR = "DEEPRECIPE_DATA"
# Parent folders searched for ``<name>/``; a module attribute so tests can change it.
SYSTEM_DATA_DIRS: tuple[str, ...] = ("/usr/share/datasets", "/usr/local/share/datasets")
_DEBIAN_DATA_DIR = "/usr/share/datasets"  # where Debian's dataset-* packages install

_PARTS = ("train_images", "train_labels", "test_images", "test_labels")


@dataclass(frozen=True)
class IdxDataset:
    """Where an MNIST-format dataset lives and how to check it."""
    name: str                       # canonical name, also the cache folder name
    title: str                      # for messages
    files: dict                     # part -> file name (gzipped, as published)
    md5: dict                       # file name -> published MD5 of the .gz file
    mirrors: tuple                  # base URLs, tried in order
    dir_names: tuple = ()           # other folder names accepted under the search roots
    apt_package: str | None = None  # Debian/Ubuntu package that installs it, if any
    image_shape: tuple = (28, 28)
    num_classes: int = 10
    classes: tuple = field(default=())


_MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}

DATASETS: dict[str, IdxDataset] = {
    "fashion-mnist": IdxDataset(
        name="fashion-mnist",
        title="Fashion-MNIST",
        files=_MNIST_FILES,
        # https://github.com/zalandoresearch/fashion-mnist#get-the-data (as in torchvision)
        md5={
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        },
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        dir_names=("fashion_mnist", "FashionMNIST", "FashionMNIST/raw"),
        apt_package="dataset-fashion-mnist",
        classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    ),
    "mnist": IdxDataset(
        name="mnist",
        title="MNIST",
        files=_MNIST_FILES,
        # torchvision.datasets.MNIST.resources
        md5={
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        },
        mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",
                 "http://yann.lecun.com/exdb/mnist/"),
        dir_names=("MNIST", "MNIST/raw"),
        classes=tuple(str(i) for i in range(10)),
    ),
}


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is neither on disk nor downloadable; the message says how to get it."""


def get_spec(name: str) -> IdxDataset:
    key = name.lower().replace("_", "-")
    if key not in DATASETS:
        raise ValueError(f"unknown IDX dataset {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[key]


def cache_dir(name: str | None = None) -> Path:
    """``$XDG_CACHE_HOME/deeprecipe[/name]``, default ``~/.cache/deeprecipe[/name]``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    d = Path(base) / "deeprecipe"
    return d / name if name else d


def candidate_dirs(name: str, root=None) -> list[Path]:
    """The directories searched for dataset ``name``, in order (see the module docstring)."""
    spec = get_spec(name)
    sub = (spec.name, *spec.dir_names)
    dirs: list[Path] = []
    if root is not None:
        dirs += [Path(root)] + [Path(root) / s for s in sub]
    env = os.environ.get(ENV_VAR)
    if env:
        dirs += [Path(env)] + [Path(env) / s for s in sub]
    dirs.append(cache_dir(spec.name))
    for base in SYSTEM_DATA_DIRS:
        dirs += [Path(base) / s for s in sub]
    seen, out = set(), []
    for d in dirs:  # keep order, drop duplicates
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out


def _find_file(directory: Path, gz_name: str) -> Path | None:
    # Accept the published .gz name or the uncompressed one (read_idx detects gzip itself).
    for fname in (gz_name, gz_name[:-3]):
        p = directory / fname
        if p.is_file():
            return p
    return None


def find_files(name: str, root=None) -> dict[str, Path] | None:
    """The four files of dataset ``name`` from the first directory holding all of them."""
    spec = get_spec(name)
    for d in candidate_dirs(name, root):
        if not d.is_dir():
            continue
        found = {part: _find_file(d, spec.files[part]) for part in _PARTS}
        if all(found.values()):
            return found
    return None


def download_dir(name: str, root=None) -> Path:
    """Where a download of ``name`` goes: ``root`` if given, else the user cache."""
    return Path(root) if root is not None else cache_dir(get_spec(name).name)


def how_to_get(name: str, root=None) -> str:
    """The instructions printed when a dataset cannot be found or downloaded."""
    spec = get_spec(name)
    files = ", ".join(spec.files[p] for p in _PARTS)
    lines = [f"To get {spec.title}, do one of:"]
    if spec.apt_package:
        lines.append(f"  - Debian/Ubuntu: sudo apt-get install {spec.apt_package}   "
                     f"(installs {_DEBIAN_DATA_DIR}/{spec.name}/)")
    lines.append(f"  - download {files} from {spec.mirrors[0]} into {download_dir(name, root)}")
    lines.append(f"  - put those four files in a folder DIR (or DIR/{spec.name}) and set "
                 f"{ENV_VAR}=DIR")
    lines.append(f"  - or run `deeprecipe data fetch {spec.name}` on a machine with internet access")
    return "\n".join(lines)


def _download_missing(spec: IdxDataset, target: Path, progress: bool) -> dict[str, Path]:
    """Download the missing files of ``spec`` into ``target``; try each mirror in turn."""
    out = {}
    for part in _PARTS:
        fname = spec.files[part]
        existing = _find_file(target, fname)
        if existing is not None:
            out[part] = existing
            continue
        errors = []
        for base in spec.mirrors:
            url = base + fname
            try:
                out[part] = _dl.download_file(url, target / fname, md5=spec.md5[fname],
                                                    progress=progress)
                break
            except (OSError, _dl.ChecksumError) as e:  # URLError is an OSError
                errors.append(f"{url}: {e}")
        else:
            raise OSError("; ".join(errors))
    return out


def _load_idx_dataset(name: str, root=None, download: bool = True, progress: bool = True):
    spec = get_spec(name)
    files = find_files(name, root)
    if files is None:
        searched = "\n".join(f"  {d}" for d in candidate_dirs(name, root))
        if not download:
            raise DatasetNotFoundError(
                f"{spec.title} not found (download=False). Searched:\n{searched}\n"
                + how_to_get(name, root))
        try:
            files = _download_missing(spec, download_dir(name, root), progress)
        except OSError as e:
            raise DatasetNotFoundError(
                f"{spec.title} not found locally and the download failed ({e}).\n"
                f"Searched:\n{searched}\n" + how_to_get(name, root)) from None
    x_train, y_train = _read_split(spec, files["train_images"], files["train_labels"])
    x_test, y_test = _read_split(spec, files["test_images"], files["test_labels"])
    return (x_train, y_train), (x_test, y_test)


def _read_split(spec: IdxDataset, images_path: Path, labels_path: Path):
    x = read_idx(images_path)
    y = read_idx(labels_path)
    if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != spec.image_shape:
        raise ValueError(f"{images_path}: expected uint8 images of shape (N, "
                         f"{spec.image_shape[0]}, {spec.image_shape[1]}), got {x.dtype} {x.shape}")
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise ValueError(f"{labels_path}: expected integer labels of shape (N,), got {y.dtype} {y.shape}")
    if len(y) != len(x):
        raise ValueError(f"{labels_path} has {len(y)} labels but {images_path} has {len(x)} images")
    y = y.astype(np.int64)
    if y.size and (y.min() < 0 or y.max() >= spec.num_classes):
        raise ValueError(f"{labels_path}: labels must lie in [0, {spec.num_classes}), "
                         f"found range [{y.min()}, {y.max()}]")
    return x, y


def fashion_mnist(root=None, download: bool = True, progress: bool = True):
    """Fashion-MNIST (Xiao et al. 2017, https://arxiv.org/abs/1708.07747).

    Returns ``(x_train, y_train), (x_test, y_test)``: x uint8 ``(60000, 28, 28)`` /
    ``(10000, 28, 28)`` with values 0..255, y int64 ``(N,)`` in 0..9 (class names in
    ``DATASETS['fashion-mnist'].classes``).  See the module docstring for where it is looked
    for; ``root`` is searched first and is where a download goes.
    """
    return _load_idx_dataset("fashion-mnist", root, download, progress)


def mnist(root=None, download: bool = True, progress: bool = True):
    """MNIST handwritten digits (LeCun et al. 1998). Same layout and search as :func:`fashion_mnist`."""
    return _load_idx_dataset("mnist", root, download, progress)


def digits(test_fraction: float = 0.2, seed: int = 0):
    """scikit-learn's bundled 8x8 handwritten digits (1797 images, 10 classes; no download).

    Returns ``(x_train, y_train), (x_test, y_test)`` like :func:`mnist`, split by a seeded,
    stratified :func:`~deeprecipe.data.train_val_split`: x float32 ``(N, 8, 8)`` scaled from
    the original 0..16 to [0, 1], y int64 ``(N,)``.
    """
    try:
        from sklearn.datasets import load_digits  # optional dependency
    except ImportError as e:
        raise ImportError("digits() needs scikit-learn: pip install scikit-learn "
                          "(or pip install 'deeprecipe[data]')") from e
    from .preprocessing import train_val_split
    bunch = load_digits()
    x = (np.asarray(bunch.images, dtype=np.float32) / np.float32(16.0))
    y = np.asarray(bunch.target, dtype=np.int64)
    return train_val_split(x, y, val_fraction=test_fraction, seed=seed, stratify=True)


def load(name: str, **kwargs):
    """Load a dataset by name or spec: a split dataset of ``data.CATALOG`` (``'fashion-mnist'``,
    ``'digits:seed=1'``, ...) as ``(x_train, y_train), (x_test, y_test)``, or a table or series
    of :mod:`deeprecipe.data.tabular` (``'breast-cancer'``, ``'pokemon'``, ``'seattle-weather'``)
    as its ``Table``/``Series``."""
    from .catalog import CATALOG
    from .tabular import TABLES
    key = name.lower().replace("_", "-")
    if key in TABLES:
        return TABLES[key](**kwargs)
    if name.partition(":")[0] not in CATALOG:
        import difflib
        known = [*CATALOG.names(), *TABLES]
        near = difflib.get_close_matches(key, known, n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise ValueError(f"unknown dataset {name!r}{hint}; known: {', '.join(known)}")
    return CATALOG.build(name, **kwargs)
