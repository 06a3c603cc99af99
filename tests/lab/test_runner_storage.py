import json
import os

import numpy as np
import pytest

from deeprecipe.lab import (HOLDS, Experiment, ResultsError, UnknownExperimentError, load_results,
                            run_experiments)
from deeprecipe.lab import registry, storage
from deeprecipe.lab.experiment import Results

from .toy import TOY, TOY_BAD_PLOT, TOY_FAILING


def _log_lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [int(x) for x in f.read().split()]


def _with(exp, **config):
    """A copy of ``exp`` whose test preset has extra settings (e.g. a call log)."""
    presets = {k: dict(v) for k, v in exp.presets.items()}
    presets["test"].update(config)
    return Experiment(id=exp.id, claim=exp.claim, source=exp.source, presets=presets,
                      run=exp.run, plot=exp.plot, verdict=exp.verdict)


def test_split_and_join_metrics_round_trip():
    m = {"a": 1, "b": np.float32(2.5), "c": np.arange(3), "d": {"e": np.ones((2, 2)), "f": [1, 2.0]},
         "g": "text", "h": None}
    tree, arrays = storage.split_arrays(m)
    assert json.dumps(tree)  # JSON-able
    assert set(arrays) == {"c", "d.e"}
    back = storage.join_arrays(tree, arrays)
    np.testing.assert_array_equal(back["c"], m["c"])
    np.testing.assert_array_equal(back["d"]["e"], m["d"]["e"])
    assert back["b"] == 2.5 and back["d"]["f"] == [1, 2.0] and back["g"] == "text" and back["h"] is None
    with pytest.raises(ValueError):
        storage.split_arrays({"a.b": 1})
    with pytest.raises(TypeError):
        storage.split_arrays({"a": object()})


