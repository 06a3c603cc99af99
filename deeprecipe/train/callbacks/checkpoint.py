"""``ModelCheckpoint``: save the training state (best and last), atomically.

Each file is a full training checkpoint (model, optimizer, schedule and callback
states, epoch and batch counters, RNG state, history) written with
:func:`deeprecipe.save` (temporary file + rename), so ``fit(..., resume_from=path)``
continues from it exactly and a crash never leaves a half-written file.  Load only the
weights with ``model.load_state_dict(deeprecipe.load(path)['model'])``.
"""
from __future__ import annotations

import os
import warnings

from .base import Callback, improved, initial_best, resolve_mode


class ModelCheckpoint(Callback):
    """Write ``<directory>/last.npz`` and ``<directory>/best.npz``.

    Args:
        directory: folder for the checkpoint files (created at the start of training).
        monitor: logs key deciding which epoch is best (``'val_loss'``).
        mode: ``'min'``, ``'max'`` or ``'auto'``.
        save_best: keep ``best.npz``, the state at the end of the best epoch so far.
        save_last: keep ``last.npz``, the state at the end of the latest epoch.
        every_n_steps: also write ``last.npz`` every this many optimizer steps
            (mid-epoch; a resumed run skips the batches already done).
        verbose: print a line when a new best is saved.

    Nothing is written after the run diverged (TerminateOnNaN), so the files on disk
    stay the last good ones.  The writes happen after every callback has run its
    hook, so the saved state includes what they did in that same step or epoch.
    """

    run_last = True

    def __init__(self, directory, monitor: str = "val_loss", mode: str = "auto", save_best: bool = True,
                 save_last: bool = True, every_n_steps: int | None = None, verbose: int = 0):
        if every_n_steps is not None and int(every_n_steps) < 1:
            raise ValueError(f"every_n_steps must be a positive integer or None, got {every_n_steps}")
        if not (save_best or save_last):
            raise ValueError("ModelCheckpoint with save_best=False and save_last=False would save nothing")
        self.directory = os.fspath(directory)
        self.monitor = monitor
        self.mode = resolve_mode(mode, monitor)
        self.save_best = bool(save_best)
        self.save_last = bool(save_last)
        self.every_n_steps = None if every_n_steps is None else int(every_n_steps)
        self.verbose = verbose
        self.best = initial_best(self.mode)
        self.best_epoch = None
        self._warned = False

    @property
    def last_path(self) -> str:
        return os.path.join(self.directory, "last.npz")

    @property
    def best_path(self) -> str:
        return os.path.join(self.directory, "best.npz")

    def on_train_begin(self, logs=None):
        self.best = initial_best(self.mode)
        self.best_epoch = None
        self._warned = False
        os.makedirs(self.directory, exist_ok=True)

    def on_train_batch_end(self, batch, logs=None):
        n = self.every_n_steps
        if n is not None and self.trainer.global_step % n == 0:
            self.trainer.request_checkpoint(self.last_path)

    def on_epoch_end(self, epoch, logs=None):
        if getattr(self.trainer, "diverged", False):
            return
        if self.save_last:
            self.trainer.request_checkpoint(self.last_path)
        if not self.save_best:
            return
        value = (logs or {}).get(self.monitor)
        if value is None:
            if not self._warned:
                warnings.warn(
                    f"ModelCheckpoint: {self.monitor!r} is not in the logs "
                    f"(available: {', '.join(sorted(logs or {}))}); "
                    "best.npz is not written. Pass val= to fit or monitor='loss'", RuntimeWarning, stacklevel=2)
                self._warned = True
            return
        value = float(value)
        if improved(value, self.best, self.mode):
            if self.verbose:
                print(f"epoch {epoch}: {self.monitor} improved to {value:.6g}; saving {self.best_path}")
            self.best = value
            self.best_epoch = int(epoch)
            self.trainer.request_checkpoint(self.best_path)

    def state_dict(self) -> dict:
        import math
        return {"best": self.best if math.isfinite(self.best) else str(self.best),
                "best_epoch": -1 if self.best_epoch is None else self.best_epoch}

    def load_state_dict(self, state: dict) -> None:
        self.best = float(state["best"])
        be = int(state["best_epoch"])
        self.best_epoch = None if be < 0 else be
