"""The CUDA-graph training step, everything a CPU can check: the reasons a step cannot be
captured, the static buffers, the capture's error wrapping (with a stand-in stream), the
frozen-hyperparameter check, that the captured step is exactly the eager step, and that
``fit(cuda_graph=True)`` on the CPU warns and trains exactly as without it.  Capture and
replay themselves are tested on a GPU (test_cuda_graph_gpu.py)."""
import warnings

import numpy as np
import pytest

import deeprecipe as dr
import deeprecipe.functions as F
from deeprecipe import config, nn, optim, train
from deeprecipe.train import cuda_graph as G
from deeprecipe.train.step import step_arrays, train_step


def _data(n=100, d=8, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)).astype(np.float32), rng.integers(0, k, n)


def _weights(model):
    return {k: np.array(v) for k, v in model.state_dict().items()}


# ---------------------------------------------------------------------------- reasons
def test_cpu_model_cannot_be_captured_and_the_error_says_what_to_do():
    model = nn.MLP([8, 16, 3], rng=0)
    opt = optim.Adam(model.parameters(), capturable=True)
    with pytest.raises(G.CudaGraphError, match=r"CuPy|model\.to\('cuda'\)"):
        G.CudaGraphStep(model, F.softmax_cross_entropy, opt)


def test_every_reason_is_named():
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.3), nn.BatchNorm1d(16, momentum=None),
                          nn.Linear(16, 3))
    opt = optim.Adam(model.parameters())
    reasons = " | ".join(G.unsupported_reasons(model, opt))
    assert "capturable=True" in reasons and "Adam(model.parameters(), ..., capturable=True)" in reasons
    assert "Dropout p=0.3" in reasons and "mask" in reasons
    assert "momentum=None" in reasons
    assert "CuPy" in reasons or "model.to('cuda')" in reasons
    ok = nn.Sequential(nn.Linear(8, 16), nn.Dropout(0.0), nn.BatchNorm1d(16), nn.Linear(16, 3))
    reasons = G.unsupported_reasons(ok, optim.SGD(ok.parameters(), lr=0.1, momentum=0.9, capturable=True))
    assert len(reasons) == 1 and ("CuPy" in reasons[0] or "to('cuda')" in reasons[0]), reasons


def test_warmup_must_be_a_positive_integer():
    model = nn.MLP([8, 3], rng=0)
    with pytest.raises(ValueError, match="warmup"):
        G.CudaGraphStep(model, F.softmax_cross_entropy, optim.Adam(model.parameters(), capturable=True), warmup=0)


# ---------------------------------------------------------------------------- static buffers
def test_static_batch_copies_into_the_same_arrays():
    sb = G.StaticBatch(np)
    x, y = _data(16)
    sb.fill(x, y)
    bx, by = sb.x, sb.y
    assert bx is not x and by is not y
    np.testing.assert_array_equal(bx, x)
    x2, y2 = _data(16, seed=1)
    sb.fill(x2, y2)
    assert sb.x is bx and sb.y is by, "a replay reads fixed addresses: the buffers must not be rebound"
    np.testing.assert_array_equal(bx, x2)
    np.testing.assert_array_equal(by, y2)


@pytest.mark.parametrize("change", ["rows", "dtype", "y_shape"])
def test_static_batch_refuses_another_shape_and_says_what_to_do(change):
    sb = G.StaticBatch(np)
    x, y = _data(16)
    sb.fill(x, y)
    x2, y2 = {"rows": (x[:8], y[:8]), "dtype": (x.astype(np.float64), y),
              "y_shape": (x, np.stack([y, y], 1))}[change]
    assert not sb.accepts(x2, y2)
    with pytest.raises(ValueError, match="captured for batches x .*drop_last=True"):
        sb.fill(x2, y2)
    np.testing.assert_array_equal(sb.x, x)   # nothing was copied
    with pytest.raises(ValueError, match="needs targets"):
        sb.fill(x, None)


