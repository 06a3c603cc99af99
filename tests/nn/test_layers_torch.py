"""Every layer against the torch layer holding the same weights (forward, input gradient and
parameter gradients), in float64 and float32; weights are copied with load_state_dict
from torch's own state_dict, which also checks that names and shapes are exchangeable."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import deeprecipe as dr  # noqa: E402
from deeprecipe import nn  # noqa: E402
from deeprecipe.nn.module import IncompatibleKeys  # noqa: E402

TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=2e-5, atol=2e-6)}
TDT = {np.float64: torch.float64, np.float32: torch.float32}


def check(ours, theirs, x, dtype, training=True, tol=None, perturb=True, seed=0):
    """Copy torch's (perturbed) state into ``ours``; compare output and all gradients."""
    tol = tol or TOL[dtype]
    theirs = theirs.to(TDT[dtype])
    gen = torch.Generator().manual_seed(seed)
    if perturb:
        with torch.no_grad():
            for p in theirs.parameters():
                p.add_(0.3 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    ours.to(dtype)
    res = ours.load_state_dict(theirs.state_dict())
    assert res == IncompatibleKeys([], [])
    ours.train(training), theirs.train(training)
    x = np.asarray(x, dtype=dtype)
    xt = torch.tensor(x, requires_grad=True)
    yt = theirs(xt)
    g = np.random.default_rng(seed + 1).standard_normal(tuple(yt.shape)).astype(dtype)
    yt.backward(torch.tensor(g))
    xo = dr.Tensor(x, requires_grad=True)
    yo = ours(xo)
    assert yo.dtype == dtype
    np.testing.assert_allclose(yo.data, yt.detach().numpy(), **tol)
    yo.backward(g)
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), **tol)
    tp = dict(theirs.named_parameters())
    op = dict(ours.named_parameters())
    assert list(op) == list(tp)
    for name, p in op.items():
        np.testing.assert_allclose(p.grad, tp[name].grad.numpy(), err_msg=name, **tol)
    for name, b in theirs.named_buffers():
        np.testing.assert_allclose(ours.state_dict()[name], b.numpy(), err_msg=name, **tol)
    return yo


def rnd(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


DTYPES = pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])

