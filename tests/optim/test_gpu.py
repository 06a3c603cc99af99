"""Optimizers on the GPU (CuPy): every configuration of the table, with transforms, gives
the CPU's trajectory, and its state_dict loads on either device.  Skipped where CuPy or a
GPU is missing."""
import numpy as np
import pytest

import deeprecipe as dr
from deeprecipe import Parameter
from deeprecipe import optim

from ._configs import CONFIGS

if dr.backend.cupy_module() is None:
    pytest.skip("CuPy with a visible GPU is needed", allow_module_level=True)
cp = dr.backend.cupy_module()


def _run(cfg, xp, steps=25, transforms=False):
    rng = np.random.default_rng(0)
    init = [rng.standard_normal(s) for s in [(30, 20), (20,), (7,)]]
    ps = [Parameter(xp.asarray(x)) for x in init]
    kw = {}
    if transforms:
        kw["transforms"] = [optim.ClipGradNorm(5.0), optim.L2Penalty(1e-2, mask=optim.exclude_1d),
                            optim.GradientNoise(eta=0.01, seed=3, mask=optim.exclude_1d),
                            optim.ClipGradValue(1.0, mask=[ps[2]])]
    groups = [{"params": ps[:2]}, {"params": ps[2:]}]
    opt = optim.Adam(groups, lr=0.01, **kw) if transforms else cfg.make(groups, lr=0.01)
    for k in range(steps):
        for p in ps:
            p.grad = 0.5 * p.data + 0.01 * k
        opt.step()
    return [dr.backend.to_device(p.data, "cpu") for p in ps], opt


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.id)
def test_gpu_trajectory_equals_cpu(cfg):
    cpu, _ = _run(cfg, np)
    gpu, _ = _run(cfg, cp)
    for a, b in zip(cpu, gpu):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)


def test_gpu_transforms_and_state_dict_round_trip():
    a, opt_cpu = _run(None, np, transforms=True)
    b, opt_gpu = _run(None, cp, transforms=True)
    for x, y in zip(a, b):
        np.testing.assert_allclose(y, x, rtol=1e-10, atol=1e-12)
    sd = opt_gpu.state_dict()
    assert all(isinstance(v, np.ndarray) for e in sd["state"].values() for v in e.values()
               if not isinstance(v, (int, float)))
    opt_cpu.load_state_dict(sd)   # a GPU checkpoint loads on the CPU
    params = [q for g in opt_cpu.param_groups for q in g["params"]]
    for i, p in enumerate(params):
        np.testing.assert_array_equal(opt_cpu.param_state(p)["exp_avg"], sd["state"][str(i)]["exp_avg"])


CAPTURABLE = [c for c in CONFIGS if c.name in ("Adam", "AdamW", "SGD", "SGDW")]


@pytest.mark.parametrize("cfg", CAPTURABLE, ids=lambda c: c.id)
def test_gpu_capturable_trajectory_equals_cpu(cfg):
    """capturable=True on the GPU (step counts, bias corrections and lr in CuPy arrays)
    follows the CPU's normal-mode trajectory, under an lr changed every step."""
    def run(xp, capturable):
        rng = np.random.default_rng(0)
        ps = [Parameter(xp.asarray(rng.standard_normal(s))) for s in [(30, 20), (20,), (7,)]]
        opt = cfg.make([{"params": ps[:2]}, {"params": ps[2:]}], lr=0.01, capturable=capturable)
        for k in range(25):
            for p in ps:
                p.grad = 0.5 * p.data + 0.01 * k
            opt.step()
            for g in opt.param_groups:
                g["lr"] *= 0.95
        return [dr.backend.to_device(p.data, "cpu") for p in ps], opt

    cpu, _ = run(np, False)
    gpu, opt = run(cp, True)
    for a, b in zip(cpu, gpu):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)
    (_, seg), *_ = opt.segments()
    assert dr.backend.is_cupy_array(seg.dscal["step"]) and dr.backend.is_cupy_array(seg.lr)
    assert opt.state_dict()["state"]["0"]["step"] == 25
