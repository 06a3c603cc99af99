"""``EarlyStopping``: stop when a monitored metric has stopped improving (Keras 3 semantics)."""
from __future__ import annotations

import numpy as np

from .base import Callback, improved, initial_best, read_monitor, resolve_mode


def snapshot_weights(model) -> dict:
    """A copy of every parameter and buffer (``model.state_dict()``), detached from the model."""
    return {k: np.array(_to_numpy(v), copy=True) for k, v in model.state_dict().items()}


def _to_numpy(v):
    from ...backend import to_device
    return to_device(getattr(v, "data", v), "cpu")


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has not improved for ``patience`` epochs.

    Args:
        monitor: the logs key to watch (``'val_loss'``, ``'val_accuracy'``, ``'loss'``...).
        min_delta: an epoch counts as an improvement only if it beats the best value so
            far by more than ``|min_delta|``.
        patience: how many epochs without improvement to wait; training stops at the end
            of the ``patience``-th one (``patience=0``: at the first that does not improve).
        mode: ``'min'``, ``'max'`` or ``'auto'`` (max for accuracy-like names).
        baseline: a value the monitor must beat; until it does, epochs count as not
            improving even when they beat the previous best.
        restore_best_weights: at the end of training put back the weights (parameters
            and buffers) of the best epoch — whether or not early stopping triggered,
            and also when training stopped for another reason (e.g. TerminateOnNaN).
        start_from_epoch: epochs before this are not counted (warm-up).
        verbose: print a line when stopping and when restoring.

    After training, ``stopped_epoch`` is the epoch at which it stopped (0 if it never
    did) and ``best_epoch``/``best`` the best epoch and value.
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0,
                 mode: str = "auto", baseline: float | None = None, restore_best_weights: bool = False,
                 start_from_epoch: int = 0, verbose: int = 0):
        if int(patience) < 0:
            raise ValueError(f"patience must be >= 0, got {patience}")
        self.monitor = monitor
        self.min_delta = abs(float(min_delta))
        self.patience = int(patience)
        self.mode = resolve_mode(mode, monitor)
        self.baseline = baseline
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = int(start_from_epoch)
        self.verbose = verbose
        self._reset()

    def _reset(self):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = initial_best(self.mode)
        self.best_epoch = 0
        self.best_weights = None

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        current = read_monitor(logs, self.monitor, "EarlyStopping")
        if current is None:
            return
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # Until something improves, the first weights seen are the best ones.
            self.best_weights = snapshot_weights(self.model)
            self.best_epoch = epoch
        self.wait += 1
        if improved(current, self.best, self.mode, self.min_delta):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = snapshot_weights(self.model)
            # The wait restarts only when the value beats the baseline as well.
            if self.baseline is None or improved(current, self.baseline, self.mode, self.min_delta):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            msg = (f"early stopping at epoch {epoch}: {self.monitor} has not improved for {self.wait} "
                   f"epoch(s); best {self.best:.6g} at epoch {self.best_epoch}")
            if self.trainer is not None:
                self.trainer.stop(msg)
            if self.verbose:
                print(msg)

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            load_weights(self.model, self.best_weights)
            if self.verbose:
                print(f"restored the weights of epoch {self.best_epoch} ({self.monitor}={self.best:.6g})")

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        sd = {"wait": self.wait, "stopped_epoch": self.stopped_epoch,
              "best": float(self.best) if np.isfinite(self.best) else str(self.best),
              "best_epoch": self.best_epoch, "has_weights": self.best_weights is not None}
        if self.best_weights is not None:
            names = list(self.best_weights)
            sd["weight_names"] = names
            sd["weights"] = [self.best_weights[k] for k in names]
        return sd

    def load_state_dict(self, state: dict) -> None:
        self.wait = int(state["wait"])
        self.stopped_epoch = int(state["stopped_epoch"])
        self.best = float(state["best"])
        self.best_epoch = int(state["best_epoch"])
        if bool(state.get("has_weights")):
            self.best_weights = {k: np.array(v, copy=True) for k, v in zip(state["weight_names"], state["weights"])}
        else:
            self.best_weights = None


def load_weights(model, weights: dict) -> None:
    """Copy ``weights`` (from :func:`snapshot_weights`) into the model in place."""
    model.load_state_dict(weights)
