"""Checks of optimizer hyperparameters, shared by every optimizer: each raises a
``ValueError`` (or ``TypeError``) that names the hyperparameter and the allowed range."""
from __future__ import annotations

import math
import numbers


def _num(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return v


def non_negative(name: str, value) -> None:
    if _num(name, value) < 0:
        raise ValueError(f"invalid {name}: {value!r}; it must be >= 0")


def positive(name: str, value) -> None:
    if _num(name, value) <= 0:
        raise ValueError(f"invalid {name}: {value!r}; it must be > 0")


def finite(name: str, value) -> None:
    _num(name, value)


def unit_interval_closed(name: str, value) -> None:
    v = _num(name, value)
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"invalid {name}: {value!r}; it must be in [0, 1]")


def betas(name: str, value) -> None:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"{name} must be a pair (beta1, beta2), got {value!r}")
    for i, b in enumerate(value):
        v = _num(f"{name}[{i}]", b)
        if not 0.0 <= v < 1.0:
            raise ValueError(f"invalid {name}[{i}] (beta{i + 1}): {b!r}; each beta must be in [0, 1)")


def boolean(name: str, value) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")


def choice(options):
    def check(name: str, value) -> None:
        if value not in options:
            raise ValueError(f"{name} must be one of {sorted(options)}, got {value!r}")
    return check


# The check used for a hyperparameter name unless an optimizer overrides it.
COMMON = {
    "lr": non_negative,
    "eps": non_negative,
    "weight_decay": non_negative,
    "momentum": non_negative,
    "dampening": finite,
    "betas": betas,
    "alpha": non_negative,
    "lr_decay": non_negative,
    "initial_accumulator_value": non_negative,
    "momentum_decay": non_negative,
    "final_lr": non_negative,
    "gamma": non_negative,
    "nesterov": boolean,
    "amsgrad": boolean,
    "amsbound": boolean,
    "centered": boolean,
    "maximize": boolean,
    "decoupled_weight_decay": boolean,
    "capturable": boolean,
}
