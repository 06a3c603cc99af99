"""MonitorCallback records at the right steps into a History; inspect on one batch."""
import math

import numpy as np
import pytest

import deeprecipe as dr
from deeprecipe import diagnostics as D
from deeprecipe import nn
from deeprecipe import functions as F
from deeprecipe.train import History


class _Trainer:
    """The attributes a trainer gives its callbacks (model, optimizer, history, global_step)."""

    def __init__(self, model, history):
        self.model, self.optimizer, self.history, self.global_step = model, None, history, 0


def _net():
    with dr.default_dtype(np.float64):
        return nn.Sequential(nn.Linear(3, 6, rng=0), nn.ReLU(), nn.Linear(6, 2, rng=1))


def _run(cb, net, trainer, x, y, steps_per_epoch, epochs, lr=0.1):
    """A minimal training loop calling the hooks the way fit does; returns per-step reference numbers."""
    ref = {}
    cb.set_context(trainer)
    trainer.history.set_context(trainer)
    trainer.history.on_train_begin()
    cb.on_train_begin()
    for epoch in range(epochs):
        for batch in range(steps_per_epoch):
            step = trainer.global_step
            cb.on_train_batch_begin(batch)
            net.zero_grad()
            F.mse_loss(net(dr.Tensor(x[step])), y[step]).backward()
            w0 = net[0].weight.data.copy()
            g_layers = D.grad_norms_by_layer(net)
            for p in net.parameters():
                p.data -= lr * p.grad
            ref[step] = {"grad0": g_layers["0"], "grad2": g_layers["2"],
                         "w0_ratio": np.linalg.norm(net[0].weight.data - w0), "w0": w0}
            cb.on_train_batch_end(batch, {"loss": 0.0})
            trainer.global_step += 1
        cb.on_epoch_end(epoch, {})
        trainer.history.on_epoch_end(epoch, {"loss": 0.0})
    cb.on_train_end()
    return ref


def test_callback_records_every_n_steps_into_the_history(rng):
    net = _net()
    hist = History()
    trainer = _Trainer(net, hist)
    cb = D.MonitorCallback(every=3, bins=8)
    x, y = rng.normal(size=(10, 4, 3)), rng.normal(size=(10, 4, 2))
    ref = _run(cb, net, trainer, x, y, steps_per_epoch=5, epochs=2)

    assert hist.step_index["grad_norm/0"] == [0, 3, 6, 9]
    assert hist.step_index["act_dead/1"] == [0, 3, 6, 9]
    np.testing.assert_allclose(hist.steps["grad_norm/0"], [ref[s]["grad0"] for s in (0, 3, 6, 9)], rtol=1e-12)
    np.testing.assert_allclose(hist.steps["grad_norm/2"], [ref[s]["grad2"] for s in (0, 3, 6, 9)], rtol=1e-12)
    # the update ratio of layer 0 includes its bias: check it against the full layer
    assert len(hist.steps["update_ratio/0"]) == 4 and all(v > 0 for v in hist.steps["update_ratio/0"])
    for name in ("weight_norm/0.weight", "weight_near_zero/2.bias", "act_mean/1", "act_zero/1", "grad_norm"):
        assert hist.step_index[name] == [0, 3, 6, 9], name
    assert "act_saturated/1" not in hist.steps  # ReLU: dead units, not saturation
    # epoch table: mean over the epoch's recorded steps (epoch 0: steps 0 and 3; epoch 1: 6 and 9)
    assert hist.history["grad_norm/0"] == pytest.approx(
        [(ref[0]["grad0"] + ref[3]["grad0"]) / 2, (ref[6]["grad0"] + ref[9]["grad0"]) / 2])
    assert hist.epoch == [0, 1]
    # histograms of the recorded steps, each summing to the layer's number of activations
    h = cb.histograms["1"]
    assert h["step"] == [0, 3, 6, 9]
    assert all(c.sum() == 4 * 6 and c.shape == (8,) for c in h["counts"])
    # the hooks are gone after training
    assert all(not m._forward_hooks for m in net.modules())


def test_update_ratio_in_the_callback_equals_the_manual_sgd_ratio(rng):
    net = _net()
    hist = History()
    trainer = _Trainer(net, hist)
    cb = D.MonitorCallback(every=1, activations=False, weights=False)
    x, y = rng.normal(size=(2, 4, 3)), rng.normal(size=(2, 4, 2))
    cb.set_context(trainer)
    cb.on_train_begin()
    cb.on_train_batch_begin(0)
    F.mse_loss(net(dr.Tensor(x[0])), y[0]).backward()
    g = {n: p.grad.copy() for n, p in net.named_parameters()}
    w = {n: p.data.copy() for n, p in net.named_parameters()}
    for p in net.parameters():
        p.data -= 0.1 * p.grad
    cb.on_train_batch_end(0)
    for layer in ("0", "2"):
        num = 0.1 * math.sqrt(np.sum(g[f"{layer}.weight"] ** 2) + np.sum(g[f"{layer}.bias"] ** 2))
        den = math.sqrt(np.sum(w[f"{layer}.weight"] ** 2) + np.sum(w[f"{layer}.bias"] ** 2))
        assert hist.steps[f"update_ratio/{layer}"] == [pytest.approx(num / den, rel=1e-10)]
    assert not any(k.startswith(("act_", "weight_")) for k in hist.steps)


