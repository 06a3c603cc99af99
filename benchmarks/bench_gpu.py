"""Training steps on the GPU: deeprecipe on CuPy vs PyTorch CUDA, same model, same batch.

Times forward + backward + Adam for an MLP 784-512-256-10 (ReLU, softmax cross-entropy)
and for a small CNN (two 3x3 conv + 2x2 max-pool blocks, one hidden FC layer), batch 128,
float32, interleaving the two frameworks per repeat and synchronizing the device before
reading the clock.  Prints medians and ``torch_time / deeprecipe_time``.  Needs CuPy and a
CUDA build of torch; run it on a GPU machine:

    python benchmarks/bench_gpu.py [--repeats 15] [--steps 20]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def build_deeprecipe(kind):
    from deeprecipe import nn
    if kind == "mlp":
        return nn.MLP([784, 512, 256, 10], activation="relu", init="he")
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


def build_torch(kind, torch):
    tnn = torch.nn
    if kind == "mlp":
        return tnn.Sequential(tnn.Flatten(), tnn.Linear(784, 512), tnn.ReLU(), tnn.Linear(512, 256),
                              tnn.ReLU(), tnn.Linear(256, 10))
    return tnn.Sequential(
        tnn.Conv2d(1, 32, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(32, 64, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Flatten(), tnn.Linear(64 * 7 * 7, 128), tnn.ReLU(), tnn.Linear(128, 10))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=128)
    args = ap.parse_args(argv)

    import cupy as cp
    import torch

    import deeprecipe.functions as F
    from deeprecipe import optim

    torch.backends.cudnn.benchmark = True
    rng = np.random.default_rng(0)
    gpu = cp.cuda.runtime.getDeviceProperties(0)["name"].decode()
    print(f"GPU: {gpu}  cupy {cp.__version__}  torch {torch.__version__}")
    print(f"{'model':6s} {'deeprecipe ms':>14s} {'torch ms':>10s} {'ratio':>7s}")
    for kind in ("mlp", "cnn"):
        shape = (args.batch, 784) if kind == "mlp" else (args.batch, 1, 28, 28)
        x_np = rng.standard_normal(shape).astype(np.float32)
        y_np = rng.integers(0, 10, args.batch)
        dm = build_deeprecipe(kind).to("cuda")
        dopt = optim.Adam(dm.parameters(), lr=1e-3)
        xd, yd = cp.asarray(x_np), cp.asarray(y_np)
        tm = build_torch(kind, torch).cuda()
        topt = torch.optim.Adam(tm.parameters(), lr=1e-3, foreach=True)
        xt, yt = torch.from_numpy(x_np).cuda(), torch.from_numpy(y_np).cuda()

        def d_steps(dopt=dopt, dm=dm, xd=xd, yd=yd):
            for _ in range(args.steps):
                dopt.zero_grad()
                loss = F.softmax_cross_entropy(dm(xd), yd)
                loss.backward()
                dopt.step()
            cp.cuda.Device().synchronize()

        def t_steps(topt=topt, tm=tm, xt=xt, yt=yt):
            for _ in range(args.steps):
                topt.zero_grad(set_to_none=True)
                loss = torch.nn.functional.cross_entropy(tm(xt), yt)
                loss.backward()
                topt.step()
            torch.cuda.synchronize()

        d_steps()  # warm-up: kernels compiled, cuDNN algorithms chosen
        t_steps()
        dt, tt = [], []
        for _ in range(args.repeats):
            for steps, times in ((d_steps, dt), (t_steps, tt)):
                t0 = time.perf_counter()
                steps()
                times.append((time.perf_counter() - t0) / args.steps)
        d, t = statistics.median(dt), statistics.median(tt)
        print(f"{kind:6s} {d * 1e3:14.3f} {t * 1e3:10.3f} {t / d:7.3f}")


if __name__ == "__main__":
    main()
