"""``History``: what ``fit`` returns — every metric per epoch, and per-step series.

Keras-style: ``history.history`` is a dict ``name -> [value per epoch]`` and
``history.epoch`` the list of epoch indices (from 0).  All per-epoch lists have the
same length as ``history.epoch``; a series that was missing in some epoch holds NaN
there, so the dict can be read as one table (``history.as_table()``, CSV).

Adding series from a callback (diagnostics monitors, custom metrics)
--------------------------------------------------------------------
Per epoch, either

* put the value into ``logs`` in your ``on_epoch_end(epoch, logs)``: ``logs['w_norm'] = 3.1``
  (History runs after every other callback, so it records what they wrote), or
* call ``self.trainer.history.record('w_norm', 3.1)`` at any time during the epoch;
  the value lands in the current epoch's row.

Per step, call ``self.trainer.history.record_step('grad_norm/fc1', 0.02)``; the global
step (optimizer steps since the start of training) is taken from the trainer unless
``step=`` is given.  Per-step series are in ``history.steps[name]`` (values) and
``history.step_index[name]`` (the global step of each value); they may be sparse
(e.g. recorded every 10 steps).  Values are stored as Python floats.

The History is saved in every training checkpoint, so a resumed run returns the
whole history, not just the epochs after the restart.
"""
from __future__ import annotations

import math

import numpy as np

from .callbacks.base import Callback


def _to_float(value, name):
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"History values must be numbers (a float or a one-element array), got "
            f"{type(value).__name__} for {name!r}; record one series per scalar") from None


class History(Callback):
    """Records the per-epoch logs of ``fit`` and any series callbacks add (see module docs).

    Attributes:
        history: ``{name: [float per epoch]}``.
        epoch: ``[int]`` epoch indices.
        steps: ``{name: [float]}`` per-step values; ``step_index``: ``{name: [int]}``.
        stop_reason: why training stopped early (EarlyStopping, TerminateOnNaN), or None.
    """

    run_last = True

    def __init__(self):
        self._reset()

    def _reset(self):
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []
        self.steps: dict[str, list] = {}
        self.step_index: dict[str, list] = {}
        self.stop_reason: str | None = None
        self._pending: dict[str, float] = {}

    # ------------------------------------------------------------------ recording
    def record(self, name: str, value) -> None:
        """Add ``value`` to the current epoch's row under ``name``."""
        self._pending[str(name)] = _to_float(value, name)

    def record_step(self, name: str, value, step: int | None = None) -> None:
        """Append ``value`` to the per-step series ``name`` at global ``step``."""
        if step is None:
            step = getattr(self.trainer, "global_step", None)
            if step is None:
                step = len(self.steps.get(name, ()))
        name = str(name)
        self.steps.setdefault(name, []).append(_to_float(value, name))
        self.step_index.setdefault(name, []).append(int(step))

    @property
    def pending(self) -> dict[str, float]:
        """The values given to :meth:`record` for the epoch still running (a copy): what
        the next row will hold besides the epoch's logs."""
        return dict(self._pending)

    def add_epoch(self, epoch: int, logs: dict) -> None:
        """Append one epoch row (``logs`` plus values given to ``record``)."""
        row = dict(self._pending)
        for k, v in (logs or {}).items():
            if isinstance(v, (int, float, np.floating, np.integer)) or (hasattr(v, "ndim") and v.ndim == 0):
                row[k] = float(v)
        self._pending = {}
        n = len(self.epoch)
        for k in row:
            if k not in self.history:
                self.history[k] = [math.nan] * n  # a series that starts late
        for k, series in self.history.items():
            series.append(row.get(k, math.nan))
        self.epoch.append(int(epoch))

    # ------------------------------------------------------------------ callback hooks
    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        self.add_epoch(epoch, logs)

    # ------------------------------------------------------------------ reading
    def __getitem__(self, name: str) -> list:
        return self.history[name]

    def __contains__(self, name: str) -> bool:
        return name in self.history

    def __len__(self) -> int:
        return len(self.epoch)

    def last(self, name: str, default=None):
        s = self.history.get(name)
        return s[-1] if s else default

    def best(self, name: str, mode: str = "auto"):
        """``(epoch, value)`` of the best finite value of ``name`` (max for accuracies)."""
        from .callbacks.base import resolve_mode
        mode = resolve_mode(mode, name)
        vals = np.asarray(self.history[name], dtype=float)
        ok = np.isfinite(vals)
        if not ok.any():
            return None, math.nan
        idx = np.where(ok)[0]
        i = idx[np.argmin(vals[ok])] if mode == "min" else idx[np.argmax(vals[ok])]
        return self.epoch[i], float(vals[i])

    def as_table(self) -> tuple[list[str], list[list[float]]]:
        """``(header, rows)``: ``['epoch', *sorted names]`` and one row per epoch."""
        names = sorted(self.history)
        rows = [[e] + [self.history[k][i] for k in names] for i, e in enumerate(self.epoch)]
        return ["epoch"] + names, rows

    def to_dict(self) -> dict:
        """JSON-ready dict (NaN becomes None)."""
        def clean(xs):
            return [None if (isinstance(x, float) and not math.isfinite(x)) else x for x in xs]
        return {
            "epoch": list(self.epoch),
            "history": {k: clean(v) for k, v in self.history.items()},
            "steps": {k: {"step": list(self.step_index[k]), "value": clean(v)} for k, v in self.steps.items()},
            "stop_reason": self.stop_reason,
        }

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        # Names go in lists (not dict keys): metric names may hold '/' or '.', which
        # a checkpoint format may use as its own separators.
        names = list(self.history)
        snames = list(self.steps)
        return {
            "epoch": np.asarray(self.epoch, dtype=np.int64),
            "names": names,
            "values": [np.asarray(self.history[k], dtype=np.float64) for k in names],
            "step_names": snames,
            "step_values": [np.asarray(self.steps[k], dtype=np.float64) for k in snames],
            "step_index": [np.asarray(self.step_index[k], dtype=np.int64) for k in snames],
            "pending_names": list(self._pending),
            "pending_values": np.asarray(list(self._pending.values()), dtype=np.float64),
            "stop_reason": self.stop_reason or "",
        }

    def load_state_dict(self, state: dict) -> None:
        self.epoch = [int(e) for e in np.asarray(state["epoch"]).tolist()]
        self.history = {k: np.asarray(v, dtype=float).tolist() for k, v in zip(state["names"], state["values"])}
        self.steps = {k: np.asarray(v, dtype=float).tolist() for k, v in zip(state["step_names"], state["step_values"])}
        self.step_index = {k: [int(i) for i in np.asarray(v).tolist()]
                           for k, v in zip(state["step_names"], state["step_index"])}
        self._pending = dict(zip(state.get("pending_names", []),
                                 np.asarray(state.get("pending_values", []), dtype=float).tolist()))
        self.stop_reason = state.get("stop_reason") or None

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, series={sorted(self.history)})"
