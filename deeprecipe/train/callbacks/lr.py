"""Learning-rate callbacks: drive a schedule (``LearningRateScheduler``, Keras's name) or cut
on a plateau (``ReduceLROnPlateau``).

(``LRScheduler`` is the old name of the first, kept as a deprecated alias: it is also the
name of the schedulers' base class in :mod:`deeprecipe.optim.lr_scheduler`, as in torch.)

Both change the optimizer's canonical ``param_groups[i]['lr']`` and nothing else, so
what the optimizer reads is what the History logs (``logs['lr']``).
"""
from __future__ import annotations

import math

from .base import Callback, improved, initial_best, read_monitor, resolve_mode


def current_lr(optimizer) -> float:
    """The learning rate of the optimizer's first parameter group."""
    return float(optimizer.param_groups[0]["lr"])


class LearningRateScheduler(Callback):
    """Step a learning-rate scheduler every optimizer step or every epoch.

    Args:
        scheduler: a scheduler object with ``step()`` (e.g. from
            :mod:`deeprecipe.optim.lr_scheduler`, built on the optimizer that ``fit``
            uses), or a factory ``f(optimizer) -> scheduler`` called at the start of
            training — handy when ``fit`` builds the optimizer from a name.
        interval: ``'step'`` (after every optimizer step: one-cycle, cosine over steps,
            warm-up) or ``'epoch'`` (after every epoch: step decay).
        monitor: for schedulers whose ``step(metric)`` takes a value (torch-style
            ReduceLROnPlateau): the logs key passed at each epoch end.

    Following PyTorch's convention, the optimizer steps first and the scheduler after
    it, so the k-th optimizer step (from 0) uses ``schedule(k)``.  The scheduler's
    ``state_dict`` goes into training checkpoints, so resumed runs continue the schedule.
    """

    def __init__(self, scheduler, interval: str = "epoch", monitor: str | None = None):
        if interval not in ("step", "epoch"):
            raise ValueError(f"interval must be 'step' or 'epoch', got {interval!r}")
        if monitor is not None and interval != "epoch":
            raise ValueError("a scheduler that takes a monitored value steps once per epoch: use interval='epoch'")
        if not (hasattr(scheduler, "step") or callable(scheduler)):
            raise TypeError(
                f"scheduler must have a step() method or be a factory f(optimizer) -> scheduler, "
                f"got {type(scheduler).__name__}")
        self._given = scheduler
        self.scheduler = scheduler if hasattr(scheduler, "step") else None
        self.interval = interval
        self.monitor = monitor

    def on_train_begin(self, logs=None):
        if not hasattr(self._given, "step"):
            sched = self._given(self.optimizer)
            if not hasattr(sched, "step"):
                raise TypeError(
                    f"the scheduler factory returned {type(sched).__name__}, which has no step() method")
            self.scheduler = sched
        opt = getattr(self.scheduler, "optimizer", None)
        if opt is not None and self.optimizer is not None and opt is not self.optimizer:
            raise ValueError(
                "the scheduler was built on a different optimizer than the one fit uses; pass "
                "fit the same optimizer, or give LearningRateScheduler a factory lambda opt: Scheduler(opt, ...)")

    def on_train_batch_end(self, batch, logs=None):
        if self.interval == "step":
            self.scheduler.step()

    def on_epoch_end(self, epoch, logs=None):
        if self.interval != "epoch":
            return
        if self.monitor is None:
            self.scheduler.step()
        else:
            value = read_monitor(logs, self.monitor, "LearningRateScheduler")
            if value is not None:
                self.scheduler.step(value)

    def state_dict(self) -> dict:
        if self.scheduler is None or not hasattr(self.scheduler, "state_dict"):
            return {}
        return {"scheduler": self.scheduler.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        if "scheduler" in state:
            self.scheduler.load_state_dict(state["scheduler"])


class LRScheduler(LearningRateScheduler):
    """Deprecated name of :class:`LearningRateScheduler` (``optim.lr_scheduler.LRScheduler`` is
    the schedulers' base class); same arguments and behaviour."""

    def __init__(self, scheduler, interval: str = "epoch", monitor: str | None = None):
        import warnings
        warnings.warn("train.LRScheduler is deprecated: use train.LearningRateScheduler (the callback); "
                      "optim.lr_scheduler.LRScheduler is the schedulers' base class", DeprecationWarning,
                      stacklevel=2)
        super().__init__(scheduler, interval, monitor)


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` stops improving (Keras semantics).

    Args:
        monitor: logs key to watch (default ``'val_loss'``).
        factor: multiplier in (0, 1) applied to every parameter group's ``lr``.
        patience: cut when ``wait >= patience`` epochs in a row have not improved
            (Keras's rule; torch's ReduceLROnPlateau cuts one epoch later, on the
            ``patience + 1``-th non-improving epoch).
        mode: ``'min'``, ``'max'`` or ``'auto'``.
        min_delta: an improvement must beat the best value by more than this (absolute).
        cooldown: epochs after a cut that are not counted as non-improving.  (Keras
            decrements its counter before testing it, so its ``cooldown=1`` has no
            effect; here, as in torch, ``cooldown=k`` skips exactly k epochs.)
        min_lr: lower bound on the learning rate.
        verbose: print a line at each cut.

    A cut at the end of epoch e applies from epoch e + 1 on (``logs['lr']`` of epoch e
    still shows the old rate).  ``cuts`` lists ``(epoch, old_lr, new_lr)``.
    """

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10,
                 mode: str = "auto", min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0,
                 verbose: int = 0):
        if not 0.0 < factor < 1.0:
            raise ValueError(f"factor must be in (0, 1) so that the learning rate goes down, got {factor}")
        if int(patience) < 0 or int(cooldown) < 0:
            raise ValueError("patience and cooldown must be >= 0")
        self.monitor = monitor
        self.factor = float(factor)
        self.patience = int(patience)
        self.mode = resolve_mode(mode, monitor)
        self.min_delta = abs(float(min_delta))
        self.cooldown = int(cooldown)
        self.min_lr = float(min_lr)
        self.verbose = verbose
        self._reset()

    def _reset(self):
        self.wait = 0
        self.cooldown_counter = 0
        self.best = initial_best(self.mode)
        self.cuts = []

    def on_train_begin(self, logs=None):
        self._reset()

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def on_epoch_end(self, epoch, logs=None):
        current = read_monitor(logs, self.monitor, "ReduceLROnPlateau")
        if current is None:
            return
        cooling = self.in_cooldown()
        if cooling:
            self.cooldown_counter -= 1
            self.wait = 0
        if improved(current, self.best, self.mode, self.min_delta):
            self.best = current
            self.wait = 0
        elif not cooling:
            self.wait += 1
            if self.wait >= self.patience:
                old = current_lr(self.optimizer)
                if old > self.min_lr:
                    for g in self.optimizer.param_groups:
                        g["lr"] = max(float(g["lr"]) * self.factor, self.min_lr)
                    new = current_lr(self.optimizer)
                    self.cuts.append((int(epoch), old, new))
                    if self.verbose:
                        print(f"epoch {epoch}: ReduceLROnPlateau cut lr {old:.3g} -> {new:.3g}")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0

    def state_dict(self) -> dict:
        return {"wait": self.wait, "cooldown_counter": self.cooldown_counter,
                "best": float(self.best) if math.isfinite(self.best) else str(self.best),
                "cuts": [list(c) for c in self.cuts]}

    def load_state_dict(self, state: dict) -> None:
        self.wait = int(state["wait"])
        self.cooldown_counter = int(state["cooldown_counter"])
        self.best = float(state["best"])
        self.cuts = [(int(c[0]), float(c[1]), float(c[2])) for c in state.get("cuts", [])]
