"""One training step (CNN or MLP, any batch size), deeprecipe vs PyTorch CPU, at one BLAS thread.

``--model cnn`` (default) is the lectures' Fashion-MNIST CNN on ``(N, 1, 28, 28)`` float32
batches:

    conv3x3(1→32, padding 1) → ReLU → maxpool2 → conv3x3(32→64, padding 1) → ReLU → maxpool2
    → flatten → linear(3136→128) → ReLU → linear(128→10), softmax cross-entropy, Adam

``--model mlp`` is the README's MLP 784-512-256-10 (ReLU) on ``(N, 784)`` batches.  Small
batches (``--batch 1``, ``--batch 16``) show the per-step overhead of each framework,
where Python and dispatch costs rather than arithmetic decide.

built from ``deeprecipe.nn`` layers and ``deeprecipe.optim.Adam`` on one side and the
same ``torch.nn`` layers and ``torch.optim.Adam`` on the other, from the same weights,
on the same batch (the first two losses must agree, so both take the same Adam step).
A step is zero_grad + forward + backward + optimizer step.

Each framework runs in its own worker process (one BLAS/OpenMP thread:
``OPENBLAS_NUM_THREADS=1`` etc., ``threadpoolctl.threadpool_limits(1)``,
``torch.set_num_threads(1)``).  In one shared process the two would share glibc's heap,
and how often one of them page-faults its big arrays in from the OS would depend on
what the other allocated and freed (measured: 0 faults per torch step next to one
version of deeprecipe, 4400 next to another).  The parent drives the workers in
lockstep, one block of steps each per repeat, so that machine noise hits both alike,
and prints the median step time of each and ``torch_time / deeprecipe_time`` (> 1
means deeprecipe is faster); then a per-op breakdown of the deeprecipe step: every
``Function`` subclass's ``forward``/``backward`` wrapped in ``time.perf_counter`` (keyed
by op and input shape, so the two convolutions show apart), plus the optimizer step
and the untimed remainder (graph bookkeeping, zero_grad), and the page faults per step.

    python benchmarks/bench_step.py [--model cnn|mlp] [--repeats 20] [--steps 3] [--batch 128] [--no-breakdown]
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

# run from a checkout without installing: the repository root holds the package
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FRAMEWORKS = ("deeprecipe", "torch")


MODELS = ("cnn", "mlp")
MLP_SIZES = (784, 512, 256, 10)


def deeprecipe_model(seed=0, model="cnn"):
    from deeprecipe import nn

    if model == "mlp":
        layers = []
        for i, (a, b) in enumerate(zip(MLP_SIZES[:-1], MLP_SIZES[1:])):
            layers += [nn.Linear(a, b, rng=seed + i), nn.ReLU()]
        return nn.Sequential(*layers[:-1])
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1, rng=seed), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1, rng=seed + 1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 7 * 7, 128, rng=seed + 2), nn.ReLU(),
        nn.Linear(128, 10, rng=seed + 3),
    )


def torch_model_like(model, kind="cnn"):
    """The same architecture in torch, holding copies of ``model``'s weights."""
    import torch

    if kind == "mlp":
        layers = []
        for a, b in zip(MLP_SIZES[:-1], MLP_SIZES[1:]):
            layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
        tmodel = torch.nn.Sequential(*layers[:-1])
    else:
        tmodel = torch.nn.Sequential(
            torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Flatten(),
            torch.nn.Linear(64 * 7 * 7, 128), torch.nn.ReLU(),
            torch.nn.Linear(128, 10),
        )
    # both Sequentials name parameters "<index>.weight" / "<index>.bias"
    state = {k: torch.from_numpy(np.array(v, copy=True)) for k, v in model.state_dict().items()}
    tmodel.load_state_dict(state)
    return tmodel


def make_batch(batch, seed=0, model="cnn"):
    rng = np.random.default_rng(seed)
    shape = (batch, MLP_SIZES[0]) if model == "mlp" else (batch, 1, 28, 28)
    x = rng.standard_normal(shape).astype(np.float32)
    y = rng.integers(0, 10, batch).astype(np.int64)
    return x, y


