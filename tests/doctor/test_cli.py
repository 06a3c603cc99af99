"""``deeprecipe train --out`` records the monitors; ``deeprecipe doctor`` reads them: exit
codes, JSON, HTML, bad and half-written run folders, the live Doctor, and --treat."""
import hashlib
import io
import json
import os

import numpy as np
import pytest

from deeprecipe.cli import main
from deeprecipe.doctor import Doctor, diagnose

BLOBS = ["--data", "blobs", "--model", "mlp:16", "--lr", "0.01", "--progress", "none"]


def train(out, *args):
    return main(["train", *BLOBS, "--out", str(out), *map(str, args)])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("doctor") / "run"
    assert train(out, "--epochs", 4, "--monitor-every", 2) == 0
    return out


def test_train_records_monitors_inputs_and_config(run):
    s = json.loads((run / "metrics.json").read_text())
    h, steps = s["history"]["history"], s["history"]["steps"]
    assert {"grad_norm", "grad_norm/0", "grad_norm/2", "update_ratio/0", "act_dead/1", "act_std/1"} <= set(h)
    assert len(steps["batch_loss"]["value"]) == 4 * 2 and steps["grad_norm"]["step"][:2] == [0, 2]
    inputs = json.loads((run / "inputs.json").read_text())
    assert inputs["classes"] == 3 and abs(inputs["mean"]) < 0.1 and inputs["feature_std_max"] < 1.5  # standardized
    assert json.loads((run / "config.json").read_text())["monitor_every"] == 2


def test_no_monitor_records_nothing_but_the_doctor_still_runs(tmp_path, capsys):
    out = tmp_path / "bare"
    assert train(out, "--epochs", 2, "--no-monitor") == 0
    h = json.loads((out / "metrics.json").read_text())["history"]
    assert not any("/" in k for k in h["history"]) and h["steps"] == {}
    capsys.readouterr()
    assert main(["doctor", str(out)]) == 0
    assert "no monitor series" in capsys.readouterr().out


