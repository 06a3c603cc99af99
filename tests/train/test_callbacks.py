"""Callback semantics on hand-written logs (no training loop needed)."""
import math

import numpy as np
import pytest

from deeprecipe import nn
from deeprecipe.serialization import load, save
from deeprecipe.train import (Callback, CallbackList, CSVLogger, EarlyStopping, History, ModelCheckpoint,
                              ReduceLROnPlateau, TerminateOnNaN)


class FakeTrainer:
    def __init__(self, model=None, optimizer=None):
        self.model = model
        self.optimizer = optimizer
        self.stop_training = False
        self.diverged = False
        self.stop_reason = None
        self.global_step = 0
        self.epoch = 0
        self.resuming = False
        self.initial_epoch = 0
        self.requested = []
        self.history = History()

    def stop(self, reason=None, diverged=False):
        self.stop_training = True
        self.diverged = self.diverged or diverged
        self.stop_reason = self.stop_reason or reason

    def request_checkpoint(self, path):
        self.requested.append(path)


class FakeOptimizer:
    def __init__(self, lrs):
        self.param_groups = [{"lr": lr} for lr in lrs]


def drive_epochs(cb, trainer, values, key="val_loss"):
    """Run on_train_begin then on_epoch_end per value until the trainer stops; returns epochs run."""
    cb.set_context(trainer)
    cb.on_train_begin({})
    ran = 0
    for epoch, v in enumerate(values):
        cb.on_epoch_end(epoch, {key: v})
        ran += 1
        if trainer.stop_training:
            break
    cb.on_train_end({})
    return ran


# ------------------------------------------------------------------ EarlyStopping
def test_early_stopping_stops_after_patience_non_improving_epochs():
    t = FakeTrainer()
    es = EarlyStopping(patience=2)
    # best at epoch 1; epochs 2 and 3 do not improve -> stop at the end of epoch 3
    ran = drive_epochs(es, t, [1.0, 0.5, 0.6, 0.55, 0.1, 0.1])
    assert ran == 4
    assert es.stopped_epoch == 3 and es.best_epoch == 1 and es.best == 0.5
    assert "epoch 3" in t.stop_reason


def test_early_stopping_patience_zero_stops_at_first_non_improvement():
    t = FakeTrainer()
    es = EarlyStopping(patience=0)
    assert drive_epochs(es, t, [3.0, 2.0, 2.0, 1.0]) == 3
    assert es.stopped_epoch == 2


def test_early_stopping_min_delta_requires_a_large_enough_gain():
    t = FakeTrainer()
    es = EarlyStopping(patience=1, min_delta=0.1)
    # 0.95 and 0.91 beat 1.0 but by less than 0.1: not improvements
    assert drive_epochs(es, t, [1.0, 0.95, 0.91, 0.5]) == 2
    assert es.best == 1.0 and es.stopped_epoch == 1


def test_early_stopping_auto_mode_maximizes_accuracy():
    t = FakeTrainer()
    es = EarlyStopping(monitor="val_accuracy", patience=1)
    assert es.mode == "max"
    assert drive_epochs(es, t, [0.5, 0.7, 0.6, 0.9], key="val_accuracy") == 3
    assert es.best == 0.7 and es.best_epoch == 1


def test_early_stopping_baseline_must_be_beaten_to_reset_the_wait():
    # Improving on the best without beating the baseline 0.5 keeps the wait growing
    # (Keras): the first non-improving epoch then stops at once.
    values = [0.9, 0.8, 0.7, 0.7, 0.7]
    es = EarlyStopping(patience=2, baseline=0.5)
    assert drive_epochs(es, FakeTrainer(), values) == 4
    assert es.stopped_epoch == 3
    es = EarlyStopping(patience=2)
    assert drive_epochs(es, FakeTrainer(), values) == 5  # without a baseline: two epochs of waiting
    assert es.stopped_epoch == 4


def test_early_stopping_start_from_epoch_ignores_warmup():
    t = FakeTrainer()
    es = EarlyStopping(patience=0, start_from_epoch=2)
    assert drive_epochs(es, t, [1.0, 2.0, 3.0, 2.5, 2.6]) == 5
    assert es.stopped_epoch == 4 and es.best == 2.5


def _tiny_model():
    return nn.MLP([3, 4, 2], rng=0)


def _set_all(model, value):
    for p in model.parameters():
        p.data[...] = value


