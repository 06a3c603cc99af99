"""Global switches: whether operations record a graph for backpropagation."""
from __future__ import annotations

import contextlib


class Config:
    enable_backprop = True


def is_grad_enabled() -> bool:
    return Config.enable_backprop


@contextlib.contextmanager
def using_config(name: str, value):
    old = getattr(Config, name)
    setattr(Config, name, value)
    try:
        yield
    finally:
        setattr(Config, name, old)


def no_grad():
    """Context manager under which no graph is recorded (evaluation, optimizer updates)."""
    return using_config("enable_backprop", False)


def enable_grad():
    return using_config("enable_backprop", True)
