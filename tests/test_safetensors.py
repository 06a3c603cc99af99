"""Safetensors: exact round trips, refusal of malformed files, and PyTorch as the oracle —
a model trained here gives the same outputs in the torch.nn.Sequential of the same layers,
and a torch model's weights give torch's outputs here."""
import json

import numpy as np
import pytest

import deeprecipe as dr
from deeprecipe import nn, serialization, train
from deeprecipe.serialization import CheckpointError
from tests.conftest import requires_torch, torch

try:
    import safetensors.numpy as st_numpy
except ImportError:  # pragma: no cover - the package is an optional cross-check
    st_numpy = None


def _state():
    rng = np.random.default_rng(0)
    return {
        "0.weight": rng.standard_normal((3, 4)).astype(np.float32),
        "0.bias": rng.standard_normal(3),
        "half": rng.standard_normal((2, 2)).astype(np.float16),
        "1.num_batches_tracked": np.array(7, dtype=np.int64),
        "ints": np.arange(-3, 3, dtype=np.int8), "u": np.arange(4, dtype=np.uint32),
        "mask": np.array([True, False, True]), "empty": np.zeros((0, 5), np.float32),
        "strided": rng.standard_normal((4, 6))[:, ::2],
    }


def _same(a, b):
    assert list(a) == list(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and a[k].tobytes() == np.array(
            b[k]).tobytes(), k


def test_round_trip_is_exact_and_format_follows_the_suffix(tmp_path):
    state = _state()
    p = tmp_path / "w.safetensors"
    dr.save(p, state, meta={"epoch": 3})
    back = dr.load(p)
    _same({k: np.array(v, order="C") for k, v in state.items()}, back)
    assert serialization.load_metadata(p)["meta"] == {"epoch": 3}
    assert serialization.load_metadata(p)["library_version"] == dr.__version__
    assert p.read_bytes()[8:9] == b"{"                       # not a zip: the suffix chose the format
    q = tmp_path / "w.bin"
    dr.save(q, state, meta={"epoch": 3}, format="safetensors")
    assert q.read_bytes() == p.read_bytes()                   # deterministic bytes
    _same(back, dr.load(q, format="safetensors"))
    loaded = dr.load(q, format="safetensors")
    loaded["0.weight"][0, 0] = 1.0                             # writable arrays, not views of the file


@pytest.mark.skipif(st_numpy is None, reason="the safetensors package is not installed (optional cross-check)")
def test_the_reference_implementation_reads_our_files_and_we_read_its_files(tmp_path):
    state = _state()
    dr.save(tmp_path / "ours.safetensors", state)
    theirs = st_numpy.load_file(str(tmp_path / "ours.safetensors"))
    _same({k: np.array(v, order="C") for k, v in state.items()}, {k: theirs[k] for k in state})
    st_numpy.save_file({k: np.array(v, order="C") for k, v in state.items()}, str(tmp_path / "ref.safetensors"))
    back = dr.load(tmp_path / "ref.safetensors")
    _same({k: np.array(v, order="C") for k, v in state.items()}, {k: back[k] for k in state})


@pytest.mark.parametrize("state,msg", [
    ([np.ones(2)], "flat {name: array} mapping"),
    ({"a": {"b": np.ones(2)}}, "holds arrays only"),
    ({"a": 1.5}, "holds arrays only"),
    ({"c": np.array([1 + 2j])}, "complex is not in the format"),
    ({3: np.ones(1)}, "names must be strings"),
])
def test_what_safetensors_cannot_hold_is_refused_before_writing(tmp_path, state, msg):
    p = tmp_path / "x.safetensors"
    with pytest.raises(TypeError, match=msg):
        dr.save(p, state)
    assert not p.exists()
    with pytest.raises(ValueError, match="format must be one of npz, safetensors"):
        dr.save(p, {"a": np.ones(1)}, format="pt")


def _file(tmp_path, header, buffer=b"", name="bad.safetensors", raw_header=None):
    raw = raw_header if raw_header is not None else json.dumps(header).encode()
    p = tmp_path / name
    p.write_bytes(len(raw).to_bytes(8, "little") + raw + buffer)
    return p


def _raw(tmp_path, data):
    p = tmp_path / "raw.safetensors"
    p.write_bytes(data)
    return p


def _f32(name="w", n=2, begin=0):
    return {name: {"dtype": "F32", "shape": [n], "data_offsets": [begin, begin + 4 * n]}}


@pytest.mark.parametrize("make,msg", [
    (lambda t: _raw(t, b"\x01\x02"), "too short"),
    (lambda t: _raw(t, (10 ** 6).to_bytes(8, "little") + b"{}"), "header length field says"),
    (lambda t: _file(t, None, raw_header=b"{not json"), "not valid JSON"),
    (lambda t: _file(t, None, raw_header=b"[1, 2]"), "not a JSON object"),
    (lambda t: _file(t, {"w": {"dtype": "F32", "shape": [2]}}, bytes(8)), "exactly dtype, shape and data_offsets"),
    (lambda t: _file(t, {"w": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}}, bytes(2)),
     "dtype 'F8_E4M3'"),
    (lambda t: _file(t, {"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, bytes(4)),
     "malformed shape"),
    (lambda t: _file(t, {"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, bytes(8)),
     "needs 12 bytes"),
    (lambda t: _file(t, {**_f32("a"), **_f32("b", begin=4)}, bytes(16)), "overlap or leave a gap"),
    (lambda t: _file(t, {**_f32("a"), **_f32("b", begin=12)}, bytes(20)), "overlap or leave a gap"),
    (lambda t: _file(t, _f32(), bytes(12)), "bytes appended"),
    (lambda t: _file(t, _f32(), bytes(4)), "truncated"),
    (lambda t: _file(t, {"__metadata__": {"a": 1}, **_f32()}, bytes(8)), "map strings to strings"),
])
def test_malformed_files_are_refused_with_the_reason(tmp_path, make, msg):
    p = make(tmp_path)
    with pytest.raises(CheckpointError, match=msg) as e:
        dr.load(p)
    assert str(p) in str(e.value)


def test_truncation_and_tampering_of_our_files_are_caught(tmp_path):
    p = tmp_path / "w.safetensors"
    dr.save(p, _state())
    data = p.read_bytes()
    for cut in (3, 20, len(data) // 2, len(data) - 1):
        (tmp_path / "t.safetensors").write_bytes(data[:cut])
        with pytest.raises(CheckpointError):
            dr.load(tmp_path / "t.safetensors")
    flipped = bytearray(data)
    flipped[-5] ^= 0x01                                        # one bit of one weight
    (tmp_path / "f.safetensors").write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        dr.load(tmp_path / "f.safetensors")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        dr.load(tmp_path / "missing.safetensors")


# ---------------------------------------------------------------------------- PyTorch as the oracle
def _torch_mlp():
    return torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.BatchNorm1d(5), torch.nn.ReLU(),
                               torch.nn.Dropout(0.1), torch.nn.Linear(5, 3))


def _torch_cnn():
    return torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.BatchNorm2d(2), torch.nn.ReLU(),
                               torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(32, 4),
                               torch.nn.ReLU(), torch.nn.Linear(4, 3))


def _ours(kind):
    if kind == "mlp":
        return nn.MLP([6, 5, 3], activation="relu", norm="batch", dropout=0.1, init="he", rng=0)
    return nn.ConvNet(input_shape=(1, 8, 8), channels=[2], num_classes=3, hidden=[4], activation="relu",
                      norm="batch", init="he", rng=0)


def _data(kind, n=32):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, 6) if kind == "mlp" else (n, 1, 8, 8)).astype(np.float32)
    return x, rng.integers(0, 3, n)


@requires_torch
@pytest.mark.torch
@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_a_model_trained_here_gives_the_same_outputs_in_torch(tmp_path, kind):
    from safetensors.torch import load_file
    dr.seed(0)
    model = _ours(kind)
    x, y = _data(kind)
    train.fit(model, (x, y), optimizer="adam", lr=1e-2, epochs=2, batch_size=8, seed=0, verbose=0)
    assert int(model.state_dict()["1.num_batches_tracked"]) == 8   # running statistics were updated
    p = tmp_path / "model.safetensors"
    dr.save(p, model.state_dict())
    tm = _torch_cnn() if kind == "cnn" else _torch_mlp()
    tm.load_state_dict(load_file(str(p)))                   # strict: every name and shape matches
    tm.eval()
    with torch.no_grad():
        expected = tm(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(train.predict(model, x), expected, rtol=1e-5, atol=1e-5)


@requires_torch
@pytest.mark.torch
@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_a_torch_models_weights_load_here(tmp_path, kind):
    from safetensors.torch import save_file
    torch.manual_seed(0)
    tm = _torch_cnn() if kind == "cnn" else _torch_mlp()
    x, y = _data(kind)
    opt = torch.optim.SGD(tm.parameters(), lr=0.1)
    for _ in range(3):  # move weights and running statistics away from their initial values
        opt.zero_grad()
        torch.nn.functional.cross_entropy(tm(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        opt.step()
    tm.eval()
    with torch.no_grad():
        expected = tm(torch.from_numpy(x)).numpy()
    p = tmp_path / "torch.safetensors"
    save_file(tm.state_dict(), str(p))
    model = _ours(kind)
    model.load_state_dict(dr.load(p))
    np.testing.assert_allclose(train.predict(model, x), expected, rtol=1e-5, atol=1e-5)


@requires_torch
@pytest.mark.torch
def test_bfloat16_from_torch_loads_exactly_as_float32(tmp_path):
    from safetensors.torch import save_file
    w = torch.randn(4, 3).to(torch.bfloat16)
    save_file({"w": w}, str(tmp_path / "bf.safetensors"))
    back = dr.load(tmp_path / "bf.safetensors")["w"]
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, w.float().numpy())
