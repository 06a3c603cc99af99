"""Activation statistics against hand counts on crafted activations."""
import numpy as np
import pytest

import deeprecipe as dr
from deeprecipe import diagnostics as D
from deeprecipe import nn


def test_relu_dead_units_and_zero_fraction_by_hand():
    a = np.array([[0.0, 1.0, 0.0, 0.0, 2.0],
                  [0.0, 0.0, 0.0, 3.0, 0.0],
                  [0.0, 5.0, 0.0, 0.0, 0.0]], np.float32)
    s = D.activation_stats(a, "relu")
    assert s["n_units"] == 5
    assert s["frac_dead"] == pytest.approx(2 / 5)  # columns 0 and 2 are <= 0 on every example
    assert s["frac_zero"] == pytest.approx(11 / 15)
    assert s["mean"] == pytest.approx(a.mean()) and s["std"] == pytest.approx(a.std())
    assert s["frac_inactive"] == s["frac_dead"]
    # a leaky unit whose outputs are all negative still passes slope * grad: inactive, not dead
    leaky = D.activation_stats(np.where(a == 0, -0.01, a), "leaky_relu", param=0.01)
    assert leaky["frac_inactive"] == pytest.approx(2 / 5) and leaky["frac_dead"] == 0.0
    # ... unless its slope is 0 (a PReLU channel that learned alpha = 0)
    prelu = D.activation_stats(np.where(a == 0, -0.0, a), "leaky_relu", param=np.array([0, .2, .2, .2, .2]))
    assert prelu["frac_dead"] == pytest.approx(1 / 5)


def test_dead_channels_of_a_conv_output():
    a = np.ones((2, 3, 4, 4), np.float32)
    a[:, 1] = 0.0          # channel 1 never fires
    a[0, 2] = -1.0
    a[1, 2, 3, 3] = 0.5    # channel 2 fires at one position of one example: alive
    assert D.activation_stats(a, "relu")["frac_dead"] == pytest.approx(1 / 3)
    # with the last axis as the unit axis, width positions are the units: none is dead
    assert D.activation_stats(a, "relu", unit_axis=-1)["frac_dead"] == 0.0


def test_sigmoid_and_tanh_saturation_by_hand():
    s = np.array([[0.005, 0.5, 0.995], [0.0101, 0.98, 0.9999]], np.float32)
    st = D.activation_stats(s, "sigmoid")
    assert st["frac_saturated"] == pytest.approx(3 / 6)
    assert "frac_dead" not in st
    t = np.array([-0.999, -0.5, 0.0, 0.98, 0.995, 1.0], np.float32).reshape(3, 2)
    assert D.activation_stats(t, "tanh")["frac_saturated"] == pytest.approx(3 / 6)
    assert D.activation_stats(t, "tanh", saturation_eps=0.05)["frac_saturated"] == pytest.approx(4 / 6)
    with pytest.raises(ValueError, match="kind"):
        D.activation_stats(t, "swish")


def test_histogram_counts_sum_to_the_number_of_activations(rng):
    a = rng.normal(size=(64, 33)).astype(np.float32)
    counts, edges = D.histogram(a, bins=17)
    assert counts.sum() == a.size and counts.shape == (17,) and edges.shape == (18,)
    ref, ref_edges = np.histogram(a, bins=17, range=(float(a.min()), float(a.max())))
    assert np.abs(counts - ref).sum() <= 2  # same bins up to float32 ties at an edge
    np.testing.assert_allclose(edges, ref_edges)
    # a fixed range: values outside go to the end bins, so nothing is lost
    c2, e2 = D.histogram(a, bins=4, range=(-1.0, 1.0))
    assert c2.sum() == a.size
    assert c2[0] == np.sum(a < -0.5) and c2[-1] == np.sum(a >= 0.5)
    # sigmoid histograms default to [0, 1]
    st = D.activation_stats(1 / (1 + np.exp(-a)), "sigmoid", bins=10)
    np.testing.assert_allclose(st["edges"], np.linspace(0, 1, 11))
    assert st["hist"].sum() == a.size


def test_non_finite_values_are_counted_apart():
    a = np.array([[1.0, np.nan], [np.inf, 0.0]], np.float32)
    s = D.activation_stats(a, None, bins=3)
    assert s["count"] == 2 and s["frac_nonfinite"] == 0.5
    assert s["hist"].sum() == 2 and s["mean"] == 0.5 and s["frac_zero"] == 0.5


def _crafted_net():
    """Linear(3, 4) + ReLU whose units 0 and 2 are dead on positive inputs, then
    Linear(4, 2) + Sigmoid whose unit 1 is saturated."""
    with dr.default_dtype(np.float64):
        net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.Sigmoid())
    net[0].weight.data[...] = [[-1, -1, -1], [1, 1, 1], [-2, 0, -1], [0.5, 0.5, 0.5]]
    net[0].bias.data[...] = [-0.1, 0.0, -1.0, 0.0]
    net[2].weight.data[...] = [[0.1, 0.1, 0.1, 0.1], [0.0, 100.0, 0.0, 0.0]]
    net[2].bias.data[...] = [0.0, 10.0]
    return net


