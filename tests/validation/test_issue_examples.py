"""Each bad input of the reliability issue, at the public API and at the CLI: a clear message
naming the problem, and nothing written or deleted."""
import gzip
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from deeprecipe import nn, save
from deeprecipe.cli import main
from deeprecipe.data.idx import read_idx, write_idx
from deeprecipe.train import ModelCheckpoint, TerminateOnDivergence, fit
from deeprecipe.validation import (
    DataFileError,
    LabelError,
    SizeError,
    infer_num_classes,
)
from deeprecipe.validation.tempfiles import orphans

from .conftest import snapshot, toy_arrays


def train(*args):
    return main(["train", "--progress", "none", "--epochs", "1", "--model", "mlp:8", *map(str, args)])


def refused(capsys, *args, out=None):
    """Run the CLI; it must exit 2 and write nothing; returns stderr."""
    before = snapshot(out.parent) if out is not None else None
    rc = train(*args, *(["--out", out] if out is not None else []))
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err
    if out is not None:
        assert snapshot(out.parent) == before
    return err


def write_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


# ---------------------------------------------------------------- tracebacks -> messages
def test_truncated_npz_data_file(tmp_path, toy_npz, capsys):
    bad = tmp_path / "cut.npz"
    bad.write_bytes(toy_npz.read_bytes()[:300])
    err = refused(capsys, "--data", f"npz:{bad}", out=tmp_path / "run")
    assert "cut.npz" in err and "not an .npz file" in err and "truncated" in err


