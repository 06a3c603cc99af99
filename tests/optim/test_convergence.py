"""Every optimizer of the table converges within its stated budget (see _configs.py) on
the ill-conditioned quadratic (f − f* ≤ 1e-8·(f0 − f*), 20-D, condition number 100) and on
Rosenbrock from the standard start (−1.2, 1) to within 1e-2 of the minimum (1, 1)."""
import numpy as np
import pytest

from deeprecipe import Parameter

from ._configs import QUAD_CONFIGS, ROSEN_CONFIGS
from ._problems import ROSENBROCK_START, Quadratic, rosenbrock_grad


@pytest.mark.parametrize("cfg", QUAD_CONFIGS, ids=lambda c: c.id)
def test_converges_on_ill_conditioned_quadratic(cfg):
    q = Quadratic()
    f0 = q.value(q.x0)
    p = Parameter(q.x0.copy())
    opt = cfg.make([p], **({} if cfg.quad_lr is None else {"lr": cfg.quad_lr}))
    for _ in range(cfg.quad_budget):
        p.grad = q.grad(p.data)
        opt.step()
        if q.value(p.data) <= cfg.quad_tol * f0:
            return
    pytest.fail(f"{cfg.id}: f/f0 = {q.value(p.data) / f0:.2e} after {cfg.quad_budget} steps "
                f"(needed {cfg.quad_tol:g})")


@pytest.mark.parametrize("cfg", ROSEN_CONFIGS, ids=lambda c: c.id)
def test_converges_on_rosenbrock(cfg):
    p = Parameter(ROSENBROCK_START.copy())
    opt = cfg.make([p], **cfg.rosen_kwargs)
    for _ in range(cfg.rosen_budget):
        p.grad = rosenbrock_grad(p.data)
        opt.step()
        if np.linalg.norm(p.data - 1.0) <= 1e-2:
            return
    pytest.fail(f"{cfg.id}: at {p.data} after {cfg.rosen_budget} steps")
