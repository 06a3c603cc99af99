"""Toy experiments for the framework tests (importable by spawned worker processes)."""
import os

import numpy as np

from deeprecipe.lab import Experiment, check_mean, combine

_PRESETS = {"test": {"n": 5, "seeds": 3}, "quick": {"n": 5, "seeds": 2}, "full": {"n": 50, "seeds": 2}}


def _count_call(config, seed):
    """Append one line per call to a log file, so tests can count what ran."""
    log = config.get("log")
    if log:
        with open(log, "a") as f:
            f.write(f"{seed}\n")


def run_ok(config, seed, ctx):
    _count_call(config, seed)
    bar = ctx.progress(config["n"], "toy")
    curve = []
    for i in range(config["n"]):
        curve.append(float(seed + i))
        bar.update(1)
    bar.close()
    if str(seed) == os.environ.get("DEEPRECIPE_TOY_INTERRUPT_AT"):  # simulates Ctrl-C
        raise KeyboardInterrupt
    if seed == config.get("fail_at"):
        raise RuntimeError(f"boom at seed {seed}")
    return {"score": 0.5 + 0.01 * seed + float(ctx.rng.random()) * 1e-3,
            "curve": np.array(curve), "nested": {"label": "x", "count": np.int64(config["n"])},
            "pid": os.getpid()}


def plot_ok(results, fig):
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(results.stack("curve").mean(axis=0))


def verdict_ok(results):
    return combine([check_mean("score", results.values("score"), ">", 0.4)], rule="score above 0.4")


TOY = Experiment(id="toy-ok", claim="A toy claim that holds.", source=("000",), presets=_PRESETS,
                 run=run_ok, plot=plot_ok, verdict=verdict_ok, title="Toy")


def run_bad(config, seed, ctx):
    raise ValueError("this experiment always fails")


TOY_FAILING = Experiment(id="toy-failing", claim="A toy claim whose run fails.", source="001",
                         presets=_PRESETS, run=run_bad, plot=plot_ok, verdict=verdict_ok)


def plot_bad(results, fig):
    raise RuntimeError("cannot draw")


TOY_BAD_PLOT = Experiment(id="toy-bad-plot", claim="Runs fine, plot fails.", source="002",
                          presets=_PRESETS, run=run_ok, plot=plot_bad, verdict=verdict_ok)