# ---------------------------------------------------------------------------- capture wrapping
class _FakeStream:
    """Stands for a CuPy stream: records whether it is capturing; ending an invalidated
    capture raises, as CUDA does."""

    def __init__(self):
        self.capturing = False
        self.invalidated = False

    def begin_capture(self):
        assert not self.capturing
        self.capturing = True

    def end_capture(self):
        assert self.capturing
        self.capturing = False
        if self.invalidated:
            raise RuntimeError("cudaErrorStreamCaptureInvalidated: operation failed due to a previous error "
                               "during capture")
        return "graph"


def test_capture_returns_the_graph_and_the_result():
    s = _FakeStream()
    assert G.capture(s, lambda: (1, 2)) == ("graph", (1, 2))
    assert not s.capturing


def test_a_host_read_during_capture_becomes_an_error_that_names_it():
    s = _FakeStream()

    def step():   # what CuPy does when float() synchronizes inside a capture
        s.invalidated = True
        raise RuntimeError("cudaErrorStreamCaptureUnsupported: operation not permitted when stream is capturing")

    with pytest.raises(G.CudaGraphError, match=r"float\(\).*\.item\(\).*without cuda_graph") as e:
        G.capture(s, step)
    assert "operation not permitted when stream is capturing" in str(e.value)
    assert not s.capturing, "the stream must be left out of capture mode"
    s2 = _FakeStream()
    s2.invalidated = True
    with pytest.raises(G.CudaGraphError, match="Invalidated"):
        G.capture(s2, lambda: None)


def test_no_host_checks_skips_only_the_label_range_check():
    logits = dr.Tensor(np.zeros((2, 3), np.float32))
    bad = np.array([0, 5])
    with pytest.raises(ValueError, match="label 5"):
        F.softmax_cross_entropy(logits, bad)
    with config.no_host_checks():
        F.softmax_cross_entropy(dr.Tensor(np.zeros((2, 3), np.float32)), np.array([0, 2]))
        assert not config.Config.host_checks
    assert config.Config.host_checks
    with pytest.raises(ValueError, match="shape"):
        with config.no_host_checks():    # shape checks read no device value: they stay
            F.softmax_cross_entropy(logits, np.array([0, 1, 2]))


# ---------------------------------------------------------------------------- frozen hyperparameters
def test_changed_hyperparameters_are_found_but_lr_may_change():
    model = nn.MLP([8, 3], rng=0)
    opt = optim.Adam(model.parameters(), lr=1e-3, capturable=True)
    frozen = G.frozen_hyperparameters(opt)
    opt.param_groups[0]["lr"] = 0.5
    opt.param_groups[0]["initial_lr"] = 0.5
    assert G.changed_hyperparameters(frozen, opt) == []
    opt.param_groups[0]["betas"] = (0.8, 0.999)
    assert G.changed_hyperparameters(frozen, opt) == [(0, "betas", (0.9, 0.999), (0.8, 0.999))]


# ---------------------------------------------------------------------------- the captured step = the eager step
@pytest.mark.parametrize("capturable", [False, True])
def test_the_captured_step_is_exactly_the_eager_step(capturable):
    """``step_arrays`` (what the graph records) run eagerly gives the bits of ``train_step``,
    over several steps with BatchNorm and an lr schedule."""
    x, y = _data(96)
    runs = []
    for body in ("train_step", "step_arrays"):
        model = nn.MLP([8, 16, 16, 3], norm="batch", init="he", rng=0)
        opt = optim.Adam(model.parameters(), lr=1e-2, capturable=capturable)
        sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
        losses = []
        for k in range(6):
            xb, yb = x[16 * k:16 * (k + 1)], y[16 * k:16 * (k + 1)]
            if body == "train_step":
                _, loss = train_step(model, F.softmax_cross_entropy, opt, xb, yb)
            else:
                _, loss = step_arrays(model, F.softmax_cross_entropy, opt, xb, yb)
                assert isinstance(loss, np.ndarray) and loss.shape == (), "the graph's loss must stay an array"
                loss = float(loss)
            losses.append(loss)
            sched.step()
        runs.append((losses, _weights(model)))
    assert runs[0][0] == runs[1][0]
    for k in runs[0][1]:
        np.testing.assert_array_equal(runs[1][1][k], runs[0][1][k])


