"""Run experiments: one unit of work per (experiment, seed), on a local process pool.

* Units already saved (status ok) are skipped unless ``rerun=True``; failed units are
  run again.  So an interrupted run, started again, resumes where it stopped.
* ``jobs=1`` runs in this process (with a per-step progress bar from the experiment);
  ``jobs>1`` uses a pool of ``jobs`` *spawned* processes (fresh interpreters: safe with
  threads, BLAS and CuPy); ``cluster="tcp://HOST:PORT"`` sends the units to a Dask
  distributed scheduler instead (:func:`_run_dask`): the workers compute and return the
  metrics, and this process (the client) writes them with the same atomic writes, so a
  worker that dies mid-unit leaves nothing behind, its unit is re-run on another worker
  by the scheduler, and each unit is written exactly once.
* Every unit runs at one BLAS thread (when threadpoolctl is installed): a GEMM split
  over a different number of threads sums in a different order, so the same seed would
  give slightly different numbers with ``--jobs 1`` and ``--jobs 2``.  One thread keeps
  results identical whatever ``--jobs`` is, and is also the fastest per unit on small,
  shared machines.
* An exception inside an experiment is saved as a failed unit with its traceback and
  the other units go on; the experiment is then reported as failed.
* When the last unit of an experiment is saved, its figure and verdict are computed
  from the SAVED metrics (:func:`finalize`), never from what is in memory.
"""
from __future__ import annotations

import multiprocessing
import os
import random
import threading
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field

import numpy as np

from . import registry, storage
from .experiment import Experiment, Results, RunContext, Verdict
from .progress import inner_bar_factory, make_bar


@dataclass
class Outcome:
    """What happened to one experiment in a run (or when its saved results were read)."""
    id: str
    status: str                      # "ok" | "failed"
    verdict: Verdict | None = None
    error: str | None = None
    figure: str | None = None        # path of figure.png
    seconds: float = 0.0             # compute time: the sum over seeds
    seeds: list = field(default_factory=list)
    ran: int = 0                     # units run now
    skipped: int = 0                 # units found already saved

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class _Task:
    experiment_id: str
    module: str
    preset: str
    config: dict
    seed: int
    out: str


# --------------------------------------------------------------------------- one unit
def _seed_everything(seed: int) -> None:
    from .. import backend
    backend.seed(seed)
    np.random.seed(seed % (2 ** 32))
    random.seed(seed)


def one_blas_thread():
    """Limit BLAS to one thread for the duration of a unit (see the module docstring)."""
    from ..backend import blas_threads
    return blas_threads(1, warn=False)


_one_blas_thread = one_blas_thread  # the earlier private name


def compute_unit(experiment: Experiment, preset: str, config: dict, seed: int,
                 progress_factory=None) -> tuple[dict, dict | None]:
    """Run one seed of ``experiment`` (seeded, at one BLAS thread); returns ``(record, metrics)``.

    ``record`` is what :func:`storage.save_unit` writes beside the metrics (status,
    config, environment, timings, and the error with its traceback when the experiment
    raised; ``metrics`` is then None).  ``KeyboardInterrupt`` propagates.
    """
    from .environment import environment
    _seed_everything(seed)
    ctx = RunContext(seed, preset, progress_factory=progress_factory)
    started = storage.now()
    t0 = time.perf_counter()
    metrics, error, tb = None, None, None
    with one_blas_thread():
        env = environment()  # read inside the limit: it records the BLAS threads used
    try:
        with one_blas_thread():
            metrics = experiment.run(dict(config), seed, ctx)
        if not isinstance(metrics, dict):
            raise TypeError(f"{experiment.id}: run() returned {type(metrics).__name__}, "
                            "expected a dict of metrics")
    except Exception as e:  # a failing experiment is recorded, the others go on
        metrics, error, tb = None, f"{type(e).__name__}: {e}", traceback.format_exc()
    duration = time.perf_counter() - t0
    record = {"status": "ok" if error is None else "failed", "preset": preset, "config": config,
              "started": started, "duration_s": duration, "environment": env}
    if error is not None:
        record.update(error=error, traceback=tb)
    return record, metrics


