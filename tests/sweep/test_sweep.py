"""Sweeps with Optuna and SQLite, in this process: results, continuing, pruning, errors."""
import json
import os
import sys
from types import SimpleNamespace

import optuna
import pytest
from optuna.trial import TrialState

from deeprecipe.cli import main
from deeprecipe.sweep import DoctorPruner, DoctorUnavailable, SweepError, run_sweep
from deeprecipe.sweep import study as study_mod

from .conftest import spec as make_spec


def _trials(spec):
    return optuna.load_study(study_name=spec.study_name, storage=spec.storage).get_trials()


def test_a_sweep_scores_on_validation_continues_and_evaluates_test_once(tmp_path, monkeypatch):
    tests_evaluated = []
    real = study_mod._test_score
    monkeypatch.setattr(study_mod, "_test_score", lambda s, b: tests_evaluated.append(b.number) or real(s, b))
    lines = []
    spec = make_spec(tmp_path)
    s = run_sweep(spec, echo=lines.append)
    assert s["trials"]["complete"] == 3 and len([x for x in lines if x.startswith("trial ")]) == 3
    out = tmp_path / "sweep"
    assert (out / "study.db").is_file() and (out / "figure.png").read_bytes()[:4] == b"\x89PNG"
    saved = json.loads((out / "summary.json").read_text())
    best = saved["best"]
    values = [t.value for t in _trials(spec)]
    assert best["value"] == max(values)                     # chosen on validation accuracy
    assert 0 < best["test"]["accuracy"] <= 1 and "evaluated once" in best["test"]["note"]
    assert tests_evaluated == [best["trial"]]
    assert (out / "trials" / f"trial-{best['trial']}" / "model.safetensors").is_file()
    assert saved["compute"]["epochs"] == 6 and saved["compute"]["train_seconds"] > 0
    # the same command again with more trials continues: only the new ones run
    lines.clear()
    spec5 = make_spec(tmp_path, trials=5, storage=spec.storage)
    s = run_sweep(spec5, echo=lines.append)
    assert "3 of 5 trials finished" in lines[0]
    assert sorted(int(x.split()[1].rstrip(":")) for x in lines if x.startswith("trial ")) == [3, 4]
    assert s["trials"]["complete"] == 5
    assert len(tests_evaluated) == 1 + (s["best"]["trial"] != best["trial"])   # once per best trial
    lines.clear()
    run_sweep(make_spec(tmp_path, trials=5, storage=spec.storage), echo=lines.append)
    assert not [x for x in lines if x.startswith("trial ")]
    # another search in the same study is refused
    other = make_spec(tmp_path, trials=5, storage=spec.storage, objective="val_loss")
    with pytest.raises(SweepError, match=r"started with other settings:\n  objective: 'val_accuracy' -> 'val_loss'"):
        run_sweep(other, echo=lines.append)


def test_an_interrupted_sweep_continues_where_it_stopped(tmp_path):
    calls = []

    def interrupting(history):  # Ctrl-C during the second trial
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return SimpleNamespace(findings=[])

    spec = make_spec(tmp_path, trials=3, pruner="doctor")
    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, diagnose=interrupting, echo=lambda m: None)
    states = [t.state for t in _trials(spec)]
    assert states == [TrialState.COMPLETE, TrialState.FAIL]
    s = run_sweep(make_spec(tmp_path, trials=3, pruner="doctor", storage=spec.storage),
                  diagnose=lambda h: SimpleNamespace(findings=[]), echo=lambda m: None)
    assert s["trials"]["complete"] == 3 and s["trials"]["fail"] == 1


def _finding(id_, severity):
    return SimpleNamespace(id=id_, severity=severity, title=f"{id_} seen")


