"""Benchmark: Adam's state of dead units decays into subnormal numbers; does epoch time stay flat?

    python benchmarks/bench_denormal.py [--params 1000000] [--dead 0.5] [--epochs 6] [--steps 100]

A float32 "model" of ``--params`` parameters in which a fraction ``--dead`` of the units is
dead (their gradient is exactly 0, as for a ReLU unit that never fires) while the rest get
ordinary gradients.  With zero gradient Adam's second moment decays as v·β2^t; a unit that
died with |g| ≈ 1e-3 reaches the smallest normal float32 (1.2e-38) after ~73,000 steps and
then spends ~16,000 more steps among the subnormals, where every multiply, divide and
square root costs tens to hundreds of cycles on most x86 CPUs.  Instead of running 73,000
steps first, the dead units' state starts where that decay leaves it — exactly v0·β2^t, a
little above the smallest normal — so that it turns subnormal during the second epoch.

Runs, each from the same start: deeprecipe with its denormal guard (state flushed to zero
every 16 steps, the default), deeprecipe with the guard off, a control whose dead units
stay far from the subnormals (the machine's own drift), and torch's foreach Adam (which
has no guard; ``torch.set_flush_denormal(True)`` is torch's global switch).
Epochs of the three runs alternate, so that machine noise hits all alike.  Prints the time
of every epoch and (median of the last three epochs) / first epoch: ~1.0 means flat.
Not a test: the penalty depends on the CPU (large on Intel, small on recent AMD).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from deeprecipe import Parameter, optim  # noqa: E402


def _setup(n, dead, steps_to_subnormal, seed=0):
    """Parameters, live/dead masks and an Adam state at step 100 000 (float32)."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(n) * 0.05).astype(np.float32)
    is_dead = rng.random(n) < dead
    tiny = np.finfo(np.float32).tiny
    m = np.where(is_dead, 0.0, rng.standard_normal(n) * 1e-3).astype(np.float32)
    v_live = (rng.random(n) * 1e-6 + 1e-7)
    v_dead = tiny * 0.999 ** -steps_to_subnormal * (1 + 0.01 * rng.random(n))  # crosses tiny in ~that many steps
    v = np.where(is_dead, v_dead, v_live).astype(np.float32)
    return x, is_dead, m, v


def _grads(n, is_dead, k):
    g = (np.random.default_rng(k).standard_normal(n) * 1e-3).astype(np.float32)
    g[is_dead] = 0.0
    return g


def ours_runner(x, is_dead, m, v, guard):
    p = Parameter(x.copy())
    opt = optim.Adam([p], lr=1e-3, denormal_guard=guard)
    sd = opt.state_dict()
    sd["state"] = {"0": {"step": 100_000, "exp_avg": m.copy(), "exp_avg_sq": v.copy()}}
    opt.load_state_dict(sd)
    grads = [_grads(x.size, is_dead, k) for k in range(8)]   # a few gradients, cycled

    def epoch(steps):
        for k in range(steps):
            p.grad = grads[k % len(grads)]
            opt.step()

    def subnormal():
        va = opt.param_state(p)["exp_avg_sq"]
        return int(((va < np.finfo(np.float32).tiny) & (va != 0)).sum())
    return epoch, subnormal


def torch_runner(torch, x, is_dead, m, v):
    p = torch.tensor(x.copy(), requires_grad=True)
    opt = torch.optim.Adam([p], lr=1e-3, foreach=True)
    p.grad = torch.zeros_like(p)
    opt.step()
    st = opt.state[p]
    st["step"].fill_(100_000)
    st["exp_avg"].copy_(torch.from_numpy(m))
    st["exp_avg_sq"].copy_(torch.from_numpy(v))
    grads = [torch.from_numpy(_grads(x.size, is_dead, k)) for k in range(8)]

    def epoch(steps):
        for k in range(steps):
            p.grad = grads[k % len(grads)]
            opt.step()

    def subnormal():
        va = st["exp_avg_sq"].numpy()
        return int(((va < np.finfo(np.float32).tiny) & (va != 0)).sum())
    return epoch, subnormal


def _report(name, times, subnormal):
    per = " ".join(f"{t * 1e3:7.1f}" for t in times)
    steady = sorted(times[-3:])[1]
    print(f"  {name:<24s} epoch ms: {per}   (median of last 3) / first = {steady / times[0]:5.2f}   "
          f"subnormal state values at the end: {subnormal:,}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=int, default=1_000_000)
    ap.add_argument("--dead", type=float, default=0.5)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--steps", type=int, default=100, help="steps per epoch")
    ap.add_argument("--no-torch", action="store_true")
    args = ap.parse_args(argv)
    x, is_dead, m, v = _setup(args.params, args.dead, steps_to_subnormal=int(1.5 * args.steps))
    print(f"Adam, {args.params:,} float32 parameters, {args.dead:.0%} dead units, {args.epochs} epochs x "
          f"{args.steps} steps; dead units' v turns subnormal at step ~{int(1.5 * args.steps)}")
    runners = {"deeprecipe (guard on)": ours_runner(x, is_dead, m, v, guard=16),
               "deeprecipe (guard off)": ours_runner(x, is_dead, m, v, guard=0),
               # control: the same run, but dead units' v far from the subnormals (1e-6): it
               # shows how much epoch times drift for reasons that have nothing to do with them
               "control (v stays normal)": ours_runner(x, is_dead, m, np.maximum(v, 1e-6), guard=0)}
    if not args.no_torch:
        try:
            import torch
            torch.set_num_threads(1)
            runners["torch foreach (no flush)"] = torch_runner(torch, x, is_dead, m, v)
        except ImportError:
            pass
    warm = ours_runner(x, is_dead, m * 0 + 1e-3, v * 0 + 1e-6, guard=16)[0]
    warm(20)   # page faults, clocks
    times = {k: [] for k in runners}
    for _ in range(args.epochs):        # epochs in lockstep, so that machine noise hits all alike
        for name, (epoch, _) in runners.items():
            t0 = time.perf_counter()
            epoch(args.steps)
            times[name].append(time.perf_counter() - t0)
    for name, (_, subnormal) in runners.items():
        _report(name, times[name], subnormal())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