def test_restore_best_weights_even_when_not_triggered():
    model = _tiny_model()
    t = FakeTrainer(model)
    es = EarlyStopping(patience=10, restore_best_weights=True)
    es.set_context(t)
    es.on_train_begin({})
    for epoch, (w, v) in enumerate([(1.0, 0.9), (2.0, 0.3), (3.0, 0.7)]):
        _set_all(model, w)
        es.on_epoch_end(epoch, {"val_loss": v})
    assert not t.stop_training
    es.on_train_end({})
    for p in model.parameters():
        assert np.all(p.data == 2.0)  # the weights of epoch 1, the best


def test_restore_best_weights_when_nothing_ever_improves_keeps_the_first():
    model = _tiny_model()
    t = FakeTrainer(model)
    es = EarlyStopping(patience=5, restore_best_weights=True)
    es.set_context(t)
    es.on_train_begin({})
    for epoch, w in enumerate([1.0, 2.0]):
        _set_all(model, w)
        es.on_epoch_end(epoch, {"val_loss": math.nan})
    es.on_train_end({})
    assert all(np.all(p.data == 1.0) for p in model.parameters())


def test_early_stopping_resets_in_on_train_begin_and_state_round_trips(tmp_path):
    model = _tiny_model()
    t = FakeTrainer(model)
    es = EarlyStopping(patience=3, restore_best_weights=True)
    es.set_context(t)
    es.on_train_begin({})
    es.on_epoch_end(0, {"val_loss": 0.4})
    es.on_epoch_end(1, {"val_loss": 0.6})
    save(tmp_path / "s.npz", es.state_dict())
    es2 = EarlyStopping(patience=3, restore_best_weights=True)
    es2.set_context(t)
    es2.on_train_begin({})
    es2.load_state_dict(load(tmp_path / "s.npz"))
    assert (es2.wait, es2.best, es2.best_epoch) == (1, 0.4, 0)
    assert set(es2.best_weights) == set(model.state_dict())
    es.on_train_begin({})
    assert es.wait == 0 and es.best == math.inf and es.best_weights is None


def test_early_stopping_warns_when_monitor_missing():
    t = FakeTrainer()
    es = EarlyStopping()
    es.set_context(t)
    es.on_train_begin({})
    with pytest.warns(RuntimeWarning, match="val_loss"):
        es.on_epoch_end(0, {"loss": 1.0})


# ------------------------------------------------------------------ ReduceLROnPlateau
def test_reduce_lr_on_plateau_keras_rule_and_cooldown():
    opt = FakeOptimizer([0.1, 0.01])
    t = FakeTrainer(optimizer=opt)
    cb = ReduceLROnPlateau(factor=0.5, patience=2, cooldown=1, min_delta=0.0)
    cb.set_context(t)
    cb.on_train_begin({})
    losses = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    lrs = []
    for e, v in enumerate(losses):
        cb.on_epoch_end(e, {"val_loss": v})
        lrs.append(opt.param_groups[0]["lr"])
    # wait reaches 2 at epoch 2 -> cut; epoch 3 cooldown (wait held at 0);
    # epochs 4, 5 count -> cut at 5; epoch 6 cooldown.
    assert [c[0] for c in cb.cuts] == [2, 5]
    assert lrs == [0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025]
    assert opt.param_groups[1]["lr"] == pytest.approx(0.0025)  # every group scaled


def test_reduce_lr_on_plateau_respects_min_lr_and_improvements():
    opt = FakeOptimizer([0.1])
    t = FakeTrainer(optimizer=opt)
    cb = ReduceLROnPlateau(factor=0.1, patience=1, min_lr=0.005)
    cb.set_context(t)
    cb.on_train_begin({})
    for e, v in enumerate([1.0, 0.5, 0.4, 0.4, 0.4, 0.4]):
        cb.on_epoch_end(e, {"val_loss": v})
    assert opt.param_groups[0]["lr"] == 0.005
    assert [c[0] for c in cb.cuts] == [3, 4]


def test_reduce_lr_on_plateau_state_round_trip(tmp_path):
    opt = FakeOptimizer([0.1])
    cb = ReduceLROnPlateau(patience=3)
    cb.set_context(FakeTrainer(optimizer=opt))
    cb.on_train_begin({})
    cb.on_epoch_end(0, {"val_loss": 1.0})
    cb.on_epoch_end(1, {"val_loss": 2.0})
    save(tmp_path / "p.npz", cb.state_dict())
    cb2 = ReduceLROnPlateau(patience=3)
    cb2.load_state_dict(load(tmp_path / "p.npz"))
    assert (cb2.wait, cb2.best) == (1, 1.0)


