"""Dataset discovery, download into the cache, offline errors, and the real Fashion-MNIST."""
import dataclasses
import hashlib
import os
import time
from pathlib import Path

import numpy as np
import pytest

from deeprecipe.data import (
    DATASETS, DatasetNotFoundError, candidate_dirs, digits, fashion_mnist, find_files, mnist,
)
from deeprecipe.data import datasets as datasets_module
from deeprecipe.data import download as download_module
from deeprecipe.data import write_idx

from .fakes import FILES, make_fake_dataset


def _assert_loaded(result, arrays):
    (x_tr, y_tr), (x_te, y_te) = result
    assert x_tr.dtype == np.uint8 and x_tr.shape == arrays["train_images"].shape
    assert y_tr.dtype == np.int64 and y_tr.shape == (len(x_tr),)
    np.testing.assert_array_equal(x_tr, arrays["train_images"])
    np.testing.assert_array_equal(y_tr, arrays["train_labels"])
    np.testing.assert_array_equal(x_te, arrays["test_images"])
    np.testing.assert_array_equal(y_te, arrays["test_labels"])


def test_root_is_loaded(tmp_path, no_system_data):
    arrays = make_fake_dataset(tmp_path / "r", seed=1)
    _assert_loaded(fashion_mnist(root=tmp_path / "r", download=False), arrays)


def test_plain_uncompressed_files_accepted(tmp_path, no_system_data):
    arrays = make_fake_dataset(tmp_path / "r", seed=2, gz=False)
    _assert_loaded(mnist(root=tmp_path / "r", download=False), arrays)


def test_discovery_order(tmp_path, monkeypatch, no_system_data, isolated_data_env):
    # One distinct fake copy per location; the first location in the order must win.
    system = make_fake_dataset(no_system_data / "fashion-mnist", seed=10)
    cache = make_fake_dataset(isolated_data_env / ".cache" / "deeprecipe" / "fashion-mnist", seed=11)
    env = make_fake_dataset(tmp_path / "envdir" / "fashion-mnist", seed=12)
    root = make_fake_dataset(tmp_path / "root", seed=13)
    monkeypatch.setenv("DEEPRECIPE_DATA", str(tmp_path / "envdir"))

    _assert_loaded(fashion_mnist(root=tmp_path / "root", download=False), root)
    _assert_loaded(fashion_mnist(download=False), env)
    monkeypatch.delenv("DEEPRECIPE_DATA")
    _assert_loaded(fashion_mnist(download=False), cache)
    for f in (isolated_data_env / ".cache" / "deeprecipe" / "fashion-mnist").iterdir():
        f.unlink()
    _assert_loaded(fashion_mnist(download=False), system)


def test_env_var_directly_holding_files(tmp_path, monkeypatch, no_system_data):
    arrays = make_fake_dataset(tmp_path / "flat", seed=3)
    monkeypatch.setenv("DEEPRECIPE_DATA", str(tmp_path / "flat"))
    _assert_loaded(mnist(download=False), arrays)


def test_xdg_cache_home_is_honoured(tmp_path, monkeypatch, no_system_data, isolated_data_env):
    make_fake_dataset(isolated_data_env / ".cache" / "deeprecipe" / "mnist", seed=4)
    xdg = make_fake_dataset(tmp_path / "xdg" / "deeprecipe" / "mnist", seed=5)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert candidate_dirs("mnist")[0] == tmp_path / "xdg" / "deeprecipe" / "mnist"
    _assert_loaded(mnist(download=False), xdg)


def test_incomplete_folder_is_skipped(tmp_path, monkeypatch, no_system_data):
    make_fake_dataset(tmp_path / "partial", seed=6)
    (tmp_path / "partial" / FILES["test_labels"]).unlink()
    full = make_fake_dataset(tmp_path / "env", seed=7)
    monkeypatch.setenv("DEEPRECIPE_DATA", str(tmp_path / "env"))
    _assert_loaded(mnist(root=tmp_path / "partial", download=False), full)


def test_offline_not_found_error_says_how_to_get_it(no_system_data):
    with pytest.raises(DatasetNotFoundError) as exc:
        fashion_mnist()  # download=True, but the network is disabled in these tests
    msg = str(exc.value)
    assert "apt-get install dataset-fashion-mnist" in msg
    assert "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/" in msg
    assert "DEEPRECIPE_DATA" in msg
    assert "network disabled" in msg  # the underlying reason is shown too
    assert isinstance(exc.value, FileNotFoundError)

    with pytest.raises(DatasetNotFoundError, match="download=False") as exc:
        mnist(download=False)
    msg = str(exc.value)
    assert "https://ossci-datasets.s3.amazonaws.com/mnist/" in msg
    assert "DEEPRECIPE_DATA" in msg


