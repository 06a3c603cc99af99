"""Bad input is refused with a clear message before anything is written; diverging runs stop."""
import numpy as np
import pytest

from deeprecipe import load, nn, optim
from deeprecipe.train import CSVLogger, ModelCheckpoint, TerminateOnNaN, evaluate, fit, predict

from ._problem import make_data


def _run(tmp_path, x, y, model=None, val=None):
    model = model or nn.MLP([2, 8, 3], rng=0)
    cbs = [CSVLogger(tmp_path / "out" / "m.csv"), ModelCheckpoint(tmp_path / "out" / "ck")]
    return fit(model, (x, y), val=val, epochs=1, batch_size=16, callbacks=cbs, verbose=0)


def _nothing_written(tmp_path):
    return not (tmp_path / "out").exists()


@pytest.mark.parametrize("case,match", [
    ("label_high", r"labels must lie in \[0, 3\).*y\[5\] = 3"),
    ("label_negative", r"labels must lie in \[0, 3\).*y\[7\] = -1"),
    ("nan_x", r"train data: x holds 1 non-finite value.*index \(3, 1\) = nan"),
    ("inf_x", r"non-finite.*\(0, 0\) = inf"),
    ("lengths", r"96 samples but y has 95"),
    ("shape", r"cannot take the train inputs: each sample has shape \(5,\)"),
    ("float_labels", r"integer"),
])
def test_bad_training_data_is_refused_and_nothing_is_written(tmp_path, case, match):
    (x, y), _ = make_data()
    x, y = x.copy(), y.copy()
    if case == "label_high":
        y[5] = 3
    elif case == "label_negative":
        y[7] = -1
    elif case == "nan_x":
        x[3, 1] = np.nan
    elif case == "inf_x":
        x[0, 0] = np.inf
    elif case == "lengths":
        y = y[:-1]
    elif case == "shape":
        x = np.zeros((len(y), 5), dtype=np.float32)
    elif case == "float_labels":
        y = y.astype(np.float32)
    with pytest.raises((ValueError, TypeError), match=match):
        _run(tmp_path, x, y)
    assert _nothing_written(tmp_path)


def test_bad_validation_data_is_named_as_such(tmp_path):
    (x, y), (xv, yv) = make_data()
    yv = yv.copy()
    yv[0] = 9
    with pytest.raises(ValueError, match="val labels"):
        _run(tmp_path, x, y, val=(xv, yv))
    assert _nothing_written(tmp_path)


def test_evaluate_and_predict_check_their_inputs():
    (x, y), _ = make_data()
    model = nn.MLP([2, 8, 3], rng=0)
    with pytest.raises(ValueError, match="evaluation labels"):
        evaluate(model, x, np.full(len(x), 4))
    with pytest.raises(ValueError, match="non-finite"):
        predict(model, np.full((3, 2), np.nan, dtype=np.float32))
    with pytest.raises(ValueError, match="cannot take inputs"):
        predict(model, np.zeros((3, 7), dtype=np.float32))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # overflow on the way to NaN is the point
def test_terminate_on_nan_stops_a_diverging_run_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    (x, y), _ = make_data()
    model = nn.MLP([2, 32, 3], rng=0)
    opt = optim.SGD(model.parameters(), lr=1e12)  # diverges within a few steps
    term = TerminateOnNaN()
    h = fit(model, (x * 100, y), optimizer=opt, epochs=5, batch_size=16, verbose=0,
            callbacks=[term, ModelCheckpoint(tmp_path, every_n_steps=1, save_best=False)])
    assert term.message is not None and h.stop_reason == term.message
    assert len(h.epoch) == 1  # stopped inside the first epoch (6 steps)
    bad_step = term.last_finite_step + 1
    assert f"step {bad_step}" in term.message and "last finite loss" in term.message
    assert "TerminateOnNaN" in capsys.readouterr().err
    ck = load(tmp_path / "last.npz")
    assert ck["global_step"] < bad_step
    for v in ck["model"].values():
        assert np.isfinite(v).all()


def test_huge_but_finite_inputs_are_accepted():
    from deeprecipe.train.validation import check_numeric_finite
    x = np.full((4, 3), 1e308)  # the float64 sum overflows; every value is finite
    check_numeric_finite(x)
    x[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"1 non-finite.*\(2, 1\)"):
        check_numeric_finite(x)
