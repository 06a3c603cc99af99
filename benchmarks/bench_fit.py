"""Full-epoch training throughput of ``deeprecipe.train.fit`` against PyTorch (CPU), side by side.

    python benchmarks/bench_fit.py            # full epochs on Fashion-MNIST (about 15 minutes)
    python benchmarks/bench_fit.py --quick    # 100 batches per run (a couple of minutes)

For each model — MLP 784-512-256-10 (ReLU), the same MLP with BatchNorm and Dropout(0.2),
and a small CNN (two 3x3 conv + 2x2 max-pool blocks with 32 and 64 channels, one hidden
fully connected layer of 128) — both frameworks train the same architecture on the same
Fashion-MNIST data with Adam (lr 1e-3), batch 128, 1 BLAS thread:

* deeprecipe: ``fit(model, (x, y), optimizer='adam', batch_size=128, epochs=...)``, the
  library's whole training loop (shuffling, batching, running loss and accuracy).
* PyTorch: the equivalent hand-written loop (``randperm``, index, forward, cross-entropy,
  ``zero_grad``/``backward``/``step``, running loss and accuracy with ``.item()``).

Every measurement runs in a fresh subprocess (so memory is measured per framework and
neither inherits the other's allocator state), with ``OPENBLAS_NUM_THREADS=1`` etc. in
its environment, ``threadpoolctl.threadpool_limits(1)`` and ``torch.set_num_threads(1)``.
The two frameworks alternate (interleaved, order flipped every repeat) so that machine
load drifts hit both alike; the table shows medians over the repeats.

The GEMM limit: every matrix product one training step of the model needs (forward, weight
gradient, input gradient except for the first layer; a conv layer as its im2col GEMM) is
timed alone in a fresh one-thread process, on random float32 operands of the step's exact
shapes.  Their sum, per sample, is the time training would take if it were nothing but
those products at this machine's one-thread BLAS speed; "% GEMM" is that time divided by
the measured time per sample (100 % = no time spent outside the products).

Throughput is samples per second over the timed epochs (a short warm-up run first;
data loading, model construction and input checks are not timed).  Memory is the
process's peak resident set size (``VmHWM`` from ``/proc/self/status``; reset with
``/proc/self/clear_refs`` just before training where the kernel allows it, else the
process peak) minus the resident size just before training: what training itself
adds on top of the data and the imported libraries.  ``tracemalloc`` would see NumPy's
allocations but not PyTorch's, and slows every allocation, so the same RSS measure is
used for both.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = ("mlp", "mlp_bn_dropout", "cnn")
TITLES = {"mlp": "MLP 784-512-256-10", "mlp_bn_dropout": "MLP + BatchNorm + Dropout", "cnn": "small CNN"}


# ---------------------------------------------------------------------------- memory helpers
def _status_kb(field):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


# ---------------------------------------------------------------------------- workers
def _load(model_kind, samples):
    import numpy as np
    from deeprecipe.data import fashion_mnist, scale01
    (x, y), _ = fashion_mnist(progress=False)
    if samples:
        x, y = x[:samples], y[:samples]
    x = scale01(x)
    x = x.reshape(len(x), 1, 28, 28) if model_kind == "cnn" else x.reshape(len(x), 784)
    return np.ascontiguousarray(x), y.astype(np.int64)


def worker_deeprecipe(model_kind, samples, epochs, warmup):
    from deeprecipe import nn
    from deeprecipe.train import Callback, fit
    x, y = _load(model_kind, samples)

    def build():
        if model_kind == "mlp":
            return nn.MLP([784, 512, 256, 10], init="he", rng=0)
        if model_kind == "mlp_bn_dropout":
            return nn.MLP([784, 512, 256, 10], init="he", norm="batch", dropout=0.2, rng=0)
        return nn.ConvNet((1, 28, 28), channels=(32, 64), hidden=(128,), init="he", rng=0)

    class EpochTimer(Callback):
        def on_train_begin(self, logs=None):
            self.times = []

        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self.t0)

    if warmup:
        fit(build(), (x[:warmup], y[:warmup]), optimizer="adam", lr=1e-3, batch_size=128, epochs=1, verbose=0,
            seed=1)
    model = build()
    timer = EpochTimer()
    base = _status_kb("VmRSS")
    reset = _reset_peak()
    h = fit(model, (x, y), optimizer="adam", lr=1e-3, batch_size=128, epochs=epochs, verbose=0, seed=0,
            callbacks=[timer])
    peak = _status_kb("VmHWM")
    return {"seconds": sum(timer.times), "samples": len(x) * epochs, "base_kb": base, "peak_kb": peak,
            "peak_reset": reset, "final_loss": h.history["loss"][-1], "accuracy": h.history["accuracy"][-1]}


def worker_torch(model_kind, samples, epochs, warmup):
    import torch
    import torch.nn as tnn
    import torch.nn.functional as tF
    torch.set_num_threads(1)
    x, y = _load(model_kind, samples)
    X, Y = torch.from_numpy(x), torch.from_numpy(y)

    def build():
        torch.manual_seed(0)
        if model_kind == "mlp":
            return tnn.Sequential(tnn.Linear(784, 512), tnn.ReLU(), tnn.Linear(512, 256), tnn.ReLU(),
                                  tnn.Linear(256, 10))
        if model_kind == "mlp_bn_dropout":
            return tnn.Sequential(tnn.Linear(784, 512), tnn.BatchNorm1d(512), tnn.ReLU(), tnn.Dropout(0.2),
                                  tnn.Linear(512, 256), tnn.BatchNorm1d(256), tnn.ReLU(), tnn.Dropout(0.2),
                                  tnn.Linear(256, 10))
        return tnn.Sequential(tnn.Conv2d(1, 32, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
                              tnn.Conv2d(32, 64, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(),
                              tnn.Linear(64 * 7 * 7, 128), tnn.ReLU(), tnn.Linear(128, 10))

    def train(model, Xs, Ys, n_epochs, times):
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        g = torch.Generator().manual_seed(0)
        n = len(Xs)
        for _ in range(n_epochs):
            t0 = time.perf_counter()
            model.train()
            perm = torch.randperm(n, generator=g)
            total, correct = 0.0, 0
            for i in range(0, n, 128):
                idx = perm[i:i + 128]
                xb, yb = Xs[idx], Ys[idx]
                out = model(xb)
                loss = tF.cross_entropy(out, yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
                correct += int((out.argmax(1) == yb).sum())
            times.append(time.perf_counter() - t0)
        return total / n, correct / n

    if warmup:
        train(build(), X[:warmup], Y[:warmup], 1, [])
    model = build()
    times = []
    base = _status_kb("VmRSS")
    reset = _reset_peak()
    loss, acc = train(model, X, Y, epochs, times)
    peak = _status_kb("VmHWM")
    return {"seconds": sum(times), "samples": len(x) * epochs, "base_kb": base, "peak_kb": peak,
            "peak_reset": reset, "final_loss": loss, "accuracy": acc}


# (M, K, N) of every GEMM in one training step at batch B, per model: forward, weight
# gradient and (except for the first layer, whose input is data) input gradient.
def _linear_gemms(b, fan_in, fan_out, first):
    g = [(b, fan_in, fan_out), (fan_out, b, fan_in)]
    return g if first else g + [(b, fan_out, fan_in)]


def _conv_gemms(b, c, o, hw, k=3, first=False):
    cols, kk = b * hw * hw, c * k * k
    g = [(o, kk, cols), (o, cols, kk)]
    return g if first else g + [(kk, o, cols)]


def step_gemms(model_kind, b=128):
    if model_kind == "cnn":
        return (_conv_gemms(b, 1, 32, 28, first=True) + _conv_gemms(b, 32, 64, 14)
                + _linear_gemms(b, 3136, 128, False) + _linear_gemms(b, 128, 10, False))
    sizes = (784, 512, 256, 10)
    return [g for i in range(3) for g in _linear_gemms(b, sizes[i], sizes[i + 1], i == 0)]


def gemm_seconds_per_sample(model_kind, b=128, reps=5):
    """Median time of the model's step GEMMs, summed, divided by the batch (1 thread)."""
    import numpy as np
    rng = np.random.default_rng(0)
    total = 0.0
    for m, k, n in step_gemms(model_kind, b):
        a = rng.standard_normal((m, k), dtype=np.float32)
        w = rng.standard_normal((k, n), dtype=np.float32)
        out = np.empty((m, n), np.float32)
        np.matmul(a, w, out=out)
        ts = []
        for _ in range(reps):
            t0 = time.perf_counter()
            np.matmul(a, w, out=out)
            ts.append(time.perf_counter() - t0)
        total += statistics.median(ts)
    return total / b