def test_crc_damaged_npz_data_file(tmp_path, toy_npz, capsys):
    raw = bytearray(toy_npz.read_bytes())
    raw[len(raw) // 3] ^= 0xFF  # inside x_train's data: the CRC no longer matches
    bad = tmp_path / "crc.npz"
    bad.write_bytes(bytes(raw))
    err = refused(capsys, "--data", f"npz:{bad}", out=tmp_path / "run")
    assert "crc.npz" in err and "damaged" in err and "CRC" in err
    with pytest.raises(DataFileError, match="crc.npz.*damaged"):
        from deeprecipe.validation import read_npz_arrays
        read_npz_arrays(bad)


@pytest.mark.parametrize("label", [2**40, 1_000_000])
def test_huge_or_stray_label(tmp_path, capsys, label):
    x, y = toy_arrays()
    y[7] = label
    path = write_npz(tmp_path / "d.npz", x_train=x, y_train=y)
    err = refused(capsys, "--data", f"npz:{path}", out=tmp_path / "run")
    assert f"y_train[7] = {label}" in err and "limit" in err and "np.unique" in err
    with pytest.raises(LabelError, match=f"y_train\\[7\\] = {label}"):
        infer_num_classes(y)


def test_small_stray_label_is_not_a_silent_wide_model(tmp_path, capsys):
    x, y = toy_arrays()
    y[3] = 50  # classes 0, 1, 2 and 50: 47 of 51 classes would have no sample
    path = write_npz(tmp_path / "d.npz", x_train=x, y_train=y)
    err = refused(capsys, "--data", f"npz:{path}", out=tmp_path / "run")
    assert "uses only 4 of the 51 classes" in err and "y_train[3] = 50" in err


def test_idx_header_claiming_petabytes(tmp_path):
    for name in ("big.idx", "big.idx.gz"):
        path = tmp_path / name
        write_idx(path, np.zeros((2, 3, 4), np.uint8))
        raw = gzip.decompress(path.read_bytes()) if name.endswith(".gz") else path.read_bytes()
        raw = bytearray(raw)
        for i in range(3):
            raw[4 + 4 * i: 8 + 4 * i] = (2**32 - 1).to_bytes(4, "big")  # ~7.9e28 bytes
        path.write_bytes(gzip.compress(bytes(raw)) if name.endswith(".gz") else bytes(raw))
        with pytest.raises(DataFileError, match=f"{name}.*truncated or its header is wrong.*needs"):
            read_idx(path)


def test_idx_header_through_the_dataset_loader(tmp_path):
    from deeprecipe.data import load
    root = tmp_path / "fm"
    root.mkdir()
    for fname, arr in (("train-images-idx3-ubyte", np.zeros((5, 28, 28), np.uint8)),
                       ("train-labels-idx1-ubyte", np.zeros(5, np.uint8)),
                       ("t10k-images-idx3-ubyte", np.zeros((5, 28, 28), np.uint8)),
                       ("t10k-labels-idx1-ubyte", np.zeros(5, np.uint8))):
        write_idx(root / fname, arr)
    raw = bytearray((root / "train-images-idx3-ubyte").read_bytes())
    raw[4:8] = (10**9).to_bytes(4, "big")
    (root / "train-images-idx3-ubyte").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.*header is wrong"):
        load("fashion-mnist", root=root, download=False)


def test_empty_validation_and_test_splits(tmp_path, capsys):
    x, y = toy_arrays(n=3)
    tiny = write_npz(tmp_path / "tiny.npz", x_train=x, y_train=np.array([0, 1, 0]))
    err = refused(capsys, "--data", f"npz:{tiny}", "--val-fraction", "0.1", out=tmp_path / "run")
    assert "val split is empty" in err and "val_fraction" in err
    x, y = toy_arrays()
    path = write_npz(tmp_path / "d.npz", x_train=x, y_train=y, x_test=x[:0], y_test=y[:0])
    err = refused(capsys, "--data", f"npz:{path}", out=tmp_path / "run")
    assert "test split is empty" in err and "x_test" in err


# ---------------------------------------------------------------- silent wrong results
def test_test_label_outside_the_training_classes(tmp_path, capsys):
    x, y = toy_arrays()
    yt = y[100:].copy()
    yt[4] = 3  # the training labels are 0, 1, 2
    path = write_npz(tmp_path / "d.npz", x_train=x[:100], y_train=y[:100], x_test=x[100:], y_test=yt)
    err = refused(capsys, "--data", f"npz:{path}", out=tmp_path / "run")
    assert "y_test[4] = 3 is not one of the training classes 0..2" in err
    with pytest.raises(LabelError, match=r"y_test\[4\] = 3"):
        infer_num_classes(y[:100], yt)


@pytest.mark.parametrize("sizes,match", [
    ([4.5, 3], r"sizes\[0\] must be an integer, got 4.5"),
    ([4, 3.0], r"sizes\[1\] must be an integer, got 3.0"),
    ([4, True], r"sizes\[1\] must be an integer, got True"),
    ([4, "8", 3], r"sizes\[1\] must be an integer, got '8'"),
    ([4, 0, 3], r"sizes\[1\] must be at least 1, got 0"),
    ([4], r"at least 2 entries"),
    ([784, 10**6, 10**6, 10], r"parameters.*more than the limit"),
])
def test_mlp_sizes_are_not_truncated(sizes, match):
    with pytest.raises(SizeError, match=match):
        nn.MLP(sizes)
    assert nn.MLP([np.int64(4), 3]).config["sizes"] == [4, 3]


def test_convnet_sizes():
    with pytest.raises(SizeError, match=r"channels\[0\] must be an integer, got 4.5"):
        nn.ConvNet((1, 8, 8), channels=(4.5,), hidden=(8,), num_classes=3)
    with pytest.raises(SizeError, match=r"num_classes must be an integer"):
        nn.ConvNet((1, 8, 8), channels=(4,), hidden=(8,), num_classes=3.5)


def _exploding_model():
    model = nn.MLP([4, 8, 3], rng=0)
    return model


def test_finite_loss_explosion_is_divergence_at_the_api(tmp_path):
    x, y = toy_arrays()
    cb = TerminateOnDivergence()
    ck = ModelCheckpoint(tmp_path / "ck", save_best=False, every_n_steps=1)
    hist = fit(_exploding_model(), (x, y), optimizer="sgd", lr=1e6, epochs=3, batch_size=20, callbacks=[cb, ck],
               verbose=0, seed=0)
    assert cb.message and "TerminateOnDivergence" in hist.stop_reason and "diverged" in hist.stop_reason
    assert np.isfinite(float(hist.stop_reason.split("reached ")[1].split(" ")[0]))  # finite, yet stopped
    from deeprecipe import load
    state = load(tmp_path / "ck" / "last.npz")
    assert all(np.isfinite(v).all() for v in state["model"].values())
    assert state["global_step"] < 15  # stopped at the explosion, not after 3 epochs


def test_divergence_rule_and_its_threshold():
    cb = TerminateOnDivergence()

    class T:
        global_step, epoch, stopped = 0, 0, None

        def stop(self, reason, diverged=False):
            self.stopped = (reason, diverged)
    cb.trainer = T()
    cb.on_train_begin()
    for loss in (2.3, 1.0, 0.5, 0.5 * 999):  # below 1000x the running minimum 0.5: fine
        cb.on_train_batch_end(0, {"loss": loss})
    assert cb.trainer.stopped is None and cb.threshold() == pytest.approx(500.0)
    cb.on_train_batch_end(0, {"loss": 501.0})
    assert cb.trainer.stopped[1] is True and "501" in cb.trainer.stopped[0]
    cb = TerminateOnDivergence()
    cb.trainer = T()
    cb.on_train_begin()
    for loss in (2.0, 1e-9):  # the floor: 1000 * max(1e-9, 0.01 * 2.0) = 20
        cb.on_train_batch_end(0, {"loss": loss})
    assert cb.threshold() == pytest.approx(20.0)
    cb.on_train_batch_end(0, {"loss": 1e-3})
    assert cb.trainer.stopped is None
    with pytest.raises(ValueError, match="factor"):
        TerminateOnDivergence(factor=1.0)


def test_finite_loss_explosion_at_the_cli(tmp_path, toy_npz, capsys):
    out = tmp_path / "run"
    rc = train("--data", f"npz:{toy_npz}", "--optimizer", "sgd", "--lr", "1e6", "--epochs", "3",
               "--checkpoint-every", "1", "--out", out)
    cap = capsys.readouterr()
    assert rc == 1, cap.err
    assert "TerminateOnDivergence" in cap.err and "diverged" in cap.out
    from deeprecipe import load
    state = load(out / "checkpoints" / "last.npz")
    assert all(np.isfinite(v).all() for v in state["model"].values())
    assert json.loads((out / "metrics.json").read_text())["diverged"] is True


# ---------------------------------------------------------------- data loss
def _foreign_run(folder):
    """What another tool might have written: the same names deeprecipe uses, no manifest."""
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "config.json").write_text('{"tool": "other"}')
    (folder / "metrics.csv").write_text("a,b\n1,2\n")
    (folder / "metrics.json").write_text("{}")
    (folder / "checkpoints" / "model.pt").write_bytes(b"\x00" * 10)


