"""spirals, blobs, fizzbuzz: shapes, dtypes, determinism and correct labels."""
import numpy as np
import pytest

from deeprecipe.data import FIZZBUZZ_CLASSES, blobs, fizzbuzz, spirals


def test_spirals():
    x, y = spirals(n_per_class=50, classes=4, noise=0.1, seed=0)
    assert x.shape == (200, 2) and x.dtype == np.float32
    assert y.shape == (200,) and y.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y), [50] * 4)
    # radius grows linearly from 0 to 1 along every arm
    r = np.linalg.norm(x, axis=1).reshape(4, 50)
    np.testing.assert_allclose(r, np.tile(np.linspace(0, 1, 50), (4, 1)), atol=1e-6)
    x2, y2 = spirals(n_per_class=50, classes=4, noise=0.1, seed=0)
    np.testing.assert_array_equal(x, x2)
    x3, _ = spirals(n_per_class=50, classes=4, noise=0.1, seed=1)
    assert not np.array_equal(x, x3)
    # without noise, arm c is arm 0 rotated by 4c radians
    x0, _ = spirals(n_per_class=20, classes=2, noise=0.0)
    a, b = x0[:20], x0[20:]
    c, s = np.cos(4.0), np.sin(4.0)
    rot = np.stack([a[:, 0] * c + a[:, 1] * s, -a[:, 0] * s + a[:, 1] * c], axis=1)
    np.testing.assert_allclose(b, rot, atol=1e-6)


def test_blobs():
    x, y = blobs(n=101, centers=3, dim=5, std=0.5, seed=0)
    assert x.shape == (101, 5) and x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y), [34, 34, 33])
    x2, y2 = blobs(n=101, centers=3, dim=5, std=0.5, seed=0)
    np.testing.assert_array_equal(x, x2)
    assert not np.array_equal(x, blobs(n=101, centers=3, dim=5, std=0.5, seed=1)[0])
    centers = np.array([[0.0, 0.0], [100.0, 0.0]])
    x, y = blobs(n=4000, centers=centers, std=2.0, seed=0)
    for k in range(2):
        np.testing.assert_allclose(x[y == k].mean(0), centers[k], atol=0.2)
        np.testing.assert_allclose(x[y == k].std(0), 2.0, rtol=0.06)
    with pytest.raises(ValueError, match="centers"):
        blobs(centers=np.zeros(3))


def test_fizzbuzz_labels_and_encoding():
    x, y = fizzbuzz(1, 101, bits=10)
    assert x.shape == (100, 10) and x.dtype == np.float32 and y.dtype == np.int64
    for i, n in enumerate(range(1, 101)):
        expected = 3 if n % 15 == 0 else 1 if n % 3 == 0 else 2 if n % 5 == 0 else 0
        assert y[i] == expected, n
        assert int(sum(int(b) << k for k, b in enumerate(x[i]))) == n   # LSB first
    assert FIZZBUZZ_CLASSES[y[14]] == "fizzbuzz"   # 15
    assert FIZZBUZZ_CLASSES[y[2]] == "fizz" and FIZZBUZZ_CLASSES[y[4]] == "buzz"
    x_tr, y_tr = fizzbuzz(101, 1001)
    assert x_tr.shape == (900, 10) and np.bincount(y_tr).tolist() == [480, 240, 120, 60]
    with pytest.raises(ValueError, match="bits"):
        fizzbuzz(1, 1025, bits=10)
    with pytest.raises(ValueError, match="lo < hi"):
        fizzbuzz(5, 5)