CASES = {
    "linear": (lambda: nn.Linear(5, 4), lambda: torch.nn.Linear(5, 4), (6, 5)),
    "linear_3d_nobias": (lambda: nn.Linear(5, 3, bias=False), lambda: torch.nn.Linear(5, 3, bias=False), (2, 4, 5)),
    "conv": (lambda: nn.Conv2d(3, 4, 3), lambda: torch.nn.Conv2d(3, 4, 3), (2, 3, 6, 6)),
    "conv_stride_pad": (lambda: nn.Conv2d(3, 4, 3, stride=2, padding=1),
                        lambda: torch.nn.Conv2d(3, 4, 3, stride=2, padding=1), (2, 3, 7, 7)),
    "conv_rect": (lambda: nn.Conv2d(2, 3, (3, 2), stride=(1, 2), padding=(0, 1)),
                  lambda: torch.nn.Conv2d(2, 3, (3, 2), stride=(1, 2), padding=(0, 1)), (2, 2, 6, 5)),
    "conv_same": (lambda: nn.Conv2d(2, 3, 5, padding="same", bias=False),
                  lambda: torch.nn.Conv2d(2, 3, 5, padding="same", bias=False), (1, 2, 6, 6)),
    "maxpool": (lambda: nn.MaxPool2d(2), lambda: torch.nn.MaxPool2d(2), (2, 3, 6, 6)),
    "maxpool_s2_p1": (lambda: nn.MaxPool2d(3, stride=2, padding=1),
                      lambda: torch.nn.MaxPool2d(3, stride=2, padding=1), (2, 2, 7, 7)),
    "avgpool": (lambda: nn.AvgPool2d(2), lambda: torch.nn.AvgPool2d(2), (2, 3, 6, 6)),
    "avgpool_s2_p1": (lambda: nn.AvgPool2d(3, stride=2, padding=1),
                      lambda: torch.nn.AvgPool2d(3, stride=2, padding=1), (2, 2, 7, 7)),
    "flatten": (lambda: nn.Flatten(), lambda: torch.nn.Flatten(), (2, 3, 4, 5)),
    "layernorm": (lambda: nn.LayerNorm(5), lambda: torch.nn.LayerNorm(5), (4, 5)),
    "layernorm_2d": (lambda: nn.LayerNorm((3, 4)), lambda: torch.nn.LayerNorm((3, 4)), (2, 5, 3, 4)),
    "groupnorm": (lambda: nn.GroupNorm(2, 4), lambda: torch.nn.GroupNorm(2, 4), (3, 4, 5, 5)),
    "instancenorm": (lambda: nn.InstanceNorm2d(3, affine=True), lambda: torch.nn.InstanceNorm2d(3, affine=True),
                     (2, 3, 5, 4)),
    "instancenorm_noaffine": (lambda: nn.InstanceNorm2d(3), lambda: torch.nn.InstanceNorm2d(3), (2, 3, 5, 4)),
    "sigmoid": (lambda: nn.Sigmoid(), lambda: torch.nn.Sigmoid(), (4, 7)),
    "tanh": (lambda: nn.Tanh(), lambda: torch.nn.Tanh(), (4, 7)),
    "relu": (lambda: nn.ReLU(), lambda: torch.nn.ReLU(), (4, 7)),
    "leaky_relu": (lambda: nn.LeakyReLU(0.2), lambda: torch.nn.LeakyReLU(0.2), (4, 7)),
    "prelu_shared": (lambda: nn.PReLU(), lambda: torch.nn.PReLU(), (4, 7)),
    "prelu_channel": (lambda: nn.PReLU(3), lambda: torch.nn.PReLU(3), (4, 3, 5)),
    "prelu_channel_2d": (lambda: nn.PReLU(3), lambda: torch.nn.PReLU(3), (2, 3, 4, 4)),
    "elu": (lambda: nn.ELU(0.7), lambda: torch.nn.ELU(0.7), (4, 7)),
    "softplus": (lambda: nn.Softplus(beta=2.0, threshold=1.5), lambda: torch.nn.Softplus(beta=2.0, threshold=1.5),
                 (4, 7)),
    "softmax": (lambda: nn.Softmax(dim=1), lambda: torch.nn.Softmax(dim=1), (4, 7)),
    "log_softmax": (lambda: nn.LogSoftmax(dim=-1), lambda: torch.nn.LogSoftmax(dim=-1), (4, 7)),
    "sequential": (lambda: nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 2)),
                   lambda: torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2)),
                   (3, 6)),
}


@DTYPES
@pytest.mark.parametrize("case", list(CASES))
def test_layer_matches_torch(case, dtype):
    make_ours, make_theirs, shape = CASES[case]
    torch.manual_seed(0)
    check(make_ours(), make_theirs(), rnd(*shape) * 2, dtype)


@DTYPES
def test_batchnorm_train_and_eval_match_torch(dtype):
    for ours, theirs, shape in [(nn.BatchNorm1d(4), torch.nn.BatchNorm1d(4), (8, 4)),
                                (nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3), (6, 3, 5)),
                                (nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3), (4, 3, 5, 5))]:
        check(ours, theirs, rnd(*shape) * 3 + 1, dtype, training=True)
        check(ours, theirs, rnd(*shape, seed=1), dtype, training=False, perturb=False)