def test_overwrite_refuses_a_folder_deeprecipe_did_not_create(tmp_path, toy_npz, capsys):
    out = tmp_path / "theirs"
    _foreign_run(out)
    before = snapshot(out)
    err = refused(capsys, "--data", f"npz:{toy_npz}", "--overwrite", out=out)
    assert "not created by deeprecipe train" in err and "nothing in it is deleted" in err
    assert snapshot(out) == before
    # a folder of unrelated files too
    other = tmp_path / "photos"
    other.mkdir()
    (other / "cat.jpg").write_bytes(b"meow")
    refused(capsys, "--data", f"npz:{toy_npz}", "--overwrite", out=other)
    assert (other / "cat.jpg").read_bytes() == b"meow"


def test_overwrite_removes_only_what_the_run_wrote(tmp_path, toy_npz, capsys):
    out = tmp_path / "run"
    assert train("--data", f"npz:{toy_npz}", "--out", out) == 0
    (out / "notes.txt").write_text("mine")
    (out / "checkpoints" / "keep.npz").write_bytes(b"mine too")
    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    # a manifest edited to list files that are not the run's is not obeyed
    man = json.loads((out / ".deeprecipe-run.json").read_text())
    man["files"] += ["notes.txt", "../outside.txt", "/etc/hostname"]
    (out / ".deeprecipe-run.json").write_text(json.dumps(man))
    capsys.readouterr()
    assert train("--data", f"npz:{toy_npz}", "--out", out, "--lr", "0.01", "--overwrite") == 0
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "checkpoints" / "keep.npz").read_bytes() == b"mine too"
    assert outside.read_text() == "precious"
    assert json.loads((out / "config.json").read_text())["lr"] == 0.01


def test_a_run_never_writes_through_a_link_in_its_folder(tmp_path, toy_npz, capsys):
    out, elsewhere = tmp_path / "run", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "checkpoints").symlink_to(elsewhere)
    err = refused(capsys, "--data", f"npz:{toy_npz}", out=out)
    assert "symbolic link" in err and "checkpoints" in err
    assert list(elsewhere.iterdir()) == []


