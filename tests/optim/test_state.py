"""Optimizer state: flat buffers, per-parameter step counts, state_dict round trips and
bit-identical resumption for every configuration of the table."""
import copy

import numpy as np
import pytest

import deeprecipe as dr
from deeprecipe import Parameter
from deeprecipe import optim

from ._configs import CONFIGS


def _params(dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    return [Parameter(rng.standard_normal(s).astype(dtype)) for s in [(3, 4), (4,), (2, 2, 2), (5,)]]


def _groups(ps):
    return [{"params": [ps[0], ps[2]]}, {"params": [ps[1], ps[3]]}]


def _feed(ps, step):
    """Deterministic gradients that depend on the parameters (so trajectories feed back);
    parameter 3 has no gradient on every third step (its step count lags)."""
    rng = np.random.default_rng(1000 + step)
    for i, p in enumerate(ps):
        if i == 3 and step % 3 == 0:
            p.grad = None
        else:
            p.grad = (0.5 * p.data + 0.1 * rng.standard_normal(p.shape)).astype(p.data.dtype)


def _trajectory(opt, ps, start, steps):
    out = []
    for k in range(start, start + steps):
        _feed(ps, k)
        opt.step()
        out.append([p.data.copy() for p in ps])
    return out


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.id)
def test_resume_from_state_dict_is_bit_identical(cfg, tmp_path):
    """Run 7 steps, checkpoint (model + optimizer through deeprecipe.save/load), run 7 more;
    a fresh model and optimizer restored from the checkpoint give the same bits."""
    ps = _params()
    opt = cfg.make(_groups(ps), lr=0.01)
    _trajectory(opt, ps, 0, 7)
    dr.save(tmp_path / "ckpt.npz", {"params": [p.data for p in ps], "optim": opt.state_dict()})
    expected = _trajectory(opt, ps, 7, 7)

    ckpt = dr.load(tmp_path / "ckpt.npz")
    ps2 = _params(seed=99)
    opt2 = cfg.make(_groups(ps2), lr=0.5)      # different lr: the state dict must restore it
    for p, saved in zip(ps2, ckpt["params"]):
        p.data[...] = saved
    opt2.load_state_dict(ckpt["optim"])
    got = _trajectory(opt2, ps2, 7, 7)
    for a, b in zip(expected, got):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


def test_state_dict_is_a_copy_and_round_trips_exactly():
    ps = _params(np.float64)
    opt = optim.NAdam(_groups(ps), lr=0.01, weight_decay=1e-3)
    _trajectory(opt, ps, 0, 5)
    sd = opt.state_dict()
    frozen = copy.deepcopy(sd)
    _trajectory(opt, ps, 5, 3)   # continuing must not change the saved dict
    for k, entry in frozen["state"].items():
        for name, v in entry.items():
            np.testing.assert_array_equal(sd["state"][k][name], v)
    assert sd["state"]["3"]["step"] == 3 and sd["state"]["0"]["step"] == 5   # per-parameter step counts
    assert set(sd["state"]["0"]) == {"step", "mu_product", "exp_avg", "exp_avg_sq"}
    assert sd["param_groups"][1]["params"] == [2, 3] and sd["param_groups"][0]["betas"] == [0.9, 0.999]
    opt.load_state_dict(frozen)
    again = opt.state_dict()
    for k, entry in frozen["state"].items():
        for name, v in entry.items():
            np.testing.assert_array_equal(again["state"][k][name], v)
    assert opt.param_groups[0]["betas"] == (0.9, 0.999)   # a list from JSON comes back as a tuple


def test_resume_with_transforms_restores_the_noise_generator():
    def make(ps):
        return optim.Adam(ps, lr=0.01, transforms=[
            optim.chain(optim.ClipGradNorm(1.0), optim.GradientNoise(eta=0.1, seed=5)),
            optim.L2Penalty(1e-2, mask=optim.exclude_1d)])
    ps = _params()
    opt = make(ps)
    _trajectory(opt, ps, 0, 4)
    sd = copy.deepcopy(opt.state_dict())
    saved = [p.data.copy() for p in ps]
    expected = _trajectory(opt, ps, 4, 4)
    ps2 = _params()
    opt2 = make(ps2)   # same seed: a restored generator must continue, not restart
    for p, s in zip(ps2, saved):
        p.data[...] = s
    opt2.load_state_dict(sd)
    got = _trajectory(opt2, ps2, 4, 4)
    for a, b in zip(expected, got):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