def test_doctor_pruner_stops_only_on_the_listed_findings_at_error_severity():
    def diag(findings):
        return lambda h: SimpleNamespace(findings=findings)
    reason = DoctorPruner(diag([_finding("divergence", "error")])).check(None, 1)
    assert reason == "doctor: divergence — divergence seen"
    assert DoctorPruner(diag([_finding("dead-units", "error")])).check(None, 1).startswith("doctor: dead-units")
    assert DoctorPruner(diag([_finding("vanishing-gradient", "error")])).check(None, 1) is not None
    assert DoctorPruner(diag([_finding("divergence", "warning")])).check(None, 1) is None
    assert DoctorPruner(diag([_finding("overfitting", "error")])).check(None, 1) is None
    assert DoctorPruner(diag([_finding("divergence", "error")]), min_epochs=2).check(None, 1) is None
    assert DoctorPruner(diag([_finding("divergence", "warning")]), severities=("error", "warning")).check(None, 1)


def test_without_the_doctor_the_doctor_pruner_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "deeprecipe.doctor", None)   # as if the package were absent
    with pytest.raises(DoctorUnavailable, match="--pruner doctor needs the doctor"):
        DoctorPruner().check(None, 1)
    assert main(["sweep", "--data", "digits", "--param", "lr=log:1e-3:1e-1", "--pruner", "doctor",
                 "--out", str(tmp_path / "s")]) == 2
    assert "use --pruner median or --pruner none" in capsys.readouterr().err
    assert not (tmp_path / "s" / "study.db").exists()          # refused before the study was made


def test_the_doctor_stops_the_trials_it_diagnoses(tmp_path):
    seen = []

    def diagnose(history):  # a stand-in doctor: a learning rate of 0.5 "diverges"
        seen.append(len(history.epoch))
        lr = history.history["lr"][-1]
        return SimpleNamespace(findings=[_finding("divergence", "error")] if lr > 0.1 else [])

    spec = make_spec(tmp_path, trials=4, pruner="doctor",
                     params=[{"name": "lr", "kind": "choice", "choices": [0.001, 0.5]}])
    s = run_sweep(spec, diagnose=diagnose, echo=lambda m: None)
    trials = _trials(spec)
    assert seen and set(seen) <= {1, 2}                         # the history of this trial, epoch by epoch
    for t in trials:
        if t.params["lr"] == 0.5:
            assert t.state == TrialState.PRUNED and t.user_attrs["epochs"] == 1
            assert t.user_attrs["pruned_by"].startswith("doctor: divergence")
            assert not os.path.exists(os.path.join(t.user_attrs["run_dir"], "model.safetensors"))
        else:
            assert t.state == TrialState.COMPLETE and t.user_attrs["epochs"] == 2
    assert {t.params["lr"] for t in trials} == {0.001, 0.5}
    assert s["compute"]["epochs"] == sum(t.user_attrs["epochs"] for t in trials)


@pytest.mark.parametrize("argv,msg", [
    (["--param", "learning_rate=log:1e-5:1e-1"], "unknown parameter 'learning_rate' (did you mean 'lr'?)"),
    (["--param", "lr=log:1e-1"], "needs LOW:HIGH"),
    (["--param", "lr=log:1e-5:1e-1", "--lr", "0.1"], "lr is both fixed (--lr) and searched"),
    (["--param", "lr=log:1e-5:1e-1", "--trials", "0"], "--trials must be >= 1"),
    (["--param", "lr=log:1e-5:1e-1", "--val-fraction", "0"], "val_fraction must be > 0"),
    (["--param", "lr=log:1e-5:1e-1", "--storage", "redis://x"], "--storage must be a database URL"),
    (["--param", "lr=log:1e-5:1e-1", "--storage", "postgresql://me:secret@127.0.0.1:9/db"],
     "cannot open the study database postgresql://me:***@127.0.0.1:9/db"),
    (["--param", "lr=log:1e-5:1e-1", "--cluster", "127.0.0.1:9"], "--cluster must be a Dask scheduler address"),
    ([], "the search space is empty"),
])
def test_bad_command_lines_are_refused_with_the_reason(tmp_path, capsys, argv, msg):
    assert main(["sweep", "--data", "digits", "--out", str(tmp_path / "s"), *argv]) == 2
    err = capsys.readouterr().err
    assert msg in err and "secret" not in err


def test_unknown_options_get_a_suggestion(capsys):
    with pytest.raises(SystemExit):
        main(["sweep", "--trails", "3"])
    assert "did you mean --trials?" in capsys.readouterr().err