def test_orphan_temp_file_of_a_killed_write_is_cleaned_on_the_next_write(tmp_path):
    target = tmp_path / "last.npz"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    dead_pid = int(dead.stdout)
    orphan = tmp_path / f".last.npz.{dead_pid}.abc123.tmp"
    orphan.write_bytes(b"half a checkpoint")
    live = tmp_path / f".last.npz.{os.getpid()}.zzz999.tmp"  # a writer that is still running
    live.write_bytes(b"being written")
    mine = tmp_path / ".last.npz.notes.tmp"  # not our pattern: never touched
    mine.write_bytes(b"x")
    assert orphans(target) == [str(orphan)]
    save(target, {"a": np.arange(3)})
    assert not orphan.exists() and live.exists() and mine.exists() and target.exists()


# ---------------------------------------------------------------- letting things in
@pytest.fixture
def toys():
    from deeprecipe.lab import registry

    from ..lab.toy import TOY
    registry.register(TOY)
    yield TOY
    registry.unregister(TOY.id)


def _two_experiments(tmp_path, toy):
    """Results of the toy experiment and of a copy under another id (rendered from its saved verdict)."""
    import shutil

    from deeprecipe.lab import run_experiments
    run_experiments([toy], preset="test", out=tmp_path, progress=False)
    shutil.copytree(tmp_path / toy.id, tmp_path / "copy-exp")
    for p in [tmp_path / "copy-exp" / "experiment.json", *(tmp_path / "copy-exp").glob("seed-*/unit.json"),
              tmp_path / "copy-exp" / "verdict.json"]:
        d = json.loads(p.read_text())
        d["id"] = "copy-exp"
        p.write_text(json.dumps(d))


def test_lab_report_does_not_embed_a_symlinked_figure(tmp_path, toys):
    from deeprecipe.lab import write_report
    res = tmp_path / "res"
    _two_experiments(res, toys)
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"\x89PNG\r\n\x1a\nTOP-SECRET-PASSWORD")
    for exp in (toys.id, "copy-exp"):
        fig = res / exp / "figure.png"
        fig.unlink()
        fig.symlink_to(secret)
        os.utime(fig, (2e9, 2e9), follow_symlinks=False)  # not "stale" by its date
    rep = write_report(res)
    with open(rep["html"], encoding="utf-8") as f:
        text = f.read()
    import base64
    assert base64.b64encode(secret.read_bytes()).decode()[:20] not in text
    assert secret.read_bytes().endswith(b"TOP-SECRET-PASSWORD")  # the target was not overwritten


@pytest.mark.parametrize("damage", ["unit.json", "arrays.npz", "verdict.json", "experiment.json", "symlink-unit"])
def test_lab_report_marks_a_broken_experiment_failed_and_renders_the_others(tmp_path, toys, damage):
    from deeprecipe.lab import write_report
    res = tmp_path / "res"
    _two_experiments(res, toys)
    broken = res / "copy-exp"
    if damage == "unit.json":
        (broken / "seed-0" / "unit.json").write_text("{not json")
    elif damage == "arrays.npz":
        (broken / "seed-0" / "arrays.npz").write_bytes(b"PK\x03\x04garbage")
    elif damage == "verdict.json":
        (broken / "verdict.json").write_text('["a list"]')
    elif damage == "experiment.json":
        (broken / "experiment.json").write_bytes(b"\xff\xfe")
    else:
        (tmp_path / "elsewhere.json").write_text((broken / "seed-0" / "unit.json").read_text())
        (broken / "seed-0" / "unit.json").unlink()
        (broken / "seed-0" / "unit.json").symlink_to(tmp_path / "elsewhere.json")
    rep = write_report(res)
    by_id = {e.id: e for e in rep["entries"]}
    assert by_id[toys.id].outcome.ok and by_id[toys.id].outcome.verdict.verdict == "holds"
    bad = by_id["copy-exp"].outcome
    assert not bad.ok and bad.error
    assert "| copy-exp | failed |" in rep["summary"]


def test_lab_report_cli_exit_and_message(tmp_path, toys, capsys):
    res = tmp_path / "res"
    _two_experiments(res, toys)
    (res / "copy-exp" / "seed-1" / "unit.json").write_text("[]")
    rc = main(["lab", "report", str(res)])
    cap = capsys.readouterr()
    assert "Traceback" not in cap.err and "copy-exp" in cap.out + cap.err and rc in (0, 1)


