"""Real services for integration tests, started and stopped by the tests themselves.

* :func:`dask_cluster`: a ``dask scheduler`` and N ``dask worker`` processes on 127.0.0.1
  (each worker one thread; they import this checkout, through ``PYTHONPATH``).
* :func:`postgres_server`: a throwaway PostgreSQL server (Debian's ``postgresql`` package:
  ``initdb``/``pg_ctl`` from ``/usr/lib/postgresql/<version>/bin``) on a free port of
  127.0.0.1, trust authentication, in a temporary directory that is removed afterwards.
  As root it runs as the ``postgres`` user (PostgreSQL refuses to run as root).

Both skip the test (``pytest.skip``) with the reason and the command that would install
what is missing, and only then; CI (``.ci/run``) installs everything.
"""
from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(**extra) -> dict:
    """The environment for child processes: this checkout first on PYTHONPATH, one BLAS thread."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([ROOT, *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]])
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.update(extra)
    return env


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


# ---------------------------------------------------------------------------- Dask
@contextlib.contextmanager
def dask_cluster(n_workers: int = 2, env: dict | None = None, timeout: float = 60.0):
    """Yields ``(address, workers)``: the scheduler's address and the worker ``Popen`` objects."""
    pytest.importorskip("distributed", reason="Dask is not installed: pip install 'dask[distributed]'")
    from distributed import Client
    tmp = tempfile.mkdtemp(prefix="deeprecipe-dask-")
    env = child_env(**(env or {}))
    procs = []
    try:
        sched_file = os.path.join(tmp, "scheduler.json")
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", "0",
             "--no-dashboard", "--scheduler-file", sched_file],
            cwd=tmp, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.time() + timeout
        while not os.path.exists(sched_file):
            if time.time() > deadline or procs[0].poll() is not None:
                raise RuntimeError("the dask scheduler did not start")
            time.sleep(0.1)
        import json
        for _ in range(50):  # the file may be caught half-written
            try:
                with open(sched_file) as f:
                    address = json.load(f)["address"]
                break
            except (ValueError, KeyError):
                time.sleep(0.1)
        workers = []
        for i in range(n_workers):
            w = subprocess.Popen(
                [sys.executable, "-m", "dask", "worker", address, "--nthreads", "1", "--no-dashboard",
                 "--name", f"w{i}", "--local-directory", tmp],
                cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(w)
            workers.append(w)
        with Client(address, timeout=timeout, set_as_default=False) as c:
            c.wait_for_workers(n_workers, timeout=timeout)
        yield address, workers
    finally:
        for p in reversed(procs):
            _stop(p)
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------- PostgreSQL
def postgres_bin() -> str | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding initdb and pg_ctl, or None."""
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2])
                  if d.split("/")[-2].isdigit() else 0)
    for d in reversed(dirs):
        if os.path.exists(os.path.join(d, "initdb")) and os.path.exists(os.path.join(d, "pg_ctl")):
            return d
    return None


@contextlib.contextmanager
def postgres_server(timeout: float = 60.0):
    """Yields a ``postgresql://postgres@127.0.0.1:PORT/postgres`` URL of a fresh server."""
    bindir = postgres_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (needs initdb and pg_ctl in /usr/lib/postgresql/*/bin): "
                    "apt-get install -y postgresql")
    import importlib.util
    if not any(importlib.util.find_spec(m) for m in ("psycopg", "psycopg2")):   # the sweep uses either
        pytest.skip("no PostgreSQL driver: pip install 'psycopg[binary]' (the sweep extra)")
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    run_as = []
    if as_root:
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL as the postgres user")
        run_as = ["runuser", "-u", "postgres", "--"]
    base = tempfile.mkdtemp(prefix="deeprecipe-pg-", dir="/tmp")
    data = os.path.join(base, "data")
    port = free_port()
    try:
        if as_root:
            import pwd
            pw = pwd.getpwnam("postgres")
            os.chown(base, pw.pw_uid, pw.pw_gid)
        subprocess.run([*run_as, os.path.join(bindir, "initdb"), "-D", data, "-U", "postgres",
                        "--auth=trust", "--no-sync", "-E", "UTF8"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout)
        opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off"
        subprocess.run([*run_as, os.path.join(bindir, "pg_ctl"), "-D", data, "-o", opts, "-l",
                        os.path.join(base, "log"), "-w", "-t", str(int(timeout)), "start"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout + 10)
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        if os.path.exists(os.path.join(data, "postmaster.pid")):
            subprocess.run([*run_as, os.path.join(bindir, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=timeout)
        shutil.rmtree(base, ignore_errors=True)
