"""Layer behaviour that needs no oracle: batch norm in eval mode, maxout = ReLU, PReLU's α
gradient, both dropout conventions (incl. the exact 2^M-mask average), weight norm, errors."""
import itertools

import numpy as np
import pytest

import deeprecipe as dr
from deeprecipe import F, nn


def _trained_bn(cls, shape, steps=4):
    bn = cls(shape[1], dtype=np.float64)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        bn(rng.standard_normal(shape) * 3 + 2)
    return bn


@pytest.mark.parametrize("cls,shape", [(nn.BatchNorm1d, (8, 4)), (nn.BatchNorm2d, (6, 3, 4, 4))])
def test_batchnorm_eval_output_independent_of_the_batch(cls, shape):
    bn = _trained_bn(cls, shape)
    assert not np.allclose(bn.running_mean, 0) and int(bn.num_batches_tracked) == 4
    bn.eval()
    stats = (bn.running_mean.copy(), bn.running_var.copy())
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape)
    full = bn(x).data
    for i in range(shape[0]):
        alone = bn(x[i:i + 1]).data[0]
        others = np.concatenate([x[i:i + 1], rng.standard_normal(shape) * 10 - 5])
        mixed = bn(others).data[0]
        assert np.array_equal(full[i], alone) and np.array_equal(alone, mixed)
    # eval mode does not touch the running statistics; the closed form holds
    assert np.array_equal(stats[0], bn.running_mean) and np.array_equal(stats[1], bn.running_var)
    c = (slice(None), slice(None)) + (None,) * (len(shape) - 2)
    expect = (x - bn.running_mean[c[1:]]) / np.sqrt(bn.running_var[c[1:]] + bn.eps)
    expect = expect * bn.weight.data[c[1:]] + bn.bias.data[c[1:]]
    np.testing.assert_allclose(full, expect, rtol=1e-12)
    # in training mode the same example's output does depend on the batch
    bn.train()
    assert not np.allclose(bn(x).data[0], bn(others[: shape[0]]).data[0])