def test_run_saves_units_figure_and_verdict(tmp_path):
    out = tmp_path / "res"
    [o] = run_experiments([TOY], preset="test", out=out, progress=False)
    assert o.ok and o.verdict.verdict == HOLDS and o.ran == 3 and o.skipped == 0
    exp_dir = out / "toy-ok"
    assert (exp_dir / "figure.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for s in range(3):
        unit = json.loads((exp_dir / f"seed-{s}" / "unit.json").read_text())
        assert unit["status"] == "ok" and unit["seed"] == s and unit["config"]["n"] == 5
        assert unit["format"] == storage.FORMAT_VERSION
        assert unit["environment"]["numpy"] == np.__version__ and "blas" in unit["environment"]
        assert (exp_dir / f"seed-{s}" / "arrays.npz").is_file()
    saved = json.loads((exp_dir / "verdict.json").read_text())
    assert saved["verdict"] == HOLDS and saved["seeds"] == [0, 1, 2]
    header, results, failed = load_results(exp_dir, "toy-ok")
    assert not failed and results.seeds == [0, 1, 2]
    np.testing.assert_array_equal(results.stack("curve")[1], [1.0, 2.0, 3.0, 4.0, 5.0])
    assert results.first("nested.count") == 5
    # nothing temporary left behind
    assert not [n for n in os.listdir(exp_dir) if n.startswith(".tmp")]


def test_saved_seeds_are_skipped_and_rerun_repeats_them(tmp_path):
    log = str(tmp_path / "calls.log")
    exp = _with(TOY, log=log)
    run_experiments([exp], preset="test", out=tmp_path / "r", progress=False)
    assert sorted(_log_lines(log)) == [0, 1, 2]
    [o] = run_experiments([exp], preset="test", out=tmp_path / "r", progress=False)
    assert _log_lines(log) == [0, 1, 2] and o.skipped == 3 and o.ran == 0 and o.ok
    # more seeds: only the new ones run
    run_experiments([exp], preset="test", out=tmp_path / "r", seeds=5, progress=False)
    assert _log_lines(log) == [0, 1, 2, 3, 4]
    run_experiments([exp], preset="test", out=tmp_path / "r", seeds=2, rerun=True, progress=False)
    assert _log_lines(log) == [0, 1, 2, 3, 4, 0, 1]
    assert storage.saved_seeds(tmp_path / "r", "toy-ok") == [0, 1]


def test_interrupted_run_resumes_without_repeating_finished_seeds(tmp_path, monkeypatch):
    log = str(tmp_path / "calls.log")
    out = tmp_path / "r"
    monkeypatch.setenv("DEEPRECIPE_TOY_INTERRUPT_AT", "1")
    with pytest.raises(KeyboardInterrupt):
        run_experiments([_with(TOY, log=log)], preset="test", out=out, progress=False)
    monkeypatch.delenv("DEEPRECIPE_TOY_INTERRUPT_AT")
    assert _log_lines(log) == [0, 1]
    assert storage.saved_seeds(out, "toy-ok") == [0]      # seed 1 was never half-saved
    leftovers = [n for n in os.listdir(out / "toy-ok") if n.startswith(".tmp") or ".old-" in n]
    assert leftovers == []
    [o] = run_experiments([_with(TOY, log=log)], preset="test", out=out, progress=False)
    assert _log_lines(log) == [0, 1, 1, 2]                # seed 0 not repeated
    assert o.ok and o.skipped == 1 and o.ran == 2


def test_failing_experiment_is_recorded_and_others_still_run(tmp_path):
    outcomes = run_experiments([TOY_FAILING, TOY, TOY_BAD_PLOT], preset="test", out=tmp_path, progress=False)
    by_id = {o.id: o for o in outcomes}
    assert not by_id["toy-failing"].ok and by_id["toy-failing"].verdict is None
    assert "ValueError: this experiment always fails" in by_id["toy-failing"].error
    unit = json.loads((tmp_path / "toy-failing" / "seed-0" / "unit.json").read_text())
    assert unit["status"] == "failed" and "Traceback" in unit["traceback"]
    assert by_id["toy-ok"].ok
    bad = by_id["toy-bad-plot"]
    assert not bad.ok and "plot failed" in bad.error and bad.verdict.verdict == HOLDS
    # a failed seed is run again next time (not skipped)
    [again] = run_experiments([TOY_FAILING], preset="test", out=tmp_path, progress=False)
    assert again.ran == 3


def test_unit_failing_on_one_seed_fails_the_experiment_without_verdict(tmp_path):
    [o] = run_experiments([_with(TOY, fail_at=2)], preset="test", out=tmp_path, progress=False)
    assert not o.ok and o.verdict is None and "seed 2 failed: RuntimeError: boom at seed 2" in o.error


def test_results_dir_of_other_settings_format_or_experiment_is_a_clear_error(tmp_path):
    run_experiments([TOY], preset="test", out=tmp_path, progress=False)
    [o] = run_experiments([TOY], preset="quick", out=tmp_path, progress=False)
    assert not o.ok and "--rerun" in o.error and "preset 'test'" in o.error
    [o] = run_experiments([TOY], preset="quick", out=tmp_path, rerun=True, progress=False)
    assert o.ok
    # an older format
    hdr = tmp_path / "toy-ok" / "experiment.json"
    d = json.loads(hdr.read_text())
    d["format"] = 0
    hdr.write_text(json.dumps(d))
    with pytest.raises(ResultsError, match="format 0.*reads format 1.*--rerun"):
        load_results(tmp_path / "toy-ok")
    [o] = run_experiments([TOY], preset="quick", out=tmp_path, progress=False)
    assert not o.ok and "format 0" in o.error
    # another experiment's directory
    d["format"] = storage.FORMAT_VERSION
    d["id"] = "overfit"
    hdr.write_text(json.dumps(d))
    with pytest.raises(ResultsError, match="holds results of experiment 'overfit', not 'toy-ok'"):
        load_results(tmp_path / "toy-ok", "toy-ok")
    with pytest.raises(ResultsError, match="no experiment.json"):
        load_results(tmp_path / "nothing-here")


def test_unknown_experiment_lists_valid_ids():
    with pytest.raises(UnknownExperimentError) as e:
        registry.get("init-histogram")
    msg = str(e.value)
    assert "unknown experiment 'init-histogram'" in msg and "Valid ids:" in msg
    for exp in registry.all_experiments():
        assert exp.id in msg
    with pytest.raises(UnknownExperimentError):
        run_experiments(["no-such-thing"], out="/nonexistent", progress=False)


def test_experiment_declaration_is_validated():
    kw = dict(claim="c", source=("000",), presets=TOY.presets, run=TOY.run, plot=TOY.plot,
              verdict=TOY.verdict)
    with pytest.raises(ValueError, match="lowercase"):
        Experiment(id="Bad_Id", **kw)
    with pytest.raises(ValueError, match="seed files"):
        Experiment(id="x", **{**kw, "source": ("999",)})
    with pytest.raises(ValueError, match="lacks presets"):
        Experiment(id="x", **{**kw, "presets": {"quick": {}}})
    with pytest.raises(ValueError, match="seeds"):
        Experiment(id="x", **{**kw, "presets": {p: {"seeds": 0} for p in ("test", "quick", "full")}})
    assert TOY.config("test") == {"n": 5} and TOY.n_seeds("test") == 3
    with pytest.raises(ValueError, match="no preset"):
        TOY.config("huge")


def test_results_accessors_report_missing_metrics():
    r = Results.from_metrics([{"a": {"b": 1.0}, "c": np.zeros(2)}, {"a": {"b": 3.0}, "c": np.ones(3)}])
    np.testing.assert_array_equal(r.values("a.b"), [1.0, 3.0])
    with pytest.raises(KeyError, match="'a.x' not found"):
        r.values("a.x")
    with pytest.raises(ValueError, match="different shapes"):
        r.stack("c")


@pytest.mark.slow
def test_process_pool_runs_units_in_parallel_workers(tmp_path):
    outcomes = run_experiments([TOY, TOY_FAILING], preset="test", out=tmp_path, jobs=2, progress=False)
    by_id = {o.id: o for o in outcomes}
    assert by_id["toy-ok"].ok and not by_id["toy-failing"].ok
    _, results, _ = load_results(tmp_path / "toy-ok")
    pids = set(results.values("pid").astype(int))
    assert os.getpid() not in pids and 1 <= len(pids) <= 2


def test_same_seed_gives_identical_numbers_with_one_or_two_jobs(tmp_path):
    # Units run at one BLAS thread whatever --jobs is and whatever the caller's BLAS
    # setting; otherwise GEMMs split over a different number of threads would round
    # differently between the two runs.
    threadpoolctl = pytest.importorskip("threadpoolctl")
    overfit = registry.get("overfit")
    with threadpoolctl.threadpool_limits(limits=2):  # a caller running BLAS at 2 threads
        run_experiments([overfit], preset="test", out=tmp_path / "one", jobs=1, progress=False)
    run_experiments([overfit], preset="test", out=tmp_path / "two", jobs=2, progress=False)
    _, one, _ = load_results(tmp_path / "one" / "overfit")
    _, two, _ = load_results(tmp_path / "two" / "overfit")
    for key in ("curves.train_loss", "curves.test_acc"):
        np.testing.assert_array_equal(one.stack(key), two.stack(key))
    for results in (one, two):  # the recorded environment shows the one thread used
        blas = [lib for lib in results.environment["blas"] if lib.get("user_api") == "blas"]
        assert blas and all(lib["num_threads"] == 1 for lib in blas)