def _serve(tmp_path, monkeypatch, seed=8, corrupt=None):
    """Put fake files in a folder, point the MNIST spec at it by file:// URL with their MD5s."""
    served = tmp_path / "served"
    arrays = make_fake_dataset(served, seed=seed)
    md5 = {f: hashlib.md5((served / f).read_bytes()).hexdigest() for f in FILES.values()}
    if corrupt:
        md5[corrupt] = "0" * 32
    spec = dataclasses.replace(DATASETS["mnist"], md5=md5,
                               mirrors=((tmp_path / "nowhere").as_uri() + "/", served.as_uri() + "/"))
    monkeypatch.setitem(DATASETS, "mnist", spec)
    return arrays


def test_download_into_cache_verified(tmp_path, monkeypatch, no_system_data, isolated_data_env):
    arrays = _serve(tmp_path, monkeypatch)       # first mirror missing: falls back to the second
    _assert_loaded(mnist(progress=False), arrays)
    cache = isolated_data_env / ".cache" / "deeprecipe" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(FILES.values())
    assert find_files("mnist")["train_images"].parent == cache

    # Second call: found in the cache, no download attempted.
    def fail(*a, **k):
        raise AssertionError("downloaded again")
    monkeypatch.setattr(download_module, "urlopen", fail)
    _assert_loaded(mnist(), arrays)


def test_download_into_root(tmp_path, monkeypatch, no_system_data):
    arrays = _serve(tmp_path, monkeypatch)
    _assert_loaded(mnist(root=tmp_path / "mine", progress=False), arrays)
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == sorted(FILES.values())


def test_download_checksum_mismatch(tmp_path, monkeypatch, no_system_data, isolated_data_env):
    _serve(tmp_path, monkeypatch, corrupt=FILES["train_labels"])
    with pytest.raises(DatasetNotFoundError, match="checksum mismatch"):
        mnist(progress=False)
    cache = isolated_data_env / ".cache" / "deeprecipe" / "mnist"
    names = sorted(p.name for p in cache.iterdir())
    # The verified file before it stays; the corrupt one and any temporary are gone.
    assert names == [FILES["train_images"]]


def test_inconsistent_files_rejected(tmp_path, no_system_data):
    make_fake_dataset(tmp_path / "bad", n_train=30)
    write_idx(tmp_path / "bad" / FILES["train_labels"], np.zeros(29, dtype=np.uint8))
    with pytest.raises(ValueError, match="29 labels.*30 images"):
        mnist(root=tmp_path / "bad", download=False)
    write_idx(tmp_path / "bad" / FILES["train_labels"], np.full(30, 10, dtype=np.uint8))
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        mnist(root=tmp_path / "bad", download=False)
    write_idx(tmp_path / "bad" / FILES["train_images"], np.zeros((30, 8, 8), dtype=np.uint8))
    with pytest.raises(ValueError, match="28, 28"):
        mnist(root=tmp_path / "bad", download=False)


def test_digits():
    pytest.importorskip("sklearn")
    (x_tr, y_tr), (x_te, y_te) = digits(test_fraction=0.2, seed=0)
    assert x_tr.shape[1:] == (8, 8) and x_tr.dtype == np.float32 and y_tr.dtype == np.int64
    assert len(x_tr) + len(x_te) == 1797 and len(x_te) == round(1797 * 0.2)
    assert 0.0 <= x_tr.min() and x_tr.max() == 1.0
    assert set(np.unique(y_te)) == set(range(10))
    (x2, _), _ = digits(test_fraction=0.2, seed=0)
    np.testing.assert_array_equal(x_tr, x2)


def test_digits_without_sklearn(monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"pip install scikit-learn.*data"):
        digits()


REAL = Path(datasets_module.SYSTEM_DATA_DIRS[0]) / "fashion-mnist"


@pytest.mark.skipif(not (REAL / FILES["train_images"]).is_file(),
                    reason="Debian package dataset-fashion-mnist not installed")
def test_real_fashion_mnist():
    t0 = time.perf_counter()
    (x_tr, y_tr), (x_te, y_te) = fashion_mnist(download=False)
    elapsed = time.perf_counter() - t0
    assert x_tr.shape == (60000, 28, 28) and x_te.shape == (10000, 28, 28)
    assert x_tr.dtype == np.uint8 and y_tr.dtype == np.int64 and y_te.dtype == np.int64
    assert y_tr.shape == (60000,) and y_te.shape == (10000,)
    assert y_tr.min() == 0 and y_tr.max() == 9
    # Fashion-MNIST is balanced: 6000 training and 1000 test images per class.
    np.testing.assert_array_equal(np.bincount(y_tr), np.full(10, 6000))
    np.testing.assert_array_equal(np.bincount(y_te), np.full(10, 1000))
    assert elapsed < 10, f"loading took {elapsed:.1f}s"  # ~0.5 s normally; generous for busy CI
    assert os.environ.get("DEEPRECIPE_DATA") is None
