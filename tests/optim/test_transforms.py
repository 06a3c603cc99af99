"""Gradient transforms: each against its formula, with masks and group selection, composed
with optimizers (L2Penalty ≡ torch-style coupled weight_decay, DecoupledWeightDecay + Adam ≡ AdamW)."""
import numpy as np
import pytest

from deeprecipe import Parameter
from deeprecipe import optim

from ._problems import Quadratic


def _traj(make, steps=40, dim=6):
    q = Quadratic(dim=dim)
    p = Parameter(q.x0.copy())
    opt = make([p])
    for _ in range(steps):
        p.grad = q.grad(p.data)
        opt.step()
    return p.data.copy()


@pytest.mark.parametrize("cls, kw", [(optim.SGD, dict(lr=0.01, momentum=0.9)), (optim.Adam, dict(lr=0.05)),
                                     (optim.RMSprop, dict(lr=0.01)), (optim.Adagrad, dict(lr=0.3))])
def test_l2_penalty_equals_coupled_weight_decay(cls, kw):
    a = _traj(lambda ps: cls(ps, weight_decay=0.1, **kw))
    b = _traj(lambda ps: cls(ps, transforms=[optim.L2Penalty(0.1)], **kw))
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_decoupled_weight_decay_turns_adam_into_adamw_and_differs_from_l2():
    a = _traj(lambda ps: optim.AdamW(ps, lr=0.05, weight_decay=0.1))
    b = _traj(lambda ps: optim.Adam(ps, lr=0.05, transforms=[optim.DecoupledWeightDecay(0.1)]))
    c = _traj(lambda ps: optim.Adam(ps, lr=0.05, transforms=[optim.L2Penalty(0.1)]))
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert np.abs(a - c).max() > 1e-3   # decay inside Adam is rescaled by 1/(√v̂+ε); decoupled is not


def test_l1_penalty_adds_lambda_sign_with_sign_zero_zero():
    p = Parameter(np.array([-2.0, 0.0, 3.0]))
    opt = optim.SGD([p], lr=1.0, transforms=[optim.L1Penalty(0.25)])
    p.grad = np.zeros(3)
    opt.step()
    np.testing.assert_array_equal(p.data, [-1.75, 0.0, 2.75])


def test_masks_and_groups_select_parameters():
    w, b, w2 = Parameter(np.ones((2, 2))), Parameter(np.ones(2)), Parameter(np.ones((2, 2)))

    def run(transform):
        for p in (w, b, w2):
            p.data[...] = 1.0
            p.grad = np.zeros(p.shape)
        opt = optim.SGD([{"params": [w, b]}, {"params": [w2]}], lr=1.0, transforms=[transform])
        opt.step()
        return w.data[0, 0], b.data[0], w2.data[0, 0]

    assert run(optim.L2Penalty(0.5)) == (0.5, 0.5, 0.5)
    assert run(optim.L2Penalty(0.5, mask=optim.exclude_1d)) == (0.5, 1.0, 0.5)
    assert run(optim.L2Penalty(0.5, groups=[1])) == (1.0, 1.0, 0.5)
    assert run(optim.L2Penalty(0.5, mask=[b])) == (1.0, 0.5, 1.0)
    assert run(optim.DecoupledWeightDecay(0.5, mask=optim.exclude_1d, groups=0)) == (0.5, 1.0, 1.0)
    assert run(optim.L1Penalty(0.25, mask=optim.exclude_1d)) == (0.75, 1.0, 0.75)
    assert run(optim.L1Penalty(0.25, groups=[0], mask=[b])) == (1.0, 0.75, 1.0)
    with pytest.raises(TypeError, match="mask"):
        optim.L2Penalty(0.1, mask=3)


