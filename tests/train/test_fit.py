"""fit / evaluate / predict on tiny synthetic data: learning, logs, schedules, early stopping."""
import numpy as np
import pytest

from deeprecipe import data, load, nn, optim
from deeprecipe.engine import Tensor
from deeprecipe.train import (Callback, EarlyStopping, History, LearningRateScheduler, ModelCheckpoint, evaluate, fit,
                              predict)

from ._problem import make_data, make_model


class Recorder(Callback):
    def on_train_begin(self, logs=None):
        self.batches = []
        self.lrs = []
        self.epoch_logs = []

    def on_train_batch_begin(self, batch, logs=None):
        self.lrs.append(self.optimizer.param_groups[0]["lr"])

    def on_train_batch_end(self, batch, logs=None):
        self.batches.append((self.trainer.epoch, batch, logs["size"], logs["loss"]))

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_logs.append(dict(logs))


def test_fit_learns_and_epoch_logs_are_exact_means_of_the_batches():
    (xt, yt), (xv, yv) = make_data()
    model = nn.MLP([2, 32, 32, 3], init="he", rng=0)
    rec = Recorder()
    h = fit(model, (xt, yt), val=(xv, yv), optimizer="adam", lr=2e-2, epochs=30, batch_size=20, seed=0,
            callbacks=[rec], verbose=0)
    assert h.epoch == list(range(30))
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    assert h.history["accuracy"][-1] > 0.9 and h.history["loss"][-1] < h.history["loss"][0] / 3
    # 96 samples in batches of 20: 4 full batches and one of 16, every epoch
    sizes = [s for e, b, s, _ in rec.batches if e == 0]
    assert sizes == [20, 20, 20, 20, 16]
    for epoch in (0, 29):
        rows = [(s, l) for e, b, s, l in rec.batches if e == epoch]
        mean = sum(s * l for s, l in rows) / sum(s for s, _ in rows)
        assert h.history["loss"][epoch] == pytest.approx(mean, rel=1e-12)
    # val metrics are evaluate() on the val set with the weights at that epoch end
    assert evaluate(model, xv, yv) == pytest.approx(
        {"loss": h.history["val_loss"][-1], "accuracy": h.history["val_accuracy"][-1]}, rel=1e-6)


def test_training_accuracy_counts_the_outputs_of_each_step():
    (xt, yt), _ = make_data()
    model = nn.MLP([2, 8, 3], rng=0)
    outs = []

    class Spy(Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.h = self.model.register_forward_hook(lambda m, i, o: outs.append(o.data.argmax(1)))

        def on_train_batch_end(self, batch, logs=None):
            self.h.remove()

    loader = data.DataLoader(xt, yt, batch_size=32, seed=5)
    h = fit(model, loader, optimizer="sgd", lr=0.1, epochs=1, callbacks=[Spy()], verbose=0)
    order = loader.order(0)
    pred = np.concatenate(outs)
    assert h.history["accuracy"][0] == pytest.approx(np.mean(pred == yt[order]))


def test_step_and_epoch_schedules_drive_the_optimizer_lr():
    (xt, yt), _ = make_data()
    model = nn.MLP([2, 8, 3], rng=0)
    opt = optim.SGD(model.parameters(), lr=0.1)
    rec = Recorder()
    h = fit(model, (xt, yt), optimizer=opt, epochs=4, batch_size=32,
            callbacks=[LearningRateScheduler(optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.1), "epoch"), rec],
            verbose=0)
    assert h.history["lr"] == pytest.approx([0.1, 0.1, 0.01, 0.01])
    model = nn.MLP([2, 8, 3], rng=0)
    rec = Recorder()
    fit(model, (xt, yt), optimizer="sgd", lr=1.0, epochs=2, batch_size=32, verbose=0,
        callbacks=[LearningRateScheduler(lambda o: optim.lr_scheduler.LambdaLR(o, lambda s: 1.0 / (s + 1)), "step"),
                   rec])
    # the k-th optimizer step (from 0) uses schedule(k)
    assert rec.lrs == pytest.approx([1.0 / (k + 1) for k in range(6)])


def test_early_stopping_restores_the_weights_saved_as_best(tmp_path):
    (xt, yt), (xv, yv) = make_data()
    model = nn.MLP([2, 16, 3], rng=0)
    es = EarlyStopping(patience=1, restore_best_weights=True)
    h = fit(model, (xt, yt), val=(xv, yv), optimizer="sgd", lr=3.0, epochs=15, batch_size=16, seed=0, verbose=0,
            callbacks=[es, ModelCheckpoint(tmp_path)])
    best_epoch, _ = h.best("val_loss")
    assert es.best_epoch == best_epoch
    best = load(tmp_path / "best.npz")
    assert best["epoch"] == best_epoch + 1
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, best["model"][k])


def test_early_stopping_ends_training_and_records_why():
    (xt, yt), _ = make_data()
    h = fit(nn.MLP([2, 8, 3], rng=0), (xt, yt), optimizer="sgd", lr=1e-9, epochs=10, batch_size=32, verbose=0,
            callbacks=[EarlyStopping(monitor="loss", min_delta=1.0, patience=1)])
    assert len(h.epoch) == 2 and "early stopping" in h.stop_reason


