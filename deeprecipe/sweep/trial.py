"""One trial of a sweep: a training job (as ``deeprecipe train`` runs it) that reports its
validation score to Optuna after every epoch and stops when a pruner says so.

The trial writes a run folder ``<sweep>/trials/trial-<n>/`` (``config.json``,
``metrics.csv``, checkpoints — the same as ``train --out``) plus ``model.safetensors``,
the weights its score was measured on.  The test set is never looked at here.
"""
from __future__ import annotations

import json
import math
import os
import socket
import time

from ..train.callbacks.base import Callback
from ..train.config import TrainConfig

OBJECTIVES = {"val_accuracy": "maximize", "val_loss": "minimize"}
_DATA_CACHE: dict = {}


def load_data_cached(cfg: TrainConfig):
    """``job.load_data(cfg)``, kept per process: every trial of a worker uses the same split."""
    from ..train.job import load_data
    key = (cfg.data, cfg.seed, cfg.val_fraction, cfg.train_samples, cfg.model.split(":")[0])
    if key not in _DATA_CACHE:
        _DATA_CACHE.clear()  # one dataset at a time
        _DATA_CACHE[key] = load_data(cfg)
    return _DATA_CACHE[key]


class _Report(Callback):
    """Reports the epoch's validation score to Optuna and asks the pruners whether to go on.

    Runs last, after the History has recorded the epoch, so the doctor sees this epoch's
    row (and any series monitors added) exactly as it will be saved.
    """

    run_last = True

    def __init__(self, trial, objective: str, doctor=None):
        self.trial, self.objective, self.doctor = trial, objective, doctor
        self.pruned_by = None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.objective)
        if value is not None and math.isfinite(float(value)):
            self.trial.report(float(value), epoch)
            if self.trial.should_prune():
                self.pruned_by = (f"median: {self.objective} {float(value):.4g} worse than the median "
                                  f"at epoch {epoch + 1}")
        if self.pruned_by is None and self.doctor is not None:
            self.pruned_by = self.doctor.check(self.trainer.history, epoch + 1)
        if self.pruned_by is not None:
            self.trainer.stop(self.pruned_by)


MONITOR_EVERY = 20  # steps between monitor records, as `deeprecipe train --out` records them
PROBE_SIZE = 256


def _monitors(data, steps: int):
    """The per-layer monitors the doctor reads (gradient norms, dead units, ...), recorded
    into the History every ``MONITOR_EVERY`` steps (at least once an epoch)."""
    import inspect

    from ..diagnostics import MonitorCallback
    accepted = inspect.signature(MonitorCallback).parameters
    extra = {}
    if "probe" in accepted:  # a fixed batch, so activations are comparable across records
        extra["probe"] = data.x_train[:PROBE_SIZE]
    if "batch_loss" in accepted:
        extra["batch_loss"] = True
    return MonitorCallback(every=max(1, min(MONITOR_EVERY, steps)), **extra)


def run_trial(trial, base: TrainConfig, params: list, objective: str, trials_dir: str, doctor=None) -> float:
    """Train ``base`` with the trial's suggested ``params``; returns the validation objective.

    Raises ``optuna.TrialPruned`` when a pruner stopped it (the reason is in
    ``trial.user_attrs['pruned_by']``).
    """
    import dataclasses

    import optuna

    from .. import serialization
    from ..lab.runner import one_blas_thread
    from ..train import History, Trainer, evaluate
    from ..train.config import validate
    from ..train.job import build_callbacks, build_model, build_optimizer

    values = {p.name: p.suggest(trial) for p in params}
    out = os.path.join(trials_dir, f"trial-{trial.number}")
    cfg = validate(dataclasses.replace(base, **values, out=out, progress="none", overwrite=True, resume=False))
    trial.set_user_attr("host", socket.gethostname())
    trial.set_user_attr("pid", os.getpid())
    trial.set_user_attr("run_dir", os.path.abspath(out))
    t0 = time.perf_counter()
    with one_blas_thread():  # trials run side by side in processes, and give the same numbers anywhere
        data = load_data_cached(cfg)
        if data.x_val is None:
            raise ValueError("a sweep scores trials on validation data: set val_fraction > 0")
        model = build_model(cfg, data)
        optimizer = build_optimizer(cfg, model)
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "config.json"), "w", encoding="utf-8") as f:
            json.dump(cfg.to_dict(), f, indent=2, sort_keys=True)
        steps = -(-len(data.x_train) // cfg.batch_size)
        report = _Report(trial, objective, doctor)
        callbacks = [*build_callbacks(cfg, out, steps), History(), report]  # History runs before report
        if doctor is not None:
            callbacks.insert(-2, _monitors(data, steps))
        trainer = Trainer(model, loss="cross_entropy", optimizer=optimizer, metrics=["accuracy"],
                          callbacks=callbacks, verbose=0)
        trainer.fit((data.x_train, data.y_train), (data.x_val, data.y_val), epochs=cfg.epochs,
                    batch_size=cfg.batch_size, seed=cfg.seed)
        final = evaluate(model, data.x_val, data.y_val)
    seconds = time.perf_counter() - t0
    trial.set_user_attr("seconds", seconds)
    trial.set_user_attr("epochs", len(trainer.history.epoch))
    trial.set_user_attr("diverged", bool(trainer.diverged))
    if report.pruned_by is not None:
        trial.set_user_attr("pruned_by", report.pruned_by)
        raise optuna.TrialPruned(report.pruned_by)
    if not trainer.diverged:
        serialization.save(os.path.join(out, "model.safetensors"), model.state_dict())
    key = objective[len("val_"):]
    value = float(final[key])
    if not math.isfinite(value):  # a diverged run: the worst possible score, not a failure
        value = math.inf if OBJECTIVES[objective] == "minimize" else 0.0
    return value
