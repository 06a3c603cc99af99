"""The lecture's forms of momentum and RMSProp next to torch's: when they coincide, when not."""
import numpy as np
import pytest

from deeprecipe import Parameter
from deeprecipe import optim
from deeprecipe.optim.lr_scheduler import StepLR

from ._problems import Quadratic


def _run(form, steps, nesterov=False, schedule=False):
    q = Quadratic(dim=8)
    p = Parameter(q.x0.copy())
    opt = optim.SGD([p], lr=0.01, momentum=0.9, nesterov=nesterov, form=form)
    sched = StepLR(opt, step_size=10, gamma=0.1) if schedule else None
    out = []
    for _ in range(steps):
        p.grad = q.grad(p.data)
        opt.step()
        if sched:
            sched.step()
        out.append(p.data.copy())
    return np.array(out), opt, p


@pytest.mark.parametrize("nesterov", [False, True])
def test_lecture_momentum_equals_torch_momentum_under_constant_lr(nesterov):
    """v ← λv − η∇L, θ ← θ + v is torch's b ← μb + g, θ ← θ − ηb with v = −ηb."""
    a, opt_a, pa = _run("torch", 60, nesterov)
    b, opt_b, pb = _run("lecture", 60, nesterov)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(opt_b.param_state(pb)["velocity"], -0.01 * opt_a.param_state(pa)["momentum_buffer"],
                               rtol=1e-12, atol=1e-14)


def test_lecture_momentum_differs_from_torch_under_a_schedule():
    """torch scales the whole accumulated buffer by the current lr; the lecture's velocity
    keeps the steps already taken at their own lr.  Identical before the lr drop (step 10),
    different right after it: torch's step shrinks 10× at once, the lecture's decays."""
    a, _, _ = _run("torch", 20, schedule=True)
    b, _, _ = _run("lecture", 20, schedule=True)
    np.testing.assert_allclose(a[:10], b[:10], rtol=1e-12, atol=1e-12)
    step_torch = np.linalg.norm(a[10] - a[9])
    step_lecture = np.linalg.norm(b[10] - b[9])
    assert step_lecture > 5 * step_torch
    assert np.abs(a[-1] - b[-1]).max() > 1e-2


def test_lecture_form_rejects_dampening():
    with pytest.raises(ValueError, match="dampening"):
        optim.SGD([Parameter(np.zeros(2))], lr=0.1, momentum=0.9, dampening=0.1, form="lecture")
    with pytest.raises(ValueError, match="form"):
        optim.SGD([Parameter(np.zeros(2))], lr=0.1, form="keras")


def _rmsprop(init, alpha, grads, **kw):
    p = Parameter(np.zeros(grads[0].shape))
    opt = optim.RMSprop([p], lr=0.01, alpha=alpha, init=init, **kw)
    out = []
    for g in grads:
        p.grad = g
        opt.step()
        out.append(p.data.copy())
    return np.array(out), opt.param_state(p)["square_avg"]


def test_rmsprop_lecture_start_coincides_with_torch_when_alpha_is_zero():
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(5) for _ in range(10)]
    a, _ = _rmsprop("zeros", 0.0, grads)
    b, _ = _rmsprop("first_grad", 0.0, grads)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("centered", [False, True])
def test_rmsprop_first_step_blow_up_and_its_decay(centered):
    """torch starts s at 0, so the first step is γ/√(1−α) = 10γ per coordinate (α = 0.99);
    the lecture's σ⁰ = |g⁰| makes it γ·sign(g).  On a constant gradient the mean squares
    differ by exactly α^t·g² (s_lecture = g², s_torch = (1 − α^t)g²)."""
    g = np.array([0.5, -2.0, 3.0])
    grads = [g] * 30
    a, s_torch = _rmsprop("zeros", 0.99, grads, eps=0.0, centered=centered)
    b, s_lecture = _rmsprop("first_grad", 0.99, grads, eps=0.0, centered=centered)
    # centered: the denominator is √(s − ḡ²) with ḡ = (1−α)g after one step
    shrink = np.sqrt(1 - 0.01 ** 2 / 0.01) if centered else 1.0   # torch: s = 0.01 g²
    np.testing.assert_allclose(a[0], -0.01 / (np.sqrt(0.01) * shrink) * np.sign(g), rtol=1e-12)
    shrink = np.sqrt(1 - 0.01 ** 2) if centered else 1.0          # lecture: s = g²
    np.testing.assert_allclose(b[0], -0.01 / shrink * np.sign(g), rtol=1e-12)
    np.testing.assert_allclose(s_lecture, g * g, rtol=1e-12)
    np.testing.assert_allclose(s_lecture - s_torch, 0.99 ** 30 * g * g, rtol=1e-9)
    assert np.abs(a[-1] - b[-1]).min() > 0.01
