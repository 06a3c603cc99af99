"""Soak test of exact resume: SIGKILL a ``deeprecipe train`` run at random moments, resume it,
and compare the final files byte for byte with those of an uninterrupted run.

    PYTHONPATH=$PWD python scripts/soak_resume.py [--kills 20] [--seed 0] [--keep DIR]

What it does:

1. writes a small synthetic classification set (``npz``) and trains it once without
   interruption (``ref/``), checkpointing after every optimizer step (``--checkpoint-every 1``)
   so that kills often land inside a checkpoint write;
2. starts the same job in ``soak/`` and kills it with SIGKILL at a random moment (drawn
   from ``--seed``): mostly a random 0-30 ms after a random number (1..``--max-steps``) of
   checkpoint writes of that attempt -- so every attempt makes progress whatever the
   machine's speed, and kills land in steps, evaluations and checkpoint writes alike --
   and sometimes (``--startup-fraction``) during start-up; then restarts it with
   ``--resume``; ``--kills`` times;
3. lets the last resume finish, then compares ``checkpoints/last.npz``,
   ``checkpoints/best.npz`` and ``metrics.csv`` with the uninterrupted run (bytes) and
   ``metrics.json`` (parsed, apart from the ``out``/``resume`` options), and checks that no
   temporary file is left (a kill during a write leaves one; the next write of that file
   deletes it).

Exit code 0 when every file is identical, 1 otherwise.  Not a unit test (it takes a
minute or two); its output goes into the reliability notes.
"""
from __future__ import annotations

import argparse
import glob
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

FILES = ("checkpoints/last.npz", "checkpoints/best.npz", "metrics.csv")


def make_data(path: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    k, d, n = 4, 16, 1200
    centers = rng.normal(0, 2.0, size=(k, d))
    y = rng.integers(0, k, size=n)
    x = (centers[y] + rng.normal(size=(n, d))).astype(np.float32)
    np.savez(path, x_train=x[:1000], y_train=y[:1000], x_test=x[1000:], y_test=y[1000:])


def command(data: str, out: str, resume: bool) -> list:
    cmd = [sys.executable, "-m", "deeprecipe", "train", "--data", f"npz:{data}", "--model", "mlp:64,32",
           "--dropout", "0.1", "--norm", "batch", "--optimizer", "adam", "--lr", "3e-3", "--schedule", "onecycle",
           "--epochs", "12", "--batch-size", "16", "--checkpoint-every", "1", "--val-fraction", "0.1",
           "--seed", "3", "--progress", "none", "--threads", "1", "--out", out]
    return cmd + (["--resume"] if resume else [])


def digest(path: str) -> str:
    if not os.path.exists(path):
        return "(missing)"
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


def _file_key(path):
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _wait_writes(p, path, key, k: int) -> bool:
    """Wait until ``path`` has been replaced ``k`` times (a new checkpoint each), or ``p`` ended."""
    seen = 0
    while p.poll() is None:
        now = _file_key(path)
        if now != key:
            key, seen = now, seen + 1
            if seen >= k:
                return True
        time.sleep(0.002)
    return False


def _summary(path):
    import json
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        d = json.load(f)
    d["config"].pop("out", None)
    d["config"].pop("resume", None)
    return d


def temporaries(out: str) -> list:
    return sorted(glob.glob(os.path.join(out, "**", ".*.tmp"), recursive=True))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0, help="seed of the kill moments")
    ap.add_argument("--max-steps", type=int, default=40,
                    help="a kill comes after a random 1..N checkpoint writes of the attempt (plus 0-30 ms)")
    ap.add_argument("--startup-fraction", type=float, default=0.15,
                    help="fraction of kills at a random moment of the first --startup-delay seconds instead")
    ap.add_argument("--startup-delay", type=float, default=1.5)
    ap.add_argument("--keep", default=None, help="work in this folder and keep it (default: a temporary one)")
    args = ap.parse_args(argv)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    root = args.keep or tempfile.mkdtemp(prefix="deeprecipe-soak-")
    os.makedirs(root, exist_ok=True)
    data = os.path.join(root, "data.npz")
    make_data(data, 0)
    ref, soak = os.path.join(root, "ref"), os.path.join(root, "soak")
    for d in (ref, soak):
        shutil.rmtree(d, ignore_errors=True)

    t0 = time.perf_counter()
    r = subprocess.run(command(data, ref, False), env=env, capture_output=True, text=True, check=False)
    t_ref = time.perf_counter() - t0
    if r.returncode != 0:
        print(r.stdout, r.stderr, file=sys.stderr)
        return 1
    print(f"uninterrupted run: {t_ref:.1f} s  ({r.stdout.strip().splitlines()[0]})")

    rng = random.Random(args.seed)
    kills, finished_early, orphans_seen, i, this_run = 0, 0, 0, 0, 0
    resume = False
    ck = os.path.join(soak, "checkpoints", "last.npz")
    while kills < args.kills:
        i += 1
        before = _file_key(ck)
        p = subprocess.Popen(command(data, soak, resume), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        if rng.random() < args.startup_fraction:
            delay = rng.uniform(0.0, args.startup_delay)
            moment = f"{delay:.2f} s after start (start-up)"
            try:
                p.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                pass
        else:
            k = rng.randint(1, args.max_steps)
            extra = rng.uniform(0.0, 0.03)
            moment = f"{extra * 1e3:4.1f} ms after checkpoint write #{k} of the attempt"
            if _wait_writes(p, ck, before, k):
                time.sleep(extra)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            p.wait()
            kills += 1
            this_run += 1
            tmp = temporaries(soak)
            orphans_seen += bool(tmp)
            step = "-"
            if os.path.exists(ck):
                from deeprecipe.serialization import load_metadata
                meta = load_metadata(ck)["meta"]["user"]   # fit's position, see train/checkpoint.py
                step = f"epoch {meta['epoch']} batch {meta['batch']:2d}"
            print(f"kill {kills:2d}: SIGKILL {moment}; last checkpoint at {step}; temporary files left: {len(tmp)}")
            resume = os.path.exists(os.path.join(soak, "config.json"))
            continue
        out, err = p.communicate()
        if p.returncode != 0:
            print(f"attempt {i}: exit code {p.returncode}\n{out}\n{err}", file=sys.stderr)
            return 1
        finished_early += 1
        print(f"attempt {i}: the run finished before its kill moment: starting a fresh soak run")
        shutil.rmtree(soak)
        resume, this_run = False, 0
    r = subprocess.run(command(data, soak, resume), env=env, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        print(r.stdout, r.stderr, file=sys.stderr)
        return 1
    print(f"final resume: {r.stdout.strip().splitlines()[0]}")
    ok = True
    for f in FILES:
        a, b = digest(os.path.join(ref, f)), digest(os.path.join(soak, f))
        same = a == b and a != "(missing)"
        ok &= same
        print(f"{f:22s} uninterrupted {a}  killed {this_run}x+resumed {b}  {'identical' if same else 'DIFFERENT'}")
    # metrics.json names its own folder (config.out); everything else must be equal.
    a, b = (_summary(os.path.join(d, "metrics.json")) for d in (ref, soak))
    same = a == b and a is not None
    ok &= same
    print(f"{'metrics.json':22s} history, test metrics and config (apart from 'out') "
          f"{'identical' if same else 'DIFFERENT'}")
    left = temporaries(soak)
    print(f"kills: {kills}; runs that finished before their kill: {finished_early}; kills that left a temporary "
          f"file: {orphans_seen}; temporary files left at the end: {len(left)}")
    ok &= not left
    print("RESULT: " + ("bit-identical" if ok else "MISMATCH"))
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