def save_computed_unit(out, experiment_id: str, seed: int, record: dict, metrics: dict | None) -> dict:
    """Write what :func:`compute_unit` returned (atomically); returns the unit's short summary.

    Metrics that cannot be saved are recorded as a failed unit instead.
    """
    error = record.get("error")
    try:
        storage.save_unit(out, experiment_id, seed, record, metrics)
    except (TypeError, ValueError) as e:  # metrics that cannot be saved: record that instead
        error = f"{type(e).__name__} while saving metrics: {e}"
        record = dict(record, status="failed", error=error, traceback=traceback.format_exc())
        storage.save_unit(out, experiment_id, seed, record, None)
    return {"id": experiment_id, "seed": seed, "status": record["status"], "error": error,
            "duration": record["duration_s"]}


def execute_unit(experiment: Experiment, preset: str, config: dict, seed: int, out,
                 progress_factory=None) -> dict:
    """Run one seed of ``experiment`` and save it atomically; returns a short summary.

    Exceptions from the experiment are caught and saved as a failed unit;
    ``KeyboardInterrupt`` is not: nothing is saved and it propagates.
    """
    record, metrics = compute_unit(experiment, preset, config, seed, progress_factory)
    return save_computed_unit(out, experiment.id, seed, record, metrics)


def _worker(task: _Task) -> dict:
    try:
        exp = registry.locate(task.module, task.experiment_id)
    except Exception as e:
        return {"id": task.experiment_id, "seed": task.seed, "status": "failed",
                "error": f"cannot load experiment: {type(e).__name__}: {e}",
                "traceback": traceback.format_exc(), "duration": 0.0, "unsaved": True}
    try:
        return execute_unit(exp, task.preset, task.config, task.seed, task.out)
    except KeyboardInterrupt:
        return {"id": task.experiment_id, "seed": task.seed, "status": "interrupted",
                "error": "interrupted", "duration": 0.0, "unsaved": True}


# --------------------------------------------------------------------------- preparation
#: file in an experiment's directory: the number of seeds the latest run planned
PLANNED_FILE = "planned.json"


def planned_seeds(exp_dir) -> int | None:
    """The seeds the latest ``lab run`` planned for this experiment, or None if unknown."""
    try:
        n = storage.read_result_json(exp_dir, PLANNED_FILE).get("seeds")
    except storage.ResultsError:
        return None
    return n if isinstance(n, int) and not isinstance(n, bool) and n >= 0 else None


def prepare(experiment: Experiment, preset: str, out, n_seeds: int, rerun: bool) -> list:
    """Make ``OUT/<id>`` ready and return the seeds that still need to run.

    Raises :class:`storage.ResultsError` when the directory holds another format,
    another experiment, or other settings (unless ``rerun``, which replaces it).
    """
    config = experiment.config(preset)
    exp_dir = storage.experiment_dir(out, experiment.id)
    if rerun:
        storage.remove_experiment_dir(exp_dir)
    if os.path.isdir(exp_dir):
        storage.clean_temporaries(exp_dir)
        if storage.is_experiment_dir(exp_dir):
            header = storage.read_experiment_header(exp_dir, experiment.id)
            if header.get("preset") != preset or not storage.configs_equal(header.get("config"), config):
                raise storage.ResultsError(
                    f"{exp_dir} holds results of {experiment.id!r} made with preset "
                    f"{header.get('preset')!r} and other settings than preset {preset!r} now has; "
                    "pass --rerun to replace them, or --out to write elsewhere.")
        elif storage.saved_seeds(out, experiment.id):
            raise storage.ResultsError(
                f"{exp_dir} has seed results but no experiment.json (not written by this lab, "
                "or damaged); pass --rerun to replace it, or use another --out.")
    os.makedirs(exp_dir, exist_ok=True)
    if not storage.is_experiment_dir(exp_dir):
        storage.write_experiment_header(exp_dir, experiment, preset, config)
    # How many seeds the latest `lab run` asked for: a report made before they are all saved
    # (a run still going, or interrupted) says its verdict rests on fewer.
    storage.atomic_write_json(os.path.join(exp_dir, PLANNED_FILE), {"seeds": int(n_seeds)})
    todo = []
    for s in range(n_seeds):
        unit = storage.load_unit(out, experiment.id, s)
        if unit is None or unit.get("status") != "ok":
            todo.append(s)
    return todo


