"""Initializers: fans, gains, sample statistics against each scheme's formula, specs, seeding."""
import math

import numpy as np
import pytest

import deeprecipe as dr
from deeprecipe import nn
from deeprecipe.nn import init
from tests.conftest import requires_torch, torch

LINEAR = (400, 500)          # fan_in 500, fan_out 400
CONV = (64, 32, 5, 5)        # fan_in 32*25 = 800, fan_out 64*25 = 1600


def test_fans_for_linear_and_conv_weights():
    assert init.compute_fans(LINEAR) == (500, 400)
    assert init.compute_fans(CONV) == (800, 1600)
    assert init.compute_fans(nn.Conv2d(3, 8, (3, 5)).weight.shape) == (45, 120)
    with pytest.raises(ValueError, match="at least 2"):
        init.compute_fans((10,))


@requires_torch
def test_fans_and_gains_match_torch():
    for shape in [LINEAR, CONV, (7, 3, 1, 1)]:
        assert init.compute_fans(shape) == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    for nl, param in [("linear", None), ("sigmoid", None), ("tanh", None), ("relu", None),
                      ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None), ("conv2d", None)]:
        assert init.calculate_gain(nl, param) == pytest.approx(torch.nn.init.calculate_gain(nl, param), rel=1e-12)


def _std_for(name, shape):
    fan_in, fan_out = init.compute_fans(shape)
    return {
        "lecun_normal": math.sqrt(1 / fan_in),
        "lecun_uniform": math.sqrt(1 / fan_in),
        "glorot_normal": math.sqrt(2 / (fan_in + fan_out)),
        "glorot_uniform": math.sqrt(2 / (fan_in + fan_out)),
        "he_normal": math.sqrt(2 / fan_in),
        "he_uniform": math.sqrt(2 / fan_in),
    }[name]


@pytest.mark.parametrize("shape", [LINEAR, CONV], ids=["linear", "conv"])
@pytest.mark.parametrize("name", ["lecun_normal", "lecun_uniform", "glorot_normal", "glorot_uniform",
                                  "he_normal", "he_uniform"])
def test_sample_statistics_match_formula(name, shape):
    w = np.empty(shape, dtype=np.float32)
    getattr(init, name)(w, rng=0)
    n = w.size
    std = _std_for(name, shape)
    # the sample std has relative standard error ~ 1/sqrt(2n) (< 0.2% here): 2% is > 10 sigma
    assert w.std() == pytest.approx(std, rel=0.02)
    assert abs(w.mean()) < 6 * std / math.sqrt(n)
    if name.endswith("uniform"):
        bound = std * math.sqrt(3)
        assert np.abs(w).max() <= bound * (1 + 1e-6)
        assert np.abs(w).max() > 0.99 * bound  # fills the whole interval


def test_he_mode_fan_out_and_leaky_gain():
    w = np.empty(CONV)
    init.he_normal(w, mode="fan_out", rng=1)
    assert w.std() == pytest.approx(math.sqrt(2 / 1600), rel=0.02)
    init.kaiming_normal(w, a=0.2, nonlinearity="leaky_relu", rng=1)
    assert w.std() == pytest.approx(math.sqrt(2 / (1 + 0.04)) / math.sqrt(800), rel=0.02)
    assert init.xavier_uniform is init.glorot_uniform and init.kaiming_uniform_ is init.he_uniform


def test_normal_uniform_constant_and_orthogonal():
    w = np.empty(LINEAR)
    init.normal(w, std=0.01, rng=0)
    assert w.std() == pytest.approx(0.01, rel=0.02)
    init.normal(w, mean=2.0, std=0.5, rng=0)
    assert w.mean() == pytest.approx(2.0, abs=0.01)
    init.uniform(w, -0.3, 0.1, rng=0)
    assert w.min() >= -0.3 and w.max() <= 0.1 and w.mean() == pytest.approx(-0.1, abs=0.002)
    init.constant(w, 0.7)
    assert np.all(w == 0.7)
    for shape in [(30, 50), (50, 30), (8, 3, 3, 3)]:
        q = np.empty(shape)
        init.orthogonal(q, gain=2.0, rng=3)
        m = q.reshape(shape[0], -1) / 2.0
        gram = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
        assert np.allclose(gram, np.eye(gram.shape[0]), atol=1e-12)


def test_seeding_dtype_and_device_independent_values():
    a, b = np.empty(LINEAR, np.float32), np.empty(LINEAR, np.float64)
    init.he_normal(a, rng=42)
    init.he_normal(b, rng=42)
    assert np.array_equal(a, b.astype(np.float32))  # same draws whatever the dtype
    dr.seed(5)
    init.glorot_uniform(a)
    dr.seed(5)
    init.glorot_uniform(b)
    assert np.array_equal(a, b.astype(np.float32))
    p = nn.Parameter(np.zeros((3, 4)))
    init.lecun_normal(p, rng=0)
    assert p.data.std() > 0
    with pytest.raises(TypeError, match="floating"):
        init.normal(np.zeros((3, 3), dtype=np.int64))


