"""Module: registries, modes, gradients, state dicts, device/dtype moves, hooks, summary."""
import numpy as np
import pytest

import deeprecipe as dr
from deeprecipe import nn


class Block(nn.Module):
    def __init__(self, rng=0):
        super().__init__()
        self.lin = nn.Linear(3, 4, rng=rng, dtype=np.float64)
        self.scale = nn.Parameter(np.ones(4))
        self.register_buffer("count", np.zeros((), dtype=np.int64))
        self.bn = nn.BatchNorm1d(4, dtype=np.float64)
        self.register_buffer("scratch", np.zeros(2), persistent=False)

    def forward(self, x):
        return self.bn(self.lin(x)) * self.scale


class Net(nn.Module):
    def __init__(self, rng=0):
        super().__init__()
        self.first = Block(rng)
        self.second = nn.Linear(4, 2, rng=rng + 1, dtype=np.float64)

    def forward(self, x):
        return self.second(self.first(x))


def test_registration_order_and_dotted_names():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == [
        "first.scale", "first.lin.weight", "first.lin.bias", "first.bn.weight", "first.bn.bias",
        "second.weight", "second.bias"]
    assert [n for n, _ in net.named_buffers()] == [
        "first.count", "first.scratch", "first.bn.running_mean", "first.bn.running_var",
        "first.bn.num_batches_tracked"]
    # state dict: each module's parameters, then its persistent buffers, then its children
    assert list(net.state_dict()) == [
        "first.scale", "first.count", "first.lin.weight", "first.lin.bias", "first.bn.weight", "first.bn.bias",
        "first.bn.running_mean", "first.bn.running_var", "first.bn.num_batches_tracked",
        "second.weight", "second.bias"]
    assert [n for n, _ in net.named_modules()] == ["", "first", "first.lin", "first.bn", "second"]
    assert list(net.children()) == [net.first, net.second]
    # running statistics are buffers, never parameters
    assert not any("running" in n for n, _ in net.named_parameters())
    assert len(list(net.parameters())) == 7 and len(list(net.buffers())) == 5


def test_reassigning_and_errors():
    net = Net()
    with pytest.raises(TypeError, match="Parameter"):
        net.second.weight = np.zeros((2, 4))
    net.second.bias = None  # declared-absent parameter
    assert [n for n, _ in net.second.named_parameters()] == ["weight"]
    new = nn.Parameter(np.zeros((2, 4)))
    net.second.weight = new
    assert net.second.weight is new and dict(net.second.named_parameters())["weight"] is new
    with pytest.raises(TypeError, match="buffer"):
        net.first.count = 3
    del net.second
    assert [n for n, _ in net.named_children()] == ["first"]

    class Forgot(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.zeros(2))

    with pytest.raises(AttributeError, match="super"):
        Forgot()


def test_train_eval_propagate():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_zero_grad_both_ways():
    net = Net()
    x = np.random.default_rng(0).standard_normal((5, 3))
    net(x).sum().backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None for g in grads)
    net.zero_grad(set_to_none=False)
    assert all(p.grad is g and not g.any() for p, g in zip(net.parameters(), grads))
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_state_dict_is_a_snapshot_and_round_trip_is_exact():
    a, b = Net(rng=0), Net(rng=10)
    a.first.bn.running_mean[...] = np.arange(4.0)
    a.first.count[...] = 7
    sd = a.state_dict()
    live = a.state_dict(copy=False)
    assert live["second.weight"] is a.second.weight.data
    b.load_state_dict(sd)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert va.dtype == vb.dtype and np.array_equal(va, vb), k
    x = np.random.default_rng(1).standard_normal((6, 3))
    a.eval(), b.eval()
    assert np.array_equal(a(x).data, b(x).data)
    # the snapshot does not follow later changes
    a.second.weight.data[...] += 1.0
    assert not np.array_equal(sd["second.weight"], a.second.weight.data)
    # non-persistent buffers are not saved
    assert "first.scratch" not in sd


def test_load_state_dict_writes_in_place_into_views():
    net = Net()
    params = list(net.parameters())
    # an optimizer may re-bind every parameter to a view of one flat buffer
    flat = np.zeros(sum(p.data.size for p in params))
    off = 0
    for p in params:
        n = p.data.size
        flat[off:off + n] = p.data.ravel()
        p.data = flat[off:off + n].reshape(p.data.shape)
        off += n
    ids = [id(p.data) for p in params]
    other = Net(rng=5)
    net.load_state_dict(other.state_dict())
    assert [id(p.data) for p in params] == ids
    expect = np.concatenate([p.data.ravel() for p in other.parameters()])
    assert np.array_equal(flat, expect)


