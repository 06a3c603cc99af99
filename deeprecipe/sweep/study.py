"""A sweep: an Optuna study in a database, worked on by local processes or Dask workers.

Output folder (``--out``)::

    study.db                 the Optuna study (SQLite) unless --storage names another database
    sweep.json               what was searched and how (checked when the sweep is continued)
    trials/trial-<n>/        each trial's run folder (config, metrics.csv, model.safetensors)
    summary.json             trials by state, compute used, the best trial, its test score
    figure.png               scores per trial, best so far, parameter importances

**Continuing.** The study lives in the database, so running the same command again
continues it: trials already finished count towards ``--trials`` and only the rest run.
A trial cut off by Ctrl-C is marked failed; one whose process was killed outright is
noticed by its stopped heartbeat (after :data:`GRACE_S` seconds) and marked failed; a
failed trial's parameters are tried once more.  A different search space, objective or
fixed options for the same study is refused.

**Many machines.** ``--storage postgresql://USER:PASSWORD@HOST:PORT/DB`` puts the study
in a PostgreSQL database that every machine reaches; each machine runs the same
``deeprecipe sweep ... --storage ...`` command (or ``--cluster`` sends the workers to a
Dask cluster) and they share the trials.  ``--trials`` is the total over all of them
(up to one extra trial per worker may run when several finish at the same moment).

**Test data.** Trials are scored on the validation split only.  When the search is
finished, the best trial's saved weights are evaluated once on the test set, and the
result is reported as the test score of the chosen configuration.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import time

from ..train.config import TrainConfig
from .pruning import doctor_pruner, optuna_pruner
from .space import Param
from .trial import OBJECTIVES, run_trial

HEARTBEAT_S = 10
GRACE_S = 40
SPEC_KIND = "deeprecipe-sweep"


class SweepError(RuntimeError):
    """A sweep that cannot run: unreachable database or scheduler, a conflicting study, no doctor."""


@dataclasses.dataclass
class SweepSpec:
    """Everything a worker needs (plain data: it travels to spawned processes and Dask workers)."""
    base: dict                      # the fixed TrainConfig (as a dict)
    params: list                    # [Param.to_dict()]
    objective: str = "val_accuracy"
    trials: int = 20
    pruner: str = "median"
    storage: str = ""
    study_name: str = "sweep"
    out: str = "sweeps/sweep"
    sampler: str = "tpe"
    sampler_seed: int = 0

    def identity(self) -> dict:
        """What defines the study's trials (compared when a sweep is continued)."""
        base = {k: v for k, v in self.base.items() if k not in TrainConfig.RUNTIME_KEYS}
        return {"kind": SPEC_KIND, "base": base, "params": self.params, "objective": self.objective}

    def param_objects(self) -> list:
        out = []
        for d in self.params:
            d = dict(d)
            name, kind = d.pop("name"), d.pop("kind")
            if "choices" in d:
                d["choices"] = tuple(d["choices"])
            out.append(Param(name, kind, **d))
        return out


def default_storage(out: str) -> str:
    return "sqlite:///" + os.path.abspath(os.path.join(out, "study.db"))