def test_activation_monitor_on_a_crafted_net(rng):
    net = _crafted_net()
    x = rng.uniform(0.1, 1.0, size=(8, 3))
    with D.ActivationMonitor(net) as default:
        assert default.kinds == {"1": "relu", "3": "sigmoid"}  # default: the activation modules
    mon = D.ActivationMonitor(net, modules="all", bins=5)  # also the Linear outputs
    assert mon.kinds == {"0": None, "1": "relu", "2": None, "3": "sigmoid"}
    net(dr.Tensor(x))
    assert mon.stats == {}  # not recording: the hooks compute nothing
    with mon.record():
        out = net(dr.Tensor(x))
    assert list(mon.stats) == ["0", "1", "2", "3"]  # forward order
    relu = mon.stats["1"]
    assert relu["frac_dead"] == pytest.approx(2 / 4)
    h = np.maximum(x @ net[0].weight.data.T + net[0].bias.data, 0)
    assert relu["frac_zero"] == pytest.approx(np.mean(h == 0))
    assert relu["mean"] == pytest.approx(h.mean())
    sig = mon.stats["3"]
    y = out.numpy()
    assert sig["frac_saturated"] == pytest.approx(np.mean((y < 0.01) | (y > 0.99)))
    assert 0.4 < sig["frac_saturated"] <= 0.5 + 1e-12  # unit 1 saturated, unit 0 near 0.5
    assert all(s["hist"].sum() == s["count"] == 8 * (4 if k in "01" else 2) for k, s in mon.stats.items())
    mon.remove()
    assert all(not m._forward_hooks for m in net.modules())


def test_monitor_module_selection_and_kind_override(rng):
    net = _crafted_net()
    with D.ActivationMonitor(net, modules=["1"], kinds={"1": "tanh"}) as mon:
        with mon.record():
            net(dr.Tensor(rng.uniform(size=(4, 3))))
        assert list(mon.stats) == ["1"] and "frac_saturated" in mon.stats["1"]
    assert all(not m._forward_hooks for m in net.modules())
    with D.ActivationMonitor(net, modules=lambda name, m: isinstance(m, nn.Linear)) as mon:
        assert mon.names == ["0", "2"]
    with pytest.raises(ValueError, match="no module named"):
        D.ActivationMonitor(net, modules=["7"])
    with pytest.raises(ValueError, match="'all'"):
        D.ActivationMonitor(net, modules="some")


def test_dead_means_no_gradient_for_each_relu_variant(rng):
    """Dead units are those whose weights get no gradient: checked against backward itself."""
    x = dr.Tensor(rng.standard_normal((16, 6)))
    for act, expect_dead in ((nn.ReLU(), True), (nn.LeakyReLU(0.01), False), (nn.ELU(), True),
                             (nn.PReLU(), False)):
        with dr.default_dtype(np.float64):
            lin = nn.Linear(6, 4)
        lin.bias.data[:2] = -100.0            # units 0 and 1: negative on every example
        lin.bias.data[2:] = 100.0             # units 2 and 3: positive on every example, whatever the weights
        net = nn.Sequential(lin, act)
        mon = D.ActivationMonitor(net)
        with mon.record():
            out = net(x)
        out.sum().backward()
        # the independent measurement (ELU's eˣ at x = -100 is ~1e-44: no gradient to any precision)
        no_grad = np.all(np.abs(lin.weight.grad) < 1e-12, axis=1)
        s = mon.stats["1"]
        assert s["frac_inactive"] == pytest.approx(2 / 4)
        assert s["frac_dead"] == pytest.approx(no_grad.mean()), type(act).__name__
        assert (s["frac_dead"] > 0) == expect_dead
        mon.remove()


def test_softplus_saturation_and_dead_units():
    # softplus' derivative is 1 - exp(-y); below eps = 0.01 when y < -log(0.99) ~ 0.01005
    y = np.array([[0.005, 0.5, 0.01], [0.001, 2.0, 0.02]], np.float32)
    s = D.activation_stats(y, "softplus")
    assert s["frac_saturated"] == pytest.approx(3 / 6)
    assert s["frac_dead"] == pytest.approx(1 / 3)   # unit 0 saturated on both examples
    assert D.activation_stats(y, "softplus", param=100.0)["frac_saturated"] == 0.0


def test_elu_saturation():
    y = np.array([[-0.995, 1.0], [-0.5, -0.999]], np.float32)   # derivative y + 1
    s = D.activation_stats(y, "elu")
    assert s["frac_saturated"] == pytest.approx(2 / 4) and s["frac_dead"] == 0.0


def test_maxout_dead_pieces_against_backward(rng):
    with dr.default_dtype(np.float64):
        net = nn.MLP([5, 3, 2], activation=("maxout", 3), rng=0)
    lin = net[0]
    lin.bias.data[[0, 4]] = -100.0          # piece 0 of unit 0 and piece 1 of unit 1 never win
    x = dr.Tensor(rng.standard_normal((32, 5)))
    mon = D.ActivationMonitor(net)
    assert "maxout" in mon.kinds.values()
    with mon.record():
        out = net(x)
    out.sum().backward()
    no_grad = np.all(lin.weight.grad == 0, axis=1)
    name = next(n for n, k in mon.kinds.items() if k == "maxout")
    assert mon.stats[name]["frac_dead"] == pytest.approx(no_grad.mean())
    assert no_grad[[0, 4]].all()
    # a Maxout layer (its own weights) gives the same count
    with dr.default_dtype(np.float64):
        layer = nn.Maxout(5, 3, pieces=3, rng=0)
    layer.bias.data[[0, 4]] = -100.0
    with D.ActivationMonitor(layer) as m2, m2.record():
        layer(x)
    assert m2.stats[D.ROOT]["frac_dead"] == pytest.approx(2 / 9)