# ---------------------------------------------------------------------- flat buffers
def test_parameters_become_views_of_one_buffer_per_group_and_dtype():
    ps = _params()
    p64 = Parameter(np.ones(3))
    values = [p.data.copy() for p in ps]
    opt = optim.SGD([{"params": ps[:3] + [p64]}, {"params": [ps[3]]}], lr=0.1)
    np.testing.assert_array_equal(ps[1].data, values[1])
    segs = opt.segments()
    assert [(gi, seg.dtype) for gi, seg in segs] == [(0, np.float32), (0, np.float64), (1, np.float32)]
    flat = segs[0][1].data
    assert flat.flags.c_contiguous and flat.size == 12 + 4 + 8
    for p in ps[:3]:
        assert np.shares_memory(p.data, flat)
    assert p64.data.dtype == np.float64 and np.shares_memory(p64.data, segs[1][1].data)


def test_second_optimizer_shares_the_buffer_instead_of_copying():
    ps = _params()
    a = optim.SGD(ps, lr=0.1)
    b = optim.SGD(ps, lr=0.1)
    assert np.shares_memory(b.segments()[0][1].data, a.segments()[0][1].data)
    for p in ps:
        p.grad = np.ones_like(p.data)
    before = ps[0].data.copy()
    a.step()
    b.step()
    np.testing.assert_allclose(ps[0].data, before - 0.2, rtol=1e-6)


def test_rebound_parameter_data_is_reattached():
    p = Parameter(np.zeros(3))
    opt = optim.SGD([p], lr=1.0)
    p.data = np.array([1.0, 2.0, 3.0])            # rebinding instead of writing in place
    p.grad = np.ones(3)
    opt.step()
    np.testing.assert_array_equal(p.data, [0.0, 1.0, 2.0])
    assert np.shares_memory(p.data, opt.segments()[0][1].data)
    p.data = np.zeros(4)
    p.grad = np.ones(4)
    with pytest.raises(RuntimeError, match="in place"):
        opt.step()


def test_step_never_writes_into_grad_arrays():
    p = Parameter(np.ones(4))
    g = np.array([1.0, -1.0, 2.0, 0.5])
    p.grad = g
    opt = optim.Adam([p], lr=0.1, weight_decay=0.1, transforms=[optim.ClipGradValue(0.7), optim.L1Penalty(0.1)])
    opt.step()
    assert p.grad is g
    np.testing.assert_array_equal(g, [1.0, -1.0, 2.0, 0.5])


def test_state_stays_in_the_parameter_dtype():
    ps = _params(np.float32)
    opt = optim.Adam(ps, lr=0.01, amsgrad=True)
    _trajectory(opt, ps, 0, 3)
    for p in ps:
        assert p.data.dtype == np.float32
        for name, v in opt.param_state(p).items():
            if isinstance(v, np.ndarray):
                assert v.dtype == np.float32, name


# ---------------------------------------------------------------------- semantics
def test_grad_none_is_skipped_and_has_no_state():
    a, b = Parameter(np.ones(2)), Parameter(np.ones(3))
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = np.ones(2)
    opt.step()
    np.testing.assert_array_equal(b.data, np.ones(3))
    assert opt.param_state(b) == {} and opt.param_state(a)["step"] == 1
    assert list(opt.state_dict()["state"]) == ["0"]


def test_lr_is_mutable_per_group_and_groups_have_their_own_hyperparameters():
    w, bias = Parameter(np.ones(3)), Parameter(np.ones(3))
    opt = optim.SGD([{"params": [w], "weight_decay": 0.5}, {"params": [bias]}], lr=0.1)
    assert opt.param_groups[1]["weight_decay"] == 0.0
    w.grad, bias.grad = np.zeros(3), np.zeros(3)
    opt.step()
    np.testing.assert_allclose(w.data, 1 - 0.1 * 0.5)      # decayed
    np.testing.assert_array_equal(bias.data, np.ones(3))    # not decayed
    opt.param_groups[0]["lr"] = 1.0
    opt.step()
    np.testing.assert_allclose(w.data, 0.95 * 0.5)


def test_closure_is_called_with_grad_enabled_and_its_loss_returned():
    p = Parameter(np.array([3.0]))
    opt = optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with dr.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 9.0
    np.testing.assert_allclose(p.data, [3.0 - 0.25 * 6.0])


