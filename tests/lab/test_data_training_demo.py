import numpy as np
import pytest

from deeprecipe.lab import data as lab_data
from deeprecipe.lab.data import DataUnavailableError, image_data
from deeprecipe.lab.training import split_decay_groups, train_classifier


def test_synthetic_image_data_shapes_seeding_and_splits():
    d = image_data("synthetic", n_train=50, n_val=20, n_test=30, seed=3)
    assert d.x_train.shape == (50, 784) and d.x_train.dtype == np.float32
    assert d.x_val.shape == (20, 784) and d.x_test.shape == (30, 784)
    assert d.y_train.dtype == np.int64 and set(np.unique(d.y_train)) <= set(range(10))
    assert 0.0 <= d.x_train.min() and d.x_train.max() <= 1.0
    again = image_data("synthetic", n_train=50, n_val=20, n_test=30, seed=3)
    np.testing.assert_array_equal(d.x_train, again.x_train)
    other = image_data("synthetic", n_train=50, n_val=20, n_test=30, seed=4)
    assert not np.array_equal(d.x_train, other.x_train)
    assert d.describe() == {"source": "synthetic", "n_train": 50, "n_val": 20, "n_test": 30, "n_features": 784}
    img = image_data("synthetic", n_train=10, n_test=10, flatten=False)
    assert img.x_train.shape == (10, 28, 28) and img.x_val.shape == (0, 28, 28)


def test_scaling_options():
    raw = image_data("synthetic", n_train=40, n_test=10, scale="raw")
    assert raw.x_train.max() > 1.0
    std = image_data("synthetic", n_train=40, n_test=10, scale="standardize")
    np.testing.assert_allclose(std.x_train.mean(axis=0), 0.0, atol=1e-4)
    with pytest.raises(ValueError, match="scale"):
        image_data("synthetic", n_train=5, n_test=5, scale="bogus")
    with pytest.raises(ValueError, match="unknown data source"):
        image_data("cifar")
    with pytest.raises(ValueError, match="n_train"):
        image_data("synthetic", n_train=0)


def test_missing_real_dataset_is_a_clear_error(monkeypatch):
    from deeprecipe import data as dr_data

    def missing(**kwargs):
        raise dr_data.DatasetNotFoundError("Fashion-MNIST not found. To get Fashion-MNIST, do one of: ...")
    monkeypatch.setattr(dr_data, "fashion_mnist", missing)
    lab_data._load_real.cache_clear()
    try:
        with pytest.raises(DataUnavailableError, match="never downloads inside an experiment"):
            image_data("fashion-mnist", n_train=10, n_test=10)
    finally:
        lab_data._load_real.cache_clear()


def test_train_classifier_records_curves_and_stops_at_steps():
    d = image_data("synthetic", n_train=60, n_val=20, n_test=40, seed=0)
    m, model = train_classifier(d, hidden=[16], epochs=4, batch_size=20, lr=0.1, seed=0, eval_every=2)
    c = m["curves"]
    assert list(c["epoch"]) == [2, 4]
    assert c["step_loss"].shape == (12,)
    for k in ("train_acc", "val_acc", "test_acc", "train_loss", "test_loss"):
        assert c[k].shape == (2,) and np.all(np.isfinite(c[k]))
    assert m["final"]["steps"] == 12 and m["final"]["test_acc"] == c["test_acc"][-1]
    assert not m["final"]["diverged"]
    m2, _ = train_classifier(d, hidden=[16], steps=5, batch_size=20, lr=0.1, seed=0, eval_every=10)
    assert m2["final"]["steps"] == 5 and list(m2["curves"]["epoch"]) == [2]
    # same seed, same settings: same curves (seeded init and data order)
    m3, _ = train_classifier(d, hidden=[16], epochs=4, batch_size=20, lr=0.1, seed=0, eval_every=2)
    np.testing.assert_array_equal(m3["curves"]["step_loss"], c["step_loss"])
    with pytest.raises(ValueError, match="exactly one"):
        train_classifier(d, epochs=1, steps=1)


def test_weight_decay_groups_leave_biases_alone():
    from deeprecipe import nn
    model = nn.MLP([4, 3, 2], rng=0)
    groups = split_decay_groups(model, 0.1)
    assert [g["weight_decay"] for g in groups] == [0.1, 0.0]
    assert all(p.data.ndim == 2 for p in groups[0]["params"])
    assert all(p.data.ndim == 1 for p in groups[1]["params"])


def test_demo_uses_local_data_and_explains_when_missing(monkeypatch, capsys):
    from deeprecipe import data as dr_data
    from deeprecipe import demo
    monkeypatch.setattr(dr_data, "find_files", lambda name, root=None: {"x": "y"})
    assert demo.ensure_fashion_mnist() is True
    monkeypatch.setattr(dr_data, "find_files", lambda name, root=None: None)
    calls = []
    monkeypatch.setattr(demo.subprocess, "run", lambda *a, **k: calls.append(a))
    assert demo.ensure_fashion_mnist(allow_install=False, allow_download=False) is False
    out = capsys.readouterr().out
    assert "not on this machine" in out and "apt-get install dataset-fashion-mnist" in out
    assert calls == []   # nothing installed without permission


def test_demo_shows_the_doctor_finding_and_curing_the_vanishing_gradient(tmp_path, capsys):
    pytest.importorskip("sklearn")
    from deeprecipe import demo
    run = tmp_path / "runs" / "sigmoid-deep"
    for _ in range(2):                      # a second `make demo` trains the run anew
        assert demo.doctor_demo(str(run)) == 0
        out = capsys.readouterr().out
        assert "[ERROR] vanishing-gradient" in out
        assert "cured: the finding is gone" in out
    assert (tmp_path / "runs" / "sigmoid-deep-treated-vanishing-gradient" / "metrics.json").exists()
