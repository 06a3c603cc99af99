"""One training step of an MLP, deeprecipe vs PyTorch CPU, at one BLAS thread.

The step is forward + backward + a plain SGD update (``p -= lr * grad`` in place) of an
MLP 784-512-256-10 with ReLU and softmax cross-entropy on a float32 batch of 128, the
workload of the lectures' MNIST experiments.  Both frameworks start from the same
weights and see the same batch; their timings are interleaved (one block of steps of
each per repeat) so that machine noise hits both alike.  Prints the median step time
of each and ``torch_time / deeprecipe_time`` (> 1 means deeprecipe is faster).

    python benchmarks/bench_mlp_step.py [--repeats 30] [--steps 10] [--batch 128]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

# run from a checkout without installing: the repository root holds the package
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make_problem(sizes, batch, seed=0):
    """Weights (out, in) and biases as float32 arrays, and one batch (x, labels)."""
    rng = np.random.default_rng(seed)
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = np.sqrt(6.0 / fan_in)  # He-uniform, as for ReLU nets
        W = rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32)
        b = np.zeros(fan_out, dtype=np.float32)
        layers.append((W, b))
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], batch).astype(np.int64)
    return layers, x, y


def deeprecipe_step_fn(layers, x, y, lr):
    import deeprecipe.functions as F
    from deeprecipe.engine import Parameter

    params = [(Parameter(W.copy()), Parameter(b.copy())) for W, b in layers]
    flat = [p for pair in params for p in pair]
    last = len(params) - 1

    def step():
        for p in flat:
            p.grad = None
        h = x
        for i, (W, b) in enumerate(params):
            h = F.linear(h, W, b)
            if i < last:
                h = F.relu(h)
        loss = F.softmax_cross_entropy(h, y)
        loss.backward()
        for p in flat:
            p.data -= lr * p.grad
        return loss

    return step


def torch_step_fn(layers, x, y, lr):
    import torch
    import torch.nn.functional as TF

    params = [(torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)) for W, b in layers]
    flat = [p for pair in params for p in pair]
    last = len(params) - 1
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        for p in flat:
            p.grad = None
        h = tx
        for i, (W, b) in enumerate(params):
            h = TF.linear(h, W, b)
            if i < last:
                h = TF.relu(h)
        loss = TF.cross_entropy(h, ty)
        loss.backward()
        with torch.no_grad():
            for p in flat:
                p.add_(p.grad, alpha=-lr)
        return loss

    return step


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=30, help="timed blocks per framework")
    ap.add_argument("--steps", type=int, default=10, help="steps per timed block")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.01)
    args = ap.parse_args(argv)

    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    sizes = (784, 512, 256, 10)
    layers, x, y = make_problem(sizes, args.batch)
    steps = {"deeprecipe": deeprecipe_step_fn(layers, x, y, args.lr),
             "torch": torch_step_fn(layers, x, y, args.lr)}
    times = {name: [] for name in steps}
    with threadpool_limits(1):
        first = {name: float(np.asarray(f().detach().numpy())) for name, f in steps.items()}
        if abs(first["deeprecipe"] - first["torch"]) > 1e-4 * max(1.0, abs(first["torch"])):
            raise SystemExit(f"the two steps disagree: first losses {first}")
        for f in steps.values():  # warm-up: allocator, BLAS buffers
            for _ in range(3):
                f()
        for _ in range(args.repeats):
            for name, f in steps.items():  # interleaved: noise hits both alike
                t0 = time.perf_counter()
                for _ in range(args.steps):
                    f()
                times[name].append((time.perf_counter() - t0) / args.steps)
    med = {name: statistics.median(ts) for name, ts in times.items()}
    print(f"MLP {'-'.join(map(str, sizes))}, batch {args.batch}, float32, 1 thread, "
          f"{args.repeats} x {args.steps} steps (first loss {first['deeprecipe']:.6f} both)")
    for name, m in med.items():
        print(f"  {name:>10}: median {m * 1e3:8.3f} ms/step")
    print(f"  ratio torch/deeprecipe: {med['torch'] / med['deeprecipe']:.3f}  (> 1: deeprecipe faster)")
    return med


if __name__ == "__main__":
    main()
