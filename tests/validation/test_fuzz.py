"""Fuzzing the boundaries (hypothesis): IDX files, npz data files, checkpoints, TOML configs and
command lines.  Each property: a correct result, or a clear deeprecipe error (a ValueError /
TypeError / OSError subclass with a message; file errors name the file) -- never another
exception, never a write outside the target folder, never code execution.

Bounded example counts (``DEEPRECIPE_FUZZ_EXAMPLES``, default 60, derandomized so CI is
reproducible) and no deadline keep the whole module to a few seconds; set it higher to search
longer with fresh random examples.
"""
import gzip
import io
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from deeprecipe import load, save
from deeprecipe.data.idx import IDX_DTYPES, read_idx
from deeprecipe.serialization import CheckpointError

from .conftest import snapshot

CLEAR = (ValueError, TypeError, OSError)
#: examples per property; raise it to search longer (e.g. DEEPRECIPE_FUZZ_EXAMPLES=2000, not in CI)
EXAMPLES = int(os.environ.get("DEEPRECIPE_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 60,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def assert_clear(err, path=None):
    """``err`` is one of deeprecipe's clear errors (and names ``path`` when given)."""
    assert isinstance(err, CLEAR), f"{type(err).__name__}: {err}"
    msg = str(err)
    assert msg and "Traceback" not in msg
    if path is not None and not isinstance(err, (TypeError,)):
        assert os.path.basename(os.fspath(path)) in msg, msg


# ---------------------------------------------------------------- IDX headers and payloads
_DIM = st.one_of(st.integers(0, 6), st.sampled_from([2**31, 2**32 - 1, 10**9, 65536]))


@FUZZ
@given(code=st.sampled_from([*IDX_DTYPES, 0x00, 0x0A, 0xFF]), ndim=st.integers(0, 4),
       dims=st.lists(_DIM, min_size=0, max_size=4), payload=st.binary(max_size=300),
       magic01=st.sampled_from([b"\x00\x00", b"\x00\x00", b"\x1f\x00", b"PK"]), gz=st.booleans(),
       cut=st.integers(0, 400), exact=st.booleans())
def test_fuzz_idx(tmp_path, code, ndim, dims, payload, magic01, gz, cut, exact):
    dims = (dims + [1] * ndim)[:ndim]
    if exact:  # a consistent file (small dims, the payload the header asks for), then maybe damaged
        dims = [d % 5 + 1 for d in dims]
        size = int(np.prod(dims)) * (IDX_DTYPES[code].itemsize if code in IDX_DTYPES else 1)
        payload = (payload * (size // max(len(payload), 1) + 1))[:size] if payload else bytes(size)
    raw = magic01 + bytes([code, ndim]) + b"".join(int(d).to_bytes(4, "big") for d in dims) + payload
    raw = raw[:cut] if cut < len(raw) else raw
    path = tmp_path / ("f.idx.gz" if gz else "f.idx")
    path.write_bytes(gzip.compress(raw, mtime=0) if gz else raw)
    try:
        arr = read_idx(path)
        event("read")
    except Exception as e:  # noqa: BLE001 - the property is about which exceptions
        event(type(e).__name__)
        assert_clear(e, path)
        return
    # A correct result: the header's shape and dtype, the payload's values.
    dt = IDX_DTYPES[code]
    assert raw[:2] == b"\x00\x00" and arr.shape == tuple(dims)
    assert arr.tobytes() == np.frombuffer(raw[4 + 4 * ndim:], dtype=dt).astype(dt.newbyteorder("=")).tobytes()


# ---------------------------------------------------------------- npz data files
class _Evil:
    """Unpickling this would create a marker file: the property is that it never exists."""
    marker = None

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _npz_bytes(arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


_MUTATION = st.one_of(
    st.tuples(st.just("none"), st.just(0), st.just(0)),
    st.tuples(st.just("none"), st.just(0), st.just(0)),
    st.tuples(st.just("none"), st.just(0), st.just(0)),
    st.tuples(st.just("cut"), st.integers(0, 3000), st.just(0)),
    st.tuples(st.just("flip"), st.integers(0, 3000), st.integers(1, 255)),
    st.tuples(st.just("shape"), st.integers(0, 3), st.sampled_from([10**12, 2**62, 0, 7])),
)


@FUZZ
@given(n=st.one_of(st.integers(0, 4), st.integers(10, 30)), d=st.sampled_from([0, 1, 3, 3]),
       y_kind=st.sampled_from(["ok", "ok", "ok", "float", "neg", "huge", "2d"]),
       extra=st.sampled_from(["none", "none", "test", "test_bad", "object", "only_x"]), mutation=_MUTATION,
       clean=st.booleans())
def test_fuzz_npz_data_file(tmp_path, n, d, y_kind, extra, mutation, clean):
    if clean:  # half the examples are good files, so the "correct result" branch is exercised too
        n, d, y_kind, mutation = max(n, 10), max(d, 1), "ok", ("none", 0, 0)
        extra = extra if extra in ("none", "test") else "none"
    from deeprecipe.train.config import TrainConfig
    from deeprecipe.train.job import load_data
    rng = np.random.default_rng(n)
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = {"ok": rng.integers(0, 3, n), "float": rng.normal(size=n), "neg": -rng.integers(1, 3, n),
         "huge": np.full(n, 2**40), "2d": rng.integers(0, 3, (n, 2))}[y_kind]
    arrays = {"x_train": x, "y_train": y}
    marker = tmp_path / "pwned"
    if extra in ("test", "test_bad"):
        arrays.update(x_test=x[:5], y_test=(y[:5] if extra == "test" else np.full(min(5, n), 99)))
    elif extra == "object":
        _Evil.marker = str(marker)
        arrays["x_train"] = np.array([_Evil()] * max(n, 1), dtype=object)
    elif extra == "only_x":
        del arrays["y_train"]
    raw = bytearray(_npz_bytes(arrays))
    kind, a, b = mutation
    if kind == "cut":
        raw = raw[:a]
    elif kind == "flip" and raw:
        raw[a % len(raw)] ^= b
    elif kind == "shape":
        key = f"({n}, {d})".encode() if d else f"({n},)".encode()
        at = raw.find(key)
        if at >= 0:
            raw[at:at + len(key)] = f"({b}, {d})".encode()[:len(key)].ljust(len(key))
    path = tmp_path / "data.npz"
    path.write_bytes(bytes(raw))
    cfg = TrainConfig(data=f"npz:{path}", model="mlp:4", val_fraction=0.2, progress="none")
    try:
        data = load_data(cfg)
    except Exception as e:  # noqa: BLE001
        event(type(e).__name__)
        assert_clear(e)
        from deeprecipe.validation.files import DataFileError
        if isinstance(e, DataFileError):
            assert "data.npz" in str(e)
    else:
        event("loaded")
        assert data.num_classes <= 3 and len(data.x_train) > 0 and np.isfinite(data.x_train).all()
        assert data.y_train.min() >= 0 and data.y_train.max() < data.num_classes
    assert not marker.exists()


# ---------------------------------------------------------------- checkpoints
_STATE = {"model": {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.zeros(3)},
          "step": 7, "name": "run", "lr": 0.1, "nested": [1, (2.5, None)]}


@pytest.fixture(scope="module")
def checkpoint_bytes(tmp_path_factory):
    p = tmp_path_factory.mktemp("ck") / "c.npz"
    save(p, _STATE)
    return p.read_bytes()


def _same(a, b):
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(u, v) for u, v in zip(a, b))
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    return a == b


@FUZZ
@given(ops=st.lists(st.tuples(st.sampled_from(["flip", "cut", "insert", "zero"]), st.integers(0, 10**6),
                              st.integers(1, 255)), min_size=1, max_size=3))
def test_fuzz_checkpoint(tmp_path, checkpoint_bytes, ops):
    raw = bytearray(checkpoint_bytes)
    for op, at, val in ops:
        i = at % max(len(raw), 1)
        if op == "flip" and raw:
            raw[i] ^= val
        elif op == "cut":
            raw = raw[:i]
        elif op == "insert":
            raw[i:i] = bytes([val]) * (val % 7 + 1)
        elif op == "zero" and raw:
            raw[i:i + 16] = bytes(len(raw[i:i + 16]))
    path = tmp_path / "ck.npz"
    path.write_bytes(bytes(raw))
    try:
        got = load(path)
        event("loaded")
    except Exception as e:  # noqa: BLE001
        assert isinstance(e, CheckpointError), f"{type(e).__name__}: {e}"
        assert "ck.npz" in str(e)
    else:
        assert _same(got, _STATE)  # whatever the damage hit, what loads is exactly what was saved
    from deeprecipe.train import load_checkpoint
    try:
        load_checkpoint(path)
    except Exception as e:  # noqa: BLE001
        assert_clear(e, path)


def test_a_pickle_disguised_as_checkpoint_or_data_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    _Evil.marker = str(marker)
    for name in ("c.npz", "d.npz", "e.npy"):
        (tmp_path / name).write_bytes(pickle.dumps(_Evil()))
    with zipfile.ZipFile(tmp_path / "z.npz", "w") as z:  # a zip member holding a pickle
        z.writestr("x_train.npy", pickle.dumps(_Evil()))
        z.writestr("y_train.npy", pickle.dumps(_Evil()))
    from deeprecipe.validation import read_npz_arrays
    for name in ("c.npz", "z.npz"):
        with pytest.raises(CLEAR):
            load(tmp_path / name)
    for name in ("d.npz", "z.npz", "e.npy"):
        with pytest.raises(CLEAR):
            read_npz_arrays(tmp_path / name)
    assert not marker.exists()


# ---------------------------------------------------------------- TOML configs
_KEYS = st.sampled_from(["data", "model", "lr", "epochs", "batch_size", "dropout", "activation", "norm", "seed",
                         "learning_rate", "bs", "val_fraction", "optimizer", "schedule", "patience", "resume",
                         "overwrite", "device", "threads", "unknown", "out", "train"])
_VALUES = st.one_of(st.integers(-2**70, 2**70), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                    st.sampled_from(['"relu"', '"mlp:8"', '"cnn:0"', '"mlp:4.5"', '"npz:"', '"blobs"', '"adam"',
                                     '"onecycle"', '"plateau"', '"cuda"', '[1, 2]', '{a = 1}', '""', '"x" "y"',
                                     "1979-05-27", '"\\u0000"']),
                    st.text(max_size=8).map(lambda s: '"' + s.replace("\\", "").replace('"', "") + '"'))


def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if np.isnan(v) else ("inf" if v == float("inf") else "-inf" if v == float("-inf") else repr(v))
    return str(v)


@FUZZ
@given(items=st.lists(st.tuples(_KEYS, _VALUES), max_size=6), table=st.booleans(),
       junk=st.one_of(st.just(b""), st.binary(max_size=12)))
def test_fuzz_toml_config(tmp_path, items, table, junk):
    import argparse

    from deeprecipe.train.cli import resolve
    from deeprecipe.train.config import TrainConfig
    text = ("[train]\n" if table else "") + "".join(f"{k} = {_toml_value(v)}\n" for k, v in items)
    path = tmp_path / "job.toml"
    path.write_bytes(text.encode("utf-8") + junk)
    try:
        cfg = resolve(argparse.Namespace(config=str(path)))
        event("valid config")
    except Exception as e:  # noqa: BLE001
        event(type(e).__name__)
        assert_clear(e)
        assert "job.toml" in str(e) or any(k in str(e) for k, _ in items), str(e)
    else:
        assert isinstance(cfg, TrainConfig) and cfg.lr > 0 and cfg.epochs >= 1 and 0 <= cfg.dropout < 1


# ---------------------------------------------------------------- command lines
_OPTS = {
    "--data": ["npz:tiny.npz", "npz:missing.npz", "npz:", "npz:sub", "npz:damaged.npz", "npz:../victim/x.npz",
               "npz:job.toml", "npz:images.npz", "spiralz", ""],
    "--norm": ["none", "batch", "layer", "group"],
    "--init": ["he", "normal", "default", "zeros"],
    "--weight-decay": ["0", "0.1", "-1", "inf"],
    "--progress": ["none", "lines", "bar", "loud"],
    "--model": ["mlp:4", "mlp:", "mlp:4.5", "mlp:0", "mlp:-1", "cnn:4", "cnn:2/3", "cnn:2,2,2,2", "mlp:99999999999",
                "rnn:3", "mlp:4,x"],
    "--epochs": ["0", "1", "2", "-1", "x", "1.5", "1e309"],
    "--batch-size": ["0", "16", "-3", "1e3", "nan"],
    "--lr": ["0", "-1", "nan", "inf", "1e6", "0.05", "1e-300", "x"],
    "--dropout": ["1", "0.5", "-0.1", "nan"],
    "--optimizer": ["sgd", "adam", "sdg", "", "adamw"],
    "--momentum": ["0.9", "1", "-1"],
    "--schedule": ["none", "plateau", "cosine", "bogus"],
    "--activation": ["relu", "tanh", "maxout", "rleu", "RELU"],
    "--val-fraction": ["0", "0.5", "0.999", "1", "-1"],
    "--train-samples": ["0", "3", "-1", "100000"],
    "--patience": ["0", "1", "-2"],
    "--checkpoint-every": ["0", "1", "-1"],
    "--out": ["run", "run2", "../victim", "victim-link", "tiny.npz", "run/sub", ""],
    "--seed": ["0", "-1", "99999999999999999999"],
    "--device": ["cpu", "cuda", "tpu"],
    "--threads": ["0", "1", "-1"],
    "--config": ["job.toml", "missing.toml", "sub"],
    "--learning-rate": ["0.1"], "--epoch": ["1"], "--bs": ["3"], "-x": [], "--resume": [], "--overwrite": [],
    "--help": [],
}


@st.composite
def argv(draw):
    out = []
    for opt in draw(st.lists(st.sampled_from(sorted(_OPTS)), max_size=6)):
        out.append(opt)
        if _OPTS[opt]:
            out.append(draw(st.sampled_from(_OPTS[opt])))
    if draw(st.booleans()):
        out.append(draw(st.sampled_from(["stray", "--", "=", "--lr=0.1", "--epochs=", "\udcff"])))
    return out


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """cwd = sandbox/work with a small data file; a foreign run in sandbox/victim; HOME inside."""
    from .conftest import toy_arrays
    work, victim = tmp_path / "work", tmp_path / "victim"
    (work / "sub").mkdir(parents=True)
    (victim / "checkpoints").mkdir(parents=True)
    (victim / "config.json").write_text('{"not": "ours"}')
    (victim / "metrics.csv").write_text("precious\n")
    (victim / "checkpoints" / "last.npz").write_bytes(b"precious")
    x, y = toy_arrays(n=24)
    np.savez(work / "tiny.npz", x_train=x, y_train=y)
    (work / "damaged.npz").write_bytes((work / "tiny.npz").read_bytes()[:200])
    images = np.random.default_rng(0).integers(0, 255, size=(16, 6, 6), dtype=np.uint8)
    np.savez(work / "images.npz", x_train=images, y_train=np.arange(16) % 2)
    (work / "job.toml").write_text('model = "mlp:4"\nepochs = 1\nlr = 0.05\n')
    (work / "victim-link").symlink_to(victim)
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home" / ".cache"))
    monkeypatch.setenv("DEEPRECIPE_DATA", str(tmp_path / "nodata"))
    return tmp_path


@settings(max_examples=max(EXAMPLES * 2 // 3, 1), deadline=None, derandomize=EXAMPLES <= 60,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(args=argv())
def test_fuzz_cli_argv(sandbox, capsys, args):
    import shutil

    from deeprecipe.cli import main
    work = sandbox / "work"
    for d in ("run", "run2", "runs"):  # each example starts from the same sandbox
        shutil.rmtree(work / d, ignore_errors=True)
    # every example trains at most one tiny epoch: the defaults are pinned in front
    base = ["train", "--progress", "none", "--data", "npz:tiny.npz", "--model", "mlp:4", "--epochs", "1",
            "--out", "run"]
    before = snapshot(sandbox)
    try:
        rc = main(base + args)
    except SystemExit as e:  # argparse: usage errors and --help
        rc = e.code
    cap = capsys.readouterr()
    event(f"exit code {rc}")
    assert rc in (0, 1, 2), rc
    assert "Traceback" not in cap.err
    if rc == 2 and "usage:" not in cap.err:
        assert cap.err.startswith("deeprecipe train: "), cap.err
    after = snapshot(sandbox)
    changed = {p for p in set(before) | set(after) if before.get(p) != after.get(p)}
    allowed = ("work/run", "work/run2", "work/runs", "work/sub")
    assert all(p.startswith(allowed) for p in changed), sorted(changed)
    assert not any(p.startswith("victim") for p in changed)


# ---------------------------------------------------------------- well-formed but wrong training checkpoints
@pytest.fixture(scope="module")
def training_checkpoint(tmp_path_factory):
    from deeprecipe import nn
    from deeprecipe.train import ModelCheckpoint, fit
    d = tmp_path_factory.mktemp("tck")
    x = np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32)
    fit(nn.MLP([4, 3], rng=0), (x, np.arange(40) % 3), epochs=1, batch_size=8, verbose=0, seed=0,
        callbacks=[ModelCheckpoint(d / "ck", save_best=False)])
    return load(d / "ck" / "last.npz"), x


_HOSTILE = st.sampled_from([-1, 10**12, "a", None, 1.5, True, [], {}, [1, 2], {"a": 1}, "{}", "nan",
                            np.full(3, np.nan, np.float32)])


@FUZZ
@given(field=st.sampled_from(["epoch", "batch", "global_step", "epochs", "steps_per_epoch", "stopped",
                              "stop_reason", "loader_seed", "rng", "sums", "model", "optimizer",
                              "callbacks", "step", "format"]),
       value=_HOSTILE, nested=st.booleans())
def test_fuzz_training_checkpoint_fields(tmp_path, training_checkpoint, field, value, nested):
    import copy

    from deeprecipe import nn
    from deeprecipe.train import ModelCheckpoint, fit
    state, x = training_checkpoint
    state = copy.deepcopy(state)
    target = state[field]
    if nested and isinstance(target, dict) and target:  # replace one entry inside the field instead
        target[sorted(target, key=str)[0]] = value
    elif nested and isinstance(target, list) and target:
        target[0] = value
    else:
        state[field] = value
    path = tmp_path / "edited.npz"
    save(path, state)
    try:
        fit(nn.MLP([4, 3], rng=0), (x, np.arange(40) % 3), epochs=2, batch_size=8, verbose=0, seed=0,
            resume_from=path, callbacks=[ModelCheckpoint(tmp_path / "ck", save_best=False)])
        event("resumed")
    except Exception as e:  # noqa: BLE001
        event(type(e).__name__)
        assert_clear(e)


# ---------------------------------------------------------------- lab results directories
@pytest.fixture(scope="module")
def lab_results(tmp_path_factory):
    from deeprecipe.lab import registry, run_experiments

    from ..lab.toy import TOY
    registry.register(TOY)
    out = tmp_path_factory.mktemp("lab") / "res"
    run_experiments([TOY], preset="test", out=out, progress=False)
    yield out, TOY
    registry.unregister(TOY.id)


_LAB_FILES = ["experiment.json", "verdict.json", "figure.png", "seed-0/unit.json", "seed-0/arrays.npz",
              "seed-1/unit.json", "seed-1", "."]


@settings(max_examples=max(EXAMPLES // 4, 1), deadline=None, derandomize=EXAMPLES <= 60,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(target=st.sampled_from(_LAB_FILES), how=st.sampled_from(["cut", "flip", "link", "dir", "empty", "json"]),
       at=st.integers(0, 10**5), renamed=st.booleans())
def test_fuzz_lab_results_directory(tmp_path, lab_results, target, how, at, renamed):
    import json
    import shutil

    from deeprecipe.lab import write_report
    import tempfile
    src, toy = lab_results
    tmp_path = Path(tempfile.mkdtemp(dir=tmp_path))  # one folder per example
    res = tmp_path / "res"
    shutil.copytree(src, res, symlinks=True)
    exp = toy.id
    if renamed:  # the same results under an id this deeprecipe does not know: rendered from verdict.json
        shutil.copytree(res / exp, res / "other-exp")
        for p in (res / "other-exp").rglob("*.json"):
            d = json.loads(p.read_text())
            d["id"] = "other-exp"
            p.write_text(json.dumps(d))
        exp = "other-exp"
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"\x89PNG\r\n\x1a\n" + b"SECRET" * 20)
    p = res / exp / target
    if how == "link":
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()
        p.symlink_to(secret if target != "." and not target.endswith("seed-1") else tmp_path)
    elif how == "dir" and p.is_file():
        p.unlink()
        p.mkdir()
    elif p.is_file():
        raw = bytearray(p.read_bytes())
        if how == "cut":
            raw = raw[:at % (len(raw) + 1)]
        elif how == "flip" and raw:
            raw[at % len(raw)] ^= 0x5A
        elif how == "empty":
            raw = bytearray()
        elif how == "json":
            raw = bytearray(json.dumps([at, None]).encode())
        p.write_bytes(bytes(raw))
    fig = res / exp / "figure.png"
    if fig.is_file() and not fig.is_symlink():
        os.utime(fig, (4e9, 4e9))  # not stale: no redraw, the test stays fast
    before = snapshot(tmp_path)
    from deeprecipe.lab.storage import ResultsError
    try:
        rep = write_report(res)  # a damaged experiment is an entry marked failed, not an exception
    except ResultsError as e:  # ... unless no experiment is left at all (its folder became a link elsewhere)
        assert "holds no lab results" in str(e) and how == "link" and target == "."
        event("no experiment left")
        return
    event("failed" if any(not e.outcome.ok for e in rep["entries"]) else "all ok")
    with open(rep["html"], "rb") as f:
        html = f.read()
    import base64
    assert base64.b64encode(secret.read_bytes())[:24] not in html
    assert secret.read_bytes().startswith(b"\x89PNG")
    changed = {k for k in set(before) | set(snapshot(tmp_path)) if before.get(k) != snapshot(tmp_path).get(k)}
    assert all(k.startswith("res") for k in changed), changed


# ---------------------------------------------------------------- arrays given to fit
@FUZZ
@given(n=st.integers(0, 12), d=st.sampled_from([0, 1, 3, 4]),
       x_dtype=st.sampled_from(["f4", "f8", "i8", "u1", "c8", "?", "U1", "O"]),
       x_poison=st.sampled_from([None, np.nan, np.inf, 1e300, -1e39]),
       y_dtype=st.sampled_from(["i8", "u1", "f4", "O"]),
       y_shape=st.sampled_from(["n", "n-1", "n,3", "scalar"]),
       y_poison=st.sampled_from([None, -1, 3, 2**40, 2**63 - 1]), clean=st.booleans())
def test_fuzz_fit_arrays(tmp_path, n, d, x_dtype, x_poison, y_dtype, y_shape, y_poison, clean):
    from deeprecipe import nn
    from deeprecipe.train import CSVLogger, fit
    if clean:  # half the examples are good arrays, so training itself is exercised too
        n, d, x_poison, y_dtype, y_shape, y_poison = max(n, 1), 4, None, "i8", "n", None
        x_dtype = x_dtype if x_dtype in ("f4", "f8", "u1") else "f4"
    rng = np.random.default_rng(n + d)
    x = rng.normal(size=(n, d))
    if x_poison is not None and x.size:
        x.flat[rng.integers(x.size)] = x_poison
    with np.errstate(over="ignore", invalid="ignore"):
        x = x.astype(x_dtype) if x_dtype != "O" else x.astype(object)
    shape = {"n": (n,), "n-1": (max(n - 1, 0),), "n,3": (n, 3), "scalar": ()}[y_shape]
    y = rng.integers(0, 3, size=shape)
    if y_poison is not None and y.size:
        y = y.astype(np.int64)
        y.flat[0] = min(y_poison, 2**62)
    y = y.astype(y_dtype) if y_dtype != "O" else y.astype(object)
    import tempfile
    out = Path(tempfile.mkdtemp(dir=tmp_path)) / "out"  # one folder per example
    try:
        fit(nn.MLP([4, 3], rng=0), (x, y), epochs=1, batch_size=4, verbose=0, seed=0,
            callbacks=[CSVLogger(out / "m.csv")])
        event("trained")
    except Exception as e:  # noqa: BLE001
        event(type(e).__name__)
        assert_clear(e)
        assert not out.exists()  # refused before anything was written
