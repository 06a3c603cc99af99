"""Shared test fixtures: float64 helpers and the optional PyTorch oracle."""
import numpy as np
import pytest

try:  # PyTorch is a test oracle only
    import torch
    torch.set_num_threads(1)
except ImportError:  # pragma: no cover - exercised on machines without torch
    torch = None

requires_torch = pytest.mark.skipif(torch is None, reason="PyTorch (oracle) not installed")


@pytest.fixture
def rng():
    return np.random.default_rng(0)
