"""Schedules: the pure functions, and the scheduler classes against torch.optim.lr_scheduler
(the same lr — and momentum — sequence to rtol 1e-12, 3+ settings per class)."""
import copy
import math
from functools import partial

import numpy as np
import pytest

from deeprecipe import Parameter
from deeprecipe import optim
from deeprecipe.optim import lr_scheduler as ours_lrs
from deeprecipe.optim import schedules as S
from tests.conftest import warm_up_torch_optim

torch = pytest.importorskip("torch")
torch.set_num_threads(1)
warm_up_torch_optim()

LRS = (0.1, 0.05)   # two parameter groups with different lrs


def _optimizers(kind):
    p1, p2 = Parameter(np.zeros(2)), Parameter(np.zeros(2))
    t1, t2 = torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    if kind == "adam":
        ours = optim.Adam([{"params": [p1], "lr": LRS[0]}, {"params": [p2], "lr": LRS[1]}])
        theirs = torch.optim.Adam([{"params": [t1], "lr": LRS[0]}, {"params": [t2], "lr": LRS[1]}])
    else:
        ours = optim.SGD([{"params": [p1], "lr": LRS[0]}, {"params": [p2], "lr": LRS[1]}], momentum=0.9)
        theirs = torch.optim.SGD([{"params": [t1], "lr": LRS[0]}, {"params": [t2], "lr": LRS[1]}], momentum=0.9)
    return ours, theirs


def _momenta(opt):
    return [g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups]


def _sequence(opt, sched, steps, metrics=None):
    lrs, moms = [[g["lr"] for g in opt.param_groups]], [_momenta(opt)]
    for k in range(steps):
        opt.step()    # no gradients: a no-op that keeps torch's call-order check quiet
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[k])
        lrs.append([g["lr"] for g in opt.param_groups])
        moms.append(_momenta(opt))
        assert sched.get_last_lr() == lrs[-1]
    return np.array(lrs, dtype=float), np.array(moms, dtype=float)


CASES = [
    ("StepLR", dict(step_size=3), 20), ("StepLR", dict(step_size=1, gamma=0.5), 10),
    ("StepLR", dict(step_size=7, gamma=0.3), 30),
    ("MultiStepLR", dict(milestones=[3, 8]), 15), ("MultiStepLR", dict(milestones=[5, 5, 12], gamma=0.5), 20),
    ("MultiStepLR", dict(milestones=[1], gamma=0.9), 5),
    ("ExponentialLR", dict(gamma=0.9), 30), ("ExponentialLR", dict(gamma=0.5), 12),
    ("ExponentialLR", dict(gamma=1.01), 10),
    ("CosineAnnealingLR", dict(T_max=10), 35), ("CosineAnnealingLR", dict(T_max=25, eta_min=1e-3), 60),
    ("CosineAnnealingLR", dict(T_max=1), 5),
    ("CosineAnnealingWarmRestarts", dict(T_0=5), 30),
    ("CosineAnnealingWarmRestarts", dict(T_0=3, T_mult=2), 50),
    ("CosineAnnealingWarmRestarts", dict(T_0=4, T_mult=3, eta_min=1e-3), 60),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=4), 30),
    ("CyclicLR", dict(base_lr=[0.01, 0.02], max_lr=0.2, step_size_up=3, step_size_down=5, mode="triangular2"), 40),
    ("CyclicLR", dict(base_lr=0.001, max_lr=0.1, step_size_up=5, mode="exp_range", gamma=0.97,
                      base_momentum=0.7, max_momentum=0.95), 40),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=4, cycle_momentum=False), 12),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=30), 30),
    ("OneCycleLR", dict(max_lr=[0.3, 0.1], epochs=4, steps_per_epoch=6, pct_start=0.25, anneal_strategy="linear"), 24),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=40, three_phase=True, div_factor=10.0, final_div_factor=100.0), 40),
    ("LinearLR", dict(), 10), ("LinearLR", dict(start_factor=0.1, total_iters=8), 12),
    ("LinearLR", dict(start_factor=1.0, end_factor=0.2, total_iters=6), 10),
    ("ConstantLR", dict(), 8), ("ConstantLR", dict(factor=0.5, total_iters=3), 6), ("ConstantLR", dict(factor=0.1), 8),
    ("LambdaLR", dict(lr_lambda=lambda e: 0.95 ** e), 10),
    ("LambdaLR", dict(lr_lambda=[lambda e: 1 / (1 + e), lambda e: min(1.0, (e + 1) / 4)]), 10),
    ("LambdaLR", dict(lr_lambda=lambda e: math.cos(e)), 10),
]


