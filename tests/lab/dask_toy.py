"""A small real-training experiment for the Dask tests (importable by the worker processes).

Each unit writes a marker ``<seed>-<pid>`` into ``$DEEPRECIPE_DASK_TOY_MARKERS`` (when set)
as it starts and then waits ``$DEEPRECIPE_DASK_TOY_WAIT`` seconds, so a test can see which
worker holds which unit and kill it mid-unit.
"""
import os
import time

import numpy as np

from deeprecipe import nn, train
from deeprecipe.lab import Experiment, check_mean, combine

_PRESETS = {"test": {"n": 96, "epochs": 2, "seeds": 4}, "quick": {"n": 96, "epochs": 2, "seeds": 4},
            "full": {"n": 96, "epochs": 2, "seeds": 4}}


def run(config, seed, ctx):
    markers = os.environ.get("DEEPRECIPE_DASK_TOY_MARKERS")
    if markers:
        open(os.path.join(markers, f"{seed}-{os.getpid()}"), "w").close()
        time.sleep(float(os.environ.get("DEEPRECIPE_DASK_TOY_WAIT", "0")))
    n = config["n"]
    x = ctx.rng.standard_normal((n, 16)).astype(np.float32)
    y = (x[:, :3].sum(axis=1) > 0).astype(np.int64)
    model = nn.MLP([16, 32, 2], activation="relu", init="he")
    hist = train.fit(model, (x, y), optimizer="adam", lr=1e-2, epochs=config["epochs"], batch_size=16,
                     seed=seed, verbose=0)
    return {"loss": np.array(hist.history["loss"]), "weight": model.state_dict()["0.weight"],
            "accuracy": float(hist.history["accuracy"][-1])}


def plot(results, fig):
    fig.add_subplot(1, 1, 1).plot(results.stack("loss").mean(axis=0))


def verdict(results):
    return combine([check_mean("accuracy", results.values("accuracy"), ">", 0.5)], rule="accuracy above 0.5")


DASK_TOY = Experiment(id="dask-toy", claim="A small MLP learns a linear rule.", source=("000",), presets=_PRESETS,
                      run=run, plot=plot, verdict=verdict, title="Dask toy")