@DTYPES
@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
def test_batchnorm_running_statistics_over_training_steps(dtype, momentum):
    """Five SGD steps on identical models: running mean/var, counter, outputs and parameters
    stay equal to torch's; then eval mode uses the running statistics like torch."""
    tol = TOL[dtype]
    for ours, theirs, shape in [(nn.BatchNorm1d(4, momentum=momentum), torch.nn.BatchNorm1d(4, momentum=momentum),
                                 (16, 4)),
                                (nn.BatchNorm2d(3, momentum=momentum), torch.nn.BatchNorm2d(3, momentum=momentum),
                                 (4, 3, 5, 5))]:
        theirs = theirs.to(TDT[dtype])
        ours.to(dtype)
        ours.load_state_dict(theirs.state_dict())
        rng = np.random.default_rng(3)
        for step in range(5):
            x = (rng.standard_normal(shape) * (step + 1) + step).astype(dtype)
            g = rng.standard_normal(shape).astype(dtype)
            yt = theirs(torch.tensor(x))
            yt.backward(torch.tensor(g))
            yo = ours(x)
            yo.backward(g)
            np.testing.assert_allclose(yo.data, yt.detach().numpy(), **tol)
            with torch.no_grad():
                for p in theirs.parameters():
                    p -= 0.1 * p.grad
                    p.grad = None
            for p in ours.parameters():
                p.data -= 0.1 * p.grad
                p.grad = None
        for name, b in theirs.state_dict().items():
            np.testing.assert_allclose(ours.state_dict()[name], b.numpy(), err_msg=name, **tol)
        assert int(ours.num_batches_tracked) == 5
        ours.eval(), theirs.eval()
        x = (rng.standard_normal(shape) + 2).astype(dtype)
        np.testing.assert_allclose(ours(x).data, theirs(torch.tensor(x)).detach().numpy(), **tol)


@DTYPES
def test_weight_norm_matches_torch(dtype):
    for make_ours, make_theirs, shape, dim in [
        (lambda: nn.Linear(5, 4), lambda: torch.nn.Linear(5, 4), (3, 5), 0),
        (lambda: nn.Conv2d(2, 3, 3, padding=1), lambda: torch.nn.Conv2d(2, 3, 3, padding=1), (2, 2, 5, 5), 0),
        (lambda: nn.Linear(5, 4), lambda: torch.nn.Linear(5, 4), (3, 5), None),
    ]:
        torch.manual_seed(1)
        base = make_theirs().to(TDT[dtype])
        ours_base = make_ours().to(dtype)
        ours_base.load_state_dict(base.state_dict())
        theirs = torch.nn.utils.parametrizations.weight_norm(base, dim=dim)
        ours = nn.WeightNorm(ours_base, dim=dim)
        tsd = theirs.state_dict()
        g_t = tsd["parametrizations.weight.original0"]
        assert tuple(g_t.shape) == ours.weight_g.shape  # torch's g shape, e.g. (out, 1)
        # initial g = ||v||: the wrapped layer computes the same function
        np.testing.assert_allclose(ours.weight_g.data, g_t.numpy(), **TOL[dtype])
        with torch.no_grad():  # move g and v away from their initial relation
            theirs.parametrizations.weight.original0.mul_(1.7)
            theirs.parametrizations.weight.original1.add_(0.2)
        ours.load_state_dict({"weight_g": theirs.parametrizations.weight.original0,
                              "weight_v": theirs.parametrizations.weight.original1, "module.bias": base.bias})
        x = rnd(*shape).astype(dtype)
        xt = torch.tensor(x, requires_grad=True)
        yt = theirs(xt)
        g = rnd(*yt.shape, seed=4).astype(dtype)
        yt.backward(torch.tensor(g))
        xo = dr.Tensor(x, requires_grad=True)
        yo = ours(xo)
        yo.backward(g)
        tol = TOL[dtype]
        np.testing.assert_allclose(yo.data, yt.detach().numpy(), **tol)
        np.testing.assert_allclose(xo.grad, xt.grad.numpy(), **tol)
        np.testing.assert_allclose(ours.weight_g.grad, theirs.parametrizations.weight.original0.grad.numpy(), **tol)
        np.testing.assert_allclose(ours.weight_v.grad, theirs.parametrizations.weight.original1.grad.numpy(), **tol)
        np.testing.assert_allclose(ours.module.bias.grad, base.bias.grad.numpy(), **tol)
        assert [n for n, _ in ours.named_parameters()] == ["weight_g", "weight_v", "module.bias"]
        assert "weight" not in ours.module.__dict__  # no graph kept alive between calls


