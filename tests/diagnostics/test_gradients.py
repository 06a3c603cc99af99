"""Gradient norms per parameter and per layer against a hand-written NumPy backprop."""
import math

import numpy as np
import pytest

import deeprecipe as dr
from deeprecipe import diagnostics as D
from deeprecipe import nn
from deeprecipe import functions as F


def _net(rng):
    with dr.default_dtype(np.float64):
        net = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3))
    for p in net.parameters():
        p.data[...] = rng.normal(size=p.shape)
    return net


def _manual_grads(net, x, y):
    """Backprop of mean((tanh(x W1ᵀ + b1) W2ᵀ + b2 - y)²) written out in NumPy."""
    W1, b1 = net[0].weight.data, net[0].bias.data
    W2, b2 = net[2].weight.data, net[2].bias.data
    h = np.tanh(x @ W1.T + b1)
    out = h @ W2.T + b2
    dout = 2 * (out - y) / out.size
    dz = (dout @ W2) * (1 - h ** 2)
    return {"0.weight": dz.T @ x, "0.bias": dz.sum(0), "2.weight": dout.T @ h, "2.bias": dout.sum(0)}


def test_grad_norms_match_manual_backprop(rng):
    net = _net(rng)
    x, y = rng.normal(size=(7, 4)), rng.normal(size=(7, 3))
    F.mse_loss(net(dr.Tensor(x)), y).backward()
    g = _manual_grads(net, x, y)

    per_param = D.grad_norms(net)
    assert list(per_param) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    for name, ref in g.items():
        assert per_param[name] == pytest.approx(np.linalg.norm(ref), rel=1e-10)

    per_layer = D.grad_norms_by_layer(net)
    assert list(per_layer) == ["0", "2"]  # the Tanh owns no parameters: not a layer
    for layer in ("0", "2"):
        ref = math.sqrt(np.sum(g[f"{layer}.weight"] ** 2) + np.sum(g[f"{layer}.bias"] ** 2))
        assert per_layer[layer] == pytest.approx(ref, rel=1e-10)

    total = math.sqrt(sum(np.sum(v ** 2) for v in g.values()))
    assert D.global_grad_norm(net) == pytest.approx(total, rel=1e-10)
    assert D.first_last_ratio(per_layer) == pytest.approx(per_layer["0"] / per_layer["2"])
    assert D.first_layer(per_layer)[0] == "0" and D.last_layer(per_layer)[0] == "2"


def test_params_without_grad_are_left_out_and_nested_names(rng):
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = dr.Parameter(np.ones(3))  # owned by the root module
            self.body = nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 2))

        def forward(self, x):
            return self.body(x * self.scale)

    m = Model()
    m.body[0].requires_grad_(False)
    assert D.layer_names(m) == [D.ROOT, "body.0", "body.2"]
    F.mse_loss(m(dr.Tensor(rng.normal(size=(5, 3)).astype(np.float32))), np.zeros((5, 2), np.float32)).backward()
    assert list(D.grad_norms(m)) == ["scale", "body.2.weight", "body.2.bias"]
    assert list(D.grad_norms_by_layer(m)) == [D.ROOT, "body.2"]


def test_grad_norms_accept_a_list_of_parameters():
    a = dr.Parameter(np.array([3.0, 4.0]))
    b = dr.Parameter(np.array([[1.0]]))
    a.grad = np.array([3.0, 4.0])
    b.grad = np.array([[-12.0]])
    assert D.grad_norms_by_layer([a, b]) == {"0": 5.0, "1": 12.0}
    assert D.global_grad_norm([a, b]) == 13.0
    with pytest.raises(TypeError, match="named_parameters"):
        D.grad_norms(42)


def test_first_last_ratio_edge_cases():
    assert math.isinf(D.first_last_ratio({"a": 1.0, "b": 0.0}))
    assert math.isnan(D.first_last_ratio({"a": 0.0, "b": 0.0}))
    with pytest.raises(ValueError, match="empty"):
        D.first_last_ratio({})