# ---------------------------------------------------------------- messages that blame the right thing
def test_all_negative_labels_are_blamed_on_the_labels(tmp_path, capsys):
    x, y = toy_arrays()
    path = write_npz(tmp_path / "d.npz", x_train=x, y_train=-1 - y)
    err = refused(capsys, "--data", f"npz:{path}", out=tmp_path / "run")
    assert "y_train[0]" in err and "must be >= 0" in err and "every label is negative" in err
    assert "MLP" not in err and "sizes" not in err


def test_zero_features_are_blamed_on_the_features(tmp_path, capsys):
    x, y = toy_arrays()
    path = write_npz(tmp_path / "d.npz", x_train=x[:, :0], y_train=y)
    err = refused(capsys, "--data", f"npz:{path}", out=tmp_path / "run")
    assert "x_train has shape (120, 0)" in err and "no features" in err and "MLP" not in err


@pytest.mark.parametrize("argv,hint", [
    (["--learning-rate", "0.1"], "--lr"), (["--learning-rate=0.1"], "--lr"), (["--bs", "8"], "--batch-size"),
    (["--epoch", "2"], "--epochs"), (["--wd", "0.1"], "--weight-decay"),
])
def test_did_you_mean(capsys, argv, hint):
    with pytest.raises(SystemExit) as e:
        train(*argv)
    assert e.value.code == 2
    assert f"did you mean {hint}?" in capsys.readouterr().err


def test_toml_errors_name_the_file(tmp_path, capsys):
    bad = tmp_path / "latin1.toml"
    bad.write_bytes('model = "mlp:8"\n# caf\xe9\n'.encode("latin-1"))
    err = refused(capsys, "--config", bad)
    assert "latin1.toml" in err and "not UTF-8" in err
    syn = tmp_path / "syntax.toml"
    syn.write_text("lr = = 1\n")
    assert "syntax.toml" in refused(capsys, "--config", syn)
    alias = tmp_path / "alias.toml"
    alias.write_text("learning_rate = 0.1\n")
    assert "did you mean 'lr'?" in refused(capsys, "--config", alias)


def test_lab_commands_refuse_a_file_as_results_directory(tmp_path, capsys):
    f = tmp_path / "results.txt"
    f.write_text("mine")
    assert main(["lab", "run", "deep-sigmoid", "--preset", "test", "--out", str(f)]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert main(["lab", "report", str(f)]) != 0
    assert "is not a folder" in capsys.readouterr().err
    assert f.read_text() == "mine"


def test_divergence_state_survives_resume_and_old_checkpoints_still_resume(tmp_path):
    from deeprecipe import load
    x, y = toy_arrays()
    cb = TerminateOnDivergence()
    fit(nn.MLP([4, 8, 3], rng=0), (x, y), epochs=1, batch_size=20, verbose=0, seed=0,
        callbacks=[cb, ModelCheckpoint(tmp_path / "ck", save_best=False)])
    state = load(tmp_path / "ck" / "last.npz")
    i = state["callbacks"]["keys"].index("TerminateOnDivergence#0")
    assert state["callbacks"]["states"][i]["first_loss"] == cb.first_loss
    resumed = TerminateOnDivergence()
    fit(nn.MLP([4, 8, 3], rng=0), (x, y), epochs=2, batch_size=20, verbose=0, seed=0,
        resume_from=tmp_path / "ck" / "last.npz",
        callbacks=[resumed, ModelCheckpoint(tmp_path / "ck2", save_best=False)])
    assert resumed.first_loss == cb.first_loss and resumed.min_loss <= cb.min_loss
    # a checkpoint written without the callback resumes with it
    fit(nn.MLP([4, 8, 3], rng=0), (x, y), epochs=1, batch_size=20, verbose=0, seed=0,
        callbacks=[ModelCheckpoint(tmp_path / "old", save_best=False)])
    late = TerminateOnDivergence()
    fit(nn.MLP([4, 8, 3], rng=0), (x, y), epochs=2, batch_size=20, verbose=0, seed=0,
        resume_from=tmp_path / "old" / "last.npz", callbacks=[late, ModelCheckpoint(tmp_path / "old", save_best=False)])
    assert late.first_loss is not None
