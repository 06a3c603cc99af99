"""``SharpnessMonitor``: the top Hessian eigenvalue of a fixed batch, every N steps of ``fit``.

    mon = SharpnessMonitor(x_probe, y_probe, every=50)
    history = fit(model, train, callbacks=[mon], ...)
    history.steps["sharpness"], history.step_index["sharpness"]   # every 50th step
    mon.records                                                   # [(step, eigenvalue), ...]

Sharpness (Keskar et al. 2017, https://arxiv.org/abs/1609.04836) is the top eigenvalue of
the loss Hessian; gradient descent with rate η is stable along a direction only while its
curvature is below 2/η (Cohen et al. 2021, https://arxiv.org/abs/2103.00065), so the series
says whether training sits at that edge.  Each measurement is power iteration with exact
Hessian-vector products on the probe batch in eval mode (:func:`.sharpness`), warm-started
from the previous eigenvector; parameters, gradients, modes and buffers are left as found.
Like :class:`~deeprecipe.diagnostics.MonitorCallback` it follows the trainer's callback
protocol by duck typing (``record_step(name, value, step=)`` on the history).
"""
from __future__ import annotations

import numpy as np

from .power import sharpness


class SharpnessMonitor:
    """Record ``sharpness`` (top Hessian eigenvalue on ``(x, y)``) every ``every`` optimizer steps.

    Args:
        x, y: the probe batch (a fixed subset of the training data).
        every: record after steps ``0, every, 2*every, ...`` (global optimizer steps).
        loss_fn: the training loss (a callable or a name ``fit`` accepts).
        iters, tol: power-iteration budget per measurement.
        name: the series name in the History.
        model, history: for use outside ``fit``.

    Attributes: ``records`` (list of ``(step, eigenvalue)``), ``last``.
    """

    def __init__(self, x, y, every: int = 50, *, loss_fn="cross_entropy", iters: int = 30, tol: float = 1e-3,
                 name: str = "sharpness", model=None, history=None, rng=0):
        if not isinstance(every, (int, np.integer)) or every < 1:
            raise ValueError(f"every must be a positive integer (record every N steps), got {every!r}")
        self.x, self.y, self.every = x, y, int(every)
        self.loss_fn, self.iters, self.tol, self.name, self.rng = loss_fn, int(iters), float(tol), name, rng
        self.model, self.trainer, self._history = model, None, history
        self._fit_history = None
        self.records, self.last, self._v, self._count = [], None, None, 0

    def set_context(self, trainer) -> None:
        self.trainer = trainer
        # the trainer's History (fixed for its lifetime), still ours after fit lets go of the trainer
        self._fit_history = getattr(trainer, "history", None)
        self.model = getattr(trainer, "model", self.model)

    @property
    def history(self):
        return self._fit_history if self._fit_history is not None else self._history

    def on_train_begin(self, logs=None):
        if self.model is None:
            raise RuntimeError("SharpnessMonitor has no model: use it in fit(callbacks=[...]) or pass model=")
        self.records, self.last, self._v, self._count = [], None, None, 0

    def on_train_batch_end(self, batch, logs=None):
        s = getattr(self.trainer, "global_step", None) if self.trainer is not None else None
        step = self._count if s is None else int(s) - 1  # the step just taken
        self._count += 1
        if step % self.every:
            return
        self.measure(step)

    def measure(self, step: int) -> float:
        """Measure now and record the value under ``step``."""
        eig = sharpness(self.model, self.x, self.y, self.loss_fn, iters=self.iters, tol=self.tol, rng=self.rng,
                        v0=self._v)
        self._v = eig.vector
        self.last = float(eig.eigenvalue)
        self.records.append((int(step), self.last))
        if self.history is not None:
            self.history.record_step(self.name, self.last, step=int(step))
        return self.last

    def __repr__(self) -> str:
        return f"SharpnessMonitor(every={self.every})"
