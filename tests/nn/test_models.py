"""The experiment builders: MLP and ConvNet options, configs, and end-to-end gradient checks."""
import json

import numpy as np
import pytest

import deeprecipe as dr
from deeprecipe import nn


def _types(model):
    return [type(m).__name__ for m in model]


def test_mlp_layer_layout_for_each_option():
    assert _types(nn.MLP([4, 8, 3])) == ["Linear", "ReLU", "Linear"]
    assert _types(nn.MLP([4, 8, 8, 3], activation="tanh", norm="batch", dropout=0.2)) == [
        "Linear", "BatchNorm1d", "Tanh", "Dropout", "Linear", "BatchNorm1d", "Tanh", "Dropout", "Linear"]
    assert _types(nn.MLP([4, 8, 3], norm="layer", input_dropout=0.1)) == [
        "Dropout", "Linear", "LayerNorm", "ReLU", "Linear"]
    m = nn.MLP([4, 8, 3], activation=("maxout", 3), norm="batch")
    assert _types(m) == ["Linear", "BatchNorm1d", "GroupMax", "Linear"]
    assert m[0].weight.shape == (24, 4) and m[1].num_features == 24 and m[3].weight.shape == (3, 8)
    assert m(np.zeros((5, 4), dtype=np.float32)).shape == (5, 3)
    m = nn.MLP([4, 8, 3], activation=("prelu", "per_channel"))
    assert m[1].weight.shape == (8,)
    assert nn.MLP([4, 8, 3], activation="prelu")[1].weight.shape == (1,)
    assert nn.MLP([4, 8, 3], activation=("leaky_relu", 0.2))[1].negative_slope == 0.2
    assert isinstance(nn.MLP([4, 8, 3], activation=nn.ELU)[1], nn.ELU)
    assert nn.MLP([4, 8, 3], bias=False)[0].bias is None
    for bad in [dict(sizes=[4]), dict(sizes=[4, 3], activation="swish"), dict(sizes=[4, 3], norm="group"),
                dict(sizes=[4, 3], dropout=1.0), dict(sizes=[4, 8, 3], activation=("relu", 2))]:
        with pytest.raises(ValueError):
            nn.MLP(**bad)


def test_mlp_residual_blocks_and_projection():
    m = nn.MLP([6, 8, 8, 8, 3], residual=True, norm="layer")
    assert _types(m) == ["Residual", "Residual", "Residual", "Linear"]
    assert m[0].projection is not None and m[0].projection.bias is None  # 6 -> 8 needs a projection
    assert m[1].projection is None and m[2].projection is None
    assert _types(m[1].fn) == ["Linear", "LayerNorm", "ReLU"]
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    h = m[0](x)
    np.testing.assert_allclose(m[1](h).data, h.data + m[1].fn(h).data, rtol=1e-6)


def test_mlp_flattens_images_and_config_rebuilds_the_model():
    m = nn.MLP([784, 32, 10], activation=("leaky_relu", 0.1), norm="batch", dropout=0.25, init=("normal", 0.01),
               residual=True, rng=3)
    cfg = json.loads(json.dumps(m.config))
    assert cfg["activation"] == ["leaky_relu", 0.1] and cfg["init"] == ["normal", 0.01]
    again = nn.build_model(cfg, rng=3)
    assert repr(again) == repr(m)
    for (k, a), b in zip(m.state_dict().items(), again.state_dict().values()):
        assert np.array_equal(a, b), k
    x = np.random.default_rng(0).random((5, 28, 28)).astype(np.float32)
    assert m(x).shape == (5, 10)
    with pytest.raises(ValueError, match="class"):
        nn.build_model({"sizes": [2, 2]})


@pytest.mark.parametrize("norm", [None, "batch", "layer", "instance", "group"])
def test_convnet_options(norm):
    m = nn.ConvNet((1, 12, 12), channels=(4, 8), num_classes=3, hidden=(16,), norm=norm, dropout=0.1, rng=0)
    x = np.random.default_rng(0).standard_normal((2, 1, 12, 12)).astype(np.float32)
    y = m(x)
    assert y.shape == (2, 3)
    np.testing.assert_array_equal(m.eval()(x[:, 0]).data, m(x).data)       # (N, H, W) input
    np.testing.assert_array_equal(m(x.reshape(2, -1)).data, m(x).data)     # flat input
    text = m.summary((1, 12, 12))
    assert "(N, 4, 12, 12)" in text and "(N, 8, 3, 3)" in text and "(N, 3)" in text
    assert json.loads(json.dumps(m.config))["norm"] == norm
    with pytest.raises(ValueError, match="expected input"):
        m(np.zeros((2, 2, 12, 12), dtype=np.float32))


def test_convnet_maxout_avgpool_and_rebuild():
    m = nn.ConvNet((3, 8, 8), channels=(4,), num_classes=2, hidden=(), activation="maxout", pool="avg", rng=1)
    assert m[0].out_channels == 8 and _types(m) == ["Conv2d", "GroupMax", "AvgPool2d", "Flatten", "Linear"]
    assert m(np.zeros((2, 3, 8, 8), dtype=np.float32)).shape == (2, 2)
    again = nn.build_model(m.config, rng=1)
    assert all(np.array_equal(a, b) for a, b in zip(m.state_dict().values(), again.state_dict().values()))
    with pytest.raises(ValueError, match="too small"):
        nn.ConvNet((1, 4, 4), channels=(2, 2, 2))


def _gradcheck_model(model, x):
    params = list(model.parameters())
    xt = dr.Tensor(x, requires_grad=True)
    return dr.gradcheck(lambda x, *ps: model(x), [xt] + params, rtol=1e-5, atol=1e-8)


def test_gradcheck_residual_mlp_end_to_end():
    model = nn.MLP([5, 4, 4, 3], activation="tanh", norm="batch", residual=True, dtype=np.float64, rng=0)
    for p in model.parameters():  # move norm parameters away from 1/0 so every path matters
        p.data += np.random.default_rng(1).standard_normal(p.shape) * 0.2
    x = np.random.default_rng(2).standard_normal((6, 5))
    _gradcheck_model(model, x)
    model = nn.MLP([5, 6, 4, 3], activation="softplus", norm="layer", residual=True, dtype=np.float64, rng=1)
    _gradcheck_model(model, x)


def test_gradcheck_convnet_end_to_end():
    model = nn.ConvNet((2, 6, 6), channels=(3,), num_classes=2, hidden=(4,), activation="tanh", norm="batch",
                       dtype=np.float64, rng=0)
    x = np.random.default_rng(3).standard_normal((3, 2, 6, 6))
    _gradcheck_model(model, x)