def test_zero_grad_and_add_param_group():
    a, b = Parameter(np.ones(2)), Parameter(np.ones(2))
    opt = optim.Adam([a], lr=0.1)
    a.grad = np.ones(2)
    opt.zero_grad()
    assert a.grad is None
    a.grad = np.ones(2)
    g = a.grad
    opt.zero_grad(set_to_none=False)
    assert a.grad is not g and not a.grad.any() and g.all()
    opt.add_param_group({"params": [b], "lr": 0.5})
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["betas"] == (0.9, 0.999)
    b.grad = np.ones(2)
    opt.step()
    np.testing.assert_allclose(b.data, 0.5)
    with pytest.raises(ValueError, match="another"):
        opt.add_param_group({"params": [a]})


def test_weight_decay_groups_and_factory():
    w, bias = Parameter(np.ones((2, 2))), Parameter(np.ones(2))
    groups = optim.weight_decay_groups([("fc.weight", w), ("fc.bias", bias)], 0.1)
    assert groups[0]["params"] == [w] and groups[0]["weight_decay"] == 0.1
    assert groups[1]["params"] == [bias] and groups[1]["weight_decay"] == 0.0
    opt = optim.create("AdamW", groups, lr=0.01)
    assert isinstance(opt, optim.AdamW)
    with pytest.raises(ValueError, match="unknown optimizer"):
        optim.create("adamax", groups)
    with pytest.raises(ValueError, match="momentum"):
        optim.create("adam", [w], momentum=0.9)


def test_denormal_guard_flushes_subnormal_state_to_zero():
    """A dead unit (zero gradient) whose Adam state decays below float32's smallest normal
    number: with the guard its state becomes exact zeros after the next flush; without
    it the subnormals stay (and slow every later step on many CPUs)."""
    tiny = np.finfo(np.float32).tiny

    def run(guard):
        p = Parameter(np.zeros(1000, dtype=np.float32))
        opt = optim.Adam([p], lr=1e-3, denormal_guard=guard)
        sd = opt.state_dict()
        sd["state"] = {"0": {"step": 100, "exp_avg": np.full(1000, 4 * tiny, np.float32),
                             "exp_avg_sq": np.full(1000, 1.01 * tiny, np.float32)}}
        opt.load_state_dict(sd)
        for _ in range(16):
            p.grad = np.zeros(1000, dtype=np.float32)
            opt.step()
        return opt.param_state(p)

    st = run(0)
    assert (np.abs(st["exp_avg"]) < tiny).all() and (st["exp_avg"] != 0).all()
    assert (st["exp_avg_sq"] != 0).all() and (st["exp_avg_sq"] < tiny).all()
    st = run(16)
    assert not st["exp_avg"].any() and not st["exp_avg_sq"].any()


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize("make, exc, match", [
    (lambda p: optim.Adam([p], lr=-1e-3), ValueError, "lr"),
    (lambda p: optim.SGD([p], lr=-0.1), ValueError, "lr"),
    (lambda p: optim.Adam([p], betas=(0.9, 1.0)), ValueError, "beta"),
    (lambda p: optim.Adam([p], betas=(-0.1, 0.999)), ValueError, "beta"),
    (lambda p: optim.NAdam([p], betas=(0.9,)), ValueError, "pair"),
    (lambda p: optim.Adam([{"params": [p], "lr": -1.0}]), ValueError, "param group 0.*lr"),
    (lambda p: optim.Adam([{"params": [p], "momentum": 0.9}]), ValueError, "unknown hyperparameter.*momentum"),
    (lambda p: optim.Adam([p], momentum=0.9), TypeError, "momentum"),
    (lambda p: optim.SGD([p], lr=0.1, nesterov=True), ValueError, "Nesterov"),
    (lambda p: optim.Adam([p], amsgrad="yes"), TypeError, "amsgrad"),
    (lambda p: optim.RMSprop([p], alpha=-0.5), ValueError, "alpha"),
    (lambda p: optim.Adagrad([p], eps=float("nan")), ValueError, "eps"),
    (lambda p: optim.Adam([{"params": [p]}, {"params": [p]}]), ValueError, "another parameter group"),
    (lambda p: optim.Adam([p, p]), ValueError, "twice"),
    (lambda p: optim.Adam([]), ValueError, "empty"),
    (lambda p: optim.Adam(p), TypeError, "single"),
    (lambda p: optim.Adam([p.data]), TypeError, "not a Parameter"),
    (lambda p: optim.Adam([Parameter(np.zeros(2)), {"params": [p]}]), TypeError, "mixes"),
    (lambda p: optim.Adam([dr.Tensor(np.arange(3))]), TypeError, "floating"),
    (lambda p: optim.Adam([p], transforms=["clip"]), TypeError, "GradientTransform"),
    (lambda p: optim.Adam([p], transforms=[optim.L2Penalty(0.1, groups=[3])]), ValueError, "groups"),
    (lambda p: optim.SGD([p], lr=0.1, denormal_guard=-1), ValueError, "denormal_guard"),
])
def test_bad_hyperparameters_and_params_raise_clear_errors(make, exc, match):
    with pytest.raises(exc, match=match):
        make(Parameter(np.zeros(3)))


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.id)
def test_every_optimizer_of_the_table_rejects_bad_hyperparameters(cfg):
    """Negative lr, betas outside [0, 1) and unknown hyperparameter names in a group: a
    ValueError naming the problem, from every optimizer (Lookahead: from its inner one)."""
    import inspect
    cls = getattr(optim, cfg.inner[0] if cfg.name == "Lookahead" else cfg.name)
    with pytest.raises(ValueError, match="invalid lr: -0.001"):
        cfg.make([Parameter(np.zeros(3))], lr=-1e-3)
    if "betas" in inspect.signature(cls).parameters:
        for betas in [(0.9, 1.0), (1.0, 0.999), (-0.1, 0.999), (0.9, 1.5)]:
            with pytest.raises(ValueError, match=r"beta\d.*\[0, 1\)"):
                cfg.make([Parameter(np.zeros(3))], betas=betas)
    with pytest.raises(ValueError, match="unknown hyperparameter.*'warmup'"):
        cfg.make([{"params": [Parameter(np.zeros(3))], "warmup": 10}])


