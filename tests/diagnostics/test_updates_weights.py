"""Update/weight ratios against a manual SGD step; weight statistics against NumPy."""
import math

import numpy as np
import pytest

import deeprecipe as dr
from deeprecipe import diagnostics as D
from deeprecipe import nn
from deeprecipe import functions as F


def _sgd_step(model, lr):
    for p in model.parameters():
        p.data -= lr * p.grad  # in place, as the optimizers do


def test_update_ratio_of_an_sgd_step(rng):
    with dr.default_dtype(np.float64):
        net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    x = rng.normal(size=(6, 3))
    F.mse_loss(net(dr.Tensor(x)), rng.normal(size=(6, 2))).backward()
    before = D.snapshot(net)
    w0 = {n: p.data.copy() for n, p in net.named_parameters()}
    g = {n: p.grad.copy() for n, p in net.named_parameters()}
    lr = 0.05
    _sgd_step(net, lr)
    r = D.update_ratios(net, before)
    for n in w0:
        assert r["param"][n] == pytest.approx(lr * np.linalg.norm(g[n]) / np.linalg.norm(w0[n]), rel=1e-10)
    for layer in ("0", "2"):
        num = lr * math.sqrt(sum(np.sum(g[k] ** 2) for k in g if k.startswith(layer + ".")))
        den = math.sqrt(sum(np.sum(w0[k] ** 2) for k in w0 if k.startswith(layer + ".")))
        assert r["layer"][layer] == pytest.approx(num / den, rel=1e-10)
        assert r["layer_update_norm"][layer] == pytest.approx(num, rel=1e-10)
    assert list(r["layer"]) == ["0", "2"]


def test_update_ratio_of_the_library_sgd(rng):
    optim = pytest.importorskip("deeprecipe.optim")
    with dr.default_dtype(np.float64):
        net = nn.Sequential(nn.Linear(3, 4), nn.Sigmoid(), nn.Linear(4, 2))
    opt = optim.SGD(net.parameters(), lr=0.1)
    F.mse_loss(net(dr.Tensor(rng.normal(size=(5, 3)))), rng.normal(size=(5, 2))).backward()
    ref = {n: 0.1 * np.linalg.norm(p.grad) / np.linalg.norm(p.data) for n, p in net.named_parameters()}
    before = D.snapshot(net)
    opt.step()
    r = D.update_ratios(net, before)["param"]
    for n, v in ref.items():
        assert r[n] == pytest.approx(v, rel=1e-9)


def test_update_ratio_zero_weights_and_bad_snapshot():
    p = dr.Parameter(np.zeros(3))
    q = dr.Parameter(np.ones(4))
    before = D.snapshot([p, q])
    p.data += 1.0
    r = D.update_ratios([p, q], before)
    assert math.isnan(r["param"]["0"])  # ||w|| = 0: undefined
    assert r["param"]["1"] == 0.0  # did not move
    with pytest.raises(ValueError, match="snapshot"):
        D.update_ratios([p, q], {"0": before["0"]})


def test_weight_stats_match_numpy():
    w = np.array([[0.0, 0.0005, -0.002], [1.0, -0.0009, 3.0]])
    b = np.array([1.0, 1.0])
    stats = D.weight_stats({"w": dr.Parameter(w), "b": dr.Parameter(b)}, near_zero=1e-3)
    s = stats["w"]
    assert s["norm"] == pytest.approx(np.linalg.norm(w))
    assert s["mean"] == pytest.approx(w.mean())
    assert s["std"] == pytest.approx(w.std())
    assert s["frac_near_zero"] == pytest.approx(3 / 6)  # 0, 0.0005, -0.0009
    assert stats["b"]["std"] == 0.0 and stats["b"]["frac_near_zero"] == 0.0
    with pytest.raises(ValueError, match="near_zero"):
        D.weight_stats([dr.Parameter(w)], near_zero=-1)
