"""The validation rules one by one, at their edges."""
import os

import numpy as np
import pytest

from deeprecipe.validation import labels, sizes
from deeprecipe.validation.files import (
    UnsafePathError,
    check_payload_fits,
    regular_file_inside,
)
from deeprecipe.validation.options import suggest
from deeprecipe.validation.rundir import (
    MANIFEST,
    RunDirError,
    read_manifest,
    remove_run_files,
)
from deeprecipe.validation.splits import SplitError, check_split


def test_class_count_rules_at_their_edges(monkeypatch):
    assert labels.infer_num_classes(np.array([0, 1, 2, 2])) == 3
    assert labels.infer_num_classes(np.array([0, 3])) == 4          # 2 of 4 classes present: exactly half, kept
    with pytest.raises(labels.LabelError, match="uses only 2 of the 5 classes"):
        labels.infer_num_classes(np.array([0, 4]))
    with pytest.raises(labels.LabelError, match="limit of 3"):
        labels.infer_num_classes(np.arange(4), max_classes=3)
    with pytest.raises(labels.LabelError, match="empty"):
        labels.infer_num_classes(np.zeros(0, np.int64))
    with pytest.raises(labels.LabelError, match=r"2 of 3 labels are negative"):
        labels.infer_num_classes(np.array([0, -1, -2]))
    with pytest.raises(labels.LabelError, match="dtype float64"):
        labels.infer_num_classes(np.array([0.0, 1.0]))
    with pytest.raises(labels.LabelError, match=r"shape \(2, 2\)"):
        labels.infer_num_classes(np.zeros((2, 2), np.int64))
    assert labels.infer_num_classes(np.arange(3), [("y_val", np.array([2])), ("y_test", None)]) == 3


def test_parameter_limit_is_read_when_checked(monkeypatch):
    from deeprecipe import nn
    monkeypatch.setattr(sizes, "MAX_PARAMETERS", 100)
    with pytest.raises(sizes.SizeError, match="limit of 100"):
        nn.MLP([10, 10, 2])
    assert sizes.mlp_parameter_count([3, 4, 2], pieces=2) == 3 * 8 + 8 + 4 * 2 + 2


def test_splits():
    check_split(np.zeros((2, 3)), np.zeros(2), "train")
    with pytest.raises(SplitError, match="x_val has 2 samples but y_val has 3"):
        check_split(np.zeros((2, 3)), np.zeros(3), "val")
    with pytest.raises(SplitError, match=r"shape \(2, 28, 0\).*no features"):
        check_split(np.zeros((2, 28, 0)), None, "test")


def test_payload_limit():
    check_payload_fits("f", 100, 100, "x")
    with pytest.raises(ValueError, match="'f' is truncated.*needs 101 bytes but the file holds 100"):
        check_payload_fits("f", 101, 100, "x")
    check_payload_fits("f", 1032 * 10, 10, "x", compressed=True)
    with pytest.raises(ValueError, match="gzip stream of 10 bytes"):
        check_payload_fits("f", 1032 * 10 + 1, 10, "x", compressed=True)


def test_regular_file_inside(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "a")
    (tmp_path / "a" / "flink").symlink_to(tmp_path / "a" / "f")
    assert regular_file_inside(tmp_path, "a", "f") == os.path.join(tmp_path, "a", "f")
    for parts in (("link", "f"), ("a", "flink"), ("..", "x"), ("a/f",), ("a",)):
        with pytest.raises(UnsafePathError):
            regular_file_inside(tmp_path, *parts)
    with pytest.raises(FileNotFoundError):
        regular_file_inside(tmp_path, "a", "missing")


def test_suggestions():
    valid = ["lr", "batch_size", "epochs", "weight_decay"]
    assert suggest("--learning-rate", valid) == "lr"
    assert suggest("--learning-rate=3", valid) == "lr"
    assert suggest("batchsize", valid) == "batch_size"
    assert suggest("--epcohs", valid) == "epochs"
    assert suggest("--zzz", valid) is None


def test_manifest_is_the_only_authority(tmp_path):
    out = tmp_path / "run"
    (out / "checkpoints").mkdir(parents=True)
    assert read_manifest(out) is None
    (out / MANIFEST).write_text('{"kind": "something else"}')
    with pytest.raises(RunDirError, match="not a deeprecipe run manifest"):
        read_manifest(out)
    (out / MANIFEST).write_text('{"kind": "deeprecipe-train-run", "format": 1, '
                                '"files": ["config.json", "checkpoints/last.npz", "../x", "notes"], '
                                '"dirs": ["checkpoints", ".."]}')
    for f in ("config.json", "notes", "checkpoints/last.npz", "checkpoints/.last.npz.1.abc.tmp"):
        (out / f).write_text("x")
    (tmp_path / "x").write_text("outside")
    removed = remove_run_files(out, read_manifest(out), ["config.json", "checkpoints/last.npz", "notes2"],
                               ["checkpoints"])
    assert not (out / "config.json").exists() and not (out / "checkpoints" / "last.npz").exists()
    assert (out / "notes").exists() and (tmp_path / "x").exists()
    # pid 1 is alive (init): its temporary file is not an orphan, so the folder stays
    assert (out / "checkpoints").is_dir() and not (out / MANIFEST).exists()
    assert len(removed) == 3