# --------------------------------------------------------------------------- results
def load_results(exp_dir, experiment_id: str | None = None):
    """Read an experiment's saved results: ``(header, Results of the ok seeds, failed units)``."""
    exp_dir = os.fspath(exp_dir)
    header = storage.read_experiment_header(exp_dir, experiment_id)
    exp_id = header["id"]
    out = os.path.dirname(os.path.abspath(exp_dir))
    seeds, runs, durations, failed, env = [], [], [], [], None
    for s in storage.saved_seeds(out, exp_id):
        unit = storage.load_unit(out, exp_id, s)
        if unit.get("status") == "ok":
            seeds.append(s)
            runs.append(unit.get("metrics", {}))
            durations.append(float(unit.get("duration_s", float("nan"))))
            env = env or unit.get("environment")
        else:
            failed.append(unit)
    results = Results(exp_id, header.get("preset", "?"), header.get("config", {}), seeds, runs,
                      durations, env)
    return header, results, failed


def finalize(experiment: Experiment, out, draw: bool = True) -> Outcome:
    """Compute the verdict (and draw the figure) of ``experiment`` from its saved metrics.

    Writes ``verdict.json`` (and ``figure.png``) next to the seeds and returns the Outcome.
    A failed seed makes the experiment failed: no verdict is computed from partial data.
    """
    exp_dir = storage.experiment_dir(out, experiment.id)
    try:
        header, results, failed = load_results(exp_dir, experiment.id)
    except storage.ResultsError as e:
        return Outcome(experiment.id, "failed", error=str(e))
    outcome = Outcome(experiment.id, "ok", seeds=list(results.seeds),
                      seconds=float(np.nansum(results.durations)) if results.durations else 0.0)
    errors = []
    if failed:
        f = failed[0]
        errors.append(f"seed {f.get('seed')} failed: {f.get('error')}\n{f.get('traceback', '')}".rstrip())
        outcome.seconds += float(sum(u.get("duration_s", 0.0) for u in failed))
    if not results.runs and not failed:
        errors.append("no saved seeds")
    if not errors:
        try:
            v = experiment.verdict(results)
            if not isinstance(v, Verdict):
                raise TypeError(f"verdict() returned {type(v).__name__}, expected a Verdict")
            outcome.verdict = v
        except Exception as e:
            errors.append(f"verdict failed: {type(e).__name__}: {e}\n{traceback.format_exc()}")
        if draw:
            try:
                outcome.figure = draw_figure(experiment, results, exp_dir)
            except Exception as e:
                errors.append(f"plot failed: {type(e).__name__}: {e}\n{traceback.format_exc()}")
    if not outcome.figure and os.path.isfile(os.path.join(exp_dir, "figure.png")) and not errors:
        outcome.figure = os.path.join(exp_dir, "figure.png")
    if errors:
        outcome.status = "failed"
        outcome.error = "\n".join(errors)
    storage.atomic_write_json(os.path.join(exp_dir, "verdict.json"), {
        "kind": "deeprecipe-lab-verdict", "format": storage.FORMAT_VERSION, "id": experiment.id,
        "status": outcome.status, "error": outcome.error,
        **(outcome.verdict.to_dict() if outcome.verdict else {"verdict": None}),
        "seeds": outcome.seeds, "seconds": outcome.seconds, "computed": storage.now(),
    })
    return outcome


def draw_figure(experiment: Experiment, results: Results, exp_dir) -> str:
    """Draw ``experiment``'s figure from ``results`` and save it as ``exp_dir/figure.png``."""
    from .plotting import figure_png, new_figure
    fig = new_figure()
    experiment.plot(results, fig)
    path = os.path.join(os.fspath(exp_dir), "figure.png")
    storage.atomic_write_bytes(path, figure_png(fig))
    return path