def test_gradient_of_the_wrong_shape_is_a_clear_error():
    p = Parameter(np.zeros((2, 3)))
    opt = optim.SGD([p], lr=0.1)
    p.grad = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"shape \(2, 3\).*\.grad has shape \(3, 2\)"):
        opt.step()


def test_load_state_dict_rejects_other_optimizers_and_shapes():
    ps = _params()
    adam = optim.Adam(ps, lr=0.1)
    _trajectory(adam, ps, 0, 2)
    sd = adam.state_dict()
    with pytest.raises(ValueError, match="saved from a Adam optimizer.*SGD"):
        optim.SGD(_params(), lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="parameter groups"):
        optim.Adam(_groups(_params())).load_state_dict(sd)
    other = [Parameter(np.zeros((4, 3)))] + _params()[1:]
    with pytest.raises(ValueError, match=r"shape \(3, 4\).*\(4, 3\)"):
        optim.Adam(other).load_state_dict(sd)
    forged = copy.deepcopy(sd)
    forged["state"]["0"]["momentum_buffer"] = np.zeros((3, 4))
    with pytest.raises(ValueError, match="momentum_buffer"):
        optim.Adam(_params()).load_state_dict(forged)
    with pytest.raises(ValueError, match="transforms"):
        optim.Adam(_params(), transforms=[optim.ClipGradNorm(1.0)]).load_state_dict(sd)
    with pytest.raises(ValueError, match="Lookahead"):
        optim.Lookahead(optim.Adam(_params())).load_state_dict(sd)
    with pytest.raises(ValueError, match="state_dict"):
        adam.load_state_dict([1, 2])


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.id)
def test_cache_blocked_update_equals_whole_buffer_update(cfg):
    """Large updates run on cache-sized blocks; the result must be bit-identical to one
    whole-buffer pass (blocks of one run share its scalar state, e.g. NAdam's Π_t)."""
    rng = np.random.default_rng(0)
    init = [rng.standard_normal(s).astype(np.float32) for s in [(40, 70), (3000,), (7,)]]
    results = []
    for block_bytes in (None, 4096):
        ps = [Parameter(x.copy()) for x in init]
        opt = cfg.make(ps, lr=0.01)
        (opt.optimizer if isinstance(opt, optim.Lookahead) else opt).block_bytes = block_bytes
        for k in range(8):
            for p in ps:
                p.grad = (0.5 * p.data + np.float32(0.01 * k)).astype(np.float32)
            opt.step()
        results.append([p.data.copy() for p in ps])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.id)
def test_no_optimizer_writes_into_grad_arrays(cfg):
    """``.grad`` arrays may be shared with other code: whether the update copies them or
    reads them in place (rules that only read their gradient), they must stay unchanged."""
    ps = _params()
    opt = cfg.make(_groups(ps), lr=0.01)
    for k in range(3):
        _feed(ps, k + 1)
        saved = [None if p.grad is None else p.grad.copy() for p in ps]
        opt.step()
        for p, g in zip(ps, saved):
            if g is not None:
                np.testing.assert_array_equal(p.grad, g)