def deeprecipe_step_fn(model, x, y, lr):
    import deeprecipe.functions as F
    from deeprecipe.optim import Adam

    opt = Adam(model.parameters(), lr=lr)

    def step():
        opt.zero_grad()
        loss = F.softmax_cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return float(loss.item())

    return step, opt


def torch_step_fn(tmodel, x, y, lr):
    import torch
    import torch.nn.functional as TF

    opt = torch.optim.Adam(tmodel.parameters(), lr=lr)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = TF.cross_entropy(tmodel(tx), ty)
        loss.backward()
        opt.step()
        return float(loss.item())

    return step


def _all_subclasses(cls):
    out, todo = [], [cls]
    while todo:
        c = todo.pop()
        for s in c.__subclasses__():
            out.append(s)
            todo.append(s)
    return out


def breakdown(step, opt, n_steps, rounds=5, out=print):
    """Per-op forward/backward time of ``step`` (ms per step), by wrapping every Function.

    ``rounds`` blocks of ``n_steps`` steps; each entry is the median over the blocks of
    its mean per step, so that a burst of machine noise in one block does not show."""
    from deeprecipe.engine.function import Function

    acc = defaultdict(float)
    saved = []

    def key_of(fn, arrays):
        shape = "x".join(map(str, arrays[0].shape)) if arrays and hasattr(arrays[0], "shape") else ""
        return f"{type(fn).__name__}({shape})"

    def wrap(cls, name):
        orig = cls.__dict__[name]

        def timed(self, *args, _orig=orig, _name=name):
            if _name == "forward":
                self._bench_key = key_of(self, args)
            t0 = time.perf_counter()
            try:
                return _orig(self, *args)
            finally:
                acc[(getattr(self, "_bench_key", type(self).__name__), _name)] += time.perf_counter() - t0

        setattr(cls, name, timed)
        saved.append((cls, name, orig))

    for cls in _all_subclasses(Function):
        for name in ("forward", "backward"):
            if name in cls.__dict__:
                wrap(cls, name)
    orig_step = type(opt).step

    def timed_step(self, *a, **k):
        t0 = time.perf_counter()
        try:
            return orig_step(self, *a, **k)
        finally:
            acc[("optimizer", type(self).__name__ + ".step")] += time.perf_counter() - t0

    type(opt).step = timed_step
    per_round, totals, faults = defaultdict(list), [], []
    try:
        step()  # warm
        for _ in range(rounds):
            acc.clear()
            f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            t0 = time.perf_counter()
            for _ in range(n_steps):
                step()
            totals.append((time.perf_counter() - t0) / n_steps)
            faults.append((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / n_steps)
            for k, v in acc.items():
                per_round[k].append(v / n_steps)
    finally:
        type(opt).step = orig_step
        for cls, name, orig in reversed(saved):
            setattr(cls, name, orig)
    total = statistics.median(totals)
    rows = sorted(((statistics.median(v), k) for k, v in per_round.items()), reverse=True)
    out(f"deeprecipe step breakdown (median of {rounds} x {n_steps} steps, "
        f"{total * 1e3:.3f} ms/step with timers, {statistics.median(faults):.0f} page faults/step):")
    for t, (op, phase) in rows:
        out(f"  {op:<34} {phase:<12} {t * 1e3:8.3f} ms  {100 * t / total:5.1f}%")
    rest = total - sum(t for t, _ in rows)
    out(f"  {'(rest: graph, zero_grad, python)':<47} {rest * 1e3:8.3f} ms  {100 * rest / total:5.1f}%")


# ------------------------------------------------------------------------------ worker
def worker(framework, batch, lr, kind="cnn"):
    """Build one framework's step, report its first two losses, then serve commands on
    stdin: ``run N`` (time N steps; answer seconds per step), ``breakdown N`` (the
    per-op table, then ``end``), ``quit``."""
    from threadpoolctl import threadpool_limits

    x, y = make_batch(batch, model=kind)
    model = deeprecipe_model(model=kind)
    opt = None
    if framework == "torch":
        import torch

        torch.set_num_threads(1)
        step = torch_step_fn(torch_model_like(model, kind), x, y, lr)
    else:
        step, opt = deeprecipe_step_fn(model, x, y, lr)

    def say(line):
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    with threadpool_limits(1):
        say(f"losses {step()!r} {step()!r}")
        for _ in range(2):  # warm-up: allocator, BLAS buffers
            step()
        for line in sys.stdin:
            cmd, *arg = line.split()
            if cmd == "run":
                n = int(arg[0])
                t0 = time.perf_counter()
                for _ in range(n):
                    step()
                say(repr((time.perf_counter() - t0) / n))
            elif cmd == "breakdown":
                breakdown(step, opt, int(arg[0]), out=say)
                say("end")
            else:
                return


def _spawn(framework, args):
    from _spawn import worker_env
    env = worker_env(framework, 1, args.torch_malloc)
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", framework,
           "--batch", str(args.batch), "--lr", repr(args.lr), "--model", args.model]
    return subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)