# --------------------------------------------------------------------------- the run
def run_experiments(experiments, preset: str = "quick", out="lab-results", seeds: int | None = None,
                    jobs: int = 1, rerun: bool = False, progress: bool = True, echo=None,
                    cluster: str | None = None) -> list:
    """Run ``experiments`` (ids or :class:`Experiment`) and return one :class:`Outcome` each.

    ``seeds`` overrides each preset's number of seeds; ``jobs`` is the number of worker
    processes (1: in this process); ``cluster`` the address of a Dask scheduler
    (``tcp://HOST:PORT``) to run the units on instead (``jobs`` is then ignored).
    ``echo(msg)`` receives one line per finished experiment (default: printed above the
    progress bar).

    Raises :class:`ClusterError` when the scheduler cannot be reached or has no workers.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    client = connect_cluster(cluster) if cluster else None  # before any output: a bad address fails fast
    if seeds is not None and seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    exps = [registry.get(e) for e in experiments]  # unknown ids fail here, listing valid ones
    out = os.fspath(out)
    os.makedirs(out, exist_ok=True)

    outcomes: dict = {}
    pending: dict = {}
    tasks = []
    skipped = {}
    for exp in exps:
        n = seeds if seeds is not None else exp.n_seeds(preset)
        try:
            todo = prepare(exp, preset, out, n, rerun)
        except (storage.ResultsError, ValueError) as e:
            outcomes[exp.id] = Outcome(exp.id, "failed", error=str(e))
            continue
        skipped[exp.id] = n - len(todo)
        pending[exp.id] = len(todo)
        config = exp.config(preset)
        tasks += [_Task(exp.id, exp.module, preset, config, s, out) for s in todo]

    bar = make_bar(len(tasks), desc=f"lab ({preset})", enabled=progress and bool(tasks))
    say = echo or (bar.write if progress else (lambda m: None))
    by_id = {e.id: e for e in exps}
    ran = {e.id: 0 for e in exps}

    def done(exp_id: str) -> None:
        o = finalize(by_id[exp_id], out)
        o.ran, o.skipped = ran[exp_id], skipped.get(exp_id, 0)
        outcomes[exp_id] = o
        say(describe(o))

    for exp_id, count in pending.items():
        if count == 0:   # everything already saved: recompute figure and verdict only
            done(exp_id)

    def unit_finished(summary: dict) -> None:
        exp_id = summary["id"]
        bar.update(1)
        bar.set_postfix_str(f"{exp_id} seed {summary['seed']}: {summary['status']}")
        ran[exp_id] += 1
        pending[exp_id] -= 1
        if pending[exp_id] == 0:
            done(exp_id)

    try:
        if client is not None:
            _run_dask(client, tasks, unit_finished)
        elif jobs == 1 or len(tasks) <= 1:
            factory = inner_bar_factory(progress)
            for t in tasks:
                unit_finished(execute_unit(by_id[t.experiment_id], t.preset, t.config, t.seed,
                                           t.out, progress_factory=factory))
        else:
            _run_pool(tasks, jobs, unit_finished)
    finally:
        bar.close()
        if client is not None:
            client.close()
    return [outcomes[e.id] for e in exps if e.id in outcomes]


def _run_pool(tasks, jobs: int, unit_finished) -> None:
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=ctx)
    try:
        futures = {pool.submit(_worker, t): t for t in tasks}
        for fut in as_completed(futures):
            t = futures[fut]
            try:
                summary = fut.result()
            except Exception as e:  # the worker process died (out of memory, a crash)
                summary = {"id": t.experiment_id, "seed": t.seed, "status": "failed",
                           "error": f"worker process died: {type(e).__name__}: {e}",
                           "traceback": traceback.format_exc(), "duration": 0.0, "unsaved": True}
            if summary.get("status") == "interrupted":
                raise KeyboardInterrupt
            if summary.get("unsaved"):  # record the failure so the report shows it
                _save_lost_unit(t, summary)
            unit_finished(summary)
    except BaseException:
        # Ctrl-C (or an error here): stop now. Cancelling is not enough — tasks already handed
        # to the workers would still run — so the workers are terminated; a unit cut off while
        # saving leaves only a temporary directory, removed by the next run.
        procs = list(getattr(pool, "_processes", None) or {})
        procs = [pool._processes[k] for k in procs] if procs else []
        pool.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(timeout=10)
        raise
    pool.shutdown(wait=True)


def _save_lost_unit(t: _Task, summary: dict) -> None:
    """Record a unit whose worker died (or could not load the experiment) as failed."""
    storage.save_unit(t.out, t.experiment_id, t.seed, {
        "status": "failed", "preset": t.preset, "config": t.config,
        "started": storage.now(), "duration_s": 0.0, "environment": {},
        "error": summary["error"], "traceback": summary.get("traceback", "")}, None)


# --------------------------------------------------------------------------- Dask
class ClusterError(RuntimeError):
    """The Dask scheduler given by ``--cluster`` cannot be used (unreachable, no workers, no dask)."""


CONNECT_TIMEOUT_S = 10.0
_UNIT_LOCK = threading.Lock()


def connect_cluster(address: str):
    """A Dask ``Client`` connected to ``address``, with at least one worker; else ClusterError."""
    if not isinstance(address, str) or "://" not in address:
        raise ClusterError(f"--cluster must be a Dask scheduler address such as tcp://HOST:8786, got {address!r}")
    try:
        from distributed import Client
    except ImportError:
        raise ClusterError("--cluster needs Dask: pip install 'deeprecipe[cluster]' "
                           "(or pip install 'dask[distributed]')") from None
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError) as e:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address} within {CONNECT_TIMEOUT_S:.0f} s ({type(e).__name__}: "
            f"{e}). Start one with `dask scheduler` on that machine and workers with "
            f"`dask worker {address} --nthreads 1`, or run without --cluster.") from None
    try:
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError):
        client.close()
        raise ClusterError(f"the Dask scheduler at {address} has no workers; start some with "
                           f"`dask worker {address} --nthreads 1`") from None
    return client


def _code_fingerprint(module: str) -> str:
    """SHA-256 of the experiment's module source: workers must run the same code as the client."""
    import hashlib
    import importlib
    import inspect
    src = inspect.getsource(importlib.import_module(module))
    from .. import __version__
    return hashlib.sha256(f"{__version__}\0{src}".encode()).hexdigest()