# ---------------------------------------------------------------------------- fit
def test_fit_cuda_graph_on_cpu_warns_and_trains_exactly_as_without():
    x, y = _data(100)
    hists, ws = [], []
    for cg in (False, True):
        model = nn.MLP([8, 16, 3], init="he", rng=0)
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            h = train.fit(model, (x, y), epochs=2, batch_size=32, seed=0, verbose=0, cuda_graph=cg)
        msgs = [str(w.message) for w in rec if issubclass(w.category, RuntimeWarning)]
        if cg:
            assert len(msgs) == 1 and "training without a CUDA graph" in msgs[0]
            assert "CuPy" in msgs[0] or "model.to('cuda')" in msgs[0]
        else:
            assert not any("CUDA graph" in m for m in msgs)
        hists.append(h.history)
        ws.append(_weights(model))
    # the fallback builds Adam capturable (float32: the same bits as the normal mode)
    assert hists[0] == hists[1]
    for k in ws[0]:
        np.testing.assert_array_equal(ws[1][k], ws[0][k])


def test_fit_cuda_graph_builds_a_named_optimizer_capturable():
    model = nn.MLP([8, 3], rng=0)
    assert train.Trainer(model, optimizer="adam", cuda_graph=True).optimizer.param_groups[0]["capturable"] is True
    assert train.Trainer(model, optimizer="sgd:momentum=0.9", cuda_graph=True).optimizer.defaults["capturable"]
    assert "capturable" not in train.Trainer(model, optimizer="nadam", cuda_graph=True).optimizer.defaults
    assert train.Trainer(model, optimizer="adam").optimizer.param_groups[0]["capturable"] is False
    with pytest.raises(TypeError, match="cuda_graph"):
        train.Trainer(model, cuda_graph="yes")


# ---------------------------------------------------------------------------- the runner, with CuPy emulated
class _Event:
    pass


class _Stream:
    def __init__(self, non_blocking=False):
        self.non_blocking = non_blocking

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def record(self):
        return _Event()

    def wait_event(self, event):
        pass

    def synchronize(self):
        pass


class _FakeCuda:
    Stream = _Stream

    @staticmethod
    def get_current_stream():
        return _Stream()

    class MemoryPool:
        def malloc(self, nbytes):  # pragma: no cover - NumPy allocates by itself
            raise AssertionError

    @staticmethod
    def using_allocator(alloc):
        import contextlib
        return contextlib.nullcontext()


class _FakeCupy:
    """Just what CudaGraphStep asks of CuPy, on NumPy arrays."""

    cuda = _FakeCuda
    empty = staticmethod(np.empty)


class _EmulatedGraph:
    """A "graph" whose launch re-runs the captured step the way a replay runs: no Python
    writes the lr (the optimizer is in capture mode, so the step reads the device lr that
    the runner wrote), and the results land in the arrays the capture returned.  The
    capture itself ran the step once (NumPy cannot record), so the first launch is skipped."""

    def __init__(self, fn, result, optimizer, log):
        self.fn, self.result, self.optimizer, self.log = fn, result, optimizer, log
        self.first = True

    def launch(self, stream=None):
        self.log.append("launch")
        if self.first:
            self.first = False
            return
        self.optimizer._capturing = True
        try:
            out, loss = self.fn()
        finally:
            self.optimizer._capturing = False
        self.result[0][...] = out
        self.result[1][...] = loss


