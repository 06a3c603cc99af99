"""scale01, Standardizer, one_hot, train_val_split, check_arrays."""
import numpy as np
import pytest

from deeprecipe.data import Standardizer, check_arrays, one_hot, scale01, train_val_split


def test_scale01():
    x = np.array([[0, 51, 255]], dtype=np.uint8)
    out = scale01(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.0, 0.2, 1.0]], rtol=1e-6)
    assert x[0, 2] == 255  # input untouched
    np.testing.assert_allclose(scale01(np.array([0, 8, 16]), max_value=16), [0, 0.5, 1])
    assert scale01(np.array([0.25], dtype=np.float64)).dtype == np.float32
    with pytest.raises(ValueError, match="max_value"):
        scale01(np.array([0.0, 3.0]))
    with pytest.raises(TypeError, match="max_value"):
        scale01(np.array([1, 2], dtype=np.int32))


def test_standardizer_fits_on_train_only():
    rng = np.random.default_rng(0)
    x_train = rng.normal(5.0, 2.0, size=(500, 3, 2)).astype(np.float32)
    x_train[:, 0, 0] = 7.0  # constant feature
    x_test = rng.normal(-3.0, 10.0, size=(100, 3, 2)).astype(np.float32)
    s = Standardizer().fit(x_train)
    z_train = s.transform(x_train)
    assert z_train.dtype == np.float32 and z_train.shape == x_train.shape
    np.testing.assert_allclose(z_train.mean(axis=0), 0, atol=1e-5)
    std = z_train.std(axis=0)
    np.testing.assert_allclose(std[1:], 1, rtol=1e-4)
    np.testing.assert_allclose(z_train[:, 0, 0], 0)  # std 0 → 1, no division by zero
    # Test data is transformed with the *training* statistics, not its own.
    z_test = s.transform(x_test)
    expected = (x_test.astype(np.float64) - x_train.mean(0, dtype=np.float64)) / np.where(
        x_train.std(0, dtype=np.float64) == 0, 1, x_train.std(0, dtype=np.float64))
    np.testing.assert_allclose(z_test, expected, rtol=1e-5, atol=1e-5)
    assert abs(z_test[:, 1:].mean()) > 1  # would be ~0 if fitted on the test set
    np.testing.assert_allclose(s.inverse_transform(z_test), x_test, rtol=1e-5, atol=1e-4)

    s2 = Standardizer()
    s2.load_state_dict(s.state_dict())
    np.testing.assert_array_equal(s2.transform(x_test), z_test)
    with pytest.raises(RuntimeError, match="fit"):
        Standardizer().transform(x_test)
    with pytest.raises(ValueError, match="shape"):
        s.transform(np.zeros((4, 6)))


def test_one_hot():
    out = one_hot(np.array([2, 0, 1, 2]), 4)
    np.testing.assert_array_equal(out, [[0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]])
    assert out.dtype == np.float32
    assert one_hot(np.array([0, 3])).shape == (2, 4)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        one_hot(np.array([0, 3]), 3)
    with pytest.raises(TypeError, match="integer"):
        one_hot(np.array([0.0, 1.0]), 2)


def test_stratified_split_keeps_proportions():
    rng = np.random.default_rng(1)
    counts = np.array([500, 300, 150, 37, 13])
    y = rng.permutation(np.repeat(np.arange(5), counts))
    x = np.arange(len(y) * 2, dtype=np.float32).reshape(len(y), 2)
    (x_tr, y_tr), (x_val, y_val) = train_val_split(x, y, val_fraction=0.2, seed=3)
    assert len(y_val) == round(len(y) * 0.2)
    assert len(y_tr) + len(y_val) == len(y)
    val_counts = np.bincount(y_val, minlength=5)
    assert np.all(np.abs(val_counts - counts * 0.2) <= 1)      # within one sample per class
    # Rows stay paired with their labels, and every sample is in exactly one part.
    rows = np.concatenate([x_tr[:, 0], x_val[:, 0]]) // 2
    assert sorted(rows.astype(int)) == list(range(len(y)))
    np.testing.assert_array_equal(y[(x_val[:, 0] // 2).astype(int)], y_val)
    # Seeded: same seed same split, another seed another split.
    (_, _), (x_val2, _) = train_val_split(x, y, val_fraction=0.2, seed=3)
    (_, _), (x_val3, _) = train_val_split(x, y, val_fraction=0.2, seed=4)
    np.testing.assert_array_equal(x_val, x_val2)
    assert not np.array_equal(x_val, x_val3)


def test_unstratified_split():
    x = np.arange(100)
    y = np.zeros(100, dtype=np.int64)
    (x_tr, _), (x_val, _) = train_val_split(x, y, val_fraction=0.25, seed=0, stratify=False)
    assert len(x_val) == 25 and len(np.intersect1d(x_tr, x_val)) == 0
    with pytest.raises(ValueError, match="val_fraction"):
        train_val_split(x, y, val_fraction=1.0)
    with pytest.raises(ValueError, match="samples"):
        train_val_split(x, y[:50])
    with pytest.raises(TypeError, match="integer"):
        train_val_split(x, y.astype(np.float32))


def test_check_arrays():
    x = np.zeros((4, 3), dtype=np.float32)
    y = np.array([0, 1, 2, 1])
    check_arrays(x, y, num_classes=3)   # valid: no error
    check_arrays(x)
    bad = x.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"non-finite.*\(2, 1\)"):
        check_arrays(bad, y)
    bad[2, 1] = np.inf
    with pytest.raises(ValueError, match="non-finite"):
        check_arrays(bad)
    with pytest.raises(ValueError, match="4 samples but y has 3"):
        check_arrays(x, y[:3])
    with pytest.raises(ValueError, match=r"\[0, 2\).*y\[2\] = 2"):
        check_arrays(x, y, num_classes=2)
    with pytest.raises(ValueError, match=r">= 0.*y\[1\] = -1"):
        check_arrays(x, np.array([0, -1, 0, 0]))
    with pytest.raises(TypeError, match="integer"):
        check_arrays(x, np.array([0.0, 1.5, 0, 0]))
    with pytest.raises(TypeError, match="numeric"):
        check_arrays(np.array([["a"]] * 4), y)
    check_arrays(x, np.zeros((4, 3)))  # one-hot / regression targets: only finiteness
    with pytest.raises(ValueError, match="NaN"):
        check_arrays(x, np.full((4, 3), np.nan))
