"""``deeprecipe train`` end to end on synthetic npz data (no download)."""
import contextlib
import csv
import json

import numpy as np
import pytest

from deeprecipe import load
from deeprecipe.cli import main


@pytest.fixture
def npz(tmp_path):
    rng = np.random.default_rng(0)
    centers = rng.normal(0, 3, size=(3, 6))
    y = rng.integers(0, 3, size=200)
    x = (centers[y] + rng.normal(size=(200, 6))).astype(np.float32)
    path = tmp_path / "toy.npz"
    np.savez(path, x_train=x[:160], y_train=y[:160], x_test=x[160:], y_test=y[160:])
    return path


def train(*args):
    return main(["train", "--progress", "none", *map(str, args)])


def test_one_epoch_job_writes_config_metrics_and_checkpoints(tmp_path, npz, capsys):
    out = tmp_path / "run"
    rc = train("--data", f"npz:{npz}", "--model", "mlp:16", "--epochs", 1, "--batch-size", 32, "--out", out,
               "--schedule", "onecycle", "--norm", "batch", "--dropout", 0.1, "--threads", 1)
    assert rc == 0, capsys.readouterr().err
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model"] == "mlp:16" and cfg["schedule"] == "onecycle" and cfg["lr"] == 1e-3
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert len(rows) == 1 and {"loss", "accuracy", "val_loss", "val_accuracy", "lr"} <= set(rows[0])
    summary = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= summary["test"]["accuracy"] <= 1.0
    ck = load(out / "checkpoints" / "last.npz")
    assert ck["epoch"] == 1 and ck["global_step"] == 5  # 160 - 16 validation = 144 samples / 32
    assert (out / "checkpoints" / "best.npz").exists()
    assert "test_accuracy" in capsys.readouterr().out


def test_toml_config_and_existing_run_handling(tmp_path, npz, capsys):
    out = tmp_path / "run"
    toml = tmp_path / "job.toml"
    toml.write_text(f'data = "npz:{npz}"\nmodel = "mlp:8"\nepochs = 1\nbatch_size = 64\nout = "{out}"\n'
                    'val_fraction = 0.0\n')
    assert train("--config", toml) == 0
    first = (out / "metrics.csv").read_text()
    capsys.readouterr()
    # the same run again: refused without --resume
    assert train("--config", toml) == 2
    assert "--resume" in capsys.readouterr().err
    # a different run into the same folder: refused, and nothing is touched
    assert train("--config", toml, "--lr", 0.5) == 2
    err = capsys.readouterr().err
    assert "different run" in err and "lr" in err and "--overwrite" in err
    assert (out / "metrics.csv").read_text() == first
    # --resume of a finished run: nothing left to do, same result
    assert train("--config", toml, "--resume") == 0
    assert json.loads((out / "config.json").read_text())["lr"] == 1e-3
    # --overwrite replaces it
    assert train("--config", toml, "--lr", 0.5, "--overwrite") == 0
    assert json.loads((out / "config.json").read_text())["lr"] == 0.5


def test_resume_continues_an_interrupted_cli_run_to_the_same_weights(tmp_path, npz, monkeypatch, capsys):
    from deeprecipe.train import Callback, job

    args = ["--data", f"npz:{npz}", "--model", "mlp:8", "--epochs", 3, "--batch-size", 32, "--dropout", 0.2,
            "--schedule", "cosine", "--checkpoint-every", 3]
    assert train(*args, "--out", tmp_path / "full") == 0

    class CtrlC(Callback):  # the user presses Ctrl-C at step 8 (epoch 1, 5 steps per epoch)
        def on_train_batch_end(self, batch, logs=None):
            if self.trainer.global_step == 8:
                raise KeyboardInterrupt

    build = job.build_callbacks
    monkeypatch.setattr(job, "build_callbacks", lambda *a: build(*a) + [CtrlC()])
    assert train(*args, "--out", tmp_path / "part") == 130
    assert load(tmp_path / "part" / "checkpoints" / "last.npz")["global_step"] == 6
    monkeypatch.setattr(job, "build_callbacks", build)
    assert train(*args, "--out", tmp_path / "part") == 2  # without --resume: refused
    assert "--resume" in capsys.readouterr().err
    assert train(*args, "--out", tmp_path / "part", "--resume") == 0
    full = load(tmp_path / "full" / "checkpoints" / "last.npz")
    part = load(tmp_path / "part" / "checkpoints" / "last.npz")
    assert part["global_step"] == full["global_step"] == 15
    for k, v in full["model"].items():
        np.testing.assert_array_equal(v, part["model"][k])
    assert (tmp_path / "full" / "metrics.csv").read_text() == (tmp_path / "part" / "metrics.csv").read_text()


def test_bad_inputs_leave_no_output(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 4)).astype(np.float32)
    y = rng.integers(0, 3, size=50)
    cases = {
        "nan": dict(x_train=np.where(np.arange(200).reshape(50, 4) == 7, np.nan, x), y_train=y),
        "length": dict(x_train=x, y_train=y[:-2]),
        "labels": dict(x_train=x, y_train=np.where(np.arange(50) == 3, -2, y)),
        "missing": dict(x=x, y=y),
    }
    for name, arrays in cases.items():
        path = tmp_path / f"{name}.npz"
        np.savez(path, **arrays)
        out = tmp_path / f"out-{name}"
        assert train("--data", f"npz:{path}", "--model", "mlp:4", "--out", out, "--epochs", 1) == 2, name
        err = capsys.readouterr().err
        assert "error" in err, name
        assert not out.exists(), name
    assert train("--data", "npz:" + str(tmp_path / "nope.npz"), "--out", tmp_path / "o") == 2
    assert "does not exist" in capsys.readouterr().err
    # wrong input shape for the model: a CNN on feature vectors
    path = tmp_path / "flat.npz"
    np.savez(path, x_train=x, y_train=y)
    assert train("--data", f"npz:{path}", "--model", "cnn:4/8", "--out", tmp_path / "o2") == 2
    assert "needs images" in capsys.readouterr().err and not (tmp_path / "o2").exists()


def test_cuda_graph_option_on_the_cpu_warns_and_gives_the_eager_run(tmp_path, npz, capsys):
    """--cuda-graph builds the optimizer capturable; on the CPU it warns why there is no
    graph and trains to the same weights as the eager run (same bits in float32)."""
    outs = []
    for extra in ((), ("--cuda-graph",)):
        out = tmp_path / ("graph" if extra else "eager")
        with pytest.warns(RuntimeWarning, match="without a CUDA graph") if extra else contextlib.nullcontext():
            rc = train("--data", f"npz:{npz}", "--model", "mlp:16", "--epochs", 1, "--batch-size", 32, "--out", out,
                       "--optimizer", "sgd", "--momentum", 0.9, *extra)
        assert rc == 0, capsys.readouterr().err
        outs.append(load(out / "checkpoints" / "last.npz")["model"])
    assert json.loads((tmp_path / "graph" / "config.json").read_text())["cuda_graph"] is True
    for k in outs[0]:
        np.testing.assert_array_equal(outs[1][k], outs[0][k])
