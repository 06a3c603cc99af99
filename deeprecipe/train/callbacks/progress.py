"""``ProgressBar``: a tqdm bar per epoch on a terminal, plain lines otherwise."""
from __future__ import annotations

import numbers
import sys
import time

from .base import Callback


def format_logs(logs: dict, skip=("batch", "size")) -> str:
    parts = []
    for k, v in (logs or {}).items():
        if k in skip or not isinstance(v, numbers.Real):
            continue
        parts.append(f"{k} {v:.4g}" if k in ("lr", "learning_rate") else f"{k} {v:.4f}")
    return "  ".join(parts)


class ProgressBar(Callback):
    """Show training progress.

    Args:
        mode: ``'auto'`` (a tqdm bar when tqdm is installed and ``file`` is a terminal,
            plain lines otherwise), ``'bar'`` (tqdm, error if it is missing) or ``'lines'``
            (one line per epoch: time, loss, metrics, validation metrics, lr).
        file: where to write (default ``sys.stderr`` for bars, ``sys.stdout`` for lines).

    The bar's loss is the running mean over the epoch so far, refreshed at most
    every ``refresh`` seconds so the bar costs next to nothing per step.
    """

    run_last = True  # show what the other callbacks added to the epoch's logs

    def __init__(self, mode: str = "auto", file=None, refresh: float = 0.5):
        if mode not in ("auto", "bar", "lines"):
            raise ValueError(f"mode must be 'auto', 'bar' or 'lines', got {mode!r}")
        self.mode = mode
        self.file = file
        self.refresh = float(refresh)
        self._bar = None

    def _use_tqdm(self) -> bool:
        if self.mode == "lines":
            return False
        try:
            import tqdm  # noqa: F401
        except ImportError:
            if self.mode == "bar":
                raise ImportError("ProgressBar(mode='bar') needs tqdm: pip install tqdm") from None
            return False
        if self.mode == "bar":
            return True
        f = self.file or sys.stderr
        return bool(getattr(f, "isatty", lambda: False)())

    def on_train_begin(self, logs=None):
        self.use_tqdm = self._use_tqdm()
        self._bar = None

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()
        self._sum = 0.0
        self._n = 0
        self._last = self._t0
        t = self.trainer
        if self.use_tqdm:
            from tqdm.auto import tqdm
            total = getattr(t, "steps_per_epoch", None)
            self._bar = tqdm(total=total, initial=int(getattr(t, "batch", 0) or 0),
                             desc=f"epoch {epoch + 1}/{getattr(t, 'epochs', '?')}",
                             file=self.file or sys.stderr, leave=True, dynamic_ncols=True, mininterval=0.2)

    def on_train_batch_end(self, batch, logs=None):
        if self._bar is None:
            return
        logs = logs or {}
        n = logs.get("size", 1)
        self._sum += float(logs.get("loss", 0.0)) * n
        self._n += n
        self._bar.update(1)
        now = time.perf_counter()
        if now - self._last >= self.refresh and self._n:
            self._bar.set_postfix_str(f"loss {self._sum / self._n:.4f}", refresh=False)
            self._last = now

    def on_epoch_end(self, epoch, logs=None):
        dt = time.perf_counter() - self._t0
        text = format_logs(logs)
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=False)
            self._bar.close()
            self._bar = None
        else:
            epochs = getattr(self.trainer, "epochs", "?")
            print(f"epoch {epoch + 1}/{epochs}  {dt:.1f}s  {text}", file=self.file or sys.stdout, flush=True)

    def on_train_end(self, logs=None):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