def test_doctor_text_and_json(run, capsys):
    assert main(["doctor", str(run)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("Doctor's note for")
    assert main(["doctor", str(run), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"healthy", "findings"}
    assert out == diagnose(str(run)).to_dict()


def test_html_page_is_self_contained(run, tmp_path, capsys):
    page = tmp_path / "note.html"
    assert main(["doctor", str(run), "--html", str(page)]) == 0
    html = page.read_text()
    assert "data:image/png;base64," in html and "http" not in html.replace("https://proceedings", "")


@pytest.mark.parametrize("make, match", [
    (lambda p: None, "is not a folder"),
    (lambda p: p.mkdir(), "no config.json"),
    (lambda p: (p.mkdir(), (p / "config.json").write_text("{}")), "no metrics.json: the run has not finished"),
    (lambda p: (p.mkdir(), (p / "config.json").write_text("{}"), (p / "metrics.json").write_text('{"hist')),
     "corrupt or half-written"),
    (lambda p: (p.mkdir(), (p / "config.json").write_text("{}"), (p / "metrics.json").write_text('{"a": 1}')),
     "does not hold a training history"),
])
def test_bad_run_folders_exit_2_with_a_clear_message(tmp_path, capsys, make, match):
    p = tmp_path / "bad"
    make(p)
    assert main(["doctor", str(p)]) == 2
    assert match in capsys.readouterr().err


def _digest(folder):
    h = hashlib.sha256()
    for root, _, files in sorted(os.walk(folder)):
        for f in sorted(files):
            path = os.path.join(root, f)
            h.update(path.encode())
            with open(path, "rb") as fh:
                h.update(fh.read())
            h.update(str(os.stat(path).st_mtime_ns).encode())
    return h.hexdigest()


def test_treat_writes_next_to_the_original_and_never_touches_it(tmp_path, capsys):
    sick = tmp_path / "sick"
    assert train(sick, "--epochs", 4, "--lr", "1e-6", "--optimizer", "sgd", "--monitor-every", 1) == 0
    before = _digest(sick)
    d = diagnose(str(sick))
    assert "lr-too-low" in d.ids
    capsys.readouterr()
    assert main(["doctor", str(sick), "--treat"]) == 0
    out = capsys.readouterr().out
    top = d.most_severe().id
    treated = tmp_path / f"sick-treated-{top}"
    assert f"Treatment for {top}" in out and treated.is_dir()
    assert _digest(sick) == before
    cfg = json.loads((treated / "config.json").read_text())
    orig = json.loads((sick / "config.json").read_text())
    assert (cfg["seed"], cfg["epochs"], cfg["data"]) == (orig["seed"], orig["epochs"], orig["data"])


def test_doctor_stop_ends_a_sick_run_and_keeps_its_checkpoints(tmp_path, capsys):
    out = tmp_path / "explode"
    rc = main(["train", "--data", "blobs", "--model", "mlp:64,64,64", "--init", "normal:3", "--epochs", "6",
               "--progress", "none", "--doctor", "stop", "--out", str(out), "--monitor-every", "1"])
    err = capsys.readouterr().err
    assert rc == 0 and "exploding-gradient" in err
    s = json.loads((out / "metrics.json").read_text())
    assert len(s["history"]["epoch"]) < 6 and "stopped by the doctor" in s["stop_reason"]
    assert (out / "checkpoints" / "last.npz").exists()


def test_doctor_callback_reports_each_finding_once():
    from deeprecipe.train.history import History

    class FakeTrainer:
        stop_reason = None
        history = History()
        stopped = None

        def stop(self, reason):
            self.stopped = reason

    t = FakeTrainer()
    stream = io.StringIO()
    doc = Doctor(stop=True, num_classes=3, stream=stream)
    doc.set_context(t)
    doc.on_train_begin()
    for epoch, loss in enumerate([1.0, 0.8, 50.0, 80.0]):
        logs = {"loss": loss, "val_loss": loss}
        doc.on_epoch_end(epoch, logs)
        t.history.add_epoch(epoch, logs)
    assert [(e, f.id) for e, f in doc.reported] == [(2, "divergence")]
    assert stream.getvalue().count("divergence") == 1 and "divergence" in t.stopped
    doc.on_train_end()
    assert doc.final is not None and "divergence" in doc.final.ids


def test_init_std_from_the_command_line_reaches_a_run(tmp_path):
    out = tmp_path / "std"
    assert train(out, "--epochs", 1, "--init", "normal:0.01", "--no-monitor") == 0
    assert json.loads((out / "config.json").read_text())["init"] == "normal:0.01"
    from deeprecipe.serialization import load_checkpoint
    w = load_checkpoint(str(out / "checkpoints" / "last.npz"), restore_rng=False)["model"]["0.weight"]
    assert np.std(w) < 0.05


def test_probe_trains_a_shallower_control_next_to_the_run(tmp_path, capsys):
    from deeprecipe.doctor import control_model, run_control
    assert control_model("mlp:512,256") == "mlp:512" and control_model("mlp:64") == "mlp"
    assert control_model("cnn:32,64/128") == "cnn:32/128"
    out = tmp_path / "deep"
    assert main(["train", "--data", "blobs", "--model", "mlp:16,16", "--epochs", "3", "--progress", "none",
                 "--out", str(out)]) == 0
    before = _digest(out)
    r = run_control(str(out))
    assert r["control_model"] == "mlp:16" and os.path.isdir(r["control_dir"]) and np.isfinite(r["control_loss"])
    assert _digest(out) == before
    capsys.readouterr()
    assert main(["doctor", str(out), "--probe"]) == 0
    assert "Probe: a shallower control (mlp:16)" in capsys.readouterr().out


def test_saddle_curvature_is_negative_near_the_origin_of_a_tanh_net(tmp_path):
    from deeprecipe.doctor import saddle_curvature
    out = tmp_path / "origin"
    assert main(["train", "--data", "blobs", "--model", "mlp:8", "--activation", "tanh", "--init", "normal:0.001",
                 "--optimizer", "sgd", "--lr", "0.01", "--epochs", "1", "--progress", "none", "--no-monitor",
                 "--out", str(out)]) == 0
    assert saddle_curvature(str(out), n=64, iters=15) < -1e-3


def test_html_has_a_figure_for_every_kind_of_finding():
    from deeprecipe.doctor.note import html_page

    from .test_rules import sick
    for rule_id in ("vanishing-gradient", "overfitting", "plateau-large-gradient", "dead-units", "lr-too-high",
                    "unnormalized-input"):
        page = html_page(diagnose(sick(rule_id)))
        assert page.count("data:image/png;base64,") >= 1 and rule_id in page
