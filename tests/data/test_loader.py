"""DataLoader: each sample once per epoch, reproducible per (seed, epoch), resumable."""
import numpy as np
import pytest

from deeprecipe.data import DataLoader, scale01

N = 103


@pytest.fixture
def data():
    x = np.arange(N * 6, dtype=np.float32).reshape(N, 2, 3)  # sample i has x[i,0,0] == 6 i
    y = np.arange(N, dtype=np.int64) * 10
    return x, y


def _epoch_ids(loader):
    return np.concatenate([yb // 10 for _, yb in loader])


def test_every_sample_once_per_epoch_and_epochs_differ(data):
    x, y = data
    loader = DataLoader(x, y, batch_size=10, shuffle=True, seed=0)
    assert len(loader) == 11
    epochs = []
    for _ in range(3):
        batches = list(loader)
        assert len(batches) == 11
        assert [len(xb) for xb, _ in batches] == [10] * 10 + [3]
        for xb, yb in batches:
            assert xb.shape[1:] == (2, 3)
            np.testing.assert_array_equal(xb[:, 0, 0] / 6, yb // 10)   # x and y stay paired
        ids = np.concatenate([yb // 10 for _, yb in batches])
        np.testing.assert_array_equal(np.sort(ids), np.arange(N))       # without replacement
        epochs.append(ids)
    assert not np.array_equal(epochs[0], epochs[1])
    assert not np.array_equal(epochs[1], epochs[2])
    assert not np.array_equal(epochs[0], np.arange(N))                  # actually shuffled
    assert loader.epoch == 3


def test_same_seed_same_order_other_seed_other_order(data):
    x, y = data
    a = DataLoader(x, y, batch_size=16, seed=7)
    b = DataLoader(x, y, batch_size=16, seed=7)
    c = DataLoader(x, y, batch_size=16, seed=8)
    for _ in range(2):
        ea, eb, ec = _epoch_ids(a), _epoch_ids(b), _epoch_ids(c)
        np.testing.assert_array_equal(ea, eb)
        assert not np.array_equal(ea, ec)


def test_set_epoch_reproduces_any_epoch(data):
    x, y = data
    run = DataLoader(x, y, batch_size=8, seed=3)
    history = [_epoch_ids(run) for _ in range(5)]
    resumed = DataLoader(x, y, batch_size=8, seed=3)
    resumed.set_epoch(3)                       # a run resumed at epoch 3
    np.testing.assert_array_equal(_epoch_ids(resumed), history[3])
    np.testing.assert_array_equal(_epoch_ids(resumed), history[4])   # then advances on its own
    # Order does not depend on a different batch size either (it is a property of the epoch).
    other = DataLoader(x, y, batch_size=50, seed=3)
    other.set_epoch(2)
    np.testing.assert_array_equal(_epoch_ids(other), history[2])
    # And a state_dict round trip restores the position.
    fresh = DataLoader(x, y, batch_size=8, seed=99)
    fresh.load_state_dict({"epoch": 1, "seed": 3})
    np.testing.assert_array_equal(_epoch_ids(fresh), history[1])


def test_iter_from_resumes_mid_epoch(data):
    x, y = data
    full = list(DataLoader(x, y, batch_size=10, seed=5).iter_from(0, epoch=2))
    loader = DataLoader(x, y, batch_size=10, seed=5)
    loader.set_epoch(2)
    tail = list(loader.iter_from(4))
    assert len(tail) == len(full) - 4
    for (xa, ya), (xb, yb) in zip(full[4:], tail):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    assert loader.epoch == 3
    with pytest.raises(ValueError, match="start_batch"):
        loader.iter_from(12)


def test_breaking_early_still_advances_epoch(data):
    x, y = data
    loader = DataLoader(x, y, batch_size=10, seed=0)
    for _ in loader:
        break
    assert loader.epoch == 1


def test_drop_last_and_len(data):
    x, y = data
    loader = DataLoader(x, y, batch_size=10, drop_last=True, seed=1)
    assert len(loader) == 10
    batches = list(loader)
    assert len(batches) == 10 and all(len(xb) == 10 for xb, _ in batches)
    ids = np.concatenate([yb // 10 for _, yb in batches])
    assert len(np.unique(ids)) == 100          # 3 samples dropped, none repeated
    assert len(DataLoader(x, y, batch_size=N).__iter__().__next__()[0]) == N
    assert len(DataLoader(x, batch_size=1)) == N


def test_no_shuffle_keeps_order_and_no_y(data):
    x, _ = data
    batches = list(DataLoader(x, batch_size=25, shuffle=False))
    assert all(yb is None for _, yb in batches)
    np.testing.assert_array_equal(np.concatenate([xb for xb, _ in batches]), x)


def test_batches_are_copies(data):
    x, y = data
    xb, _ = next(iter(DataLoader(x, y, batch_size=4, shuffle=False)))
    xb[...] = -1
    assert x[0, 0, 0] == 0


def test_transform_per_batch():
    x = np.full((10, 4), 255, dtype=np.uint8)
    xb, _ = next(iter(DataLoader(x, batch_size=3, transform=scale01)))
    assert xb.dtype == np.float32 and np.all(xb == 1.0)


def test_curriculum_easy_first_then_shuffled(data):
    x, y = data
    rng = np.random.default_rng(0)
    score = rng.integers(0, 5, size=N).astype(np.float64)   # many ties
    loader = DataLoader(x, y, batch_size=10, seed=2, curriculum=score, curriculum_epochs=2)
    e0, e1, e2 = (_epoch_ids(loader) for _ in range(3))
    for e in (e0, e1):
        np.testing.assert_array_equal(np.sort(e), np.arange(N))
        assert np.all(np.diff(score[e]) >= 0)                 # easy first
    assert not np.array_equal(e0, e1)                         # ties broken per epoch, seeded
    assert not np.all(np.diff(score[e2]) >= 0)                # curriculum over: shuffled
    plain = DataLoader(x, y, batch_size=10, seed=2)
    plain.set_epoch(2)
    np.testing.assert_array_equal(e2, _epoch_ids(plain))
    # Within one score level, the order is the epoch's seeded permutation.
    perm0 = DataLoader(x, y, seed=2).order(0)
    level = score[perm0] == 3
    np.testing.assert_array_equal(e0[score[e0] == 3], perm0[level])


def test_invalid_arguments(data):
    x, y = data
    with pytest.raises(ValueError, match="must match"):
        DataLoader(x, y[:-1])
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(x, y, batch_size=0)
    with pytest.raises(ValueError, match="empty"):
        DataLoader(x[:0])
    with pytest.raises(ValueError, match="curriculum"):
        DataLoader(x, y, curriculum=np.zeros(3))
    with pytest.raises(ValueError, match="drop_last"):
        DataLoader(x, y, batch_size=N + 1, drop_last=True)


def test_fancy_index_not_per_sample_loop(data):
    # One gather per batch: __getitem__ on the data array is called once per batch.
    x, y = data

    class Counting(np.ndarray):
        calls = 0

        def __getitem__(self, idx):
            Counting.calls += 1
            return super().__getitem__(idx)

    cx = x.view(Counting)
    loader = DataLoader(cx, y, batch_size=10)
    loader.x = cx  # np.asarray dropped the subclass; put it back to count accesses
    list(loader)
    assert Counting.calls == len(loader)
