"""Training steps on the GPU: deeprecipe on CuPy vs PyTorch CUDA, same model, same batch.

Times forward + backward + Adam for an MLP 784-512-256-10 (ReLU, softmax cross-entropy)
and for a small CNN (two 3x3 conv + 2x2 max-pool blocks, one hidden FC layer), batch 128,
float32, interleaving the two frameworks per repeat and synchronizing the device before
reading the clock.  Prints medians (with the 25-75% spread of the repeats) and
``torch_time / deeprecipe_time`` (> 1: deeprecipe is faster).  Needs CuPy and a CUDA build
of torch; run it on a GPU machine:

    python benchmarks/bench_gpu.py [--repeats 15] [--steps 20]
    python benchmarks/bench_gpu.py --graph     # deeprecipe replays the step as a CUDA graph

``--graph``: deeprecipe's step is captured once (``deeprecipe.train.CudaGraphStep``, Adam
with ``capturable=True``) and replayed, one launch per step, against torch CUDA eager
(``foreach`` Adam); the issue's targets are MLP >= 1.0x and CNN >= 0.8x.
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
    ap.add_argument("--graph", action="store_true",
                    help="replay deeprecipe's step as a captured CUDA graph (train.CudaGraphStep)")
    args = ap.parse_args(argv)

    import cupy as cp
    import torch

    import deeprecipe.functions as F
    from deeprecipe import optim
    from deeprecipe.train import CudaGraphStep

    torch.backends.cudnn.benchmark = True
    rng = np.random.default_rng(0)
    gpu = cp.cuda.runtime.getDeviceProperties(0)["name"].decode()
    print(f"GPU: {gpu}  cupy {cp.__version__}  torch {torch.__version__}")
    mode = "CUDA graph replay" if args.graph else "eager"
    print(f"deeprecipe {mode} vs torch CUDA eager; batch {args.batch}, {args.steps} steps x {args.repeats} repeats")
    print(f"{'model':6s} {'deeprecipe ms [p25-p75]':>26s} {'torch ms [p25-p75]':>24s} {'ratio [p25-p75]':>22s}")
    for kind in ("mlp", "cnn"):
        shape = (args.batch, 784) if kind == "mlp" else (args.batch, 1, 28, 28)
        x_np = rng.standard_normal(shape).astype(np.float32)
        y_np = rng.integers(0, 10, args.batch)
        dm = build_deeprecipe(kind).to("cuda")
        dopt = optim.Adam(dm.parameters(), lr=1e-3, capturable=args.graph)
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

        if args.graph:
            # the batch stays on the device; each call copies it into the static buffers
            # (a device-to-device copy) and launches the graph
            gstep = CudaGraphStep(dm, F.softmax_cross_entropy, dopt, warmup=3)

            def d_steps(gstep=gstep, xd=xd, yd=yd):  # noqa: F811 - the graph variant
                for _ in range(args.steps):
                    gstep(xd, yd)
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
        ratios = [b / a for a, b in zip(dt, tt)]   # per interleaved repeat
        print(f"{kind:6s} {_spread(dt, 1e3):>26s} {_spread(tt, 1e3):>24s} {_spread(ratios, 1.0):>22s}")


def _spread(xs, scale):
    """'median [p25-p75]' of ``xs`` times ``scale``."""
    q = statistics.quantiles(xs, n=4) if len(xs) > 1 else [xs[0]] * 3
    return f"{statistics.median(xs) * scale:.3f} [{q[0] * scale:.3f}-{q[2] * scale:.3f}]"


if __name__ == "__main__":
    main()
