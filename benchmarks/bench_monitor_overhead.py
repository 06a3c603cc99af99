"""Benchmark: cost of the doctor's monitors in ``deeprecipe train`` on the README's MLP.

    python benchmarks/bench_monitor_overhead.py [--samples 12000] [--repeats 5] [--every 20]

Trains the README's 784-512-256-10 ReLU MLP (Adam, batch 128) on Fashion-MNIST for one
epoch of ``--samples`` examples, alternately without monitors and with the monitors that
``deeprecipe train --out`` records by default (``MonitorCallback(every=50, probe=256
training examples, batch_loss=True)``: per-layer gradient norms, update/weight ratios,
weight statistics, activation statistics on the probe batch, every step's loss).  Runs
are interleaved (off, on, every-step, off, on, every-step, ...) at one BLAS thread; the
overhead is the ratio of the median times.  Because a few percent drowns in the noise of a
shared machine, the third arm records on *every* step: its extra time per step is the cost
of one record, and that cost / K / (time of a plain step) is the overhead implied for
recording every K steps (printed beside the direct measurement).  Not a test: timings
depend on the machine.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from deeprecipe import data as D  # noqa: E402
from deeprecipe import nn  # noqa: E402
from deeprecipe.diagnostics import MonitorCallback  # noqa: E402
from deeprecipe.train import fit  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=12000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--every", type=int, default=50)
    a = ap.parse_args(argv)
    (x, y), _ = D.load("fashion-mnist", progress=False)
    x = D.scale01(x[:a.samples]).reshape(a.samples, -1)
    y = y[:a.samples]
    times = {"off": [], "on": [], "every-step": []}
    for r in range(a.repeats):
        for arm in times:
            model = nn.MLP([784, 512, 256, 10], activation="relu", init="he", rng=0)
            every = {"on": a.every, "every-step": 1}.get(arm)
            cbs = [MonitorCallback(every=every, probe=x[:256], batch_loss=True)] if every else []
            t = time.perf_counter()
            fit(model, (x, y), epochs=1, batch_size=128, optimizer="adam", lr=1e-3, seed=0, callbacks=cbs,
                verbose=0)
            times[arm].append(time.perf_counter() - t)
            print(f"repeat {r} {arm:3s} {times[arm][-1]:.2f} s", flush=True)
    off, on = statistics.median(times["off"]), statistics.median(times["on"])
    print(f"monitors every {a.every} steps: median {on:.2f} s vs {off:.2f} s without "
          f"(spread on {min(times['on']):.2f}-{max(times['on']):.2f}, "
          f"off {min(times['off']):.2f}-{max(times['off']):.2f}); "
          f"overhead {100 * (on / off - 1):+.1f}%")
    steps = -(-a.samples // 128)
    per_step = off / steps
    per_record = (statistics.median(times["every-step"]) - off) / steps
    print(f"one record costs {per_record * 1e3:.1f} ms vs {per_step * 1e3:.1f} ms for a plain step: implied overhead "
          + ", ".join(f"every {k}: {100 * per_record / k / per_step:.1f}%" for k in (10, 20, 50, 100)))


if __name__ == "__main__":
    main()
