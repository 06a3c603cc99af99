"""The schedule registry: learning-rate schedules a training job can name
(``deeprecipe train --schedule cosine:eta_min=1e-5``).

An entry is ``factory(**options) -> Callback``; a job offers ``lr`` (the peak/base lr),
``epochs``, ``steps_per_epoch`` and ``total_steps`` to the factories that take them.  Each
returns a callback of ``fit`` (``LearningRateScheduler`` around a :mod:`deeprecipe.optim.lr_scheduler`
scheduler, or ``ReduceLROnPlateau``); ``info['monitor']`` names the logs key a schedule
watches (the job then needs a validation split).
"""
from __future__ import annotations

from ..registry import Registry
from .callbacks.lr import LearningRateScheduler, ReduceLROnPlateau

SCHEDULES = Registry("schedule")


def _step(epochs: int = 3, step_size: int | None = None, gamma: float = 0.1):
    """×gamma every ``step_size`` epochs (default: a third of the epochs)."""
    from ..optim.lr_scheduler import StepLR
    size = int(step_size) if step_size else max(1, int(epochs) // 3)
    return LearningRateScheduler(lambda opt: StepLR(opt, step_size=size, gamma=gamma), "epoch")


def _cosine(total_steps: int = 1, eta_min: float = 0.0):
    """Cosine annealing to ``eta_min`` over the whole run, per step."""
    from ..optim.lr_scheduler import CosineAnnealingLR
    return LearningRateScheduler(lambda opt: CosineAnnealingLR(opt, T_max=int(total_steps), eta_min=eta_min), "step")


def _onecycle(lr: float = 1e-3, total_steps: int = 1, pct_start: float = 0.3):
    """One cycle (Smith) peaking at ``lr``, per step."""
    from ..optim.lr_scheduler import OneCycleLR
    return LearningRateScheduler(lambda opt: OneCycleLR(opt, max_lr=lr, total_steps=int(total_steps),
                                              pct_start=pct_start), "step")


def _exponential(gamma: float = 0.9):
    """×gamma every epoch."""
    from ..optim.lr_scheduler import ExponentialLR
    return LearningRateScheduler(lambda opt: ExponentialLR(opt, gamma=gamma), "epoch")


def _plateau(factor: float = 0.5, patience: int = 2, monitor: str = "val_loss"):
    """×factor when ``monitor`` has not improved for ``patience`` epochs."""
    return ReduceLROnPlateau(monitor, factor=factor, patience=patience)


SCHEDULES.register("step", _step)
SCHEDULES.register("cosine", _cosine)
SCHEDULES.register("onecycle", _onecycle)
SCHEDULES.register("exponential", _exponential)
SCHEDULES.register("plateau", _plateau, monitor="val_loss")