def test_reduce_lr_on_plateau_rejects_bad_factor():
    with pytest.raises(ValueError, match="factor"):
        ReduceLROnPlateau(factor=1.5)


# ------------------------------------------------------------------ History
def test_history_aligns_late_and_missing_series_with_nan():
    h = History()
    h.set_context(FakeTrainer())
    h.on_train_begin({})
    h.on_epoch_end(0, {"loss": 1.0})
    h.record("w_norm", 3.0)
    h.on_epoch_end(1, {"loss": 0.5, "val_loss": 0.7})
    h.on_epoch_end(2, {"loss": 0.25})
    assert h.epoch == [0, 1, 2]
    assert h.history["loss"] == [1.0, 0.5, 0.25]
    assert np.isnan(h.history["val_loss"][0]) and h.history["val_loss"][1] == 0.7 and np.isnan(h.history["val_loss"][2])
    assert np.isnan(h.history["w_norm"][0]) and h.history["w_norm"][1] == 3.0
    header, rows = h.as_table()
    assert header == ["epoch", "loss", "val_loss", "w_norm"] and len(rows) == 3


def test_history_per_step_series_and_state_round_trip(tmp_path):
    t = FakeTrainer()
    h = History()
    h.set_context(t)
    h.on_train_begin({})
    for step in (1, 2, 3):
        t.global_step = step
        h.record_step("grad_norm/fc.0", step * 0.5)
    h.record_step("sparse", 7.0, step=10)
    h.on_epoch_end(0, {"loss": 1.5})
    save(tmp_path / "h.npz", h.state_dict())
    h2 = History()
    h2.load_state_dict(load(tmp_path / "h.npz"))
    assert h2.steps["grad_norm/fc.0"] == [0.5, 1.0, 1.5]
    assert h2.step_index["grad_norm/fc.0"] == [1, 2, 3]
    assert h2.step_index["sparse"] == [10]
    assert h2.history == {"loss": [1.5]} and h2.epoch == [0]


def test_history_refuses_non_scalar_values():
    h = History()
    with pytest.raises(TypeError, match="one series per scalar"):
        h.record("v", np.ones(3))


# ------------------------------------------------------------------ CallbackList
def test_callback_list_runs_run_last_callbacks_after_the_others():
    calls = []

    class A(Callback):
        def on_epoch_end(self, epoch, logs=None):
            calls.append("A")
            logs["extra"] = 1.0

    h = History()
    cbl = CallbackList([h, A()])
    cbl.set_context(FakeTrainer())
    cbl.on_train_begin({})
    cbl.on_epoch_end(0, {"loss": 1.0})
    assert calls == ["A"]
    assert h.history["extra"] == [1.0]  # History saw the key A added


def test_callback_list_skips_hooks_nobody_overrides_and_rejects_non_callbacks():
    class OnlyBatch(Callback):
        def on_train_batch_end(self, batch, logs=None):
            pass

    cbl = CallbackList([OnlyBatch()])
    assert cbl.has("on_train_batch_end") and not cbl.has("on_train_batch_begin")
    with pytest.raises(TypeError, match="not a callback"):
        CallbackList([object()])


def test_duck_typed_callback_gets_context():
    class Duck:
        def __init__(self):
            self.seen = []

        def on_epoch_end(self, epoch, logs=None):
            self.seen.append((epoch, self.trainer is not None))

    d = Duck()
    cbl = CallbackList([d])
    cbl.set_context(FakeTrainer())
    cbl.on_epoch_end(3, {})
    assert d.seen == [(3, True)]


# ------------------------------------------------------------------ TerminateOnNaN
def test_terminate_on_nan_names_step_and_last_finite_loss():
    t = FakeTrainer()
    cb = TerminateOnNaN()
    cb.set_context(t)
    cb.on_train_begin({})
    for step, loss in enumerate([2.0, 3.5, float("inf")], start=1):
        t.global_step = step
        cb.on_train_batch_end(step - 1, {"loss": loss})
    assert t.stop_training and t.diverged
    assert "step 3" in cb.message and "3.5" in cb.message and "step 2" in cb.message


