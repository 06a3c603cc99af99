"""CUDA-graph capture and replay of the whole training step on a GPU (CuPy): replaying the
graph gives the eager trajectory for an MLP and a CNN with BatchNorm, Adam and SGD with
momentum, under an lr schedule; host reads inside the step, another batch shape and a
changed frozen hyperparameter raise errors that say what to do; ``fit(cuda_graph=True)``
captures once and matches eager ``fit``.  Skipped where CuPy or a GPU is missing."""
import warnings

import numpy as np
import pytest

import deeprecipe as dr
import deeprecipe.functions as F
from deeprecipe import nn, optim, train
from deeprecipe.train import cuda_graph as G
from deeprecipe.train.step import step_arrays

if dr.backend.cupy_module() is None:
    pytest.skip("CuPy with a visible GPU is needed", allow_module_level=True)
cp = dr.backend.cupy_module()

STEPS = 8
B = 32
TOL = dict(rtol=2e-5, atol=2e-6)   # float32; the same kernels run in both, so usually exact


def _build(kind):
    if kind == "mlp":
        return nn.MLP([784, 64, 32, 10], init="he", rng=0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(8 * 7 * 7, 10))


def _pair(kind):
    """Two models with the same weights, on the GPU."""
    a, b = _build(kind), _build(kind)
    b.load_state_dict(a.state_dict())
    return a.to("cuda"), b.to("cuda")


def _batches(kind, n=STEPS, rows=B, seed=1):
    rng = np.random.default_rng(seed)
    shape = (rows, 784) if kind == "mlp" else (rows, 1, 28, 28)
    return [(rng.standard_normal(shape).astype(np.float32), rng.integers(0, 10, rows)) for _ in range(n)]


def _opt(name, params):
    if name == "adam":
        return optim.Adam(params, lr=3e-3, capturable=True)
    return optim.SGD(params, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4, capturable=True)


def _weights(model):
    return {k: dr.backend.to_device(v, "cpu").copy() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("opt_name", ["adam", "sgd"])
@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_replay_equals_eager_under_a_schedule(kind, opt_name):
    eager, graphed = _pair(kind)
    batches = _batches(kind)
    opt_e, opt_g = _opt(opt_name, eager.parameters()), _opt(opt_name, graphed.parameters())
    sched_e = optim.lr_scheduler.StepLR(opt_e, step_size=3, gamma=0.5)
    sched_g = optim.lr_scheduler.StepLR(opt_g, step_size=3, gamma=0.5)
    step = G.CudaGraphStep(graphed, F.softmax_cross_entropy, opt_g, warmup=2)
    le, lg = [], []
    for x, y in batches:
        _, loss = step_arrays(eager, F.softmax_cross_entropy, opt_e, cp.asarray(x), cp.asarray(y))
        le.append(float(loss))
        _, loss = step(x, y)
        lg.append(float(loss))
        sched_e.step()
        sched_g.step()
    assert step.captured and step.calls == STEPS
    assert opt_g.state_dict()["state"]["0"]["step"] == STEPS, "each replay must count its step on the device"
    np.testing.assert_allclose(lg, le, **TOL)
    assert abs(le[-1] - le[0]) > 1e-3, "training did not move: the comparison would be vacuous"
    we, wg = _weights(eager), _weights(graphed)
    for k in we:
        np.testing.assert_allclose(wg[k], we[k], **TOL, err_msg=k)


def test_a_host_read_inside_the_step_fails_the_capture_with_a_clear_error():
    model = _build("mlp").to("cuda")
    opt = _opt("adam", model.parameters())

    def loss_reading_the_host(out, y):
        loss = F.softmax_cross_entropy(out, y)
        if float(loss.data) > 1e9:   # synchronizes: cannot be recorded
            raise AssertionError
        return loss

    step = G.CudaGraphStep(model, loss_reading_the_host, opt, warmup=1)
    (x, y), (x2, y2) = _batches("mlp", n=2)
    step(x, y)   # eager warm-up: fine
    before = _weights(model)
    with pytest.raises(G.CudaGraphError, match=r"float\(\)"):
        step(x2, y2)
    after = _weights(model)
    for k in before:
        np.testing.assert_array_equal(after[k], before[k])   # a failed capture ran nothing
    # the device still works eagerly afterwards
    step_arrays(model, F.softmax_cross_entropy, opt, cp.asarray(x2), cp.asarray(y2))


def test_another_shape_or_a_changed_hyperparameter_after_capture_raises():
    model = _build("mlp").to("cuda")
    opt = _opt("adam", model.parameters())
    step = G.CudaGraphStep(model, F.softmax_cross_entropy, opt, warmup=1)
    for x, y in _batches("mlp", n=3):
        step(x, y)
    assert step.captured
    x, y = _batches("mlp", n=1, rows=B - 1)[0]
    assert not step.accepts(x, y)
    with pytest.raises(ValueError, match="captured for batches"):
        step(x, y)
    opt.param_groups[0]["betas"] = (0.5, 0.999)
    xb, yb = _batches("mlp", n=1)[0]
    with pytest.raises(G.CudaGraphError, match="'betas'"):
        step(xb, yb)


def test_dropout_is_refused_before_anything_runs():
    model = nn.Sequential(nn.Linear(784, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 10)).to("cuda")
    with pytest.raises(G.CudaGraphError, match="Dropout"):
        G.CudaGraphStep(model, F.softmax_cross_entropy, _opt("adam", model.parameters()))


def test_fit_cuda_graph_captures_once_and_matches_eager_fit(monkeypatch):
    captures = []
    real = G.CudaGraphStep._capture

    def counting(self):
        captures.append(1)
        return real(self)

    monkeypatch.setattr(G.CudaGraphStep, "_capture", counting)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 784)).astype(np.float32)
    y = rng.integers(0, 10, 200)
    results = []
    for cg in (False, True):
        model = _build("mlp").to("cuda")
        sched = train.LearningRateScheduler(lambda o: optim.lr_scheduler.StepLR(o, step_size=4, gamma=0.7), "step")
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)   # no silent (or noisy) fallback on a GPU
            h = train.fit(model, (x, y), optimizer="adam", lr=3e-3, epochs=2, batch_size=48, seed=0, verbose=0,
                          callbacks=[sched], cuda_graph=cg)   # 200 = 4 x 48 + 8: a partial batch runs eagerly
        results.append((h.history, _weights(model)))
    assert len(captures) == 1
    np.testing.assert_allclose(results[1][0]["loss"], results[0][0]["loss"], **TOL)
    for k in results[0][1]:
        np.testing.assert_allclose(results[1][1][k], results[0][1][k], **TOL, err_msg=k)
