"""Lookahead (Zhang, Lucas, Hinton & Ba 2019, https://arxiv.org/abs/1907.08610).

Wraps any optimizer (the "fast" weights θ follow it); slow weights φ start at θ and
every k inner steps:

    θ ← φ + α(θ − φ),   φ ← θ

The inner optimizer's state (momentum, Adam moments) is kept across the syncs
(kozistr's ``pullback_momentum='none'``).  The sync is a few whole-buffer operations on the
inner optimizer's flat buffers, through their public interface (``Optimizer.segments()``).
Unlike kozistr's implementation, which skips parameters
whose ``.grad`` is ``None`` at the sync step, every parameter is synced (one that never
moved has θ = φ, so the sync leaves it unchanged).
"""
from __future__ import annotations

import numbers

import numpy as np

from ..backend import to_device
from . import _validate as V
from .optimizer import Optimizer


class Lookahead:
    """``Lookahead(inner_optimizer, k=5, alpha=0.5)``: behaves like an optimizer
    (``step``, ``zero_grad``, ``param_groups``, ``state_dict``); schedules drive the inner
    optimizer's lr through ``param_groups``."""

    def __init__(self, optimizer, k: int = 5, alpha: float = 0.5):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"Lookahead wraps a deeprecipe Optimizer, got {type(optimizer).__name__}")
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
            raise ValueError(f"Lookahead: k must be a positive integer, got {k!r}")
        V.unit_interval_closed("alpha", alpha)
        self.optimizer = optimizer
        self.k = int(k)
        self.alpha = float(alpha)
        self._counter = 0
        self._slow = [seg.data.copy() for _, seg in optimizer.segments()]

    @property
    def param_groups(self):
        return self.optimizer.param_groups

    @property
    def defaults(self):
        return self.optimizer.defaults

    @property
    def transforms(self):
        return self.optimizer.transforms

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none)

    def add_param_group(self, param_group: dict) -> None:
        n = len(self.optimizer.segments())
        self.optimizer.add_param_group(param_group)
        self._slow += [seg.data.copy() for _, seg in self.optimizer.segments()[n:]]

    def step(self, closure=None):
        loss = self.optimizer.step(closure)
        self._counter += 1
        if self._counter >= self.k:
            self._counter = 0
            self.sync()
        return loss

    def sync(self) -> None:
        """θ ← φ + α(θ − φ), φ ← θ for every parameter (called every k steps)."""
        for (_, seg), slow in zip(self.optimizer.segments(), self._slow):
            seg.bind()
            t = seg.xp.subtract(seg.data, slow)
            t *= self.alpha
            slow += t
            seg.data[...] = slow

    def slow_weights(self) -> dict:
        """Parameter index -> a copy of its slow weights φ (e.g. to evaluate them)."""
        out = {}
        for (_, seg), slow in zip(self.optimizer.segments(), self._slow):
            for j, key in enumerate(seg.keys):
                out[key] = to_device(slow[seg.offsets[j]:seg.offsets[j + 1]], "cpu").reshape(seg.shapes[j]).copy()
        return out

    def state_dict(self) -> dict:
        return {
            "optimizer": "Lookahead",
            "inner": self.optimizer.state_dict(),
            "k": self.k,
            "alpha": self.alpha,
            "counter": self._counter,
            "slow": {str(k): v for k, v in self.slow_weights().items()},
        }

    def load_state_dict(self, state_dict: dict) -> None:
        if not isinstance(state_dict, dict) or state_dict.get("optimizer") != "Lookahead":
            got = state_dict.get("optimizer") if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ValueError(f"this state dict was saved from {got}, not from Lookahead")
        slow = {str(k): v for k, v in state_dict["slow"].items()}
        segs = self.optimizer.segments()
        for _, seg in segs:
            for j, key in enumerate(seg.keys):
                if str(key) not in slow:
                    raise ValueError(f"Lookahead state has no slow weights for parameter {key}")
                if tuple(np.shape(slow[str(key)])) != tuple(seg.shapes[j]):
                    raise ValueError(f"slow weights of parameter {key} have shape {np.shape(slow[str(key)])}, "
                                     f"the parameter has shape {seg.shapes[j]}")
        self.optimizer.load_state_dict(state_dict["inner"])
        self.k = int(state_dict["k"])
        self.alpha = float(state_dict["alpha"])
        self._counter = int(state_dict["counter"])
        for (_, seg), buf in zip(segs, self._slow):
            for j, key in enumerate(seg.keys):
                buf[seg.offsets[j]:seg.offsets[j + 1]] = seg.xp.asarray(
                    np.asarray(slow[str(key)]).reshape(-1), dtype=seg.dtype)

    def __repr__(self) -> str:
        return f"Lookahead(k={self.k}, alpha={self.alpha}, optimizer={self.optimizer!r})"