def test_load_state_dict_names_every_problem_and_writes_nothing():
    net = Net()
    before = net.state_dict()
    sd = net.state_dict()
    del sd["first.lin.bias"], sd["second.bias"]
    sd["extra.weight"] = np.zeros(3)
    sd["first.lin.weight"] = np.zeros((3, 4))          # transposed shape
    sd["first.bn.weight"] = np.zeros(4) + 5.0          # fine, but must not be written
    sd["first.count"] = np.zeros((), dtype=np.float64)  # float into an int buffer
    with pytest.raises(nn.StateDictError) as ei:
        net.load_state_dict(sd)
    msg = str(ei.value)
    for key in ("first.lin.bias", "second.bias", "extra.weight", "first.lin.weight", "first.count"):
        assert key in msg
    assert "(4, 3)" in msg and "(3, 4)" in msg and "int64" in msg
    assert set(ei.value.missing_keys) == {"first.lin.bias", "second.bias"}
    assert ei.value.unexpected_keys == ["extra.weight"]
    for k, v in net.state_dict().items():
        assert np.array_equal(v, before[k]), f"{k} was written although loading failed"
    # strict=False tolerates missing/unexpected keys but never a shape mismatch
    with pytest.raises(nn.StateDictError, match="shape mismatch"):
        net.load_state_dict(sd, strict=False)
    sd["first.lin.weight"] = before["first.lin.weight"] * 2
    sd["first.count"] = np.array(3)
    res = net.load_state_dict(sd, strict=False)
    assert set(res.missing_keys) == {"first.lin.bias", "second.bias"} and res.unexpected_keys == ["extra.weight"]
    assert np.array_equal(net.first.lin.weight.data, before["first.lin.weight"] * 2)
    assert int(net.first.count) == 3


def test_load_casts_float_precision_and_accepts_tensors():
    net32 = nn.Linear(3, 2, dtype=np.float32, rng=0)
    src = nn.Linear(3, 2, dtype=np.float64, rng=1)
    net32.load_state_dict({"weight": src.weight, "bias": src.bias.data})
    assert net32.weight.dtype == np.float32
    assert np.array_equal(net32.weight.data, src.weight.data.astype(np.float32))


def test_to_dtype_and_num_parameters():
    net = Net()
    net.to(np.float32)
    assert all(p.dtype == np.float32 for p in net.parameters())
    assert net.first.bn.running_var.dtype == np.float32
    assert net.first.bn.num_batches_tracked.dtype == np.int64  # integer buffers are not cast
    assert net.first.bn.running_var is net.first.bn._buffers["running_var"]
    net.double()
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert net.num_parameters() == 4 + 12 + 4 + 4 + 4 + 8 + 2
    net.first.requires_grad_(False)
    assert net.num_parameters(trainable_only=True) == 10
    with pytest.raises(ValueError, match="cpu"):
        net.to("tpu")


def test_to_device_moves_every_parameter_gradient_and_buffer(monkeypatch):
    """``to(device)`` on a CPU-only machine: 'cpu' is a no-op; a (simulated) device move
    converts every parameter, gradient and buffer, keeps the Parameter objects (so
    references held elsewhere stay valid) and keeps buffers registered."""
    net = Net()
    net(np.ones((4, 3))).sum().backward()
    params = list(net.parameters())
    datas = [p.data for p in params]
    assert net.to("cpu") is net and all(p.data is d for p, d in zip(params, datas))
    if dr.backend.cupy_module() is None:
        before = net.state_dict()
        with pytest.raises(RuntimeError, match="CuPy"):
            net.to("cuda")
        assert all(np.array_equal(v, before[k]) for k, v in net.state_dict().items())

    moved = []

    def fake_to_device(a, device):
        assert device == "cuda"
        moved.append(id(a))
        return a.copy()  # stands in for a copy on the other device

    import deeprecipe.nn.module as module_mod
    monkeypatch.setattr(module_mod, "to_device", fake_to_device)
    old = {"params": [p.data for p in params], "grads": [p.grad for p in params],
           "buffers": dict(net.named_buffers())}
    assert net.to("cuda") is net
    assert list(net.parameters()) == params  # the same Parameter objects
    for p, d, g in zip(params, old["params"], old["grads"]):
        assert p.data is not d and np.array_equal(p.data, d) and id(d) in moved
        assert p.grad is not g and np.array_equal(p.grad, g) and id(g) in moved
    for name, b in net.named_buffers():
        assert b is not old["buffers"][name] and id(old["buffers"][name]) in moved, name
    bn = net.first.bn
    assert bn.running_mean is bn._buffers["running_mean"] and net.first.scratch is net.first._buffers["scratch"]


