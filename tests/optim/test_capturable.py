"""Capturable optimizers (``capturable=True``, torch's option): step counts, bias corrections
and lr in arrays of the parameters' module, updated by array ops only.  On the CPU NumPy
arrays play the device arrays: the trajectories must equal torch.optim's (float64, tight)
and the normal path's (float32 bit for bit, float64 to a few ulps), resume exactly across
the two modes, and follow an lr schedule; the graph-capture contract (the step reads the
device lr, written by ``sync_lr``) is checked without a GPU."""
import numpy as np
import pytest

import deeprecipe as dr
from deeprecipe import Parameter, optim

from ._configs import CONFIGS
from ._problems import Quadratic

CAPTURABLE = [c for c in CONFIGS if c.name in ("Adam", "AdamW", "SGD", "SGDW")]
assert len(CAPTURABLE) >= 12, "the table lost its Adam/SGD rows: these tests would check little"


def _params(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [Parameter(rng.standard_normal(s).astype(dtype)) for s in [(6, 5), (5,), (2, 3, 2), (4,)]]


def _groups(ps):
    return [{"params": [ps[0], ps[2]]}, {"params": [ps[1], ps[3]], "lr": 0.02}]


def _feed(ps, k, skip=True):
    """Gradients that depend on the parameters; parameter 3 gets none on every third step
    (its step count lags, so runs split and counts differ per parameter)."""
    rng = np.random.default_rng(1000 + k)
    for i, p in enumerate(ps):
        if skip and i == 3 and k % 3 == 0:
            p.grad = None
        else:
            p.grad = (0.5 * p.data + 0.1 * rng.standard_normal(p.shape)).astype(p.data.dtype)


def _run(opt, ps, start, steps, schedule=False):
    out = []
    for k in range(start, start + steps):
        _feed(ps, k)
        opt.step()
        if schedule:
            for g in opt.param_groups:
                g["lr"] *= 0.9
        out.append(np.concatenate([p.data.ravel() for p in ps]))
    return np.array(out)


@pytest.mark.parametrize("cfg", CAPTURABLE, ids=lambda c: c.id)
def test_capturable_matches_the_normal_path(cfg):
    """float32: the same bits; float64: within a few ulps (the device computes β^t with its
    own pow, the host with the C library's); with groups, skipped parameters and an lr
    changed every step."""
    for dtype in (np.float32, np.float64):
        runs = []
        for cap in (False, True):
            ps = _params(dtype)
            opt = cfg.make(_groups(ps), lr=0.01, capturable=cap)
            runs.append(_run(opt, ps, 0, 40, schedule=True))
        assert np.abs(runs[0][-1] - runs[0][0]).max() > 1e-2, "the trajectory did not move"
        if dtype == np.float32:
            np.testing.assert_array_equal(runs[1], runs[0])
        else:
            np.testing.assert_allclose(runs[1], runs[0], rtol=4e-15, atol=4e-15)


@pytest.mark.parametrize("cfg", [c for c in CAPTURABLE if c.torch], ids=lambda c: c.id)
def test_capturable_matches_torch(cfg):
    """100 steps on the ill-conditioned quadratic against torch.optim (torch's own
    capturable mode needs CUDA tensors; its semantics are those of the normal mode)."""
    torch = pytest.importorskip("torch")
    q = Quadratic()
    p = Parameter(q.x0.copy())
    opt = cfg.make([p], capturable=True)
    tp = torch.tensor(q.x0.copy(), requires_grad=True)
    topt = cfg.make_torch(torch, [tp])
    ours, theirs = [], []
    for _ in range(100):
        p.grad = q.grad(p.data)
        tp.grad = torch.from_numpy(q.grad(tp.detach().numpy()))
        opt.step()
        topt.step()
        ours.append(p.data.copy())
        theirs.append(tp.detach().numpy().copy())
    assert np.abs(ours[-1] - q.x0).max() > 1e-3
    np.testing.assert_allclose(np.array(ours), np.array(theirs), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("cfg", CAPTURABLE, ids=lambda c: c.id)
@pytest.mark.parametrize("modes", [(True, True), (True, False), (False, True)], ids=["cap-cap", "cap-eager",
                                                                                     "eager-cap"])
def test_resume_is_bit_identical_across_modes(cfg, modes, tmp_path):
    """A checkpoint of either mode resumes exactly in either mode (the device step counts
    are saved as the same integers as the host's)."""
    saved_mode, loaded_mode = modes
    ps = _params(np.float32)
    opt = cfg.make(_groups(ps), lr=0.01, capturable=saved_mode)
    _run(opt, ps, 0, 7)
    sd = opt.state_dict()
    assert sd["state"]["0"]["step"] == 7 and sd["state"]["3"]["step"] == 4   # 3 skipped steps 0, 3, 6
    dr.save(tmp_path / "ckpt.npz", {"params": [p.data for p in ps], "optim": sd})
    expected = _run(opt, ps, 7, 8)

    ckpt = dr.load(tmp_path / "ckpt.npz")
    ps2 = _params(np.float32, seed=5)
    opt2 = cfg.make(_groups(ps2), lr=0.5, capturable=loaded_mode)
    for p, v in zip(ps2, ckpt["params"]):
        p.data[...] = v
    opt2.load_state_dict(ckpt["optim"])
    assert all(g["capturable"] is loaded_mode for g in opt2.param_groups), "the mode is the optimizer's own"
    np.testing.assert_array_equal(_run(opt2, ps2, 7, 8), expected)


@pytest.mark.parametrize("name", ["Adam", "SGD"])
def test_lr_scheduler_drives_the_device_lr(name):
    """A torch-style scheduler changes group['lr']; the capturable optimizer copies it into
    its device array at the next step and follows the eager trajectory."""
    runs, dev_lrs = [], []
    for cap in (False, True):
        ps = _params(np.float64)
        kw = dict(lr=0.05, momentum=0.9) if name == "SGD" else dict(lr=0.05)
        opt = getattr(optim, name)([{"params": ps}], capturable=cap, **kw)
        sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)
        traj = []
        for k in range(15):
            _feed(ps, k, skip=False)
            opt.step()
            if cap:
                (_, seg), = opt.segments()
                dev_lrs.append((float(seg.lr), opt.param_groups[0]["lr"]))
            sched.step()
            traj.append(np.concatenate([p.data.ravel() for p in ps]))
        runs.append(np.array(traj))
    np.testing.assert_allclose(runs[1], runs[0], rtol=4e-15, atol=4e-15)
    lrs = [d for d, _ in dev_lrs]
    assert dev_lrs == [(h, h) for _, h in dev_lrs] and len(set(lrs)) > 5, "the device lr must follow the schedule"


def test_capturing_reads_the_device_lr():
    """The contract a CUDA graph relies on: inside ``capturing()`` a step does not write
    the lr (a replay runs no Python), it reads the device array that ``sync_lr`` fills."""
    def trajectory(lrs, use_context):
        ps = _params(np.float64)
        opt = optim.Adam(_groups(ps), lr=0.01, capturable=True)
        out = []
        for k, lr in enumerate(lrs):
            _feed(ps, k, skip=False)
            for g in opt.param_groups:
                g["lr"] = lr
            if use_context:
                with opt.capturing():
                    pass          # capturing() syncs on entry: the lr at capture time
                opt._capturing = True
                try:
                    opt.step()    # as a replay would: no lr write inside
                finally:
                    opt._capturing = False
            else:
                opt.step()
            out.append(np.concatenate([p.data.ravel() for p in ps]))
        return np.array(out)

    lrs = [0.01, 0.02, 0.005, 0.03]
    np.testing.assert_array_equal(trajectory(lrs, True), trajectory(lrs, False))

    ps = _params(np.float64)
    opt = optim.Adam([{"params": ps}], lr=0.01, capturable=True)
    _feed(ps, 0, skip=False)
    with opt.capturing():
        opt.param_groups[0]["lr"] = 100.0     # not seen: the captured step reads the device lr
        before = ps[0].data.copy()
        opt.step()
    step = np.abs(ps[0].data - before).max()
    assert 1e-3 < step < 0.02, f"the step used lr=100 instead of the device lr 0.01 (moved {step})"
    opt.sync_lr()
    (_, seg), = opt.segments()
    assert float(seg.lr) == 100.0


def test_device_step_counts_are_arrays_of_the_parameters_module():
    ps = _params(np.float32)
    opt = optim.AdamW(_groups(ps), capturable=True)
    _run(opt, ps, 0, 4)
    for _, seg in opt.segments():
        assert isinstance(seg.dscal["step"], np.ndarray) and seg.dscal["step"].dtype == np.float64
        assert seg.lr.shape == () and seg.lr.dtype == np.float64
    counts = {i: e["step"] for i, e in opt.state_dict()["state"].items()}
    assert counts == {"0": 4, "1": 4, "2": 4, "3": 2}


def test_capturable_refusals_name_the_cause():
    ps = _params(np.float32)
    with pytest.raises(ValueError, match="LectureMomentum"):
        optim.SGD(ps, lr=0.1, momentum=0.9, form="lecture", capturable=True)
    with pytest.raises(ValueError, match="gradient transforms"):
        optim.Adam(ps, capturable=True, transforms=[optim.ClipGradNorm(1.0)])
    with pytest.raises(TypeError, match="capturable"):
        optim.Adam(ps, capturable=1)
    with pytest.raises(TypeError):
        optim.NAdam(ps, capturable=True)     # no capturable NAdam: its μ product is on the host
    opt = optim.Adam([{"params": ps[:2]}, {"params": ps[2:], "capturable": False}], capturable=True)
    with pytest.raises(ValueError, match=r"group\(s\) \[1\] are not capturable"):
        with opt.capturing():
            pass


def test_registry_spec_accepts_capturable():
    ps = _params(np.float32)
    opt = optim.create("adam:capturable=True", ps)
    assert opt.param_groups[0]["capturable"] is True
