"""The monitors on CuPy arrays give the CPU numbers (skipped without CuPy and a GPU)."""
import numpy as np
import pytest

import deeprecipe as dr
from deeprecipe import backend
from deeprecipe import diagnostics as D
from deeprecipe import nn
from deeprecipe import functions as F

pytestmark = pytest.mark.skipif(backend.cupy_module() is None, reason="needs CuPy and a GPU")


def _pair():
    def make():
        with dr.default_dtype(np.float64):
            return nn.Sequential(nn.Linear(5, 7, rng=0), nn.ReLU(), nn.Linear(7, 4, rng=1), nn.Tanh(),
                                 nn.Linear(4, 3, rng=2))
    return make(), make().to("cuda")


def test_inspect_on_gpu_matches_cpu(rng):
    cpu, gpu = _pair()
    x, y = rng.normal(size=(9, 5)), rng.integers(0, 3, size=9)
    a = D.inspect(cpu, x, y, "cross_entropy", bins=7)
    b = D.inspect(gpu, backend.to_device(x, "cuda"), backend.to_device(y, "cuda"), "cross_entropy", bins=7)
    assert a["loss"] == pytest.approx(b["loss"], rel=1e-10)
    sa, sb = D.flatten(a), D.flatten(b)
    assert list(sa) == list(sb)
    for k in sa:
        assert sa[k] == pytest.approx(sb[k], rel=1e-9, abs=1e-12), k
    for k in a["activations"]:
        assert isinstance(b["activations"][k]["hist"], np.ndarray)
        np.testing.assert_array_equal(a["activations"][k]["hist"], b["activations"][k]["hist"])


def test_updates_and_hessian_on_gpu(rng):
    cpu, gpu = _pair()
    x, y = rng.normal(size=(9, 5)), rng.normal(size=(9, 3))
    xg, yg = backend.to_device(x, "cuda"), backend.to_device(y, "cuda")
    ratios = []
    for m, xx, yy in ((cpu, x, y), (gpu, xg, yg)):
        F.mse_loss(m(dr.Tensor(xx)), yy).backward()
        before = D.snapshot(m)
        for p in m.parameters():
            p.data -= 0.1 * p.grad
        ratios.append(D.update_ratios(m, before)["layer"])
    assert ratios[0] == pytest.approx(ratios[1], rel=1e-9)
    lam = [D.top_hessian_eigenvalue(lambda m=m, xx=xx, yy=yy: F.mse_loss(m(dr.Tensor(xx)), yy), m,
                                    iters=200, tol=1e-10, rng=0).eigenvalue
           for m, xx, yy in ((cpu, x, y), (gpu, xg, yg))]
    assert lam[0] == pytest.approx(lam[1], rel=1e-6)
