"""Global switches: whether operations record a graph for backpropagation, and whether ops may
read device values on the host to check their inputs."""
from __future__ import annotations

import contextlib


class Config:
    enable_backprop = True
    host_checks = True   # ops may read values on the host to validate inputs (e.g. label ranges)


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


def no_host_checks():
    """Context manager under which ops skip input checks that read device values on the host
    (label ranges of the cross-entropy losses): a CUDA graph capture may not synchronize with
    the host.  The caller checks its inputs itself (``fit`` checks every label before training)."""
    return using_config("host_checks", False)
