"""``TensorBoard``: write the logs as TensorBoard scalars (needs ``tensorboardX``)."""
from __future__ import annotations

import numbers
import os

from .base import Callback


class TensorBoard(Callback):
    """Log epoch metrics (``epoch/<name>``) and, every ``update_freq`` steps, the batch
    loss (``batch/loss``) and the learning rate to a TensorBoard event file.

    Args:
        log_dir: folder for the event files.
        update_freq: ``'epoch'`` (epoch scalars only) or an int: also log the batch loss
            every that many optimizer steps.
        log_history_steps: also write the per-step series other callbacks recorded in
            the History (``history.record_step``) at each epoch end.

    Needs ``tensorboardX`` (``pip install 'deeprecipe[track]'``); the import happens
    here, so the rest of deeprecipe does not depend on it.
    """

    def __init__(self, log_dir, update_freq="epoch", log_history_steps: bool = True):
        try:
            from tensorboardX import SummaryWriter
        except ImportError:
            raise ImportError(
                "the TensorBoard callback needs tensorboardX: pip install 'deeprecipe[track]' "
                "(or pip install tensorboardX)") from None
        if update_freq != "epoch" and not (isinstance(update_freq, int) and update_freq > 0):
            raise ValueError(f"update_freq must be 'epoch' or a positive int, got {update_freq!r}")
        self._writer_cls = SummaryWriter
        self.log_dir = os.fspath(log_dir)
        self.update_freq = update_freq
        self.log_history_steps = bool(log_history_steps)
        self.writer = None

    def on_train_begin(self, logs=None):
        self.writer = self._writer_cls(self.log_dir)
        self._written = {}

    def on_train_batch_end(self, batch, logs=None):
        if self.update_freq == "epoch":
            return
        step = self.trainer.global_step
        if step % self.update_freq == 0:
            self.writer.add_scalar("batch/loss", float(logs["loss"]), step)
            if self.optimizer is not None:
                self.writer.add_scalar("batch/lr", float(self.optimizer.param_groups[0]["lr"]), step)

    def on_epoch_end(self, epoch, logs=None):
        for k, v in (logs or {}).items():
            if isinstance(v, numbers.Real):
                self.writer.add_scalar(f"epoch/{k}", float(v), epoch)
        h = getattr(self.trainer, "history", None)
        if self.log_history_steps and h is not None:
            for name, values in h.steps.items():
                start = self._written.get(name, 0)
                for s, v in zip(h.step_index[name][start:], values[start:]):
                    self.writer.add_scalar(f"step/{name}", v, s)
                self._written[name] = len(values)
        self.writer.flush()

    def on_train_end(self, logs=None):
        if self.writer is not None:
            self.writer.close()
            self.writer = None