def redact(url: str) -> str:
    """The storage URL without its password (for messages)."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def open_storage(url: str):
    """An Optuna RDB storage with heartbeats (killed trials are noticed), or SweepError."""
    import warnings

    import optuna
    from optuna.storages import RDBStorage
    try:
        from optuna.storages import RetryHeartbeatStaleTrialCallback as Retry  # Optuna >= 4.9
    except ImportError:
        from optuna.storages import RetryFailedTrialCallback as Retry
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial is printed by the sweep
    # heartbeats are marked "experimental" by Optuna; they are what makes a killed trial be noticed
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    kwargs = {}
    given, url = url, _with_driver(url)
    if url.startswith("sqlite:"):
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}  # several processes write one file
    elif not re.match(r"^(postgresql|mysql)(\+\w+)?://", url):
        raise SweepError(f"--storage must be a database URL (postgresql://USER@HOST:PORT/DB, mysql://..., "
                         f"sqlite:///PATH), got {redact(given)!r}")
    try:
        for attempt in range(5):
            try:
                return RDBStorage(url, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S,
                                  heartbeat_stale_trial_callback=Retry(max_retry=1), **kwargs)
            except Exception as e:
                # Two machines creating the tables of an empty database at the same moment: one
                # of them loses the race (PostgreSQL: duplicate key in pg_type); the tables exist
                # now, so trying again opens them.
                text = str(e).lower()
                if attempt == 4 or not ("duplicate" in text or "already exists" in text):
                    raise
                time.sleep(0.2 * (attempt + 1))
    except ImportError as e:
        raise SweepError(f"the database driver for {redact(given)} is missing ({e}); for PostgreSQL: "
                         "pip install 'deeprecipe[sweep]' (psycopg)") from None
    except Exception as e:  # sqlalchemy.exc.OperationalError & co.: unreachable, refused, bad credentials
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SweepError(f"cannot open the study database {redact(given)}: {first}") from None


def _with_driver(url: str) -> str:
    """``postgresql://`` with the PostgreSQL driver that is installed (psycopg 3, else psycopg2):
    SQLAlchemy's default driver changed between versions."""
    if not url.startswith("postgresql://"):
        return url
    import importlib.util
    for module, dialect in (("psycopg", "psycopg"), ("psycopg2", "psycopg2")):
        if importlib.util.find_spec(module) is not None:
            return f"postgresql+{dialect}://" + url[len("postgresql://"):]
    return url  # SQLAlchemy will say that no driver is installed


def _sampler(spec: SweepSpec, worker: int):
    import optuna
    seed = spec.sampler_seed + 1000 * worker  # parallel workers must not propose the same points
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, constant_liar=True)


def open_study(spec: SweepSpec, worker: int = 0, create: bool = False):
    """Load (or create) the study; refuses a study made with other settings."""
    import optuna
    storage = open_storage(spec.storage)
    if create:
        study = optuna.create_study(storage=storage, study_name=spec.study_name, load_if_exists=True,
                                    direction=OBJECTIVES[spec.objective], sampler=_sampler(spec, worker),
                                    pruner=optuna_pruner(spec.pruner))
        saved = study.user_attrs.get("spec")
        if saved is None:
            study.set_user_attr("spec", spec.identity())
        elif saved != json.loads(json.dumps(spec.identity())):
            raise SweepError(
                f"the study {spec.study_name!r} in {redact(spec.storage)} was started with other settings:\n"
                f"{_diff(saved, spec.identity())}\nuse another --out (or --study-name) for a new search")
        return study
    return optuna.load_study(study_name=spec.study_name, storage=storage, sampler=_sampler(spec, worker),
                             pruner=optuna_pruner(spec.pruner))


def _diff(old: dict, new: dict) -> str:
    new = json.loads(json.dumps(new))
    lines = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if k == "base" and isinstance(a, dict) and isinstance(b, dict):
            lines += [f"  {kk}: {a.get(kk)!r} -> {b.get(kk)!r}" for kk in sorted(set(a) | set(b))
                      if a.get(kk) != b.get(kk)]
        elif a != b:
            lines.append(f"  {k}: {a!r} -> {b!r}")
    return "\n".join(lines)


def _finished(study) -> int:
    from optuna.trial import TrialState
    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


def _line(trial, objective: str) -> str:
    params = ", ".join(f"{k}={_fmt(v)}" for k, v in trial.params.items())
    secs = trial.user_attrs.get("seconds")
    t = f" [{secs:.1f} s]" if secs is not None else ""
    state = trial.state.name.lower()
    if state == "complete":
        diverged = " — diverged (non-finite loss), stopped" if trial.user_attrs.get("diverged") else ""
        return f"trial {trial.number}: {objective} {trial.value:.4f}{diverged} ({params}){t}"
    if state == "pruned":
        return f"trial {trial.number}: pruned after {trial.user_attrs.get('epochs', '?')} epochs — " \
               f"{trial.user_attrs.get('pruned_by', '')} ({params}){t}"
    return f"trial {trial.number}: {state} ({params}){t}"


