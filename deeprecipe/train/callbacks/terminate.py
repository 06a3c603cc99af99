"""``TerminateOnNaN``: stop as soon as the training loss stops being a finite number."""
from __future__ import annotations

import math

from .base import Callback


class TerminateOnNaN(Callback):
    """Stop training at the first step whose loss is NaN or infinite.

    The message (printed, kept in ``history.stop_reason`` and in ``self.message``)
    names the step, epoch and batch where it happened and the last finite loss.
    The run is marked as diverged, so no checkpoint is written after that point:
    the last checkpoint on disk is the last good one.
    """

    def __init__(self):
        self._reset()

    def _reset(self):
        self.last_finite_loss = None
        self.last_finite_step = None
        self.message = None

    def on_train_begin(self, logs=None):
        self._reset()

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(loss)
        t = self.trainer
        step = getattr(t, "global_step", None)
        if math.isfinite(loss):
            self.last_finite_loss = loss
            self.last_finite_step = step
            return
        where = f"step {step} (epoch {getattr(t, 'epoch', '?')}, batch {batch})"
        if self.last_finite_loss is None:
            last = "no finite loss was seen in this run"
        else:
            last = f"the last finite loss was {self.last_finite_loss:.6g} at step {self.last_finite_step}"
        self.message = (f"TerminateOnNaN: the training loss became {loss} at {where}; {last}. "
                        "Training stopped; checkpoints written before this step were kept. "
                        "Try a lower learning rate, gradient clipping, or check the inputs for NaN.")
        if t is not None:
            t.stop(self.message, diverged=True)