@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize("name, kwargs, steps", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_scheduler_matches_torch(name, kwargs, steps, kind):
    ours, theirs = _optimizers(kind)
    a = getattr(ours_lrs, name)(ours, **kwargs)
    b = getattr(torch.optim.lr_scheduler, name)(theirs, **kwargs)
    lr_a, m_a = _sequence(ours, a, steps)
    lr_b, m_b = _sequence(theirs, b, steps)
    assert len(np.unique(lr_a)) > 1 or name == "ConstantLR"
    np.testing.assert_allclose(lr_a, lr_b, rtol=1e-12, atol=1e-17)
    np.testing.assert_allclose(m_a, m_b, rtol=1e-12, atol=1e-17)   # OneCycle/Cyclic cycle momentum or β1


@pytest.mark.parametrize("second", [
    lambda opt, mod: mod.CosineAnnealingLR(opt, T_max=8),
    lambda opt, mod: mod.ExponentialLR(opt, gamma=0.8),
    lambda opt, mod: mod.StepLR(opt, step_size=2, gamma=0.5),
])
def test_sequential_warmup_then_decay_matches_torch(second):
    ours, theirs = _optimizers("sgd")
    seqs = []
    for opt, mod in [(ours, ours_lrs), (theirs, torch.optim.lr_scheduler)]:
        warm = mod.LinearLR(opt, start_factor=0.2, total_iters=4)
        sched = mod.SequentialLR(opt, [warm, second(opt, mod)], milestones=[4])
        seqs.append(_sequence(opt, sched, 20)[0])
    np.testing.assert_allclose(seqs[0], seqs[1], rtol=1e-12, atol=1e-17)


@pytest.mark.parametrize("kwargs, metrics", [
    (dict(patience=2), [1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.89999, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6]),
    (dict(patience=0, factor=0.5, cooldown=2, min_lr=0.02),
     [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]),
    (dict(mode="max", threshold=0.1, threshold_mode="abs", patience=1),
     [0.1, 0.15, 0.25, 0.3, 0.34, 0.5, 0.55, 0.58, 0.6, 0.61, 0.7]),
    (dict(mode="max", threshold=0.01, patience=3, eps=0.01), [1, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3]),
])
def test_reduce_lr_on_plateau_matches_torch(kwargs, metrics):
    ours, theirs = _optimizers("sgd")
    a = ours_lrs.ReduceLROnPlateau(ours, **kwargs)
    b = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs, **kwargs)
    lr_a, _ = _sequence(ours, a, len(metrics), metrics)
    lr_b, _ = _sequence(theirs, b, len(metrics), metrics)
    assert len(np.unique(lr_a[:, 0])) > 1
    np.testing.assert_allclose(lr_a, lr_b, rtol=1e-12)


def test_reduce_lr_on_plateau_cuts_on_the_patience_plus_first_bad_epoch():
    """torch semantics (Keras cuts one epoch earlier): with patience 3, the 4th epoch in a
    row without improvement cuts the lr."""
    ours, _ = _optimizers("sgd")
    sched = ours_lrs.ReduceLROnPlateau(ours, patience=3)
    lrs = []
    for m in [1.0, 2.0, 2.0, 2.0, 2.0, 2.0]:
        sched.step(m)
        lrs.append(ours.param_groups[0]["lr"])
    assert lrs == [0.1, 0.1, 0.1, 0.1, pytest.approx(0.01), pytest.approx(0.01)]
    assert sched.num_bad_epochs == 1


def test_one_cycle_raises_past_total_steps_like_torch():
    ours, _ = _optimizers("sgd")
    sched = ours_lrs.OneCycleLR(ours, max_lr=0.1, total_steps=5)
    for _ in range(5):
        sched.step()
    with pytest.raises(ValueError, match="total_steps is 5"):
        sched.step()


@pytest.mark.parametrize("make", [
    lambda o: ours_lrs.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2),
    lambda o: ours_lrs.OneCycleLR(o, max_lr=0.3, total_steps=40),
    lambda o: ours_lrs.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=3, mode="triangular2"),
    lambda o: ours_lrs.SequentialLR(o, [ours_lrs.LinearLR(o, total_iters=3), ours_lrs.ExponentialLR(o, 0.9)], [3]),
    lambda o: ours_lrs.ReduceLROnPlateau(o, patience=1),
])
def test_scheduler_state_dict_resumes_the_same_sequence(make):
    ours, _ = _optimizers("sgd")
    sched = make(ours)
    metric = isinstance(sched, ours_lrs.ReduceLROnPlateau)

    def advance(s, o, n, start):
        out = []
        for k in range(start, start + n):
            s.step(1.0 + (k % 4 == 0) * -0.01 * k) if metric else s.step()
            out.append([g["lr"] for g in o.param_groups] + _momenta(o))
        return out

    advance(sched, ours, 7, 0)
    sd = copy.deepcopy(sched.state_dict())
    opt_sd = copy.deepcopy(ours.state_dict())
    expected = advance(sched, ours, 9, 7)
    ours2, _ = _optimizers("sgd")
    sched2 = make(ours2)
    ours2.load_state_dict(opt_sd)
    sched2.load_state_dict(sd)
    assert advance(sched2, ours2, 9, 7) == expected