def test_callback_state_round_trip_and_arguments(rng):
    net = _net()
    trainer = _Trainer(net, History())
    cb = D.MonitorCallback(every=2)
    _run(cb, net, trainer, rng.normal(size=(4, 4, 3)), rng.normal(size=(4, 4, 2)), 4, 1)
    cb2 = D.MonitorCallback(every=2)
    cb2.load_state_dict(cb.state_dict())
    assert cb2.histograms["1"]["step"] == [0, 2]
    np.testing.assert_array_equal(cb2.histograms["1"]["counts"][1], cb.histograms["1"]["counts"][1])
    with pytest.raises(ValueError, match="every"):
        D.MonitorCallback(every=0)
    with pytest.raises(RuntimeError, match="no model"):
        D.MonitorCallback().on_train_begin()


def test_inspect_one_batch(rng):
    net = _net()
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    old = np.full((6, 3), 7.0)
    net[0].weight.grad = old
    stats = D.inspect(net, x, y, "mse", bins=6)
    assert stats["loss"] == pytest.approx(F.mse_loss(net(dr.Tensor(x)), y).item())
    assert net[0].weight.grad is old and net[2].bias.grad is None  # gradients left as they were
    # the same numbers as a manual forward/backward
    net.zero_grad()
    F.mse_loss(net(dr.Tensor(x)), y).backward()
    assert stats["layer_grad_norm"] == pytest.approx(D.grad_norms_by_layer(net))
    assert stats["grad_norm"] == pytest.approx(D.grad_norms(net))
    assert list(stats["activations"]) == ["1"]  # the ReLU module
    assert list(D.inspect(net, x, y, "mse", modules="all")["activations"]) == ["0", "1", "2"]
    assert stats["activations"]["1"]["hist"].sum() == 5 * 6
    assert stats["weights"]["0.weight"]["norm"] == pytest.approx(np.linalg.norm(net[0].weight.data))
    series = D.flatten(stats)
    assert series["grad_norm/0"] == stats["layer_grad_norm"]["0"]
    assert D.layer_series(series, "grad_norm") == stats["layer_grad_norm"]
    assert "act_dead/1" in series and "act_saturated/1" not in series
    assert all(not m._forward_hooks for m in net.modules())
    # a callable loss works too, and a bad loss name is refused
    assert D.inspect(net, x, y, lambda o, t: F.mse_loss(o, t), activations=False)["activations"] == {}
    with pytest.raises(ValueError):
        D.inspect(net, x, y, "no_such_loss")


def test_inspect_orders_layers_by_forward_pass_not_registration(rng):
    class HeadFirst(nn.Module):
        def __init__(self):
            super().__init__()
            self.head = nn.Linear(4, 2)   # registered first, runs last
            self.body = nn.Linear(3, 4)

        def forward(self, x):
            return self.head(F.relu(self.body(x)))

    m = HeadFirst()
    x = rng.normal(size=(5, 3)).astype(np.float32)
    assert D.layer_names(m) == ["head", "body"]
    stats = D.inspect(m, x, np.zeros((5, 2), np.float32), "mse")
    assert list(stats["layer_grad_norm"]) == ["body", "head"]
    assert D.first_layer(stats["layer_grad_norm"])[0] == "body"
    with D.record_forward_order(m) as order:
        m(x)
    assert order == ["body", "head"]
    assert all(not mod._forward_hooks for mod in m.modules())
    assert list(D.reorder({"a": 1, "b": 2, "c": 3}, ["c", "a"])) == ["c", "a", "b"]


@pytest.mark.parametrize("stop_at", [4, 9, 13])   # mid-epoch: before, on and after a recorded step
def test_resume_mid_epoch_gives_the_uninterrupted_monitor_history(tmp_path, stop_at):
    """The epoch means of the monitors come out the same when a run is resumed from a
    checkpoint written in the middle of an epoch (the values recorded before it count)."""
    from deeprecipe.train import ModelCheckpoint, fit

    class Killed(Exception):
        pass

    class KillAt(dr.train.Callback):   # after ModelCheckpoint has written this step: a kill -9 there
        def on_train_batch_end(self, batch, logs=None):
            if self.trainer.global_step == stop_at:
                raise Killed

    x = np.random.default_rng(0).normal(size=(80, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)

    def run(out, extra=(), resume_from=None):
        model = nn.MLP([5, 8, 2], rng=0)
        cbs = [D.MonitorCallback(every=3), ModelCheckpoint(out, save_best=False, every_n_steps=1), *extra]
        return fit(model, (x, y), epochs=3, batch_size=8, verbose=0, seed=0, callbacks=cbs, resume_from=resume_from)

    ref = run(tmp_path / "ref")
    with pytest.raises(Killed):
        run(tmp_path / "cut", extra=[KillAt()])
    resumed = run(tmp_path / "cut", resume_from=tmp_path / "cut" / "last.npz")
    assert list(resumed.history) == list(ref.history)
    for name in ref.history:
        np.testing.assert_array_equal(resumed.history[name], ref.history[name], err_msg=name)
    assert resumed.steps.keys() == ref.steps.keys()
