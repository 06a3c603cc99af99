"""Freezing layers and per-group learning rates, the public fine-tuning API:
``Module.requires_grad_(False)`` / ``Parameter.requires_grad = False`` and parameter groups
with their own ``lr``, through every optimizer and through ``train.fit``."""
import numpy as np
import pytest

from deeprecipe import nn, optim
from deeprecipe.train import fit

X = np.random.default_rng(0).standard_normal((64, 6)).astype(np.float32)
Y = np.random.default_rng(1).integers(0, 3, 64)

# every optimizer, with the options that would move a parameter without a gradient if the
# optimizer did not skip it (momentum, weight decay)
CONFIGS = {
    "sgd": dict(lr=0.1, momentum=0.9, weight_decay=0.1), "sgdw": dict(lr=0.1, momentum=0.9, weight_decay=0.1),
    "adagrad": dict(lr=0.1, weight_decay=0.1), "rmsprop": dict(lr=0.01, momentum=0.9, weight_decay=0.1),
    "adam": dict(lr=0.01, weight_decay=0.1), "adamw": dict(lr=0.01, weight_decay=0.1),
    "nadam": dict(lr=0.01, weight_decay=0.1), "radam": dict(lr=0.01, weight_decay=0.1),
    "adabound": dict(lr=0.01, weight_decay=0.1), "amsbound": dict(lr=0.01, weight_decay=0.1),
    "swats": dict(lr=0.01, weight_decay=0.1),
}


def _net():
    return nn.MLP([6, 8, 8, 3], activation="relu", init="he", rng=0)


def test_every_optimizer_has_a_config():
    assert sorted(CONFIGS) == sorted(optim.OPTIMIZERS)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_frozen_layer_is_not_touched_by_any_optimizer_in_fit(name):
    net = _net()
    net[0].requires_grad_(False)
    frozen = [p.data.copy() for p in net[0].parameters()]
    others = [p.data.copy() for p in net[2].parameters()]
    opt = optim.create(name, net.parameters(), **CONFIGS[name])
    fit(net, (X, Y), optimizer=opt, epochs=2, batch_size=16, seed=0, verbose=0)
    for p, before in zip(net[0].parameters(), frozen):
        np.testing.assert_array_equal(p.data, before)
        assert p.grad is None and opt.param_state(p) == {}      # no state, no step count
    assert any(np.abs(p.data - b).max() > 0 for p, b in zip(net[2].parameters(), others))
    assert net.num_parameters(trainable_only=True) == net.num_parameters() - (6 * 8 + 8)


def test_frozen_layer_under_lookahead_and_gradient_transforms():
    net = _net()
    net[0].weight.requires_grad = False          # one parameter, the attribute form
    before = net[0].weight.data.copy()
    inner = optim.SGD(net.parameters(), lr=0.1, momentum=0.9,
                      transforms=[optim.GradientNoise(eta=0.3, seed=0), optim.DecoupledWeightDecay(0.1)])
    fit(net, (X, Y), optimizer=optim.Lookahead(inner, k=3, alpha=0.5), epochs=2, batch_size=16, seed=0, verbose=0)
    np.testing.assert_array_equal(net[0].weight.data, before)
    assert np.abs(net[0].bias.data).max() > 0     # its bias was not frozen


def test_freezing_mid_training_stops_momentum_at_once():
    net = _net()
    opt = optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    fit(net, (X, Y), optimizer=opt, epochs=1, batch_size=16, seed=0, verbose=0)
    net[0].requires_grad_(False)
    snapshot = net[0].weight.data.copy()
    fit(net, (X, Y), optimizer=opt, epochs=1, batch_size=16, seed=0, verbose=0)
    np.testing.assert_array_equal(net[0].weight.data, snapshot)     # no drift from the momentum buffer
    net[0].requires_grad_(True)
    fit(net, (X, Y), optimizer=opt, epochs=1, batch_size=16, seed=0, verbose=0)
    assert np.abs(net[0].weight.data - snapshot).max() > 0


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_param_groups_with_their_own_lr_equal_separate_optimizers(name):
    a, b = _net(), _net()
    body_a = list(net_params(a, 0)) + list(net_params(a, 2))
    head_a = list(net_params(a, 4))
    kw = dict(CONFIGS[name])
    lr = kw.pop("lr")
    grouped = optim.create(name, [{"params": body_a, "lr": lr * 0.1}, {"params": head_a}], lr=lr, **kw)
    assert [g["lr"] for g in grouped.param_groups] == [lr * 0.1, lr]
    body_b = list(net_params(b, 0)) + list(net_params(b, 2))
    sep = [optim.create(name, body_b, lr=lr * 0.1, **kw), optim.create(name, list(net_params(b, 4)), lr=lr, **kw)]
    rng = np.random.default_rng(3)
    for _ in range(5):
        grads = [rng.standard_normal(p.shape).astype(p.data.dtype) for p in a.parameters()]
        for p, q, g in zip(a.parameters(), b.parameters(), grads):
            p.grad, q.grad = g.copy(), g.copy()
        grouped.step()
        for o in sep:
            o.step()
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.data, q.data)


def net_params(net, i):
    return net[i].parameters()
