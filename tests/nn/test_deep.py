"""DeepNet: plain and residual nets of matching width — shapes, parameter counts, wiring."""
import numpy as np
import pytest

import deeprecipe as dr
from deeprecipe import nn


def _count(model):
    return sum(p.size for p in model.parameters())


def _weight_layers(model):
    return [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]


@pytest.mark.parametrize("depth", [20, 56])
@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("norm", [None, "batch"])
def test_mlp_blocks_depth_and_parameter_count(depth, residual, norm, rng):
    d, w, k = 12, 8, 3
    net = nn.DeepNet(depth, w, input_shape=(d,), num_classes=k, residual=residual, norm=norm, rng=0)
    assert len(_weight_layers(net)) == depth == net.n_weight_layers
    n_bn = (depth - 1) if norm else 0  # after every weight layer but the head
    assert _count(net) == (d * w + w) + (depth - 2) * (w * w + w) + (w * k + k) + 2 * w * n_bn
    assert sum(isinstance(m, nn.Residual) for m in net.modules()) == ((depth - 2) // 2 if residual else 0)
    assert net(rng.standard_normal((5, 3, 4))).shape == (5, k)  # (N, 3, 4) flattened to 12 features


def test_conv_blocks_shapes_and_count(rng):
    net = nn.DeepNet(20, 4, input_shape=(2, 6, 6), num_classes=5, residual=True, block="conv", norm="batch", rng=0)
    assert len(_weight_layers(net)) == 20
    assert _count(net) == (9 * 2 * 4 + 4) + 18 * (9 * 16 + 4) + (4 * 5 + 5) + 2 * 4 * 19
    assert net(rng.standard_normal((3, 2, 6, 6))).shape == (3, 5)


def test_residual_and_plain_share_parameters_and_differ_by_the_skip(rng):
    plain = nn.DeepNet(6, 5, input_shape=(4,), num_classes=2, residual=False, rng=1, dtype=np.float64)
    res = nn.DeepNet(6, 5, input_shape=(4,), num_classes=2, residual=True, rng=1, dtype=np.float64)
    for p1, p2 in zip(plain.parameters(), res.parameters()):
        np.testing.assert_array_equal(p1.data, p2.data)
    x = rng.standard_normal((7, 4))
    # hand-written forward of the residual net: h = relu(h + W2 relu(W1 h)) per block
    lin = [m for m in res.modules() if isinstance(m, nn.Linear)]

    def L(m, h):
        return h @ m.weight.data.T + m.bias.data
    relu = lambda a: np.maximum(a, 0)  # noqa: E731
    h = relu(L(lin[0], x))
    h_plain = h
    for i in (1, 3):
        h = relu(h + L(lin[i + 1], relu(L(lin[i], h))))
        h_plain = relu(L(lin[i + 1], relu(L(lin[i], h_plain))))
    np.testing.assert_allclose(res(dr.Tensor(x)).data, L(lin[5], h), rtol=1e-12)
    np.testing.assert_allclose(plain(dr.Tensor(x)).data, L(lin[5], h_plain), rtol=1e-12)


def test_config_rebuilds_and_bad_arguments():
    net = nn.DeepNet(8, 3, input_shape=(5,), num_classes=2, residual=True, norm="batch", rng=0)
    again = nn.build_model(net.config, rng=0)
    assert isinstance(again, nn.DeepNet) and again.config == net.config
    assert _count(again) == _count(net)
    with pytest.raises(ValueError, match="even"):
        nn.DeepNet(7, 3)
    with pytest.raises(ValueError, match="block"):
        nn.DeepNet(8, 3, block="transformer")
    with pytest.raises(ValueError, match="input_shape"):
        nn.DeepNet(8, 3, block="conv", input_shape=(10,))
