"""The lab on a real Dask cluster: a scheduler and two workers on 127.0.0.1 started here.

A worker is killed (SIGKILL) while it runs a unit; the scheduler re-runs that unit on
another worker, and the saved results are complete, written once each, and identical —
bit for bit — to a run in this process.
"""
import os
import signal
import threading
import time

import numpy as np
import pytest

from deeprecipe.lab import run_experiments, storage
from deeprecipe.lab import runner as lab_runner
from tests.services import dask_cluster

from .dask_toy import DASK_TOY

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def _same_metrics(a, b, where):
    assert type(a) is type(b), where
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _same_metrics(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), where
    else:
        assert a == b, where


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two workers for this module; units of the toy experiment mark their start."""
    markers = tmp_path_factory.mktemp("markers")
    env = {"DEEPRECIPE_DASK_TOY_MARKERS": str(markers), "DEEPRECIPE_DASK_TOY_WAIT": "1.5"}
    with dask_cluster(2, env=env) as (address, workers):
        yield address, markers


def test_units_survive_a_killed_worker_and_match_the_local_run(tmp_path, cluster):
    local, remote = tmp_path / "local", tmp_path / "dask"
    address, markers = cluster
    [lo] = run_experiments([DASK_TOY], preset="test", out=local, progress=False)
    assert lo.ok
    box = {}
    t = threading.Thread(target=lambda: box.update(o=run_experiments(
        [DASK_TOY], preset="test", out=remote, progress=False, cluster=address)))
    t.start()
    deadline = time.time() + 60
    while not os.listdir(markers):            # wait until a worker holds a unit
        assert time.time() < deadline and t.is_alive(), "no unit started on the cluster"
        time.sleep(0.05)
    victim_seed, victim_pid = map(int, sorted(os.listdir(markers))[0].split("-"))
    os.kill(victim_pid, signal.SIGKILL)       # mid-unit: it is waiting inside run()
    t.join(timeout=120)
    assert not t.is_alive(), "the cluster run did not finish"
    [o] = box["o"]
    assert o.ok, o.error
    started = sorted(os.listdir(markers))
    # the killed unit started again, in another process; nothing else ran twice
    again = [m for m in started if m.startswith(f"{victim_seed}-")]
    assert len(again) == 2 and f"{victim_seed}-{victim_pid}" in again, started
    assert sorted(int(m.split("-")[0]) for m in started) == sorted([0, 1, 2, 3, victim_seed])
    assert storage.saved_seeds(remote, "dask-toy") == [0, 1, 2, 3]
    assert not [n for n in os.listdir(remote / "dask-toy") if n.startswith(".tmp") or ".old-" in n]
    for s in range(4):
        a, b = storage.load_unit(local, "dask-toy", s), storage.load_unit(remote, "dask-toy", s)
        assert a["status"] == b["status"] == "ok"
        _same_metrics(a["metrics"], b["metrics"], f"seed {s}")
    assert o.verdict.numbers == lo.verdict.numbers


def test_a_sweep_runs_its_workers_on_the_cluster(tmp_path, cluster):
    pytest.importorskip("optuna", reason="the sweep needs Optuna: pip install 'deeprecipe[sweep]'")
    pytest.importorskip("sklearn", reason="the sweep trains on scikit-learn's digits")
    from tests.sweep.conftest import spec as make_spec

    from deeprecipe.sweep import run_sweep
    spec = make_spec(tmp_path, trials=2)
    s = run_sweep(spec, cluster=cluster[0], echo=lambda m: None)
    import optuna
    trials = optuna.load_study(study_name=spec.study_name, storage=spec.storage).get_trials()
    assert s["trials"]["complete"] >= 2 and s["trials"]["fail"] == 0
    assert os.getpid() not in {t.user_attrs["pid"] for t in trials}     # every trial ran on a worker
    assert s["best"]["test"]["accuracy"] > 0.5


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(lab_runner, "CONNECT_TIMEOUT_S", 0.5)
    with pytest.raises(lab_runner.ClusterError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9"):
        run_experiments([DASK_TOY], preset="test", out=tmp_path / "x", progress=False, cluster="tcp://127.0.0.1:9")
    assert not (tmp_path / "x").exists()        # nothing written before the cluster answered
    from deeprecipe.cli import main
    assert main(["lab", "run", "init-histograms", "--preset", "test", "--out", str(tmp_path / "y"),
                 "--cluster", "127.0.0.1:9"]) == 2
    assert "--cluster must be a Dask scheduler address such as tcp://HOST:8786" in capsys.readouterr().err