def test_callbacks_can_add_per_epoch_and_per_step_series():
    class Monitor(Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.trainer.global_step % 2 == 0:
                self.trainer.history.record_step("w0", float(self.model[0].weight.data[0, 0]))

        def on_epoch_end(self, epoch, logs=None):
            logs["n_params"] = self.model.num_parameters()
            self.trainer.history.record("epoch_sq", epoch ** 2)

    (xt, yt), _ = make_data()
    h = fit(nn.MLP([2, 8, 3], rng=0), (xt, yt), epochs=2, batch_size=32, callbacks=[Monitor()], verbose=0)
    assert h.history["n_params"] == [3 * 8 + 9 * 3] * 2 and h.history["epoch_sq"] == [0, 1]
    assert h.step_index["w0"] == [2, 4, 6] and len(h.steps["w0"]) == 3


def test_evaluate_and_predict_run_in_eval_mode_without_a_graph():
    (xt, yt), _ = make_data()
    model = make_model()  # dropout + batch norm
    model.train()
    p1 = predict(model, xt)
    p2 = predict(model, xt)
    np.testing.assert_array_equal(p1, p2)  # no dropout, running stats not updated
    np.testing.assert_allclose(predict(model, xt, batch_size=7), p1, rtol=1e-5, atol=1e-6)
    assert model.training  # mode restored
    assert isinstance(p1, np.ndarray) and p1.shape == (len(xt), 3)
    res = evaluate(model, xt, yt, batch_size=10)
    assert res["accuracy"] == pytest.approx(np.mean(p1.argmax(1) == yt))
    logp = p1 - np.log(np.exp(p1 - p1.max(1, keepdims=True)).sum(1, keepdims=True)) - p1.max(1, keepdims=True)
    assert res["loss"] == pytest.approx(-logp[np.arange(len(yt)), yt].mean(), rel=1e-5)
    out = model(Tensor(xt[:4]))
    assert out.requires_grad  # a normal forward still builds a graph: predict did not leave no_grad on


def test_fit_with_mse_loss_and_no_metrics():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32))
    model = nn.MLP([3, 1], rng=0)
    h = fit(model, (x, y), loss="mse", metrics=[], optimizer="adam", lr=0.1, epochs=40, batch_size=16, verbose=0)
    assert set(h.history) == {"loss", "lr"} and h.history["loss"][-1] < 1e-2
    with pytest.raises(ValueError, match="accuracy"):
        fit(model, (x, y), loss="mse", epochs=1, verbose=0)


def test_uint8_images_are_cast_to_the_model_dtype():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, size=(40, 4, 4), dtype=np.uint8)
    y = rng.integers(0, 2, size=40)
    h = fit(nn.MLP([16, 2], rng=0), (x, y), epochs=1, batch_size=8, verbose=0)
    assert np.isfinite(h.history["loss"][0])


def test_history_callback_given_by_the_user_is_the_one_returned():
    (xt, yt), _ = make_data()
    mine = History()
    assert fit(nn.MLP([2, 4, 3], rng=0), (xt, yt), epochs=1, callbacks=[mine], verbose=0) is mine


def test_progress_lines(capsys):
    (xt, yt), (xv, yv) = make_data()
    fit(nn.MLP([2, 4, 3], rng=0), (xt, yt), val=(xv, yv), epochs=2, verbose=2)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("epoch 1/2") and "val_accuracy" in out[1] and "lr" in out[1]


def test_unknown_names_are_refused():
    (xt, yt), _ = make_data()
    with pytest.raises(ValueError, match="did you mean 'adam'"):
        fit(nn.MLP([2, 3], rng=0), (xt, yt), optimizer="adma", verbose=0)
    with pytest.raises(ValueError, match="unknown loss"):
        fit(nn.MLP([2, 3], rng=0), (xt, yt), loss="crossentropy2", verbose=0)
    with pytest.raises(ValueError, match="unknown metric"):
        fit(nn.MLP([2, 3], rng=0), (xt, yt), metrics=["f1score"], verbose=0)


def test_progress_bar_with_tqdm():
    pytest.importorskip("tqdm")
    import io

    from deeprecipe.train import ProgressBar
    buf = io.StringIO()
    (xt, yt), _ = make_data()
    fit(nn.MLP([2, 4, 3], rng=0), (xt, yt), epochs=2, batch_size=32, callbacks=[ProgressBar("bar", file=buf)])
    text = buf.getvalue()
    assert "epoch 1/2" in text and "epoch 2/2" in text and "3/3" in text and "accuracy" in text


def test_old_callback_name_lrscheduler_still_works_with_a_deprecation_warning():
    p = nn.Parameter(np.zeros(1))
    opt = optim.SGD([p], lr=0.1)
    with pytest.warns(DeprecationWarning, match="LearningRateScheduler"):
        from deeprecipe.train import LRScheduler
        cb = LRScheduler(optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5), "epoch")
    assert isinstance(cb, LearningRateScheduler)
