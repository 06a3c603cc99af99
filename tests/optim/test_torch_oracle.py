"""Every optimizer torch has, in every mode of the table, against torch.optim step for step:
100 steps on an ill-conditioned quadratic and on a small MLP's real gradients, in float64
(rtol 1e-9) and float32 (rtol = atol = 1e-5)."""
import contextlib

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from deeprecipe import Parameter  # noqa: E402
from deeprecipe import optim  # noqa: E402

from ._configs import TORCH_CONFIGS  # noqa: E402
from ._problems import Quadratic, mlp_data, mlp_grads, torch_mlp_grads  # noqa: E402
from tests.conftest import warm_up_torch_optim  # noqa: E402

torch.set_num_threads(1)
warm_up_torch_optim()
STEPS = 100
TOL = {np.float64: dict(rtol=1e-9, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-5)}
TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}


@contextlib.contextmanager
def torch_default_dtype(dtype):
    # torch keeps scalar state (step, NAdam's mu_product) in its default dtype; match the
    # parameters' dtype as deeprecipe does.
    old = torch.get_default_dtype()
    torch.set_default_dtype(TORCH_DTYPE[dtype])
    try:
        yield
    finally:
        torch.set_default_dtype(old)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("cfg", TORCH_CONFIGS, ids=lambda c: c.id)
def test_quadratic_trajectory_matches_torch(cfg, dtype):
    q = Quadratic()
    x0 = q.x0.astype(dtype)
    with torch_default_dtype(dtype):
        p = Parameter(x0.copy())
        opt = cfg.make([p])
        tp = torch.tensor(x0.copy(), requires_grad=True)
        topt = cfg.make_torch(torch, [tp])
        ours, theirs = [], []
        for _ in range(STEPS):
            p.grad = q.grad(p.data)
            opt.step()
            tp.grad = torch.from_numpy(q.grad(tp.detach().numpy()))
            topt.step()
            ours.append(p.data.copy())
            theirs.append(tp.detach().numpy().copy())
    assert p.data.dtype == dtype
    ours, theirs = np.array(ours), np.array(theirs)
    assert np.abs(ours[-1] - x0).max() > 1e-3, "the trajectory did not move: the test would be vacuous"
    np.testing.assert_allclose(ours, theirs, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("cfg", TORCH_CONFIGS, ids=lambda c: c.id)
def test_mlp_trajectory_matches_torch_with_param_groups(cfg, dtype):
    """Real gradients of a 5-8-3 MLP (backprop at torch's parameters, fed to both; the
    backprop is checked against torch autograd below), two parameter groups: weights with the
    configuration, biases with half the lr and no weight decay."""
    x, y, init = mlp_data()
    with torch_default_dtype(dtype):
        tparams = {k: torch.tensor(v.astype(dtype), requires_grad=True) for k, v in init.items()}
        ours = {k: Parameter(v.astype(dtype)) for k, v in init.items()}
        bias_hp = {"lr": cfg.kwargs["lr"] * 0.5}
        if "weight_decay" in cfg.kwargs:
            bias_hp["weight_decay"] = 0.0

        def groups(ps):
            return [{"params": [ps["W1"], ps["W2"]]}, {"params": [ps["b1"], ps["b2"]], **bias_hp}]

        opt = cfg.make(groups(ours))
        topt = cfg.make_torch(torch, groups(tparams))
        traj, ttraj = [], []
        for _ in range(STEPS):
            grads = mlp_grads({k: v.detach().numpy() for k, v in tparams.items()}, x, y)
            for k, g in grads.items():
                ours[k].grad = g
                tparams[k].grad = torch.from_numpy(g.copy())
            opt.step()
            topt.step()
            with torch.no_grad():
                traj.append(np.concatenate([ours[k].data.ravel() for k in init]))
                ttraj.append(torch.cat([tparams[k].reshape(-1) for k in init]).numpy())
    np.testing.assert_allclose(np.array(traj), np.array(ttraj), **TOL[dtype])
    moved = max(np.abs(ours[k].data - init[k]).max() for k in ours)
    assert moved > 1e-3


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_mlp_gradients_are_torch_autograds(dtype):
    x, y, init = mlp_data()
    with torch_default_dtype(dtype):
        tparams = {k: torch.tensor(v.astype(dtype), requires_grad=True) for k, v in init.items()}
        expected = torch_mlp_grads(torch, tparams, x, y)
    got = mlp_grads({k: v.astype(dtype) for k, v in init.items()}, x, y)
    for k in init:
        assert got[k].dtype == dtype
        np.testing.assert_allclose(got[k], expected[k], **TOL[dtype])


def test_nadam_float32_mu_product_rounds_like_torch():
    """Π_t is kept in float32 for float32 parameters, as torch does: an NAdam run in float32
    then agrees with torch to float32 rounding, far tighter than the 1e-5 tolerance."""
    q = Quadratic(dim=5)
    x0 = q.x0.astype(np.float32)
    p = Parameter(x0.copy())
    opt = optim.NAdam([p], lr=0.05)
    tp = torch.tensor(x0.copy(), requires_grad=True)
    topt = torch.optim.NAdam([tp], lr=0.05)
    for _ in range(30):
        p.grad = q.grad(p.data)
        tp.grad = torch.from_numpy(q.grad(tp.detach().numpy()))
        opt.step()
        topt.step()
    assert opt.param_state(p)["mu_product"] == pytest.approx(topt.state[tp]["mu_product"].item(), rel=0, abs=0)
    np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=2e-6, atol=2e-6)