def run_worker(args):
    try:
        from threadpoolctl import threadpool_limits
        limiter = threadpool_limits(1)
    except ImportError:
        limiter = None
    if args.framework == "gemm":
        res = {"seconds_per_sample": gemm_seconds_per_sample(args.model)}
    else:
        fn = worker_deeprecipe if args.framework == "deeprecipe" else worker_torch
        res = fn(args.model, args.samples, args.epochs, args.warmup)
    print("RESULT " + json.dumps(res))
    del limiter


# ---------------------------------------------------------------------------- driver
def spawn(framework, model, samples, epochs, warmup, torch_malloc="system"):
    from _spawn import spawn_worker
    return spawn_worker(__file__, ["--worker", "--framework", framework, "--model", model, "--samples", samples,
                                   "--epochs", epochs, "--warmup", warmup], 1, f"{framework} {model}",
                        framework=framework, torch_malloc=torch_malloc)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="100 batches (12,800 samples) per run, 3 repeats")
    ap.add_argument("--repeats", type=int, default=None, help="interleaved repeats (default 3)")
    ap.add_argument("--epochs", type=int, default=1, help="timed epochs per run (full mode)")
    ap.add_argument("--models", default=",".join(MODELS), help=f"comma-separated subset of {', '.join(MODELS)}")
    ap.add_argument("--samples", type=int, default=None, help="training samples per epoch (default: all 60,000)")
    ap.add_argument("--json", metavar="PATH", help="also write the raw results as JSON")
    ap.add_argument("--torch-malloc", choices=("system", "same"), default="system",
                    help="glibc malloc settings of the torch worker: the system's (default, as torch users run "
                         "it) or the ones deeprecipe sets for itself (benchmarks/_spawn.py)")
    # worker mode (internal)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--framework", help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    ap.add_argument("--warmup", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        args.samples = args.samples or 0
        run_worker(args)
        return 0
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    bad = [m for m in models if m not in MODELS]
    if bad:
        ap.error(f"unknown model(s) {bad}; choose from {', '.join(MODELS)}")
    samples = args.samples if args.samples is not None else (12800 if args.quick else 0)
    repeats = args.repeats or 3
    epochs = 1 if args.quick else args.epochs
    warmup = 1280
    try:
        import torch
        tv = torch.__version__
    except ImportError:
        print("PyTorch is not installed: nothing to compare with (pip install torch)", file=sys.stderr)
        return 1
    import numpy as np
    print(f"deeprecipe fit vs PyTorch {tv} hand-written loop; numpy {np.__version__}; 1 BLAS thread; "
          f"Adam lr 1e-3, batch 128; {f'{samples} samples' if samples else '60,000 samples (full epochs)'} x "
          f"{epochs} epoch(s) per run; {repeats} interleaved repeats (medians); torch malloc: {args.torch_malloc}",
          flush=True)
    results = {m: {"deeprecipe": [], "torch": [], "gemm": []} for m in models}
    for r in range(repeats):
        for m in models:
            results[m]["gemm"].append(spawn("gemm", m, samples, epochs, warmup)["seconds_per_sample"])
            order = ["deeprecipe", "torch"] if r % 2 == 0 else ["torch", "deeprecipe"]
            for fw in order:
                res = spawn(fw, m, samples, epochs, warmup, args.torch_malloc)
                results[m][fw].append(res)
                print(f"  repeat {r + 1} {m:<15} {fw:<10} {res['samples'] / res['seconds']:9.0f} samples/s  "
                      f"peak +{(res['peak_kb'] - res['base_kb']) / 1024:6.1f} MiB", flush=True)
    print()
    print(f"{'model':<27} {'deeprecipe/s':>12} {'torch/s':>9} {'ratio':>6} {'(min-max)':>11}   "
          f"{'% GEMM dr':>9} {'torch':>6}   {'train MiB dr':>12} {'torch':>6}   {'peak RSS dr':>11} {'torch':>6}")
    for m in models:
        def med(fw, key, m=m):
            return statistics.median(key(x) for x in results[m][fw])
        sps = {fw: med(fw, lambda x: x["samples"] / x["seconds"]) for fw in ("deeprecipe", "torch")}
        # Paired ratios: the two runs of one repeat ran back to back under the same load.
        ratios = [(d["samples"] / d["seconds"]) / (t["samples"] / t["seconds"])
                  for d, t in zip(results[m]["deeprecipe"], results[m]["torch"])]
        grow = {fw: med(fw, lambda x: (x["peak_kb"] - x["base_kb"]) / 1024) for fw in ("deeprecipe", "torch")}
        peak = {fw: med(fw, lambda x: x["peak_kb"] / 1024) for fw in ("deeprecipe", "torch")}
        limit = statistics.median(results[m]["gemm"])  # seconds per sample if only GEMMs ran
        frac = {fw: 100 * limit * sps[fw] for fw in sps}
        print(f"{TITLES[m]:<27} {sps['deeprecipe']:12.0f} {sps['torch']:9.0f} {statistics.median(ratios):5.2f}x "
              f"({min(ratios):.2f}-{max(ratios):.2f})   {frac['deeprecipe']:8.0f}% {frac['torch']:5.0f}%   "
              f"{grow['deeprecipe']:12.1f} {grow['torch']:6.1f}   "
              f"{peak['deeprecipe']:11.0f} {peak['torch']:6.0f}")
    print("ratio = median over repeats of deeprecipe samples/s / torch samples/s in the same repeat (above 1: "
          "deeprecipe is faster); % GEMM = share of the GEMM limit reached (see the module docstring); "
          "train MiB = peak RSS growth during training (median); peak RSS = the process's "
          "peak resident set size in MiB, libraries and data included")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