def test_clip_grad_norm_scales_to_max_norm_is_safe_at_zero_and_respects_masks():
    a, b = Parameter(np.zeros(2)), Parameter(np.zeros(3))

    def run(clip, ga, gb):
        a.data[...] = 0
        b.data[...] = 0
        a.grad, b.grad = np.array(ga, float), np.array(gb, float)
        optim.SGD([a, b], lr=1.0, transforms=[clip]).step()
        return -a.data.copy(), -b.data.copy()

    clip = optim.ClipGradNorm(1.0)
    ga, gb = run(clip, [3.0, 0.0], [0.0, 4.0, 0.0])
    assert clip.last_norm == 5.0
    np.testing.assert_allclose(np.sqrt((ga ** 2).sum() + (gb ** 2).sum()), 1.0, rtol=1e-6)
    np.testing.assert_allclose(ga, [0.6, 0.0], rtol=1e-6)
    ga, gb = run(clip, [0.0, 0.0], [0.0, 0.0, 0.0])          # zero norm: no NaN
    assert clip.last_norm == 0.0 and not ga.any() and not gb.any()
    ga, gb = run(clip, [0.3, 0.0], [0.0, 0.4, 0.0])          # below the threshold: untouched
    np.testing.assert_array_equal(gb, [0.0, 0.4, 0.0])
    masked = optim.ClipGradNorm(1.0, mask=[b])               # only b's gradient counts and is clipped
    ga, gb = run(masked, [30.0, 0.0], [0.0, 4.0, 0.0])
    assert masked.last_norm == 4.0
    np.testing.assert_array_equal(ga, [30.0, 0.0])
    np.testing.assert_allclose(gb, [0.0, 1.0, 0.0], rtol=1e-6)
    inf = optim.ClipGradNorm(2.0, norm_type=float("inf"))
    ga, gb = run(inf, [3.0, -8.0], [0.0, 4.0, 0.0])
    assert inf.last_norm == 8.0
    np.testing.assert_allclose(ga, [0.75, -2.0], rtol=1e-6)
    with pytest.raises(RuntimeError, match="NaN"):
        run(optim.ClipGradNorm(1.0, error_if_nonfinite=True), [np.nan, 0.0], [0.0, 0.0, 0.0])


def test_clip_grad_value_with_and_without_mask():
    w, b = Parameter(np.zeros((1, 3))), Parameter(np.zeros(3))
    for mask, expect_b in [(None, [-0.5, 0.2, 0.5]), (optim.exclude_1d, [-2.0, 0.2, 3.0])]:
        w.data[...] = 0
        b.data[...] = 0
        w.grad, b.grad = np.array([[-2.0, 0.2, 3.0]]), np.array([-2.0, 0.2, 3.0])
        optim.SGD([w, b], lr=1.0, transforms=[optim.ClipGradValue(0.5, mask=mask)]).step()
        np.testing.assert_allclose(-w.data[0], [-0.5, 0.2, 0.5])
        np.testing.assert_allclose(-b.data, expect_b)
    w.grad = np.array([[-2.0, 0.2, 3.0]])
    optim.clip_grad_value_([w], 1.0)
    np.testing.assert_array_equal(w.grad, [[-1.0, 0.2, 1.0]])


def test_transforms_run_in_order_and_chain_composes():
    """Clip then penalize differs from penalize then clip; chain(...) is the same as a list."""
    def run(transforms):
        p = Parameter(np.array([10.0]))
        p.grad = np.array([0.1])
        optim.SGD([p], lr=1.0, transforms=transforms).step()
        return 10.0 - p.data[0]

    clip, l2 = optim.ClipGradValue(1.0), optim.L2Penalty(0.5)
    assert run([clip, l2]) == pytest.approx(0.1 + 5.0)
    assert run([l2, clip]) == pytest.approx(1.0)
    assert run(optim.chain(clip, l2)) == run([clip, l2])
    assert "ClipGradValue" in repr(optim.chain(clip, l2))


def test_transforms_apply_only_to_parameters_with_gradients():
    a, b = Parameter(np.ones(2)), Parameter(np.ones(2))
    opt = optim.SGD([a, b], lr=0.1, transforms=[optim.DecoupledWeightDecay(1.0)])
    a.grad = np.zeros(2)
    opt.step()
    np.testing.assert_allclose(a.data, 0.9)
    np.testing.assert_array_equal(b.data, 1.0)
