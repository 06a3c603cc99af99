"""``TerminateOnDivergence``: stop a run whose loss explodes while staying finite.

``TerminateOnNaN`` catches a loss that became NaN or inf; a loss that grows to ``1e30``
is just as diverged but still a number.  This sibling watches the per-step training
loss against two references, the loss of the first step and the running minimum:

    diverged at step t  when  loss_t > factor * max(min_{s<=t} loss_s, floor * loss_0)

with ``factor = 1e3`` (three orders of magnitude) and ``floor = 1e-2``.  The floor keeps
the rule meaningful when the loss approaches 0 (a loss of ``1e-6`` followed by ``1e-3``
is noise at the end of training, not divergence): the threshold never drops below
``factor * floor = 10`` times the first loss.  For 10-class cross-entropy (first loss
about ``ln 10 = 2.3``) a run is stopped once a step's loss exceeds 23 after the loss has
gone below 0.023, or exceeds ``1000 x`` its best value before that; typical noisy steps
and learning-rate warm restarts stay far below.

Like ``TerminateOnNaN`` the run is marked diverged (``trainer.diverged``): no checkpoint is
written after the step that exploded, ``fit`` prints the reason and ``deeprecipe train``
exits non-zero.  A non-positive first loss (possible for custom losses) disables the
start reference; only the running minimum (while positive) is used.
"""
from __future__ import annotations

import math

from .base import Callback

#: default: how many times above its reference a step's loss must be to count as divergence
DIVERGENCE_FACTOR = 1e3
#: default: the reference never drops below this fraction of the first step's loss
DIVERGENCE_FLOOR = 1e-2


class TerminateOnDivergence(Callback):
    """Stop training when the loss grows ``factor`` times over its reference (see module docs).

    Args:
        factor: > 1; how many times the reference a loss must exceed.
        floor: in (0, 1]; the reference is at least ``floor`` times the first loss.

    Its state (first loss, running minimum) is saved in training checkpoints, so a resumed
    run applies the same thresholds as an uninterrupted one.
    """

    def __init__(self, factor: float = DIVERGENCE_FACTOR, floor: float = DIVERGENCE_FLOOR):
        factor, floor = float(factor), float(floor)
        if not (factor > 1 and math.isfinite(factor)):
            raise ValueError(f"TerminateOnDivergence: factor must be a finite number > 1, got {factor}")
        if not (0 < floor <= 1):
            raise ValueError(f"TerminateOnDivergence: floor must lie in (0, 1], got {floor}")
        self.factor, self.floor = factor, floor
        self._reset()

    def _reset(self):
        self.first_loss = None
        self.min_loss = None
        self.min_step = None
        self.message = None

    def on_train_begin(self, logs=None):
        self._reset()  # a resumed fit then loads the saved state

    def threshold(self) -> float | None:
        """The loss above which the current step counts as divergence (None before any step)."""
        refs = []
        if self.min_loss is not None and self.min_loss > 0:
            refs.append(self.min_loss)
        if self.first_loss is not None and self.first_loss > 0:
            refs.append(self.floor * self.first_loss)
        return self.factor * max(refs) if refs else None

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(loss)
        if not math.isfinite(loss):
            return  # TerminateOnNaN's job
        t = self.trainer
        step = getattr(t, "global_step", None)
        limit = self.threshold()
        if limit is not None and loss > limit:
            where = f"step {step} (epoch {getattr(t, 'epoch', '?')}, batch {batch})"
            self.message = (
                f"TerminateOnDivergence: the training loss reached {loss:.6g} at {where}, more than {self.factor:g} "
                f"times its reference {limit / self.factor:.6g} (the best loss so far was {self.min_loss:.6g} at step "
                f"{self.min_step}, the first {self.first_loss:.6g}): the run diverged. Training stopped; checkpoints "
                "written before this step were kept. Try a lower learning rate or gradient clipping.")
            if t is not None:
                t.stop(self.message, diverged=True)
            return
        if self.first_loss is None:
            self.first_loss = loss
        if self.min_loss is None or loss < self.min_loss:
            self.min_loss, self.min_step = loss, step

    def state_dict(self) -> dict:
        # Empty before the first step, so a checkpoint written without this callback (an older
        # run) still resumes: the references then start again from the resumed step.
        if self.first_loss is None:
            return {}
        return {"first_loss": self.first_loss, "min_loss": self.min_loss, "min_step": self.min_step}

    def load_state_dict(self, state: dict) -> None:
        self.first_loss = state.get("first_loss")
        self.min_loss = state.get("min_loss")
        self.min_step = state.get("min_step")
