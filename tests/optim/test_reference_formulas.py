"""Optimizers torch does not have, against independent NumPy transcriptions of the formulas
in OPTIM_SPEC.md (one parameter vector, a plain Python loop per step, float64):
SGDW, AdaBound/AMSBound, SWATS (with crafted gradients that trigger the switch),
Lookahead, and gradient noise (its empirical variance)."""
import numpy as np
import pytest

from deeprecipe import Parameter
from deeprecipe import optim

from ._configs import REFERENCE_CONFIGS
from ._problems import Quadratic

STEPS = 100


# ---------------------------------------------------------------------- reference formulas
def ref_sgdw(x0, grad, steps, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    x, b, out = x0.copy(), None, []
    for _ in range(steps):
        g = grad(x)
        x = x * (1 - lr * weight_decay)
        if momentum:
            b = g.copy() if b is None else momentum * b + (1 - dampening) * g
            d = g + momentum * b if nesterov else b
        else:
            d = g
        x = x - lr * d
        out.append(x)
    return np.array(out)


def ref_adabound(x0, grad, steps, lr, final_lr=0.1, betas=(0.9, 0.999), gamma=1e-3, eps=1e-8, weight_decay=0.0,
                 amsbound=False):
    b1, b2 = betas
    x, m, v, vmax, out = x0.copy(), 0 * x0, 0 * x0, 0 * x0, []
    base_lr = lr
    for t in range(1, steps + 1):
        g = grad(x) + weight_decay * x
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = np.maximum(vmax, v)
        d = np.sqrt(vmax if amsbound else v) + eps
        alpha = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        eta = final_lr * lr / base_lr
        lower, upper = eta * (1 - 1 / (gamma * t + 1)), eta * (1 + 1 / (gamma * t))
        x = x - np.clip(alpha / d, lower, upper) * m
        out.append(x)
    return np.array(out)


def ref_adam(x, g, m, v, t, lr, b1=0.9, b2=0.999, eps=1e-8):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    x = x - lr / (1 - b1 ** t) * m / (np.sqrt(v) / np.sqrt(1 - b2 ** t) + eps)
    return x, m, v


def ref_lookahead(x0, grad, steps, inner, inner_kw, k, alpha):
    """Fast weights follow SGD-with-momentum or Adam (spec formulas); every k steps
    θ ← φ + α(θ − φ), φ ← θ."""
    x, slow, out = x0.copy(), x0.copy(), []
    m, v, b = 0 * x0, 0 * x0, None
    for t in range(1, steps + 1):
        g = grad(x)
        if inner == "SGD":
            mu = inner_kw.get("momentum", 0.0)
            b = g.copy() if b is None else mu * b + g
            x = x - inner_kw["lr"] * (b if mu else g)
        else:
            x, m, v = ref_adam(x, g, m, v, t, inner_kw["lr"])
        if t % k == 0:
            x = slow + alpha * (x - slow)
            slow = x.copy()
        out.append(x)
    return np.array(out)


class RefSWATS:
    """SWATS from the spec, for one parameter vector (= one group)."""

    def __init__(self, x0, lr=1e-3, betas=(0.9, 0.999), eps=1e-6):
        self.x, self.lr, (self.b1, self.b2), self.eps = x0.copy(), lr, betas, eps
        self.m, self.v, self.buf = 0 * x0, 0 * x0, 0 * x0
        self.lam, self.t, self.phase, self.switch_step = 0.0, 0, "adam", None

    def step(self, g):
        self.t += 1
        t, b1, b2 = self.t, self.b1, self.b2
        if self.phase == "sgd":
            self.buf = b1 * self.buf + g
            self.x = self.x - self.lr * (1 - b1) * self.buf
            return
        self.m = b1 * self.m + (1 - b1) * g
        self.v = b2 * self.v + (1 - b2) * g * g
        p = -(self.lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)) * self.m / (np.sqrt(self.v) + self.eps)
        self.x = self.x + p
        pg = p @ g
        if pg != 0:
            gamma = (p @ p) / -pg
            self.lam = b2 * self.lam + (1 - b2) * gamma
            big_lambda = self.lam / (1 - b2 ** t)
            if t > 1 and big_lambda > 0 and abs(big_lambda - gamma) <= 1e-8 + self.eps * abs(gamma):
                self.phase, self.lr, self.switch_step = "sgd", big_lambda, t


def ref_trajectory(cfg, x0, grad, steps):
    kw = cfg.kwargs
    if cfg.reference == "sgdw":
        return ref_sgdw(x0, grad, steps, **kw)
    if cfg.reference == "adabound":
        return ref_adabound(x0, grad, steps, amsbound=cfg.name == "AMSBound", **kw)
    if cfg.reference == "lookahead":
        return ref_lookahead(x0, grad, steps, cfg.inner[0], cfg.inner[1], kw["k"], kw["alpha"])
    if cfg.reference == "swats":
        ref, out = RefSWATS(x0, **kw), []
        for _ in range(steps):
            ref.step(grad(ref.x))
            out.append(ref.x.copy())
        return np.array(out)
    raise AssertionError(cfg.reference)