def _dask_unit(task: _Task, fingerprint: str) -> dict:
    """What a Dask worker runs: compute one unit and return it; the client writes it.

    Units in one worker process run one at a time (``_UNIT_LOCK``): they seed the
    process-wide generators and set the process-wide BLAS limit, so two units on two
    threads of one worker would disturb each other's numbers.
    """
    with _UNIT_LOCK:
        try:
            exp = registry.locate(task.module, task.experiment_id)
            theirs = _code_fingerprint(task.module)
        except Exception as e:
            return {"error": f"cannot load experiment on worker: {type(e).__name__}: {e}",
                    "traceback": traceback.format_exc()}
        if theirs != fingerprint:
            import socket
            return {"error": f"worker {socket.gethostname()} (pid {os.getpid()}) runs another version of "
                             f"{task.module} than the client; install the same deeprecipe on every machine"}
        record, metrics = compute_unit(exp, task.preset, task.config, task.seed)
        return {"record": record, "metrics": metrics}


def _run_dask(client, tasks, unit_finished) -> None:
    """Send every unit to the cluster and write each result, as it arrives, from this process.

    A worker that dies is noticed by the scheduler, which gives its unit to another worker
    (up to Dask's ``distributed.scheduler.allowed-failures`` times; after that the unit is
    saved as failed with the reason).  Results are written by the client only, once per
    unit, so a lost worker leaves nothing behind and nothing is written twice.
    """
    import uuid

    from distributed import as_completed as dask_completed
    prints = {m: _code_fingerprint(m) for m in {t.module for t in tasks}}
    tag = uuid.uuid4().hex[:8]
    futures = {}
    for t in tasks:
        # pure=False and a unique key: never reuse a result cached by the scheduler from another run
        fut = client.submit(_dask_unit, t, prints[t.module], key=f"deeprecipe-{t.experiment_id}-seed{t.seed}-{tag}",
                            pure=False)
        futures[fut] = t
    try:
        for fut in dask_completed(list(futures), loop=client.loop):
            t = futures[fut]
            try:
                result = fut.result()
            except Exception as e:  # KilledWorker (the unit killed its workers again and again), lost data
                result = {"error": f"the cluster could not run this unit: {type(e).__name__}: {e}",
                          "traceback": traceback.format_exc()}
            if "record" in result:
                summary = save_computed_unit(t.out, t.experiment_id, t.seed, result["record"], result["metrics"])
            else:
                summary = {"id": t.experiment_id, "seed": t.seed, "status": "failed", "error": result["error"],
                           "traceback": result.get("traceback", ""), "duration": 0.0}
                _save_lost_unit(t, summary)
            unit_finished(summary)
    except BaseException:
        client.cancel(list(futures))  # Ctrl-C: the units still queued or running are dropped
        raise


def describe(o: Outcome) -> str:
    """One line for the terminal: ``id: verdict (numbers) [time]`` or the error."""
    if not o.ok:
        first = (o.error or "").strip().splitlines()
        return f"{o.id}: FAILED — {first[0] if first else 'unknown error'}"
    nums = ", ".join(f"{k} = {v}" for k, v in list(o.verdict.numbers.items())[:4]) if o.verdict else ""
    where = f" — figure: {o.figure}" if o.figure else ""
    return f"{o.id}: {o.verdict.verdict if o.verdict else '?'} ({nums}) [{o.seconds:.1f} s]{where}"