@DTYPES
def test_maxout_matches_torch_composite(dtype):
    ours = nn.Maxout(5, 3, pieces=4, rng=0).to(dtype)
    lin = torch.nn.Linear(5, 12).to(TDT[dtype])
    ours.load_state_dict(lin.state_dict())
    x = rnd(6, 5).astype(dtype)
    xt = torch.tensor(x, requires_grad=True)
    yt = lin(xt).view(6, 3, 4).max(dim=-1).values  # rows j*k..j*k+k-1 are unit j's pieces
    g = rnd(6, 3, seed=2).astype(dtype)
    yt.backward(torch.tensor(g))
    xo = dr.Tensor(x, requires_grad=True)
    yo = ours(xo)
    yo.backward(g)
    np.testing.assert_allclose(yo.data, yt.detach().numpy(), **TOL[dtype])
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), **TOL[dtype])
    np.testing.assert_allclose(ours.weight.grad, lin.weight.grad.numpy(), **TOL[dtype])


@DTYPES
def test_residual_and_mlp_match_torch(dtype):
    torch.manual_seed(0)
    tmodel = torch.nn.Sequential(
        torch.nn.Linear(6, 5), torch.nn.BatchNorm1d(5), torch.nn.ReLU(),
        torch.nn.Linear(5, 5), torch.nn.BatchNorm1d(5), torch.nn.ReLU(),
        torch.nn.Linear(5, 3))
    ours = nn.MLP([6, 5, 5, 3], norm="batch", dtype=dtype)
    # a bias before batch norm has zero true gradient: float32 rounding noise needs an atol
    tol = dict(rtol=2e-5, atol=2e-5) if dtype == np.float32 else None
    check(ours, tmodel, rnd(8, 6), dtype, training=True, tol=tol)
    check(ours, tmodel, rnd(8, 6, seed=5), dtype, training=False, perturb=False)

    class TorchResidual(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fn = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh())
            self.projection = torch.nn.Linear(4, 3, bias=False)

        def forward(self, x):
            return self.projection(x) + self.fn(x)

    res = nn.Residual(nn.Sequential(nn.Linear(4, 3), nn.Tanh()), projection=nn.Linear(4, 3, bias=False))
    check(res, TorchResidual(), rnd(5, 4), dtype)


def test_dropout_eval_is_identity_and_mlp_flattens_images():
    x = rnd(3, 2, 4)
    d = nn.Dropout(0.5).eval()
    assert d(x) is x or np.array_equal(d(x).data, x)
    torch.manual_seed(0)
    tmodel = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(8, 4), torch.nn.Sigmoid(), torch.nn.Linear(4, 2))
    ours = nn.MLP([8, 4, 2], activation="sigmoid", dtype=np.float64)
    # torch's Sequential counts its Flatten as child 0; the MLP flattens in forward
    ours.load_state_dict({str(int(k[0]) - 1) + k[1:]: v for k, v in tmodel.state_dict().items()})
    np.testing.assert_allclose(ours(x).data, tmodel.double()(torch.tensor(x)).detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("make_ours, make_theirs", [
    (lambda: nn.BatchNorm1d(4), lambda: torch.nn.BatchNorm1d(4)),
    (lambda: nn.BatchNorm2d(3, momentum=None), lambda: torch.nn.BatchNorm2d(3, momentum=None)),
    (lambda: nn.LayerNorm((3, 4)), lambda: torch.nn.LayerNorm((3, 4))),
    (lambda: nn.GroupNorm(2, 4), lambda: torch.nn.GroupNorm(2, 4)),
    (lambda: nn.InstanceNorm2d(3, affine=True), lambda: torch.nn.InstanceNorm2d(3, affine=True)),
    (lambda: nn.PReLU(), lambda: torch.nn.PReLU()),
    (lambda: nn.PReLU(5), lambda: torch.nn.PReLU(5)),
], ids=["bn1d", "bn2d", "layernorm", "groupnorm", "instancenorm", "prelu", "prelu5"])
def test_deterministic_default_initialization_matches_torch(make_ours, make_theirs):
    """Layers whose default init is not random start exactly where torch's do (γ = 1,
    β = 0, running mean 0 / var 1, PReLU α = 0.25), with the same state names."""
    ours, theirs = make_ours().state_dict(), make_theirs().state_dict()
    assert list(ours) == list(theirs)
    for k, v in theirs.items():
        np.testing.assert_array_equal(ours[k], v.numpy(), err_msg=k)