def test_torch_default_init_of_linear_and_conv():
    lin = nn.Linear(500, 400, rng=0)
    bound = 1 / math.sqrt(500)
    assert np.abs(lin.weight.data).max() <= bound
    assert lin.weight.data.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    assert np.abs(lin.bias.data).max() <= bound and np.abs(lin.bias.data).max() > 0.9 * bound
    conv = nn.Conv2d(32, 64, 5, rng=0)
    bound = 1 / math.sqrt(800)
    assert np.abs(conv.weight.data).max() <= bound
    assert conv.weight.data.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    assert np.abs(conv.bias.data).max() <= bound


def test_init_specs_on_layers_and_mlp():
    lin = nn.Linear(500, 400, init="he", rng=0)
    assert lin.weight.data.std() == pytest.approx(math.sqrt(2 / 500), rel=0.02)
    assert not lin.bias.data.any()  # any explicit init: zero bias
    lin = nn.Linear(500, 400, init=("normal", 0.01), rng=0)
    assert lin.weight.data.std() == pytest.approx(0.01, rel=0.02)
    lin = nn.Linear(500, 400, init=("uniform", 0.05), rng=0)
    assert np.abs(lin.weight.data).max() <= 0.05
    lin = nn.Linear(500, 400, init=("he_normal", {"mode": "fan_out"}), rng=0)
    assert lin.weight.data.std() == pytest.approx(math.sqrt(2 / 400), rel=0.02)
    lin = nn.Linear(40, 30, init=lambda w, rng: init.constant(w, 0.5))
    assert np.all(lin.weight.data == 0.5)

    mlp = nn.MLP([500, 400, 400, 10], init="xavier", rng=0)
    w = mlp[2].weight.data
    assert w.std() == pytest.approx(math.sqrt(2 / 800), rel=0.02)
    mlp = nn.MLP([500, 400, 10], activation=("leaky_relu", 0.3), init="he", rng=0)
    assert mlp[0].weight.data.std() == pytest.approx(math.sqrt(2 / (1 + 0.09) / 500), rel=0.02)
    mlp = nn.MLP([500, 400, 10], activation="prelu", init="he", rng=0)  # He et al.: gain for a=0.25
    assert mlp[0].weight.data.std() == pytest.approx(math.sqrt(2 / (1 + 0.0625) / 500), rel=0.02)
    mlp = nn.MLP([500, 400, 10], activation="tanh", init="lecun", rng=0)
    assert mlp[0].weight.data.std() == pytest.approx(math.sqrt(1 / 500), rel=0.02)
    conv = nn.ConvNet((3, 8, 8), channels=(64,), init="he", rng=0, hidden=())
    assert conv[0].weight.data.std() == pytest.approx(math.sqrt(2 / 27), rel=0.05)

    for bad in ["hee", ("normal",), ("normal", 0.1, 0.2, 0.3), 3, "normal"]:
        with pytest.raises(ValueError):
            nn.Linear(3, 3, init=bad)


def test_same_seed_same_model():
    a = nn.MLP([8, 16, 4], init="he", rng=7)
    b = nn.MLP([8, 16, 4], init="he", rng=7)
    c = nn.MLP([8, 16, 4], init="he", rng=8)
    assert all(np.array_equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert not np.array_equal(a[0].weight.data, c[0].weight.data)


def test_initializer_objects_are_specs_too():
    w = np.empty(LINEAR)
    nn.init.GlorotNormal()(w, rng=0)
    assert w.std() == pytest.approx(math.sqrt(2 / 900), rel=0.02)
    assert nn.init.XavierUniform is nn.init.GlorotUniform and nn.init.KaimingNormal is nn.init.HeNormal
    lin = nn.Linear(500, 400, init=nn.init.Normal(std=0.05), rng=0)
    assert lin.weight.data.std() == pytest.approx(0.05, rel=0.02) and not lin.bias.data.any()
    m = nn.MLP([500, 400, 10], activation=("leaky_relu", 0.5), init=nn.init.HeNormal(mode="fan_out"), rng=0)
    assert m.config["init"] == ["he_normal", {"mode": "fan_out"}]
    assert m[0].weight.data.std() == pytest.approx(math.sqrt(2 / 1.25 / 400), rel=0.02)
    again = nn.build_model(m.config, rng=0)
    assert np.array_equal(again[0].weight.data, m[0].weight.data)
