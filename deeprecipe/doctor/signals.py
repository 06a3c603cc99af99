"""What the doctor reads: a run's measured series, from a run folder, a History or a dict.

Sources (:func:`load_signals`):

* a run folder written by ``deeprecipe train --out RUN``: ``metrics.json`` (the History
  with the monitors' per-step and per-epoch series), ``inputs.json`` (training-input
  statistics) and ``config.json``;
* a :class:`~deeprecipe.train.History` (``fit``'s return value; with a
  :class:`~deeprecipe.diagnostics.MonitorCallback` among the callbacks for the monitors);
* a dict of per-epoch series ``{name: [value per epoch]}`` (the names below), optionally
  with ``"steps": {name: {"step": [...], "value": [...]}}``, ``"inputs": {...}``,
  ``"config": {...}`` and ``"num_classes": int`` — what hand-made histories and other
  programs (an Optuna pruner) pass.

Series names (those of :mod:`deeprecipe.diagnostics.series`): ``loss``, ``val_loss``,
``accuracy``, ``val_accuracy``, ``grad_norm``, ``grad_norm/<layer>``,
``update_ratio/<layer>``, ``act_dead/<module>``, ``act_saturated/<module>``,
``weight_norm/<param>``; per step ``batch_loss`` and ``grad_norm``.  Layers keep the order
the monitors recorded them in, which is the model's order (input side first).
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field

import numpy as np


class RunDirError(ValueError):
    """The path is not a finished, readable run folder."""


# dataset name -> number of classes (for the chance-level loss ln C)
_CLASSES = {"fashion-mnist": 10, "mnist": 10, "digits": 10, "spirals": 3, "blobs": 3}


def _arr(xs) -> np.ndarray:
    return np.asarray([math.nan if x is None else float(x) for x in xs], dtype=np.float64)


@dataclass
class Signals:
    """A run's series as float64 arrays (NaN where missing), one entry per epoch."""

    epochs: int
    series: dict                                   # name -> (E,) per-epoch values
    steps: dict = field(default_factory=dict)      # name -> (step index array, value array)
    inputs: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    num_classes: int | None = None
    stop_reason: str | None = None
    source: str = ""

    def get(self, name: str) -> np.ndarray:
        """Per-epoch series ``name`` (all NaN when absent)."""
        s = self.series.get(name)
        return s if s is not None else np.full(self.epochs, math.nan)

    def layers(self, quantity: str) -> dict:
        """``{layer: (E,) array}`` of a per-layer quantity, in recorded (model) order."""
        pre = quantity + "/"
        return {k[len(pre):]: v for k, v in self.series.items() if k.startswith(pre)}

    def step_series(self, name: str):
        """``(steps, values)`` of a per-step series (empty arrays when absent)."""
        return self.steps.get(name, (np.zeros(0, np.int64), np.zeros(0)))

    @property
    def chance_loss(self) -> float:
        """ln C, the cross-entropy of a uniform guess; else the first epoch's training loss."""
        if self.num_classes and self.num_classes > 1:
            return math.log(self.num_classes)
        first = self.get("loss")
        first = first[np.isfinite(first)]
        return float(first[0]) if first.size else math.nan

    @property
    def has_monitors(self) -> bool:
        return "grad_norm" in self.series or any(k.startswith("grad_norm/") for k in self.series)


def from_mapping(d: dict, source: str = "dict") -> Signals:
    """Signals from a dict: ``{name: [per epoch]}`` or the ``History.to_dict()`` shape."""
    if not isinstance(d, dict):
        raise TypeError(f"diagnose needs a run folder, a History or a dict of series; got {type(d).__name__}")
    hist = d.get("history") if isinstance(d.get("history"), dict) else None
    per_epoch = hist if hist is not None else {k: v for k, v in d.items()
                                               if k not in ("steps", "inputs", "config", "num_classes", "epoch",
                                                            "stop_reason", "test", "diverged")}
    series = {}
    for k, v in per_epoch.items():
        if not isinstance(v, (list, tuple, np.ndarray)):
            raise TypeError(f"series {k!r} must be a list of per-epoch numbers, got {type(v).__name__}")
        series[str(k)] = _arr(v)
    lengths = {len(v) for v in series.values()}
    if len(lengths) > 1:
        raise ValueError(f"per-epoch series have different lengths {sorted(lengths)}: give one value per epoch "
                         f"in each (NaN/None where missing)")
    epochs = lengths.pop() if lengths else 0
    steps = {}
    for k, v in (d.get("steps") or {}).items():
        steps[str(k)] = (np.asarray(v["step"], dtype=np.int64), _arr(v["value"]))
    cfg = d.get("config") or {}
    inputs = d.get("inputs") or {}
    n = d.get("num_classes") or inputs.get("classes") or _CLASSES.get(str(cfg.get("data", "")).lower())
    return Signals(epochs, series, steps, dict(inputs), dict(cfg), int(n) if n else None,
                   d.get("stop_reason"), source)


def _read_json(path, what):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise RunDirError(what) from None
    except (OSError, ValueError) as e:
        raise RunDirError(f"{path} cannot be read ({e}): the run folder is corrupt or half-written; "
                          "re-run the training (or --resume it)") from None


def from_run_dir(path) -> Signals:
    """Signals of a run folder written by ``deeprecipe train --out``."""
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise RunDirError(f"{path!r} is not a folder; give the --out folder of a 'deeprecipe train' run")
    metrics = os.path.join(path, "metrics.json")
    cfg_path = os.path.join(path, "config.json")
    if not os.path.exists(cfg_path):
        raise RunDirError(f"{path!r} holds no config.json: it is not a 'deeprecipe train --out' folder")
    cfg = _read_json(cfg_path, f"{cfg_path} is missing")
    summary = _read_json(metrics, f"{path!r} has no metrics.json: the run has not finished (or was interrupted); "
                                  f"finish it with 'deeprecipe train --config ... --out {path} --resume'")
    if not isinstance(summary, dict) or not isinstance(summary.get("history"), dict) \
            or not isinstance(summary["history"].get("history"), dict):
        raise RunDirError(f"{metrics} does not hold a training history (keys: {sorted(summary)[:8]}): "
                          "the file is corrupt; re-run the training")
    inputs = summary.get("inputs")
    if inputs is None and os.path.exists(os.path.join(path, "inputs.json")):
        inputs = _read_json(os.path.join(path, "inputs.json"), "")
    d = dict(summary["history"])
    d.update(config=cfg, inputs=inputs or {})
    try:
        sig = from_mapping(d, path)
    except (TypeError, ValueError, KeyError) as e:
        raise RunDirError(f"{metrics}: unreadable series ({e}); the file is corrupt; re-run the training") from None
    if sig.epochs == 0:
        raise RunDirError(f"{metrics} holds no finished epoch: nothing to diagnose")
    return sig


def load_signals(source) -> Signals:
    """Signals from a run folder (str/path), a History, a dict or Signals."""
    if isinstance(source, Signals):
        return source
    if isinstance(source, (str, os.PathLike)):
        return from_run_dir(source)
    if hasattr(source, "history") and hasattr(source, "steps") and hasattr(source, "to_dict"):
        return from_mapping(source.to_dict(), "History")
    return from_mapping(source)
