"""``Doctor``: the diagnosis live, at every epoch end of ``fit``.

    history = fit(model, train, val, callbacks=[MonitorCallback(every=20, probe=x[:256]),
                                                Doctor(stop=True)], ...)

A finding is reported (printed, and kept in ``doctor.reported``: ``[(epoch, Finding)]``)
the first epoch it appears, so a user learns at epoch 2 what they would otherwise learn at
epoch 50.  With ``stop=True`` an ``error`` finding (divergence, exploding or vanishing
gradient, a fully dead layer) ends the run after that epoch; the run's checkpoints are
kept (the trainer stops normally, it is not marked diverged).

During training only the *acute* rules run: the ones whose signal is already meaningful
after an epoch or two.  Findings about where the loss ends up (underfitting, plateaus,
saddle points, a too-small learning rate) need the whole run: ``on_train_end`` diagnoses
the finished history once (``doctor.final``).
"""
from __future__ import annotations

import sys

from . import rules as R
from .diagnosis import Diagnosis, differential
from .signals import from_mapping

ACUTE = ("divergence", "exploding-gradient", "vanishing-gradient", "dead-units", "saturated-units", "lr-too-high",
         "overfitting", "unnormalized-input")


class Doctor:
    """Diagnose at each epoch end; report new findings; optionally stop on an error.

    Args:
        stop: end the run on the first ``error`` finding (after the epoch's checkpoint).
        inputs: training-input statistics (``deeprecipe.train.job.input_stats``) for the
            unnormalized-input rule; ``config``: the run's configuration (for ln C).
        num_classes: for the chance-level loss (else read from ``config``/``inputs``).
        stream: where reports are printed (default: the current ``sys.stderr``); ``None``: nowhere.
    """

    def __init__(self, stop: bool = False, inputs: dict | None = None, config: dict | None = None,
                 num_classes: int | None = None, stream="stderr"):
        self.stop, self.inputs, self.config, self.num_classes = bool(stop), inputs or {}, config or {}, num_classes
        self.stream = stream
        self.trainer = None
        self._reset()

    def _reset(self):
        self.reported: list = []
        self._seen: set = set()
        self.final: Diagnosis | None = None

    def set_context(self, trainer) -> None:
        self.trainer = trainer

    def on_train_begin(self, logs=None):
        self._reset()

    def _signals(self, logs=None):
        h = self.trainer.history
        d = h.to_dict()
        row = {**h.pending, **{k: v for k, v in (logs or {}).items() if isinstance(v, (int, float))}}
        series = d["history"]
        if logs is not None:
            n = len(d["epoch"])
            for k in set(series) | set(row):
                series[k] = list(series.get(k, [None] * n)) + [row.get(k)]
        return from_mapping({"history": series, "steps": d["steps"], "inputs": self.inputs, "config": self.config,
                             "num_classes": self.num_classes, "stop_reason": self.trainer.stop_reason},
                            "live run")

    def on_epoch_end(self, epoch, logs=None):
        sig = self._signals(logs)
        found = [f for rule in R.RULES if rule.id in ACUTE for f in [rule.check(sig)] if f is not None]
        found = [f for f in differential(found) if f.severity != R.INFO]
        for f in found:
            if f.id in self._seen:
                continue
            self._seen.add(f.id)
            self.reported.append((int(epoch), f))
            if self.stream is not None:
                print(f"doctor: epoch {epoch}: [{f.severity}] {f.id}: {f.summary}. {f.advice}",
                      file=sys.stderr if self.stream == "stderr" else self.stream)
        errors = [f for f in found if f.severity == R.ERROR]
        if self.stop and errors:
            self.trainer.stop(f"stopped by the doctor at epoch {epoch}: {errors[0].id} ({errors[0].summary})")

    def on_train_end(self, logs=None):
        if self.trainer is not None and len(self.trainer.history.epoch):
            from .diagnosis import diagnose
            self.final = diagnose(self._signals())

    def __repr__(self) -> str:
        return f"Doctor(stop={self.stop})"
