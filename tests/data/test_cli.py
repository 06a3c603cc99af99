"""`deeprecipe data fetch|info` through deeprecipe.cli.main, on small fake IDX files."""
import pytest

from deeprecipe.cli import main

from .fakes import FILES, make_fake_dataset


def test_info_reports_found_and_missing(tmp_path, monkeypatch, capsys, no_system_data,
                                        isolated_data_env):
    make_fake_dataset(tmp_path / "data" / "fashion-mnist", n_train=30, n_test=10)
    monkeypatch.setenv("DEEPRECIPE_DATA", str(tmp_path / "data"))
    assert main(["data", "info"]) == 0
    out = capsys.readouterr().out
    assert f"fashion-mnist: {tmp_path / 'data' / 'fashion-mnist'}" in out
    assert "uint8 (30, 28, 28)" in out and "uint8 (10,)" in out
    assert FILES["train_images"] in out and "kB" in out
    # mnist is absent: says where it would come from and go to
    assert "mnist: not found; would download from https://ossci-datasets.s3.amazonaws.com/mnist/" in out
    assert str(isolated_data_env / ".cache" / "deeprecipe" / "mnist") in out
    assert "digits:" in out


def test_info_flags_corrupt_file(tmp_path, monkeypatch, capsys, no_system_data):
    d = tmp_path / "data" / "mnist"
    make_fake_dataset(d)
    (d / FILES["test_labels"]).write_bytes(b"\x07\x07\x07\x07")
    monkeypatch.setenv("DEEPRECIPE_DATA", str(tmp_path / "data"))
    assert main(["data", "info"]) == 1
    assert "UNREADABLE" in capsys.readouterr().out


def test_fetch_found(tmp_path, monkeypatch, capsys, no_system_data):
    make_fake_dataset(tmp_path / "data" / "mnist", n_train=30, n_test=10)
    monkeypatch.setenv("DEEPRECIPE_DATA", str(tmp_path / "data"))
    assert main(["data", "fetch", "mnist"]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "data" / "mnist") in out
    assert "x uint8 (30, 28, 28), y int64 (30,)" in out
    assert "x uint8 (10, 28, 28)" in out


def test_fetch_offline_fails_with_instructions(capsys, no_system_data):
    assert main(["data", "fetch", "fashion-mnist", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "apt-get install dataset-fashion-mnist" in err and "DEEPRECIPE_DATA" in err


def test_fetch_digits(capsys):
    pytest.importorskip("sklearn")
    assert main(["data", "fetch", "digits"]) == 0
    assert "x float32 (1438, 8, 8)" in capsys.readouterr().out


def test_data_without_action_prints_help(capsys):
    assert main(["data"]) == 2
    assert "fetch" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["data", "fetch", "cifar"])