# ---------------------------------------------------------------------- trajectories
@pytest.mark.parametrize("cfg", REFERENCE_CONFIGS, ids=lambda c: c.id)
def test_trajectory_matches_reference_formula(cfg):
    q = Quadratic()
    p = Parameter(q.x0.copy())
    opt = cfg.make([p])
    ours = []
    for _ in range(STEPS):
        p.grad = q.grad(p.data)
        opt.step()
        ours.append(p.data.copy())
    expected = ref_trajectory(cfg, q.x0, q.grad, STEPS)
    assert np.abs(expected[-1] - q.x0).max() > 1e-2
    np.testing.assert_allclose(np.array(ours), expected, rtol=1e-9, atol=1e-12)


def test_sgdw_without_momentum_equals_sgd_with_l2_and_differs_with_momentum():
    """Decoupled decay = L2 for plain SGD only (OPTIM_SPEC "Weight decay")."""
    q = Quadratic(dim=6)
    for momentum, equal in [(0.0, True), (0.9, False)]:
        a, b = Parameter(q.x0.copy()), Parameter(q.x0.copy())
        o1 = optim.SGDW([a], lr=0.01, momentum=momentum, weight_decay=0.1)
        o2 = optim.SGD([b], lr=0.01, momentum=momentum, weight_decay=0.1)
        for _ in range(30):
            a.grad, b.grad = q.grad(a.data), q.grad(b.data)
            o1.step()
            o2.step()
        assert np.allclose(a.data, b.data, rtol=1e-12, atol=0) == equal


def test_adabound_bounds_follow_lr_changes_relative_to_initial_lr():
    """η* = final_lr·γ/γ₀: halving the lr halves the bounds; late in training the step
    is SGD's with lr η* (the bounds have closed in)."""
    x0 = np.array([1.0, -2.0, 3.0])
    p = Parameter(x0.copy())
    opt = optim.AdaBound([p], lr=0.01, final_lr=0.1, gamma=10.0)   # fast-closing bounds
    opt.param_groups[0]["lr"] = 0.005
    g = np.array([0.3, -0.2, 0.1])
    for _ in range(200):
        p.grad = g
        opt.step()
    before = p.data.copy()
    p.grad = g
    opt.step()
    m = opt.param_state(p)["exp_avg"]
    eta = 0.1 * 0.005 / 0.01
    t = 201
    lo, hi = eta * (1 - 1 / (10.0 * t + 1)), eta * (1 + 1 / (10.0 * t))
    step = before - p.data
    assert np.all(step / m >= lo * (1 - 1e-12)) and np.all(step / m <= hi * (1 + 1e-12))
    np.testing.assert_allclose(step, eta * m, rtol=1e-3)


# ---------------------------------------------------------------------- SWATS switching
def test_swats_switches_at_step_two_on_a_constant_large_gradient():
    """With a constant gradient g (|g| ≫ ε), Adam's step is −γ·sign(g), so the projected SGD
    lr γ_k = p·p/(−p·g) = γ·n/‖g‖₁ at every step: Λ = γ_k exactly and the switch fires at
    the first allowed step (t = 2) with Λ = γn/‖g‖₁."""
    g = np.array([1000.0, -2000.0, 500.0, 4000.0])
    p = Parameter(np.zeros(4))
    opt = optim.SWATS([p], lr=0.01)
    p.grad = g
    opt.step()
    assert opt.phase() == "adam"
    p.grad = g
    opt.step()
    assert opt.phase() == "sgd"
    lam = 0.01 * 4 / np.abs(g).sum()
    assert opt.param_groups[0]["lr"] == pytest.approx(lam, rel=1e-6)
    # SGD phase: b ← β1·b + g, θ ← θ − Λ(1 − β1)·b, starting from b = 0
    x = p.data.copy()
    g2 = np.array([1.0, 2.0, -3.0, 0.5])
    p.grad = g2
    opt.step()
    np.testing.assert_allclose(p.data, x - opt.param_groups[0]["lr"] * 0.1 * g2, rtol=1e-12)
    p.grad = g2
    opt.step()
    np.testing.assert_allclose(p.data, x - opt.param_groups[0]["lr"] * 0.1 * (g2 + (0.9 * g2 + g2)), rtol=1e-12)


def test_swats_does_not_switch_while_the_projected_lr_moves():
    """A constant but small gradient: ε makes γ_k drift by ~1e-5 relative between steps,
    more than the tolerance ε·|γ_k|, so no switch at t = 2; it fires once γ_k settles."""
    g = np.array([1.0, -2.0, 0.5])
    ref = RefSWATS(np.zeros(3), lr=0.01)
    p = Parameter(np.zeros(3))
    opt = optim.SWATS([p], lr=0.01)
    for t in range(1, 400):
        p.grad = g
        opt.step()
        ref.step(g)
        if t == 2:
            assert opt.phase() == "adam"
    assert ref.switch_step is not None and ref.switch_step > 2
    assert opt._group_state[0]["switch_step"] == ref.switch_step
    assert opt.param_groups[0]["lr"] == pytest.approx(ref.lr, rel=1e-12)
    np.testing.assert_allclose(p.data, ref.x, rtol=1e-12)