def test_batchnorm_checks_input_and_supports_no_running_stats():
    bn = nn.BatchNorm1d(4)
    with pytest.raises(ValueError, match="num_features=4"):
        bn(np.zeros((5, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="2 or 3-D"):
        bn(np.zeros((5, 4, 2, 2), dtype=np.float32))
    free = nn.BatchNorm2d(2, track_running_stats=False, dtype=np.float64).eval()
    assert [n for n, _ in free.named_buffers()] == []
    x = np.random.default_rng(0).standard_normal((4, 2, 3, 3))
    y = free(x).data  # batch statistics even in eval mode
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)


def test_gradcheck_batchnorm_in_training():
    bn = nn.BatchNorm1d(3, dtype=np.float64)
    bn.weight.data[...] = [0.5, 1.5, -1.0]
    x = dr.Tensor(np.random.default_rng(0).standard_normal((5, 3)), requires_grad=True)
    dr.gradcheck(lambda x, w, b: bn(x), [x, bn.weight, bn.bias])


def test_maxout_with_a_zero_piece_is_relu_exactly():
    rng = np.random.default_rng(0)
    m = nn.Maxout(6, 4, pieces=2, dtype=np.float64, rng=1)
    m.weight.data[1::2] = 0.0   # the second piece of each unit: 0·x + 0
    m.bias.data[1::2] = 0.0
    x = rng.standard_normal((50, 6))
    relu = F.relu(F.linear(x, m.weight.data[0::2], m.bias.data[0::2])).data
    assert np.array_equal(m(x).data, relu)
    assert (relu == 0).any() and (relu > 0).any()
    # the max-over-groups module inside MLP(activation='maxout') does the same
    z = F.linear(x, m.weight.data, m.bias.data)
    assert np.array_equal(nn.GroupMax(2)(z).data, relu)
    # and the gradient w.r.t. the input is ReLU's
    xt = dr.Tensor(x, requires_grad=True)
    m(xt).sum().backward()
    xr = dr.Tensor(x, requires_grad=True)
    F.relu(F.linear(xr, m.weight.data[0::2], m.bias.data[0::2])).sum().backward()
    np.testing.assert_allclose(xt.grad, xr.grad, rtol=1e-15)


@pytest.mark.parametrize("num,shape", [(1, (5, 4)), (3, (4, 3, 5)), (3, (2, 3, 3, 3))])
def test_prelu_alpha_gradient_check(num, shape):
    p = nn.PReLU(num, dtype=np.float64)
    p.weight.data[...] = np.linspace(0.1, 0.6, num)
    x = np.random.default_rng(0).standard_normal(shape)
    x[np.abs(x) < 1e-3] = 0.5  # keep away from the kink
    xt = dr.Tensor(x, requires_grad=True)
    dr.gradcheck(lambda x, a: p(x), [xt, p.weight])
    # closed form: dL/dα_c = Σ over negative inputs of channel c of (upstream · x)
    p.weight.grad = None
    p(x).sum().backward()
    neg = np.minimum(x, 0)
    expect = neg.sum() if num == 1 else neg.sum(axis=tuple(a for a in range(len(shape)) if a != 1))
    np.testing.assert_allclose(p.weight.grad, np.atleast_1d(expect), rtol=1e-12)


def test_inverted_dropout_keeps_the_expected_activation():
    x = np.ones((400, 500), dtype=np.float32)
    d = nn.Dropout(0.3, rng=0)
    y = d(x).data
    assert abs((y == 0).mean() - 0.3) < 0.005
    assert abs(y.mean() - 1.0) < 0.01                  # E[y] = x
    assert np.allclose(y[y != 0], 1 / 0.7)
    out = d.eval()(x)
    assert np.array_equal(getattr(out, "data", out), x)


def test_lecture_dropout_scales_at_test_time():
    x = np.full((400, 500), 2.0)
    inv = nn.Dropout(0.4, rng=7)
    lec = nn.Dropout(0.4, scale_at_test=True, rng=7)
    y_inv, y_lec = inv(x).data, lec(x).data
    assert set(np.unique(y_lec / 2.0)) == {0.0, 1.0}  # a 0/1 mask, no rescaling in training
    np.testing.assert_allclose(y_lec, y_inv * 0.6, rtol=1e-12)  # same seed, same mask
    assert abs(y_lec.mean() - 2.0 * 0.6) < 0.02
    lec.eval()
    assert np.array_equal(lec(x).data, x * 0.6)


def test_global_rng_drives_dropout_reproducibly():
    x = np.ones((20, 20))
    d = nn.Dropout(0.5)
    dr.seed(11)
    a = d(x).data
    b = d(x).data
    dr.seed(11)
    assert np.array_equal(d(x).data, a) and not np.array_equal(a, b)
    with pytest.raises(ValueError, match="p must be"):
        nn.Dropout(1.0)


def _masked_forward(x, layers, masks):
    """Forward of Dropout(p) -> Linear -> [act] -> Dropout(p) -> Linear with fixed 0/1 masks."""
    (w1, b1), (w2, b2), act = layers
    h = (x * masks[0]) @ w1.T + b1
    return (act(h) * masks[1]) @ w2.T + b2


@pytest.mark.parametrize("p", [0.5, 0.3])
def test_weight_scaling_equals_the_average_over_all_dropout_masks_for_a_linear_net(p):
    """The lecture's claim: with no scaling in training and ×(1−p) at test time, a linear
    network's test output is the (probability-weighted; uniform for p=0.5) average of its
    outputs over all 2^M masks — exactly, up to float64 rounding."""
    for act_name, act in [("identity", lambda h: h), ("relu", lambda h: np.maximum(h, 0))]:
        model = nn.Sequential(nn.Dropout(p, scale_at_test=True), nn.Linear(4, 3, rng=0, dtype=np.float64),
                              nn.ReLU() if act_name == "relu" else nn.Identity(),
                              nn.Dropout(p, scale_at_test=True), nn.Linear(3, 2, rng=1, dtype=np.float64))
        layers = ((model[1].weight.data, model[1].bias.data), (model[4].weight.data, model[4].bias.data), act)
        x = np.random.default_rng(2).standard_normal((5, 4))
        M = 4 + 3
        avg = np.zeros((5, 2))
        total_prob = 0.0
        for bits in itertools.product([0.0, 1.0], repeat=M):
            bits = np.array(bits)
            prob = np.prod(np.where(bits == 1, 1 - p, p))
            total_prob += prob
            avg += prob * _masked_forward(x, layers, (bits[:4], bits[4:]))
        assert total_prob == pytest.approx(1.0, abs=1e-12)
        test_out = model.eval()(x).data
        if act_name == "identity":
            np.testing.assert_allclose(test_out, avg, rtol=1e-12, atol=1e-14)
        else:  # only an approximation once there is a non-linearity
            assert np.abs(test_out - avg).max() > 1e-3
        # training mode draws one of the enumerated masks per example, with no rescaling
        model.train()
        out = model(x).data
        for i in range(5):
            assert any(np.allclose(out[i], _masked_forward(x[i], layers, (np.array(b[:4]), np.array(b[4:]))),
                                   rtol=1e-12, atol=1e-14)
                       for b in itertools.product([0.0, 1.0], repeat=M))


def test_weight_norm_reparameterizes_and_gradchecks():
    lin = nn.Linear(4, 3, rng=0, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((5, 4))
    before = lin(x).data
    wn = nn.WeightNorm(lin)
    np.testing.assert_allclose(wn(x).data, before, rtol=1e-12)  # same function at construction
    assert wn.weight_g.shape == (3, 1)
    wn.weight_g.data[...] = [[2.0], [0.5], [1.0]]
    w = wn.weight.data
    np.testing.assert_allclose(np.linalg.norm(w, axis=1), [2.0, 0.5, 1.0], rtol=1e-12)  # ‖w_i‖ = g_i
    xt = dr.Tensor(x, requires_grad=True)
    dr.gradcheck(lambda x, g, v, b: wn(x), [xt, wn.weight_g, wn.weight_v, lin.bias])
    conv = nn.WeightNorm(nn.Conv2d(2, 3, 3, dtype=np.float64, rng=1), dim=None)
    assert conv.weight_g.shape == ()
    xt = dr.Tensor(np.random.default_rng(1).standard_normal((2, 2, 4, 4)), requires_grad=True)
    dr.gradcheck(lambda x, g, v: conv(x), [xt, conv.weight_g, conv.weight_v])
    with pytest.raises(ValueError, match="no parameter"):
        nn.WeightNorm(nn.ReLU())


def test_residual_shapes_and_errors():
    x = np.random.default_rng(0).standard_normal((3, 4))
    r = nn.Residual(nn.Linear(4, 4, rng=0, dtype=np.float64))
    np.testing.assert_allclose(r(x).data, x + r.fn(x).data, rtol=1e-15)
    with pytest.raises(ValueError, match="projection"):
        nn.Residual(nn.Linear(4, 2))(x.astype(np.float32))
    rp = nn.Residual(nn.Linear(4, 2, dtype=np.float64), projection=nn.Linear(4, 2, bias=False, dtype=np.float64))
    assert rp(x).shape == (3, 2)
    assert [n for n, _ in rp.named_parameters()] == ["fn.weight", "fn.bias", "projection.weight"]


def test_shapes_and_argument_errors():
    x = np.zeros((2, 3, 9, 9), dtype=np.float32)
    conv = nn.Conv2d(3, 5, 3, stride=2, padding=1)
    assert conv(x).shape == (2, 5) + conv.output_shape(9, 9) == (2, 5, 5, 5)
    assert nn.MaxPool2d(2)(x).shape == (2, 3, 4, 4)
    assert nn.AvgPool2d(3, stride=1, padding=1)(x).shape == (2, 3, 9, 9)
    assert nn.Flatten()(x).shape == (2, 243)
    assert nn.Flatten(2)(x).shape == (2, 3, 81)
    y = nn.Softmax(dim=1)(np.random.default_rng(0).standard_normal((4, 6))).data
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-6)
    for bad in [lambda: nn.Linear(0, 3), lambda: nn.Linear(3, 2.5), lambda: nn.Conv2d(3, 4, 0),
                lambda: nn.Conv2d(3, 4, 2, padding="same"), lambda: nn.Conv2d(3, 4, 3, padding=-1),
                lambda: nn.GroupNorm(3, 4), lambda: nn.BatchNorm1d(4, momentum=2.0), lambda: nn.MaxPool2d(0)]:
        with pytest.raises(ValueError):
            bad()
    with pytest.raises(ValueError, match="channels"):
        conv(np.zeros((1, 4, 9, 9), dtype=np.float32))
    with pytest.raises(ValueError, match="LayerNorm"):
        nn.LayerNorm(5)(np.zeros((2, 4), dtype=np.float32))
    assert "Conv2d(3, 5, kernel_size=(3, 3), stride=(2, 2)" in repr(conv)