def _ask(p, line):
    p.stdin.write(line + "\n")
    p.stdin.flush()
    return p.stdout.readline()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20, help="timed blocks per framework")
    ap.add_argument("--steps", type=int, default=3, help="steps per timed block")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--model", choices=MODELS, default="cnn", help="the small CNN or the MLP 784-512-256-10")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--no-breakdown", action="store_true", help="skip the per-op breakdown")
    ap.add_argument("--torch-malloc", choices=("system", "same"), default="system",
                    help="glibc malloc settings of the torch worker: the system's (default, as torch users run "
                         "it) or the ones deeprecipe sets for itself (benchmarks/_spawn.py)")
    ap.add_argument("--worker", choices=FRAMEWORKS, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.worker, args.batch, args.lr, args.model)
        return None

    procs = {name: _spawn(name, args) for name in FRAMEWORKS}
    try:
        losses = {}
        for name, p in procs.items():
            line = p.stdout.readline().split()
            if not line or line[0] != "losses":
                raise SystemExit(f"the {name} worker failed to start (exit code {p.wait()})")
            losses[name] = (float(line[1]), float(line[2]))
        (d1, d2), (t1, t2) = losses["deeprecipe"], losses["torch"]
        if abs(d1 - t1) > 1e-4 * max(1.0, abs(t1)) or abs(d2 - t2) > 1e-3 * max(1.0, abs(t2)):
            raise SystemExit(f"the two steps disagree: first two losses {losses}")
        times = {name: [] for name in FRAMEWORKS}
        for r in range(args.repeats):
            order = FRAMEWORKS if r % 2 == 0 else FRAMEWORKS[::-1]  # interleaved, order flipped
            for name in order:
                times[name].append(float(_ask(procs[name], f"run {args.steps}")))
        med = {name: statistics.median(ts) for name, ts in times.items()}
        what = ("CNN conv32-pool-conv64-pool-fc128-fc10 on {b}x1x28x28" if args.model == "cnn"
                else "MLP " + "-".join(map(str, MLP_SIZES)) + " on {b}x784").format(b=args.batch)
        print(f"{what}, float32, Adam, 1 thread, one process each, {args.repeats} x {args.steps} steps "
              f"(first loss {d1:.6f} both); torch malloc: {args.torch_malloc}")
        for name, m in med.items():
            q1, q3 = np.percentile(times[name], [25, 75])
            print(f"  {name:>10}: median {m * 1e3:8.3f} ms/step  (IQR {q1 * 1e3:.3f}-{q3 * 1e3:.3f})")
        # ratio per repeat (each pair ran back to back), so its spread shows the noise
        ratios = [t / d for t, d in zip(times["torch"], times["deeprecipe"])]
        r1, r3 = np.percentile(ratios, [25, 75])
        print(f"  ratio torch/deeprecipe: {statistics.median(ratios):.3f}  (IQR {r1:.3f}-{r3:.3f}; "
              f"> 1: deeprecipe faster)")
        if not args.no_breakdown:
            p = procs["deeprecipe"]
            print()
            line = _ask(p, f"breakdown {args.steps}")
            while line and line.strip() != "end":
                print(line.rstrip())
                line = p.stdout.readline()
        return med
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.stdin.write("quit\n")
                p.stdin.flush()
                p.wait(timeout=60)


if __name__ == "__main__":
    main()