# ---------------------------------------------------------------------- pure functions
def test_pure_schedules_closed_forms():
    assert S.constant(7, 0.3) == 0.3
    assert S.step_decay(7, 1.0, 3, 0.5) == 0.25
    assert S.exponential(3, 2.0, 0.5) == 0.25
    assert S.multistep(5, 1.0, [2, 5, 9], 0.1) == pytest.approx(0.01)
    assert S.cosine(0, 0.1, 10) == 0.1 and S.cosine(10, 0.1, 10, eta_min=0.01) == pytest.approx(0.01)
    assert S.cosine(15, 0.1, 10) == pytest.approx(0.05)   # not clamped: rises again after T_max
    # SGDR with T_mult = 2: cycles of 3, 6, 12 steps, each restarting at base_lr
    pos = [S.sgdr_position(k, 3, 2) for k in range(22)]
    assert [k for k, (t, _) in enumerate(pos) if t == 0] == [0, 3, 9, 21]
    assert pos[8] == (5, 6) and pos[20] == (11, 12)
    assert S.linear_warmup(0, 1.0, 0.25, 1.0, 4) == 0.25 and S.linear_warmup(9, 1.0, 0.25, 1.0, 4) == 1.0
    assert S.cyclic(0, 0.1, 1.0, 4) == 0.1 and S.cyclic(4, 0.1, 1.0, 4) == 1.0 and S.cyclic(8, 0.1, 1.0, 4) == 0.1
    assert S.cyclic(12, 0.1, 1.0, 4, mode="triangular2") == pytest.approx(0.1 + 0.9 / 2)
    assert S.cyclic_momentum(4, 0.8, 0.9, 4) == pytest.approx(0.8)
    assert S.one_cycle(0, 1.0, 100) == pytest.approx(1.0 / 25) and S.one_cycle(29, 1.0, 100) == pytest.approx(1.0)
    assert S.one_cycle(99, 1.0, 100) == pytest.approx(1.0 / 25 / 1e4)
    assert S.one_cycle_momentum(29, 100) == pytest.approx(0.85) and S.one_cycle_momentum(99, 100) == 0.95
    with pytest.raises(ValueError, match="total_steps"):
        S.one_cycle(101, 1.0, 100)


def test_noam_rises_linearly_and_peaks_at_warmup():
    f = partial(S.noam, d_model=512, warmup_steps=4000, factor=2.0)
    lrs = np.array([f(s) for s in range(0, 20001, 50)])
    assert f(0) == f(1)
    assert np.argmax(lrs) * 50 == 4000
    assert f(4000) == pytest.approx(2.0 * 512 ** -0.5 * 4000 ** -0.5)
    assert f(2000) == pytest.approx(f(4000) / 2)
    assert f(16000) == pytest.approx(f(4000) / 2)


def test_schedule_adapter_drives_an_optimizer_with_pure_functions():
    ours, _ = _optimizers("sgd")
    warm_cos = partial(S.sequential, schedules=[partial(S.linear_warmup, base_lr=0.1, start_factor=0.1, total_iters=5),
                                                partial(S.cosine, base_lr=0.1, T_max=10)], milestones=[5])
    sched = ours_lrs.ScheduleLR(ours, [warm_cos, partial(S.noam, d_model=64, warmup_steps=3)])
    lrs = [ours.param_groups[0]["lr"]]
    for _ in range(15):
        sched.step()
        lrs.append(ours.param_groups[0]["lr"])
    np.testing.assert_allclose(lrs, [warm_cos(k) for k in range(16)], rtol=0)
    assert ours.param_groups[1]["lr"] == S.noam(15, 64, 3)
    assert lrs[5] == 0.1 and lrs[0] == pytest.approx(0.01)


def test_scheduler_bad_input():
    ours, _ = _optimizers("sgd")
    with pytest.raises(TypeError, match="not an optimizer"):
        ours_lrs.StepLR([1, 2], step_size=2)
    with pytest.raises(ValueError, match="T_0"):
        ours_lrs.CosineAnnealingWarmRestarts(ours, T_0=0)
    with pytest.raises(ValueError, match="total_steps"):
        ours_lrs.OneCycleLR(ours, max_lr=0.1)
    with pytest.raises(ValueError, match="2 values for max_lr"):
        ours_lrs.OneCycleLR(ours, max_lr=[0.1, 0.2, 0.3], total_steps=10)
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        ours_lrs.SequentialLR(ours, [ours_lrs.ReduceLROnPlateau(ours)], [])
    adagrad = optim.Adagrad([Parameter(np.zeros(2))])
    with pytest.raises(ValueError, match="momentum"):
        ours_lrs.OneCycleLR(adagrad, max_lr=0.1, total_steps=10)
