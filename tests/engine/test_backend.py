"""Tests for deeprecipe.backend (array module, devices, dtype policy, seeding) and for
the light top-level import."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import deeprecipe as dr
from deeprecipe import F, Tensor, backend


# ---------------------------------------------------------------------------- array module
def test_get_array_module_is_numpy_for_arrays_tensors_and_scalars():
    assert backend.get_array_module(np.ones(2), Tensor(np.ones(2)), 3.0) is np
    assert backend.get_array_module() is np


class FakeGpuArray:
    """Stands in for a CuPy array: is_cupy_array is patched to recognise it."""

    shape = (2,)


def test_mixing_devices_raises_value_error(monkeypatch):
    monkeypatch.setattr(backend, "is_cupy_array", lambda a: isinstance(a, FakeGpuArray))
    with pytest.raises(ValueError, match="different devices"):
        backend.get_array_module(np.ones(2), FakeGpuArray())
    with pytest.raises(ValueError, match="different devices"):
        backend.get_array_module(FakeGpuArray(), Tensor(np.ones(2)))


class FakeCupyArray:
    """Behaves towards NumPy as a CuPy array does: no implicit conversion, and NumPy's
    operators give up on it (so mixing it with an ndarray fails inside the op)."""

    __array_ufunc__ = None

    def __init__(self, shape):
        self.shape, self.ndim, self.size = tuple(shape), len(shape), int(np.prod(shape))
        self.dtype = np.dtype(np.float64)

    @property
    def T(self):
        return FakeCupyArray(self.shape[::-1])

    def __array__(self, *args, **kwargs):
        raise TypeError("Implicit conversion to a NumPy array is not allowed")


@pytest.mark.parametrize("op, name, cpu_shape, gpu_shape", [
    (lambda a, b: a + b, "Add", (2, 3), (2, 3)),
    (lambda a, b: F.mul(b, a), "Mul", (2, 3), (2, 3)),
    (lambda a, b: a @ b, "MatMul", (2, 3), (3, 2)),
    (lambda a, b: F.linear(a, b), "Linear", (4, 3), (2, 3)),
])
def test_ops_mixing_numpy_and_cupy_arrays_raise_a_clear_error(monkeypatch, op, name, cpu_shape, gpu_shape):
    monkeypatch.setattr(backend, "is_cupy_array", lambda a: isinstance(a, FakeCupyArray))
    cpu = Tensor(np.ones(cpu_shape), requires_grad=True)
    gpu = Tensor._from_op(FakeCupyArray(gpu_shape), None)
    with pytest.raises(ValueError, match=rf"{name}: arrays live on different devices.*\.to\('cuda'\)"):
        op(cpu, gpu)


def test_to_device_cpu_and_errors():
    a = np.ones(3)
    assert backend.to_device(a, "cpu") is a
    with pytest.raises(ValueError, match="unknown device"):
        backend.to_device(a, "tpu")
    assert Tensor(a).device == "cpu"


@pytest.mark.skipif(backend.cupy_module() is not None, reason="a GPU is available here")
def test_cuda_without_cupy_raises_runtime_error_with_advice():
    with pytest.raises(RuntimeError, match="CuPy"):
        backend.to_device(np.ones(3), "cuda")


# ---------------------------------------------------------------------------- dtype policy
def test_default_dtype_context_and_setter():
    assert dr.get_default_dtype() == np.float32
    assert Tensor([1.0]).dtype == np.float32
    with dr.default_dtype(np.float64):
        assert Tensor([1.0]).dtype == np.float64
        assert dr.Parameter([1]).dtype == np.float64
    assert dr.get_default_dtype() == np.float32
    with pytest.raises(ValueError, match="floating"):
        dr.set_default_dtype(np.int32)


def test_default_dtype_is_restored_after_an_exception():
    with pytest.raises(KeyError):
        with dr.default_dtype(np.float64):
            raise KeyError
    assert dr.get_default_dtype() == np.float32


# ---------------------------------------------------------------------------- randomness
@pytest.fixture(autouse=True)
def _keep_global_rng():
    """These tests reseed the global generator: give other tests back the state they had."""
    state = backend.get_rng_state()
    yield
    backend.set_rng_state(state)


def test_seed_makes_the_global_generator_reproducible():
    dr.seed(123)
    a = dr.get_rng().standard_normal(5)
    dr.seed(123)
    b = dr.get_rng().standard_normal(5)
    dr.seed(124)
    c = dr.get_rng().standard_normal(5)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_get_rng_resolves_none_int_and_generator():
    g = np.random.default_rng(0)
    assert dr.get_rng(g) is g
    assert dr.get_rng(None) is dr.get_rng()
    np.testing.assert_array_equal(dr.get_rng(7).random(3), np.random.default_rng(7).random(3))
    with pytest.raises(TypeError, match="rng"):
        dr.get_rng("7")
    with pytest.raises(ValueError, match="non-negative"):
        dr.seed(-1)


def test_rng_state_round_trips_through_json():
    dr.seed(5)
    state = json.loads(json.dumps(backend.get_rng_state()))
    a = dr.get_rng().random(4)
    backend.set_rng_state(state)
    np.testing.assert_array_equal(dr.get_rng().random(4), a)


# ---------------------------------------------------------------------------- light import
IMPORT_PROBE = r"""
import sys
import numpy, numpy.random  # numpy's own helpers (cython runtime) are not deeprecipe's doing
before = set(sys.modules)
import deeprecipe
new = sorted(set(sys.modules) - before)
tops = {m.split('.')[0] for m in new}
third_party = sorted(t for t in tops if t not in sys.stdlib_module_names and t not in ('deeprecipe', 'numpy'))
optional = sorted(m for m in ('torch', 'matplotlib', 'scipy', 'cupy', 'tqdm', 'pandas', 'sklearn') if m in sys.modules)
eager = sorted(m for m in new if m.startswith('deeprecipe.') and m.split('.')[1] in
               ('nn', 'optim', 'data', 'train', 'diagnostics', 'doctor', 'lab', 'classic', 'serialization'))
print(third_party, optional, eager, 'numpy' in sys.modules)
"""


def test_import_deeprecipe_needs_numpy_only():
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-c", IMPORT_PROBE], capture_output=True, text=True, check=True,
                         env=env, cwd=root)
    assert out.stdout.strip() == "[] [] [] True", out.stdout + out.stderr


def test_sub_packages_load_lazily_on_attribute_access():
    with pytest.raises(AttributeError, match="no attribute"):
        dr.not_a_module  # noqa: B018
