"""Two `deeprecipe sweep` processes share one study in a real PostgreSQL server (started here
on 127.0.0.1 and removed afterwards), as two machines would; neither loses a trial."""
import os
import re
import subprocess
import sys

import pytest

from tests.services import child_env, postgres_server

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _sweep(url, out, trials):
    return subprocess.Popen(
        [sys.executable, "-m", "deeprecipe", "sweep", "--data", "digits", "--model", "mlp:16", "--epochs", "1",
         "--batch-size", "64", "--param", "lr=log:1e-3:1e-1", "--param", "optimizer=choice:adam,sgd",
         "--trials", str(trials), "--pruner", "median", "--storage", url, "--study-name", "shared",
         "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=child_env())


def test_two_sweep_processes_share_a_postgres_study(tmp_path):
    from optuna.trial import TrialState

    from deeprecipe.sweep.study import open_storage
    with postgres_server() as url:
        procs = [_sweep(url, tmp_path / f"machine{i}", 6) for i in range(2)]
        outs = [p.communicate(timeout=300)[0] for p in procs]
        for p, o in zip(procs, outs):
            assert p.returncode == 0, o
        ran = [{int(n) for n in re.findall(r"^trial (\d+):", o, re.M)} for o in outs]
        import optuna
        study = optuna.load_study(study_name="shared", storage=open_storage(url))
        trials = study.get_trials()
    finished = {t.number for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)}
    assert all(ran), f"each process ran trials: {ran}"
    assert not ran[0] & ran[1], "a trial was run twice"
    assert ran[0] | ran[1] == finished == {t.number for t in trials}, "a trial was lost or left unfinished"
    assert len(finished) >= 6
    assert {t.user_attrs["pid"] for t in trials} == {p.pid for p in procs}
    for i, n in enumerate(ran):  # each machine keeps the runs of the trials it ran
        assert all(os.path.isdir(tmp_path / f"machine{i}" / "trials" / f"trial-{k}") for k in n)
