"""Cost of one exact Hessian-vector product relative to one gradient, deeprecipe and PyTorch.

The README's MLP 784-512-256-10 (ReLU, softmax cross-entropy, float32 batch of 128, He
weights) and, with ``--cnn``, its small CNN (two 3×3 conv + ReLU + 2×2 max-pool stages of 16
and 32 channels, a hidden layer of 64, batch 64), one BLAS thread.  Four timings,
interleaved in each repeat so that machine noise hits all alike:

* deeprecipe gradient: forward + backward (``loss.backward()``);
* deeprecipe HVP: :class:`deeprecipe.diagnostics.hessian.HessianOperator` opened on the
  batch (forward + backward) and one product (tangent forward + tangent backward) — what
  a single ``hessian_vector_product`` call costs;
* torch gradient, and torch HVP by double backward (``autograd.grad`` with
  ``create_graph=True``, then the gradient of ``<g, v>``) — PyTorch's usual way.

Prints medians with the interquartile range and the ratios HVP / gradient.

    python benchmarks/bench_hvp.py [--repeats 30] [--batch 128] [--cnn]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_mlp_step import make_problem  # noqa: E402

SIZES = (784, 512, 256, 10)


def deeprecipe_fns(layers, x, y, rng):
    import deeprecipe.functions as F
    from deeprecipe.diagnostics.hessian import HessianOperator
    from deeprecipe.engine import Parameter

    flat = [Parameter(a.copy()) for W, b in layers for a in (W, b)]
    v = [rng.standard_normal(p.shape).astype(np.float32) for p in flat]

    def loss():
        h = x
        for i in range(0, len(flat), 2):
            h = F.linear(h, flat[i], flat[i + 1])
            if i + 2 < len(flat):
                h = F.relu(h)
        return F.softmax_cross_entropy(h, y)

    def grad():
        for p in flat:
            p.grad = None
        loss().backward()

    def hvp():
        with HessianOperator(loss, flat, method="exact") as H:
            return H.matvec(v)

    return grad, hvp


def torch_fns(layers, x, y, rng):
    import torch
    import torch.nn.functional as TF

    flat = [torch.tensor(a, requires_grad=True) for W, b in layers for a in (W, b)]
    v = [torch.from_numpy(rng.standard_normal(p.shape).astype(np.float32)) for p in flat]
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def loss():
        h = tx
        for i in range(0, len(flat), 2):
            h = TF.linear(h, flat[i], flat[i + 1])
            if i + 2 < len(flat):
                h = torch.relu(h)
        return TF.cross_entropy(h, ty)

    def grad():
        return torch.autograd.grad(loss(), flat)

    def hvp():
        g = torch.autograd.grad(loss(), flat, create_graph=True)
        return torch.autograd.grad(sum((gi * vi).sum() for gi, vi in zip(g, v)), flat)

    return grad, hvp


def cnn_fns(batch, rng):
    """deeprecipe's ConvNet and the same function in torch, same weights and batch."""
    import torch
    import torch.nn.functional as TF

    import deeprecipe.functions as F
    from deeprecipe import Tensor, nn
    from deeprecipe.diagnostics.hessian import HessianOperator
    model = nn.ConvNet((1, 28, 28), channels=(16, 32), hidden=(64,), rng=0)
    ps = list(model.parameters())
    x = rng.standard_normal((batch, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    v = [rng.standard_normal(p.shape).astype(np.float32) for p in ps]
    tp = [torch.tensor(p.data, requires_grad=True) for p in ps]
    tv = [torch.from_numpy(a) for a in v]
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def loss():
        return F.cross_entropy(model(Tensor(x)), y)

    def grad():
        for p in ps:
            p.grad = None
        loss().backward()

    def hvp():
        with HessianOperator(loss, ps, method="exact") as H:
            return H.matvec(v)

    def tloss():
        h = TF.max_pool2d(torch.relu(TF.conv2d(tx, tp[0], tp[1], padding=1)), 2)
        h = TF.max_pool2d(torch.relu(TF.conv2d(h, tp[2], tp[3], padding=1)), 2)
        h = torch.relu(TF.linear(h.reshape(len(h), -1), tp[4], tp[5]))
        return TF.cross_entropy(TF.linear(h, tp[6], tp[7]), ty)

    def tgrad():
        return torch.autograd.grad(tloss(), tp)

    def thvp():
        g = torch.autograd.grad(tloss(), tp, create_graph=True)
        return torch.autograd.grad(sum((gi * vi).sum() for gi, vi in zip(g, tv)), tp)

    return grad, hvp, tgrad, thvp


def _time(fn, inner):
    t0 = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - t0) / inner


def _summary(ts):
    q = np.percentile(ts, [25, 50, 75]) * 1e3
    return f"{q[1]:7.2f} ms (IQR {q[0]:.2f}-{q[2]:.2f})"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--inner", type=int, default=3)
    ap.add_argument("--batch", type=int, default=None, help="default 128 (MLP), 64 (CNN)")
    ap.add_argument("--cnn", action="store_true", help="the small CNN instead of the MLP")
    args = ap.parse_args(argv)
    import torch
    torch.set_num_threads(1)
    fns = {}
    if args.cnn:
        args.batch = args.batch or 64
        what = "CNN conv16-pool-conv32-pool-64-10"
        fns["deeprecipe grad"], fns["deeprecipe hvp"], fns["torch grad"], fns["torch hvp"] = cnn_fns(
            args.batch, np.random.default_rng(1))
    else:
        args.batch = args.batch or 128
        what = f"MLP {'-'.join(map(str, SIZES))}"
        layers, x, y = make_problem(SIZES, args.batch)
        fns["deeprecipe grad"], fns["deeprecipe hvp"] = deeprecipe_fns(layers, x, y, np.random.default_rng(1))
        fns["torch grad"], fns["torch hvp"] = torch_fns(layers, x, y, np.random.default_rng(1))
    for fn in fns.values():  # warm up
        fn()
    times = {k: [] for k in fns}
    for _ in range(args.repeats):
        for k, fn in fns.items():
            times[k].append(_time(fn, args.inner))
    print(f"{what}, batch {args.batch}, float32, 1 BLAS thread, "
          f"{args.repeats} interleaved repeats of {args.inner}")
    for k, ts in times.items():
        print(f"  {k:16s} {_summary(ts)}")
    for lib in ("deeprecipe", "torch"):
        r = np.array(times[f"{lib} hvp"]) / np.array(times[f"{lib} grad"])
        print(f"  {lib:10s} HVP / gradient: median {statistics.median(r):.2f} "
              f"(IQR {np.percentile(r, 25):.2f}-{np.percentile(r, 75):.2f}, per repeat)")


if __name__ == "__main__":
    main()