@pytest.fixture
def emulated_cupy(monkeypatch):
    log = []
    monkeypatch.setattr(G, "_cupy", lambda: _FakeCupy)
    monkeypatch.setattr(G, "_on_gpu", lambda a: isinstance(a, np.ndarray))

    def capture(stream, fn):
        log.append("capture")
        assert not config.Config.host_checks, "the capture must skip host-reading checks"
        result = fn()
        # the step's optimizer: found through the closure's free variables
        opt = next(c.cell_contents for c in fn.__closure__ if hasattr(c.cell_contents, "capturing"))
        assert opt._capturing, "the step must be captured inside optimizer.capturing()"
        return _EmulatedGraph(fn, result, opt, log), result

    monkeypatch.setattr(G, "capture", capture)
    return log


def test_runner_warms_up_captures_once_then_replays_like_eager(emulated_cupy):
    """The orchestration: ``warmup`` eager calls, one capture, then launches; the lr of a
    schedule reaches every replay (through ``sync_lr``), and the trajectory is the eager one."""
    x, y = _data(16 * 7)
    runs = []
    for graphed in (False, True):
        model = nn.MLP([8, 16, 3], norm="batch", init="he", rng=0)
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, capturable=True)
        sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
        step = G.CudaGraphStep(model, F.softmax_cross_entropy, opt, warmup=2) if graphed else None
        losses = []
        for k in range(7):
            xb, yb = x[16 * k:16 * (k + 1)], y[16 * k:16 * (k + 1)]
            if graphed:
                out, loss = step(xb, yb)
            else:
                out, loss = step_arrays(model, F.softmax_cross_entropy, opt, xb, yb)
            losses.append(float(loss))
            sched.step()
        runs.append((losses, _weights(model)))
    assert emulated_cupy == ["capture"] + ["launch"] * 5
    assert step.captured and step.calls == 7
    assert runs[1][0] == runs[0][0]
    for k in runs[0][1]:
        np.testing.assert_array_equal(runs[1][1][k], runs[0][1][k])


def test_runner_refuses_a_changed_hyperparameter_or_a_rebound_parameter(emulated_cupy):
    model = nn.MLP([8, 3], rng=0)
    opt = optim.Adam(model.parameters(), capturable=True)
    step = G.CudaGraphStep(model, F.softmax_cross_entropy, opt, warmup=1)
    x, y = _data(16)
    step(x, y)
    step(x, y)
    assert step.captured
    opt.param_groups[0]["lr"] = 0.5          # allowed: read from the device
    step(x, y)
    opt.param_groups[0]["eps"] = 1e-6
    with pytest.raises(G.CudaGraphError, match="'eps' of parameter group 0 changed"):
        step(x, y)
    opt.param_groups[0]["eps"] = 1e-8
    p = next(iter(model.parameters()))
    p.data = p.data.copy()
    with pytest.raises(G.CudaGraphError, match="rebound"):
        step(x, y)


def test_fit_with_an_emulated_graph_equals_eager_fit(emulated_cupy):
    """fit(cuda_graph=True): a per-step schedule, a last partial batch run eagerly (100 =
    3 x 32 + 4), one capture per fit, no warning; the same bits as eager fit."""
    x, y = _data(100)
    results = []
    for cg in (False, True):
        model = nn.MLP([8, 16, 3], init="he", rng=0)
        sched = train.LearningRateScheduler(lambda o: optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.7), "step")
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            h = train.fit(model, (x, y), optimizer="adam", lr=1e-2, epochs=3, batch_size=32, seed=0, verbose=0,
                          callbacks=[sched], cuda_graph=cg)
        results.append((h.history, _weights(model)))
    # 3 epochs x 3 full batches: 3 warm-up calls, one capture, 6 launches; partial batches eager
    assert emulated_cupy == ["capture"] + ["launch"] * 6
    assert results[1][0] == results[0][0]
    for k in results[0][1]:
        np.testing.assert_array_equal(results[1][1][k], results[0][1][k])