def test_shared_parameter_counted_once():
    a = nn.Linear(3, 3, rng=0)
    seq = nn.Sequential(a, a)
    assert seq.num_parameters() == 12
    assert len(list(seq.parameters())) == 2
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_forward_hooks():
    net = Net()
    seen = []
    h = net.second.register_forward_hook(lambda m, inp, out: seen.append((m, inp[0].shape, out.shape)))
    x = np.zeros((5, 3))
    net(x)
    assert seen == [(net.second, (5, 4), (5, 2))]
    h2 = net.second.register_forward_hook(lambda m, inp, out: out * 0.0)  # a return value replaces the output
    assert not net(x).data.any()
    h.remove(), h2.remove()
    net(x)
    assert len(seen) == 2 and net.second._forward_hooks == {}


def test_sequential_indexing():
    seq = nn.Sequential(nn.Linear(2, 3), nn.Identity(), nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear) and seq[1] is list(seq)[1]
    sub = seq[:2]
    assert isinstance(sub, nn.Sequential) and sub[0] is seq[0]
    named = nn.Sequential({"enc": nn.Linear(2, 2), "dec": nn.Linear(2, 1)})
    assert list(named.state_dict()) == ["enc.weight", "enc.bias", "dec.weight", "dec.bias"]
    with pytest.raises(TypeError, match="not a Module"):
        nn.Sequential(nn.Linear(2, 2), lambda x: x)
    with pytest.raises(IndexError):
        seq[5]


def test_summary_table_has_no_side_effects(capsys):
    dr.seed(3)
    model = nn.MLP([6, 5, 4, 2], norm="batch", dropout=0.5, dtype=np.float64)
    model.train()
    state = dr.backend.get_rng_state()
    before = model.state_dict()
    text = model.summary((6,), print_summary=True)
    assert capsys.readouterr().out.strip() == text.strip()
    assert "Linear" in text and "BatchNorm1d" in text and "(N, 5)" in text and "(N, 2)" in text
    assert f"Total params: {model.num_parameters():,}" in text
    assert "Non-trainable params: 0" in text
    # 0.weight row: 6*5 + 5 = 35 parameters
    row = next(line for line in text.splitlines() if line.startswith("0 (Linear)"))
    assert row.split()[-1] == "35"
    assert model.training and all(m.training for m in model.modules())
    assert dr.backend.get_rng_state() == state
    for k, v in model.state_dict().items():
        assert np.array_equal(v, before[k])


def test_deepcopy_gives_an_independent_model():
    import copy
    net = Net()
    twin = copy.deepcopy(net)
    assert list(twin.state_dict()) == list(net.state_dict())
    twin.second.weight.data[...] = 0
    twin.first.bn.running_mean[...] = 9
    assert net.second.weight.data.any() and not net.first.bn.running_mean.any()
    assert twin.first.bn.running_mean is twin.first.bn._buffers["running_mean"]
    x = np.ones((2, 3))
    assert twin(x).shape == (2, 2)


@pytest.mark.parametrize("make,shape", [
    (lambda: nn.WeightNorm(nn.Linear(3, 2)), (3,)),
    (lambda: nn.MLP([4, 5, 5, 2], residual=True, norm="layer"), (4,)),
    (lambda: nn.ConvNet((1, 8, 8), channels=(2,), hidden=(3,), num_classes=2), (1, 8, 8)),
])
def test_summary_rows_add_up_to_the_total(make, shape):
    model = make()
    lines = model.summary(shape).splitlines()
    bars = [i for i, line in enumerate(lines) if set(line) == {"="}]
    rows = lines[bars[1] + 1:bars[2]]
    assert sum(int(r.split()[-1].replace(",", "")) for r in rows) == model.num_parameters()
