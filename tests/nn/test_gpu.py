"""Modules on the GPU (CuPy): moving, initializing, loading and checkpointing give the same
numbers as on the CPU.  Skipped where CuPy or a GPU is missing."""
import numpy as np
import pytest

import deeprecipe as dr
from deeprecipe import F, nn, serialization

if dr.backend.cupy_module() is None:
    pytest.skip("CuPy with a visible GPU is needed", allow_module_level=True)
cp = dr.backend.cupy_module()


def _model(rng=0):
    return nn.MLP([6, 8, 8, 3], norm="batch", init="he", residual=True, rng=rng, dtype=np.float64)


def test_to_cuda_runs_like_the_cpu_model(tmp_path):
    cpu, gpu = _model(), _model().to("cuda")
    assert all(dr.backend.is_cupy_array(p.data) for p in gpu.parameters())
    assert all(dr.backend.is_cupy_array(b) for b in gpu.buffers())
    x = np.random.default_rng(0).standard_normal((5, 6))
    y = np.random.default_rng(1).integers(0, 3, 5)
    for model, xx, yy in ((cpu, x, y), (gpu, cp.asarray(x), cp.asarray(y))):
        F.cross_entropy(model(xx), yy).backward()
    for (name, p), q in zip(cpu.named_parameters(), gpu.parameters()):
        np.testing.assert_allclose(cp.asnumpy(q.grad), p.grad, rtol=1e-10, atol=1e-12, err_msg=name)
    for k, v in cpu.state_dict().items():
        np.testing.assert_allclose(cp.asnumpy(gpu.state_dict()[k]), v, rtol=1e-10, atol=1e-12, err_msg=k)
    text = gpu.summary((6,))
    assert "Total params" in text
    # a GPU checkpoint loads into a CPU model and back, exactly
    path = tmp_path / "gpu.npz"
    serialization.save_checkpoint(path, model=gpu)
    fresh = _model(rng=5)
    serialization.load_checkpoint(path, model=fresh)
    for k, v in gpu.state_dict().items():
        assert np.array_equal(fresh.state_dict()[k], cp.asnumpy(v)), k
    other = _model(rng=6).to("cuda")
    other.load_state_dict(fresh.state_dict())  # NumPy values into CuPy parameters, in place
    for k, v in gpu.state_dict().items():
        assert bool(cp.all(other.state_dict()[k] == v)), k
    back = _model(rng=7)
    back.load_state_dict(gpu.state_dict(copy=False))  # CuPy values into NumPy parameters
    for k, v in gpu.state_dict().items():
        assert np.array_equal(back.state_dict()[k], cp.asnumpy(v)), k
    assert dr.backend.is_cupy_array(dr.load(path, device="cuda")["model"]["0.fn.0.weight"])
    gpu.to("cpu")
    assert all(isinstance(p.data, np.ndarray) for p in gpu.parameters())


def test_initializers_give_the_same_values_on_the_gpu():
    a = np.empty((30, 20), dtype=np.float32)
    b = cp.empty((30, 20), dtype=cp.float32)
    for fn in (nn.init.he_normal, nn.init.glorot_uniform, nn.init.orthogonal):
        fn(a, rng=3)
        fn(b, rng=3)
        assert np.array_equal(a, cp.asnumpy(b))