def _fmt(v):
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def work(spec: SweepSpec, worker: int = 0, diagnose=None, echo=None) -> list:
    """Run trials of the study until ``spec.trials`` are finished; returns the numbers this worker ran.

    ``diagnose`` replaces the doctor's (tests); ``echo(line)`` receives one line per trial.
    """
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState
    say = echo or (lambda m: print(m, flush=True))
    study = open_study(spec, worker)
    doctor = doctor_pruner(spec.pruner, diagnose)
    params = spec.param_objects()
    base = TrainConfig(**spec.base)
    trials_dir = os.path.join(spec.out, "trials")
    ran, fails = [], [0]

    def objective(trial):
        return run_trial(trial, base, params, spec.objective, trials_dir, doctor)

    def after(study, trial):
        ran.append(trial.number)
        if trial.state == TrialState.FAIL:
            fails[0] += 1
            if fails[0] >= max(3, spec.trials):  # every trial fails: stop instead of looping
                study.stop()
        else:
            fails[0] = 0
        say(_line(trial, spec.objective) + (f" (worker {worker})" if worker else ""))

    if _finished(study) >= spec.trials:
        return ran
    study.optimize(objective, n_trials=None, catch=(ValueError, TypeError, ArithmeticError, RuntimeError),
                   callbacks=[MaxTrialsCallback(spec.trials, states=(TrialState.COMPLETE, TrialState.PRUNED)),
                              after], gc_after_trial=False, show_progress_bar=False)
    return ran


def _work_in_process(spec_dict: dict, worker: int) -> list:
    """Entry point of a spawned local worker process and of a Dask task."""
    spec = SweepSpec(**spec_dict)
    return work(spec, worker)


# ---------------------------------------------------------------------------- the whole sweep
def run_sweep(spec: SweepSpec, workers: int = 1, cluster: str | None = None, diagnose=None, echo=None) -> dict:
    """Create/continue the study, run the trials (here, in ``workers`` processes, or on a Dask
    cluster), then write ``summary.json`` and ``figure.png``; returns the summary."""
    say = echo or (lambda m: print(m, flush=True))
    os.makedirs(spec.out, exist_ok=True)
    if not spec.storage:
        spec.storage = default_storage(spec.out)
    doctor_pruner(spec.pruner, diagnose)  # a missing doctor fails here, before any trial
    client = None
    if cluster:
        from ..lab.runner import ClusterError, connect_cluster
        try:
            client = connect_cluster(cluster)
        except ClusterError as e:
            raise SweepError(str(e)) from None
    study = open_study(spec, create=True)
    with open(os.path.join(spec.out, "sweep.json"), "w", encoding="utf-8") as f:
        json.dump({**spec.identity(), "storage": redact(spec.storage), "study_name": spec.study_name,
                   "trials": spec.trials, "pruner": spec.pruner, "sampler": spec.sampler}, f, indent=1)
    done = _finished(study)
    if done:
        say(f"continuing study {spec.study_name!r} in {redact(spec.storage)}: {done} of {spec.trials} trials "
            "finished")
    t0 = time.perf_counter()
    if client is not None:
        try:
            n = workers if workers > 1 else max(1, len(client.scheduler_info()["workers"]))
            futs = [client.submit(_work_in_process, dataclasses.asdict(spec), i, pure=False) for i in range(n)]
            for fut in futs:
                fut.result()
        finally:
            client.close()
    elif workers <= 1:
        work(spec, 0, diagnose, say)
    else:
        _run_local_workers(spec, workers)
    wall = time.perf_counter() - t0
    return summarize(spec, wall, say)


def _run_local_workers(spec: SweepSpec, workers: int) -> None:
    import multiprocessing
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_work_in_process, args=(dataclasses.asdict(spec), i), daemon=False)
             for i in range(workers)]
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join()
    except BaseException:  # Ctrl-C: each worker gets it too (same process group); wait, then stop stragglers
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
        raise
    bad = [p.exitcode for p in procs if p.exitcode != 0]
    if bad:
        raise SweepError(f"{len(bad)} of {workers} sweep worker processes failed (exit codes {bad}); "
                         "their error is printed above")