def test_swats_full_run_with_a_switch_matches_reference():
    """Crafted sequence: constant large gradient (switch at t = 2), then varying gradients
    in the SGD phase; trajectory equals the reference at every step."""
    rng = np.random.default_rng(3)
    gs = [np.full(5, 700.0) * np.array([1, -1, 2, 1, -3])] * 3 + [rng.standard_normal(5) for _ in range(20)]
    ref = RefSWATS(np.ones(5), lr=0.02)
    p = Parameter(np.ones(5))
    opt = optim.SWATS([p], lr=0.02)
    for g in gs:
        p.grad = g
        opt.step()
        ref.step(g)
        np.testing.assert_allclose(p.data, ref.x, rtol=1e-12, atol=1e-15)
    assert ref.phase == "sgd" and ref.switch_step == 2


# ---------------------------------------------------------------------- Lookahead
def test_lookahead_keeps_inner_state_across_syncs_and_slow_weights_follow():
    q = Quadratic(dim=4)
    p = Parameter(q.x0.copy())
    inner = optim.SGD([p], lr=0.01, momentum=0.9)
    la = optim.Lookahead(inner, k=3, alpha=0.5)
    for t in range(1, 7):
        p.grad = q.grad(p.data)
        la.step()
        if t % 3 == 0:
            np.testing.assert_array_equal(la.slow_weights()[0], p.data)
    # the momentum buffer survived the syncs (nonzero, as in kozistr's pullback='none')
    assert np.abs(inner.param_state(p)["momentum_buffer"]).max() > 0


def test_lookahead_rejects_bad_arguments():
    p = Parameter(np.zeros(2))
    with pytest.raises(ValueError, match="k"):
        optim.Lookahead(optim.SGD([p], lr=0.1), k=0)
    with pytest.raises(ValueError, match="alpha"):
        optim.Lookahead(optim.SGD([p], lr=0.1), alpha=1.5)
    with pytest.raises(TypeError, match="Optimizer"):
        optim.Lookahead([p])


# ---------------------------------------------------------------------- gradient noise
def test_gradient_noise_empirical_variance_matches_schedule():
    """SGD(lr=1) on zero gradients: the step is minus the noise, whose variance over 200k
    elements must be η/(1+t)^γ (5-sigma tolerance: sqrt(2/n) ≈ 0.3% per estimate)."""
    n = 200_000
    p = Parameter(np.zeros(n))
    noise = optim.GradientNoise(eta=0.3, gamma=0.55, seed=7)
    opt = optim.SGD([p], lr=1.0, transforms=[noise])
    prev = None
    for t in range(6):
        before = p.data.copy()
        p.grad = np.zeros(n)
        opt.step()
        step = before - p.data
        expected = 0.3 / (1 + t) ** 0.55
        assert step.var() == pytest.approx(expected, rel=0.016)
        assert abs(step.mean()) < 5 * np.sqrt(expected / n)
        if prev is not None:   # fresh noise every step: no correlation between steps
            assert abs(np.corrcoef(prev, step)[0, 1]) < 5 / np.sqrt(n)
        prev = step


def test_gradient_noise_is_seeded_and_masked():
    def run(seed, mask=None):
        a, b = Parameter(np.zeros((10, 5))), Parameter(np.zeros(3))
        opt = optim.SGD([a, b], lr=1.0, transforms=[optim.GradientNoise(eta=1.0, seed=seed, mask=mask)])
        a.grad, b.grad = np.zeros((10, 5)), np.zeros(3)
        opt.step()
        return a.data.copy(), b.data.copy()

    a1, b1 = run(1)
    a2, b2 = run(1)
    a3, _ = run(2)
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(b1, b2)
    assert b1.all() and not np.allclose(a1, a3)
    am, bm = run(1, mask=optim.exclude_1d)   # noise on the matrix only, not on the bias
    assert am.all() and not bm.any()


@pytest.mark.parametrize("name", sorted(optim.OPTIMIZERS))
def test_lookahead_wraps_every_optimizer(name):
    """Lookahead around any optimizer: after k inner steps (identical to the optimizer run
    alone) the weights are pulled back to φ + α(θ − φ) from the start φ = θ₀."""
    q = Quadratic(dim=5)
    cls = optim.OPTIMIZERS[name]
    a, b = Parameter(q.x0.copy()), Parameter(q.x0.copy())
    wrapped = optim.Lookahead(cls([a], lr=0.01), k=3, alpha=0.3)
    alone = cls([b], lr=0.01)
    for t in range(3):
        a.grad, b.grad = q.grad(a.data), q.grad(b.data)
        wrapped.step()
        alone.step()
        if t < 2:
            np.testing.assert_array_equal(a.data, b.data)
    assert np.abs(b.data - q.x0).max() > 1e-3
    np.testing.assert_allclose(a.data, q.x0 + 0.3 * (b.data - q.x0), rtol=1e-12, atol=1e-15)
