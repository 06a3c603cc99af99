"""Shared test fixtures: float64 helpers and the optional PyTorch oracle."""
import numpy as np
import pytest

try:  # PyTorch is a test oracle only
    import torch
    torch.set_num_threads(1)
except ImportError:  # pragma: no cover - exercised on machines without torch
    torch = None

requires_torch = pytest.mark.skipif(torch is None, reason="PyTorch (oracle) not installed")


def warm_up_torch_optim():
    """Build one torch optimizer.  The first one in a process imports ``torch._dynamo``
    (~2.5 s); test modules that compare with torch.optim call this at import, so that
    one-time cost lands in collection rather than in whichever test happens to run first."""
    if torch is not None:
        torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
