"""MonitorCallback inside the real ``fit`` loop: recorded steps, values, and an exact resume."""
import numpy as np
import pytest

from deeprecipe import diagnostics as D
from deeprecipe import nn, train


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 5)).astype(np.float32)
    return x, (x[:, 0] + x[:, 1] > 0).astype(np.int64)


def _model():
    return nn.Sequential(nn.Linear(5, 8, rng=0), nn.ReLU(), nn.Linear(8, 3, rng=1))


def test_fit_records_every_n_steps_and_sgd_update_norm_equals_lr_times_grad_norm():
    x, y = _data()
    mon = D.MonitorCallback(every=4)
    h = train.fit(_model(), (x, y), epochs=3, batch_size=8, optimizer="sgd", lr=0.1,
                  callbacks=[mon], seed=0, verbose=0)
    steps = list(range(0, 18, 4))  # 6 steps per epoch, 18 in all; steps 0, 4, 8, 12, 16
    for name in ("grad_norm/0", "update_ratio/2", "weight_std/0.weight", "act_dead/1", "grad_norm"):
        assert h.step_index[name] == steps, name
    # plain SGD: ||Δw|| = lr·||g|| exactly, so the snapshot was taken before this step's update
    # and the gradients read after it are this step's
    for layer in ("0", "2"):
        np.testing.assert_allclose(h.steps[f"update_norm/{layer}"], 0.1 * np.asarray(h.steps[f"grad_norm/{layer}"]),
                                   rtol=1e-5)
    # epoch means of the recorded steps (epoch 0: steps 0, 4; epoch 1: 8; epoch 2: 12, 16)
    g = h.steps["grad_norm/0"]
    assert h.history["grad_norm/0"] == pytest.approx([(g[0] + g[1]) / 2, g[2], (g[3] + g[4]) / 2], rel=1e-6)
    assert mon.histograms["1"]["step"] == steps
    assert all(not m._forward_hooks for m in _model().modules())


def test_resumed_fit_gives_the_same_series(tmp_path):
    x, y = _data()
    kw = dict(batch_size=8, optimizer="sgd", lr=0.1, seed=0, verbose=0)
    full = train.fit(_model(), (x, y), callbacks=[D.MonitorCallback(every=4)], epochs=2, **kw)
    ck = tmp_path / "ck"
    train.fit(_model(), (x, y), callbacks=[D.MonitorCallback(every=4), train.ModelCheckpoint(ck, save_best=False)],
              epochs=1, **kw)
    mon = D.MonitorCallback(every=4)
    resumed = train.fit(_model(), (x, y), callbacks=[mon, train.ModelCheckpoint(ck, save_best=False)],
                        resume_from=ck / "last.npz", epochs=2, **kw)
    assert resumed.step_index["grad_norm/0"] == full.step_index["grad_norm/0"] == [0, 4, 8]
    np.testing.assert_allclose(resumed.steps["grad_norm/0"], full.steps["grad_norm/0"], rtol=1e-6)
    assert mon.histograms["1"]["step"] == [0, 4, 8]  # histograms came back from the checkpoint
