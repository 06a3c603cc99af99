"""Checkpoints: exact round trips of every supported type, atomic writes, refusal of truncated,
tampered and pickled files (without executing anything), and bit-identical resumed training."""
import io
import json
import pickle
import zipfile

import numpy as np
import pytest

import deeprecipe as dr
from deeprecipe import F, nn, serialization
from deeprecipe.serialization import CheckpointError


def _same(a, b, path="state"):
    """Exact equality including types (arrays: dtype, shape and bits)."""
    assert type(a) is type(b), f"{path}: {type(a).__name__} vs {type(b).__name__}"
    if isinstance(a, dict):
        assert list(a.keys()) == list(b.keys()) and [type(k) for k in a] == [type(k) for k in b], path
        for k in a:
            _same(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), path
    elif isinstance(a, float):
        assert (np.isnan(a) and np.isnan(b)) or (a == b and np.copysign(1, a) == np.copysign(1, b)), path
    elif isinstance(a, np.generic):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), path
    else:
        assert a == b, path


def _tree():
    rng = np.random.default_rng(0)
    return {
        "model": {"0.weight": rng.standard_normal((3, 4)).astype(np.float32), "0.bias": np.zeros(3),
                  "bn.num_batches_tracked": np.array(5, dtype=np.int64)},
        "optimizer": {"state": {0: {"step": 3, "exp_avg": rng.standard_normal(4)}, 1: {"step": 3}},
                      "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1], "nesterov": False}]},
        "misc": [None, True, 2 ** 100, -7, 0.1, float("nan"), float("inf"), -float("inf"), -0.0, "héllo / ü",
                 (1, (2, [3])), [], {}, ()],
        "np_scalars": [np.float32(1.5), np.int64(-3), np.bool_(True), np.float64(np.pi)],
        "arrays": [np.arange(6, dtype=np.uint8).reshape(2, 3), np.array([True, False]), np.zeros((0, 3)),
                   np.array(2.5), np.asfortranarray(rng.standard_normal((3, 2))), np.array([1 + 2j]),
                   rng.standard_normal((2, 3))[:, ::2]],
        "same_name": {1: np.ones(1), "1": np.zeros(1)},
        "weird keys": {"a/b": np.ones(2), "c d": np.ones(2), "": 1},
    }


def test_tree_round_trip_is_exact_for_every_supported_type(tmp_path):
    tree = _tree()
    path = tmp_path / "ckpt.npz"
    dr.save(path, tree, meta={"note": "x"})
    back = dr.load(path)
    _same(tree, back)
    assert serialization.load_metadata(path)["meta"] == {"note": "x"}
    assert serialization.load_metadata(path)["library_version"] == dr.__version__
    # any NumPy can read the arrays (no pickle needed)
    with np.load(path, allow_pickle=False) as z:
        assert np.array_equal(z["model/0.weight"], tree["model"]["0.weight"])
    # Tensors are stored as their arrays
    t = dr.Tensor(np.arange(3.0))
    dr.save(path, {"t": t})
    _same(dr.load(path), {"t": np.arange(3.0)})


def test_same_state_gives_the_same_bytes(tmp_path):
    tree = _tree()
    dr.save(tmp_path / "a.npz", tree)
    dr.save(tmp_path / "b.npz", tree)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()


@pytest.mark.parametrize("bad,where", [
    ({"x": {1, 2}}, "state['x']"),
    ({"x": [b"bytes"]}, "state['x'][0]"),
    ({"x": np.array([object()], dtype=object)}, "state['x']"),
    ({(1, 2): 3}, "key"),
    ({"f": lambda: 0}, "state['f']"),
])
def test_unsupported_values_are_refused_by_path(tmp_path, bad, where):
    with pytest.raises(TypeError) as ei:
        dr.save(tmp_path / "x.npz", bad)
    assert where in str(ei.value)
    assert not any(tmp_path.iterdir())  # nothing written, no temporary left behind
    with pytest.raises(TypeError, match="JSON"):
        dr.save(tmp_path / "x.npz", {}, meta={"obj": object()})


def test_a_crash_mid_write_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    dr.save(path, {"w": np.ones(3)})
    before = path.read_bytes()
    calls = []
    real = np.lib.format.write_array

    def crashing(fh, arr, *a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full (simulated)")
        return real(fh, arr, *a, **k)

    monkeypatch.setattr(np.lib.format, "write_array", crashing)
    with pytest.raises(OSError, match="simulated"):
        dr.save(path, {"w": np.zeros(3), "v": np.zeros(1000)})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"]
    _same(dr.load(path), {"w": np.ones(3)})
    with pytest.raises(FileNotFoundError, match="directory"):
        dr.save(tmp_path / "nope" / "x.npz", {})


def test_truncated_files_raise_a_clear_error(tmp_path):
    path = tmp_path / "ckpt.npz"
    dr.save(path, _tree())
    data = path.read_bytes()
    for cut in (0, 10, len(data) // 3, len(data) // 2, len(data) - 30, len(data) - 1):
        bad = tmp_path / f"cut{cut}.npz"
        bad.write_bytes(data[:cut])
        with pytest.raises(CheckpointError) as ei:
            dr.load(bad)
        assert str(bad) in str(ei.value)
    with pytest.raises(FileNotFoundError):
        dr.load(tmp_path / "missing.npz")


def _rewrite(src, dst, edit):
    """Copy a zip member by member, letting ``edit(name, bytes)`` change contents (CRCs are
    recomputed, as a deliberate tamperer would)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            out = edit(info.filename, zin.read(info.filename))
            if out is not None:
                zout.writestr(info.filename, out)


def test_tampered_files_are_detected(tmp_path):
    path = tmp_path / "ckpt.npz"
    dr.save(path, {"w": np.arange(12.0).reshape(3, 4), "n": 3})
    # 1. a flipped byte inside an array (zip CRC no longer matches)
    data = bytearray(path.read_bytes())
    i = data.index(np.arange(12.0).tobytes()[:16]) + 9
    data[i] ^= 0xFF
    (tmp_path / "flip.npz").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupted|tampered"):
        dr.load(tmp_path / "flip.npz")

    # 2. values changed and CRCs recomputed: the checksum catches it
    def change_values(name, raw):
        if name == "w.npy":
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.arange(12.0).reshape(3, 4) + 1)
            return buf.getvalue()
        return raw
    _rewrite(path, tmp_path / "values.npz", change_values)
    with pytest.raises(CheckpointError, match="checksum"):
        dr.load(tmp_path / "values.npz")

    # 3. the structure edited in the header
    def change_header(name, raw):
        if name == serialization.HEADER_NAME:
            h = json.loads(raw)
            h["tree"]["d"][1][1]["v"] = 4
            return json.dumps(h).encode()
        return raw
    _rewrite(path, tmp_path / "header.npz", change_header)
    with pytest.raises(CheckpointError, match="checksum"):
        dr.load(tmp_path / "header.npz")

    # 4. an extra or a missing member
    _rewrite(path, tmp_path / "extra.npz", lambda n, r: r)
    with zipfile.ZipFile(tmp_path / "extra.npz", "a") as z:
        z.writestr("sneaky.npy", b"x")
    with pytest.raises(CheckpointError, match="unexpected members: sneaky.npy"):
        dr.load(tmp_path / "extra.npz")
    _rewrite(path, tmp_path / "missing.npz", lambda n, r: None if n == "w.npy" else r)
    with pytest.raises(CheckpointError, match="missing arrays: w"):
        dr.load(tmp_path / "missing.npz")

    # 5. a plain .npz that deeprecipe did not write
    np.savez(tmp_path / "plain.npz", w=np.ones(2))
    with pytest.raises(CheckpointError, match="header"):
        dr.load(tmp_path / "plain.npz")


class _Payload:
    """Unpickling this would create a file: the proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickled_payloads_are_never_executed(tmp_path):
    marker = tmp_path / "PWNED"
    path = tmp_path / "ckpt.npz"
    dr.save(path, {"w": np.ones(3)})

    def inject(name, raw):  # replace the array by a pickled object array (valid CRC)
        if name == "w.npy":
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.array([_Payload(str(marker))], dtype=object), allow_pickle=True)
            return buf.getvalue()
        return raw
    _rewrite(path, tmp_path / "evil.npz", inject)
    with pytest.raises(CheckpointError):
        dr.load(tmp_path / "evil.npz")
    # a bare pickle file renamed to .npz
    (tmp_path / "evil2.npz").write_bytes(pickle.dumps(_Payload(str(marker))))
    with pytest.raises(CheckpointError):
        dr.load(tmp_path / "evil2.npz")
    assert not marker.exists()


# ---------------------------------------------------------------------------- training checkpoints
def _batch(step):
    rng = np.random.default_rng(1000 + step)  # data depend on the step only
    return rng.standard_normal((16, 6)).astype(np.float32), rng.integers(0, 3, 16)


def _train(model, opt, sched, steps, start):
    for s in range(start, start + steps):
        x, y = _batch(s)
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        sched.step()


def _setup(seed):
    model = nn.MLP([6, 16, 16, 3], norm="batch", dropout=0.3, init="he", rng=seed)
    opt = dr.optim.Adam(model.parameters(), lr=1e-2)
    sched = dr.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    return model, opt, sched


def test_resumed_training_is_bit_identical(tmp_path):
    path = tmp_path / "run.npz"
    dr.seed(123)
    model, opt, sched = _setup(0)
    _train(model, opt, sched, 3, 0)
    serialization.save_checkpoint(path, model=model, optimizer=opt, scheduler=sched, epoch=1, step=3,
                                  meta={"run": "test"}, best_val=0.5)
    _train(model, opt, sched, 4, 3)  # uninterrupted run: dropout masks come from the global RNG
    expected = model.state_dict()

    dr.seed(999)  # a different global RNG state: loading must restore it
    fresh, opt2, sched2 = _setup(7)
    info = serialization.load_checkpoint(path, model=fresh, optimizer=opt2, scheduler=sched2)
    assert info["epoch"] == 1 and info["step"] == 3 and info["counters"] == {"best_val": 0.5}
    assert info["meta"]["model_config"] == model.config and info["meta"]["user"] == {"run": "test"}
    assert info["meta"]["library_version"] == dr.__version__
    assert opt2.param_groups[0]["lr"] == 1e-2 * 0.5  # the schedule's lr after 3 steps is restored
    _train(fresh, opt2, sched2, 4, 3)
    got = fresh.state_dict()
    for k in expected:
        assert expected[k].tobytes() == got[k].tobytes(), f"{k} differs after resuming"
    assert sched2.get_last_lr() == sched.get_last_lr()
    # the architecture can be rebuilt from the checkpoint alone
    rebuilt = nn.build_model(serialization.load_metadata(path)["meta"]["model_config"])
    serialization.load_checkpoint(path, model=rebuilt, restore_rng=False)


def test_checkpoint_mismatches_are_named(tmp_path):
    path = tmp_path / "run.npz"
    model, opt, _ = _setup(0)
    serialization.save_checkpoint(path, model=model)
    other = nn.MLP([6, 8, 4], norm="batch", dropout=0.3)
    before = other.state_dict()
    with pytest.raises(nn.StateDictError) as ei:
        serialization.load_checkpoint(path, model=other)
    msg = str(ei.value)
    assert str(path) in msg
    assert "unexpected keys (in the state_dict, not in the model): '5.weight', '5.bias'" in msg
    assert "shape mismatch for '0.weight': the model has (8, 6), the state_dict has (16, 6)" in msg
    assert "shape mismatch for '4.weight': the model has (4, 8), the state_dict has (16, 16)" in msg
    assert all(np.array_equal(v, other.state_dict()[k]) for k, v in before.items())
    with pytest.raises(CheckpointError, match="no optimizer state"):
        serialization.load_checkpoint(path, model=model, optimizer=opt)
    dr.save(path, [1, 2])
    with pytest.raises(CheckpointError, match="not a training checkpoint"):
        serialization.load_checkpoint(path, model=model)