def summarize(spec: SweepSpec, wall_s: float | None = None, echo=None) -> dict:
    """Counts, compute, best trial and (once) its test score; writes summary.json and figure.png."""
    import optuna
    from optuna.trial import TrialState
    say = echo or (lambda m: print(m, flush=True))
    study = optuna.load_study(study_name=spec.study_name, storage=open_storage(spec.storage))
    trials = study.get_trials(deepcopy=False)
    by_state = {s.name.lower(): sum(t.state == s for t in trials) for s in TrialState}
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    summary = {
        "study": spec.study_name, "storage": redact(spec.storage), "objective": spec.objective,
        "direction": OBJECTIVES[spec.objective], "pruner": spec.pruner, "trials": by_state,
        "compute": {"epochs": int(sum(t.user_attrs.get("epochs", 0) for t in finished)),
                    "train_seconds": float(sum(t.user_attrs.get("seconds", 0.0) for t in finished)),
                    "wall_seconds_this_run": wall_s},
        "best": None,
    }
    path = os.path.join(spec.out, "summary.json")
    old = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            old = json.load(f)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if complete:
        best = study.best_trial
        summary["best"] = {"trial": best.number, "value": best.value, "params": best.params,
                           "run_dir": best.user_attrs.get("run_dir"), "host": best.user_attrs.get("host")}
        prev = (old.get("best") or {})
        if prev.get("trial") == best.number and "test" in prev:
            summary["best"]["test"] = prev["test"]  # evaluated once already
        else:
            summary["best"]["test"] = _test_score(spec, best)
    from .plot import draw_sweep
    try:
        summary["figure"] = draw_sweep(study, spec.objective, os.path.join(spec.out, "figure.png"))
    except ImportError as e:
        summary["figure"] = None
        say(f"note: no figure ({e}); install the plot extra (matplotlib)")
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1, default=_json_safe)
    os.replace(tmp, path)
    _print_summary(summary, say)
    return summary


def _json_safe(o):
    if isinstance(o, float) and not math.isfinite(o):
        return str(o)
    raise TypeError(type(o).__name__)


def _test_score(spec: SweepSpec, best) -> dict:
    """Evaluate the best trial's saved weights on the test set (the only look at it)."""
    from .. import serialization
    from ..train import evaluate
    from ..train.job import build_model
    from .trial import load_data_cached
    run_dir = best.user_attrs.get("run_dir") or ""
    weights = os.path.join(run_dir, "model.safetensors")
    if not os.path.exists(weights):
        return {"note": f"the best trial's weights are not on this machine ({weights} on host "
                        f"{best.user_attrs.get('host')}); evaluate them there"}
    cfg = TrainConfig(**{**spec.base, **best.params})
    data = load_data_cached(cfg)
    if data.x_test is None:
        return {"note": f"dataset {cfg.data!r} has no test split"}
    model = build_model(cfg, data)
    model.load_state_dict(serialization.load(weights))
    res = evaluate(model, data.x_test, data.y_test)
    return {"loss": float(res["loss"]), "accuracy": float(res["accuracy"]), "samples": int(len(data.y_test)),
            "note": "test score of the best trial, evaluated once after the search (not used to choose it)"}


def _print_summary(s: dict, say) -> None:
    t = s["trials"]
    c = s["compute"]
    say(f"{t.get('complete', 0)} complete, {t.get('pruned', 0)} pruned, {t.get('fail', 0)} failed, "
        f"{t.get('running', 0)} running; compute {c['epochs']} epochs, {c['train_seconds']:.1f} s of training")
    b = s["best"]
    if b:
        say(f"best: trial {b['trial']}  {s['objective']} {b['value']:.4f}  "
            + ", ".join(f"{k}={_fmt(v)}" for k, v in b["params"].items()))
        test = b.get("test") or {}
        if "accuracy" in test:
            say(f"test score of the best trial (evaluated once, after the search): accuracy "
                f"{test['accuracy']:.4f}, loss {test['loss']:.4f}")
        elif test.get("note"):
            say(f"test: {test['note']}")
    if s.get("figure"):
        say(f"figure: {s['figure']}")
