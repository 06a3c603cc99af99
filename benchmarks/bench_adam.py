"""Benchmark: one Adam step over a ~1M-parameter MLP, deeprecipe vs torch.optim.Adam on one thread.

    python benchmarks/bench_adam.py [--steps 50] [--repeats 7] [--dtype float32]

Both optimizers update the same model shapes (784-1024-200-10 MLP, 1,010,850 parameters,
6 tensors) from gradients already in ``.grad``; deeprecipe's time includes everything its
``step()`` does (checking and reading the ``.grad`` arrays, the cache-blocked update of its
flat buffer, the periodic denormal flush).  ``--block-bytes`` compares block sizes;
``--capturable`` also times ``Adam(capturable=True)`` (step count, bias corrections and lr
in arrays, as for CUDA-graph capture) to show what that mode costs on the CPU.
torch runs its single-tensor, ``foreach`` and (where the build supports it on CPU)
``fused`` implementations.  Timings are interleaved and the
median of ``--repeats`` trials of ``--steps`` steps is reported; the ratio is
torch time / deeprecipe time (> 1 means deeprecipe is faster).  Not a test: timings
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

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from deeprecipe import Parameter, optim  # noqa: E402

SHAPES = [(1024, 784), (1024,), (200, 1024), (200,), (10, 200), (10,)]


def _time(step, steps):
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t0) / steps


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--block-bytes", default="",
                    help="comma-separated Optimizer.block_bytes values to compare (0 = no blocking)")
    ap.add_argument("--capturable", action="store_true",
                    help="also time Adam(capturable=True) (device-array step counts and lr)")
    args = ap.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("torch is not installed: nothing to compare with")
        return 1
    torch.set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(1)
    except ImportError:
        pass
    dtype = np.dtype(args.dtype)
    rng = np.random.default_rng(0)
    data = [rng.standard_normal(s).astype(dtype) * 0.05 for s in SHAPES]
    grads = [rng.standard_normal(s).astype(dtype) * 1e-2 for s in SHAPES]
    n = sum(d.size for d in data)

    runners = {}
    sweep = [int(b) for b in args.block_bytes.split(",") if b.strip()]
    for bb in [optim.Optimizer.block_bytes] + sweep:
        ours_params = [Parameter(d.copy()) for d in data]
        for p, g in zip(ours_params, grads):
            p.grad = g
        ours = optim.Adam(ours_params, lr=1e-3)
        ours.block_bytes = bb or None
        runners["deeprecipe" if not runners else f"deeprecipe block={bb}"] = ours.step
    if args.capturable:
        cap_params = [Parameter(d.copy()) for d in data]
        for p, g in zip(cap_params, grads):
            p.grad = g
        runners["deeprecipe capturable"] = optim.Adam(cap_params, lr=1e-3, capturable=True).step
    for impl in ("single", "foreach", "fused"):
        tp = [torch.tensor(d.copy(), requires_grad=True) for d in data]
        for p, g in zip(tp, grads):
            p.grad = torch.from_numpy(g.copy())
        kw = {"foreach": False} if impl == "single" else {impl: True}
        try:
            opt = torch.optim.Adam(tp, lr=1e-3, **kw)
            opt.step()
        except (RuntimeError, ValueError) as e:
            print(f"torch Adam {impl}: not available here ({e})")
            continue
        runners[f"torch {impl}"] = opt.step

    for step in runners.values():      # warm up (state allocation, first-call costs)
        for _ in range(3):
            step()
    trials = {k: [] for k in runners}
    for _ in range(args.repeats):       # interleaved, so that machine noise hits all alike
        for k, step in runners.items():
            trials[k].append(_time(step, args.steps))
    med = {k: statistics.median(v) for k, v in trials.items()}

    print(f"Adam step, {n:,} {dtype} parameters in {len(SHAPES)} tensors, 1 thread "
          f"(median of {args.repeats} x {args.steps} steps)")
    for k, t in med.items():
        print(f"  {k:<16s} {t * 1e3:8.3f} ms/step")
    ref = med["deeprecipe"]
    if "deeprecipe capturable" in med:
        print(f"  capturable=True / capturable=False = {med['deeprecipe capturable'] / ref:.3f}")
    for k, t in med.items():
        if k.startswith("torch"):
            print(f"  ratio {k} / deeprecipe = {t / ref:.2f}x")
    if "torch foreach" in med:
        ratio = med["torch foreach"] / ref
        print(f"RESULT ratio vs torch foreach: {ratio:.2f}x (goal >= 1.0x: {'met' if ratio >= 1.0 else 'not met'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