# ------------------------------------------------------------------ CSVLogger / ModelCheckpoint
def test_csv_logger_adds_late_columns_and_trims_rows_on_resume(tmp_path):
    path = tmp_path / "m.csv"
    t = FakeTrainer()
    log = CSVLogger(path)
    log.set_context(t)
    log.on_train_begin({})
    log.on_epoch_end(0, {"loss": 1.0})
    log.on_epoch_end(1, {"loss": 0.5, "lr": 0.1})
    log.on_epoch_end(2, {"loss": 0.25, "lr": 0.1})
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch,loss,lr"
    assert lines[1] == "0,1.0," and lines[2] == "1,0.5,0.1"
    # a run resumed at epoch 2 recomputes epoch 2: the old row goes
    t.resuming, t.initial_epoch = True, 2
    log2 = CSVLogger(path)
    log2.set_context(t)
    log2.on_train_begin({})
    log2.on_epoch_end(2, {"loss": 0.3, "lr": 0.1})
    lines = path.read_text().splitlines()
    assert lines == ["epoch,loss,lr", "0,1.0,", "1,0.5,0.1", "2,0.3,0.1"]


def test_model_checkpoint_requests_best_only_on_improvement_and_nothing_after_divergence(tmp_path):
    t = FakeTrainer()
    mc = ModelCheckpoint(tmp_path / "ck", every_n_steps=2)
    mc.set_context(t)
    mc.on_train_begin({})
    assert (tmp_path / "ck").is_dir()
    for step in (1, 2, 3, 4):
        t.global_step = step
        mc.on_train_batch_end(step - 1, {"loss": 1.0})
    assert t.requested == [mc.last_path, mc.last_path]
    t.requested.clear()
    mc.on_epoch_end(0, {"val_loss": 1.0})
    mc.on_epoch_end(1, {"val_loss": 2.0})
    mc.on_epoch_end(2, {"val_loss": 0.5})
    assert t.requested.count(mc.best_path) == 2 and t.requested.count(mc.last_path) == 3
    t.requested.clear()
    t.diverged = True
    mc.on_epoch_end(3, {"val_loss": 0.1})
    assert t.requested == []


# ------------------------------------------------------------------ TensorBoard
def test_tensorboard_writes_epoch_and_step_scalars(tmp_path):
    pytest.importorskip("tensorboardX")
    from deeprecipe.train import TensorBoard, fit
    from ._problem import make_data

    calls = []

    class Writer:
        def __init__(self, log_dir):
            self.log_dir = log_dir

        def add_scalar(self, tag, value, step):
            calls.append((tag, step))

        def flush(self):
            pass

        def close(self):
            calls.append(("closed", None))

    class Monitor(Callback):
        def on_train_batch_end(self, batch, logs=None):
            self.trainer.history.record_step("g", 1.0)

    (x, y), (xv, yv) = make_data()
    tb = TensorBoard(tmp_path, update_freq=4)
    tb._writer_cls = Writer
    fit(nn.MLP([2, 4, 3], rng=0), (x, y), val=(xv, yv), epochs=2, batch_size=32, callbacks=[Monitor(), tb],
        verbose=0)
    assert [s for t, s in calls if t == "batch/loss"] == [4]  # 3 steps per epoch, 6 in all
    assert [s for t, s in calls if t == "epoch/val_accuracy"] == [0, 1]
    assert [s for t, s in calls if t == "step/g"] == [1, 2, 3, 4, 5, 6]  # each step written once
    assert calls[-1] == ("closed", None)
    # and the real writer produces an event file
    tb = TensorBoard(tmp_path / "real")
    fit(nn.MLP([2, 4, 3], rng=0), (x, y), epochs=1, batch_size=32, callbacks=[tb], verbose=0)
    files = list((tmp_path / "real").iterdir())
    assert files and files[0].name.startswith("events.out.tfevents") and files[0].stat().st_size > 0


def test_history_pending_shows_recorded_values_until_the_epoch_row_takes_them():
    from deeprecipe.train import History
    h = History()
    h.record("grad_norm", 0.5)
    pending = h.pending
    pending["grad_norm"] = 9.0                      # a copy: the history is not changed through it
    assert h.pending == {"grad_norm": 0.5}
    h.add_epoch(0, {"loss": 1.0})
    assert h.pending == {} and h.history == {"grad_norm": [0.5], "loss": [1.0]}