def test_torch_skips_params_without_grad_and_so_do_we():
    """A parameter whose .grad is None is skipped and its step count does not advance
    (its Adam bias correction later starts from t = 1), as in torch."""
    a0, b0 = np.array([1.0, -2.0]), np.array([0.5, 0.25, 3.0])
    a, b = Parameter(a0.copy()), Parameter(b0.copy())
    ta, tb = torch.tensor(a0.copy(), requires_grad=True), torch.tensor(b0.copy(), requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    topt = torch.optim.Adam([ta, tb], lr=0.1)
    rng = np.random.default_rng(1)
    for k in range(12):
        ga, gb = rng.standard_normal(2), rng.standard_normal(3)
        a.grad, ta.grad = ga, torch.from_numpy(ga.copy())
        if k % 3 == 0:   # b has no gradient on these steps
            b.grad, tb.grad = None, None
        else:
            b.grad, tb.grad = gb, torch.from_numpy(gb.copy())
        opt.step()
        topt.step()
        np.testing.assert_allclose(a.data, ta.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(b.data, tb.detach().numpy(), rtol=1e-12)
    assert opt.param_state(a)["step"] == 12
    assert opt.param_state(b)["step"] == 8 == int(topt.state[tb]["step"].item())


def test_clip_grad_norm_matches_torch():
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal((4, 3)), rng.standard_normal(5)]
    ps = [Parameter(np.zeros_like(g)) for g in grads]
    tps = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, tp, g in zip(ps, tps, grads):
        p.grad = g.copy()
        tp.grad = torch.from_numpy(g.copy())
    clip = optim.ClipGradNorm(1.5)
    opt = optim.SGD(ps, lr=1.0, transforms=[clip])
    opt.step()
    total = torch.nn.utils.clip_grad_norm_(tps, 1.5)
    assert clip.last_norm == pytest.approx(total.item(), rel=1e-12)
    for p, tp in zip(ps, tps):
        np.testing.assert_allclose(p.data, -tp.grad.numpy(), rtol=1e-12)
    # the free function on .grad gives the same numbers
    for p, g in zip(ps, grads):
        p.grad = g.copy()
    assert optim.clip_grad_norm_(ps, 1.5) == pytest.approx(total.item(), rel=1e-12)
    for p, tp in zip(ps, tps):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-12)


# torch's implementation switches, not hyperparameters: deeprecipe has one implementation
_TORCH_IMPLEMENTATION_FLAGS = {"foreach", "fused", "capturable", "differentiable"}


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "NAdam", "RAdam"])
def test_constructor_signatures_match_torch(name):
    """A torch user's call works unchanged: the same hyperparameter names, in the same
    positional order, with the same defaults; torch's keyword-only hyperparameters
    (maximize, decoupled_weight_decay) are accepted with the same defaults."""
    import inspect

    def params(cls):
        return [p for k, p in inspect.signature(cls.__init__).parameters.items()
                if k != "self" and k not in _TORCH_IMPLEMENTATION_FLAGS]

    ours = {p.name: p for p in params(getattr(optim, name))}
    theirs = params(getattr(torch.optim, name))
    positional = [p.name for p in theirs if p.kind == p.POSITIONAL_OR_KEYWORD and p.name != "maximize"]
    ours_positional = [k for k, p in ours.items() if p.kind == p.POSITIONAL_OR_KEYWORD]
    assert ours_positional == positional
    for p in theirs:
        assert p.name in ours, f"{name} has no argument {p.name!r}"
        if p.default is not p.empty:
            assert ours[p.name].default == p.default, p.name
