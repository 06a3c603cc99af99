"""Inventory: every registered component has a row here (or, for optimizers, in THE optimizer
table tests/optim/_configs.py) that exercises it; registering a component without adding
a row fails the suite, as the op inventory does for ops."""
import math

import numpy as np
import pytest

from deeprecipe import Tensor, data, diagnostics, nn, optim, train
from deeprecipe.nn import layers as L
from tests.optim._configs import CONFIGS

# ---------------------------------------------------------------------------- optimizers
def test_every_registered_optimizer_is_in_the_optimizer_table():
    tabled = {c.name for c in CONFIGS} | {c.inner[0] for c in CONFIGS if c.inner}
    missing = [n for n in optim.OPTIMIZERS if optim.OPTIMIZERS[n].__name__ not in tabled]
    assert not missing, f"optimizers without a row in tests/optim/_configs.py: {missing}"


# ---------------------------------------------------------------------------- activations
# name -> (spec, module class, diagnostics kind, f(x) reference on the sample)
ACTIVATION_ROWS = {
    "relu": ("relu", L.ReLU, "relu", lambda x: np.maximum(x, 0)),
    "sigmoid": ("sigmoid", L.Sigmoid, "sigmoid", lambda x: 1 / (1 + np.exp(-x))),
    "tanh": ("tanh", L.Tanh, "tanh", np.tanh),
    "leaky_relu": ("leaky_relu:0.2", L.LeakyReLU, "leaky_relu", lambda x: np.where(x > 0, x, 0.2 * x)),
    "prelu": ("prelu:init=0.1", L.PReLU, "leaky_relu", lambda x: np.where(x > 0, x, 0.1 * x)),
    "elu": ("elu:alpha=0.5", L.ELU, "elu", lambda x: np.where(x > 0, x, 0.5 * np.expm1(x))),
    "softplus": ("softplus", L.Softplus, "softplus", lambda x: np.log1p(np.exp(x))),
    "maxout": ("maxout:pieces=2", L.GroupMax, "maxout", lambda x: x.reshape(len(x), -1, 2).max(-1)),
    "identity": ("identity", L.Identity, None, lambda x: x),
}


@pytest.mark.parametrize("name", sorted(ACTIVATION_ROWS))
def test_activation_row(name):
    spec, cls, kind, ref = ACTIVATION_ROWS[name]
    act = nn.make_activation(spec)
    width = 3
    module = act.make(width)
    assert isinstance(module, cls)
    assert diagnostics.activations.activation_kind(module) == kind
    x = np.linspace(-2, 2, 4 * width * act.pieces).reshape(4, width * act.pieces)
    np.testing.assert_allclose(module(Tensor(x)).data, ref(x), rtol=1e-6, atol=1e-7)  # PReLU: float32 α
    model = nn.MLP([2, width, 2], activation=spec, rng=0)       # the builders read the registry
    assert model(Tensor(np.ones((1, 2), np.float32))).shape == (1, 2)
    assert nn.build_model(model.config).config == model.config  # the spec round-trips


# ---------------------------------------------------------------------------- normalizations
# name -> (layer after a Linear (None: refused there), layer after a conv)
NORM_ROWS = {
    "batch": (L.BatchNorm1d, L.BatchNorm2d),
    "layer": (L.LayerNorm, L.GroupNorm),
    "instance": (None, L.InstanceNorm2d),
    "group": (None, L.GroupNorm),
}


@pytest.mark.parametrize("name", sorted(NORM_ROWS))
def test_normalization_row(name):
    flat, spatial = NORM_ROWS[name]
    if flat is None:
        with pytest.raises(ValueError, match="conv"):
            nn.MLP([2, 4, 2], norm=name)
    else:
        assert isinstance(nn.MLP([2, 4, 2], norm=name)[1], flat)
    net = nn.ConvNet((1, 4, 4), channels=(4,), hidden=(), num_classes=2, norm=name, rng=0)
    assert isinstance(net[1], spatial)
    assert net(Tensor(np.ones((2, 1, 4, 4), np.float32))).shape == (2, 2)


# ---------------------------------------------------------------------------- initializers
# name -> (spec, check of the filled (400, 300) weight: fan_in 300, fan_out 400)
INIT_ROWS = {
    "he_normal": ("he", lambda w: abs(w.std() - math.sqrt(2 / 300)) < 0.01 * math.sqrt(2 / 300) * 5),
    "he_uniform": ("he_uniform", lambda w: abs(w).max() <= math.sqrt(6 / 300) + 1e-12),
    "glorot_normal": ("xavier", lambda w: abs(w.std() - math.sqrt(2 / 700)) < 0.05 * math.sqrt(2 / 700)),
    "glorot_uniform": ("glorot_uniform", lambda w: abs(w).max() <= math.sqrt(6 / 700) + 1e-12),
    "lecun_normal": ("lecun", lambda w: abs(w.std() - math.sqrt(1 / 300)) < 0.05 * math.sqrt(1 / 300)),
    "lecun_uniform": ("lecun_uniform", lambda w: abs(w).max() <= math.sqrt(3 / 300) + 1e-12),
    "orthogonal": ("orthogonal", lambda w: np.allclose(w.T @ w, np.eye(300), atol=1e-10)),
    "zeros": ("zeros", lambda w: not w.any()),
    "ones": ("ones", lambda w: (w == 1).all()),
    "normal": ("normal:0.01", lambda w: abs(w.std() - 0.01) < 5e-4 and abs(w.mean()) < 5e-4),
    "uniform": ("uniform:a=-0.5,b=0.5", lambda w: abs(w).max() <= 0.5 and w.std() > 0.25),
    "constant": ("constant:0.3", lambda w: (w == 0.3).all()),
}


@pytest.mark.parametrize("name", sorted(INIT_ROWS))
def test_initializer_row(name):
    spec, check = INIT_ROWS[name]
    w = np.zeros((400, 300))
    nn.init.get(spec)(w, np.random.default_rng(0))
    assert check(w)


# ---------------------------------------------------------------------------- losses
_LOGITS = np.array([[2.0, -1.0, 0.5], [0.1, 0.2, -0.3]])
_LABELS = np.array([0, 2])
_X = np.array([[0.5, -1.5], [2.0, 0.0]])
_T = np.array([[0.0, 1.0], [1.0, 0.0]])


def _ce(z, y):
    z = z - z.max(1, keepdims=True)
    return float(np.mean(np.log(np.exp(z).sum(1)) - z[np.arange(len(y)), y]))


# name -> (output, target, kind, reference value)
LOSS_ROWS = {
    "cross_entropy": (_LOGITS, _LABELS, "classes", _ce(_LOGITS, _LABELS)),
    "nll": (_LOGITS, _LABELS, "classes", float(-_LOGITS[[0, 1], _LABELS].mean())),
    "bce": (_X, _T, "binary", float(np.mean(np.maximum(_X, 0) - _X * _T + np.log1p(np.exp(-np.abs(_X)))))),
    "mse": (_X, _T, "regression", float(np.mean((_X - _T) ** 2))),
    "l1": (_X, _T, "regression", float(np.mean(np.abs(_X - _T)))),
    "huber": (_X, _T, "regression", float(np.mean(np.where(np.abs(_X - _T) < 1, 0.5 * (_X - _T) ** 2,
                                                           np.abs(_X - _T) - 0.5)))),
}


@pytest.mark.parametrize("name", sorted(LOSS_ROWS))
def test_loss_row(name):
    out, target, kind, expected = LOSS_ROWS[name]
    spec = train.get_loss(name)
    assert spec.kind == kind
    assert float(spec.fn(Tensor(out), target).data) == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------------------------- schedules
_JOB = {"lr": 0.1, "epochs": 6, "steps_per_epoch": 2, "total_steps": 12}


def _drive(cb, epochs, steps, logs_fn=lambda e: {}):
    """lr at the start of every step of a short run driven by the callback's hooks."""
    p = nn.Parameter(np.zeros(1))
    opt = optim.SGD([p], lr=0.1)
    trainer = type("T", (), {"optimizer": opt, "model": None})()
    cb.set_context(trainer)
    cb.on_train_begin({})
    seen = []
    for e in range(epochs):
        for b in range(steps):
            seen.append(opt.param_groups[0]["lr"])
            cb.on_train_batch_end(b, {})
        cb.on_epoch_end(e, logs_fn(e))
    return seen


# name -> (spec, check of the per-step lr sequence over the job)
SCHEDULE_ROWS = {
    "step": ("step", lambda s: s == [0.1] * 4 + [0.1 * 0.1] * 4 + [pytest.approx(0.001)] * 4),
    "cosine": ("cosine", lambda s: s[0] == 0.1 and s[6] == pytest.approx(0.05) and s[-1] < 0.003),
    "onecycle": ("onecycle", lambda s: s[0] == pytest.approx(0.1 / 25) and max(s) == pytest.approx(0.1, rel=0.05)),
    "exponential": ("exponential:gamma=0.5", lambda s: s[::2] == pytest.approx([0.1 * 0.5 ** e for e in range(6)])),
    # a constant val_loss: first epoch sets the best, then a cut after every epoch (patience 1)
    "plateau": ("plateau:patience=1", lambda s: s[::2] == pytest.approx([0.1, 0.1, 0.05, 0.025, 0.0125, 0.00625])),
}


@pytest.mark.parametrize("name", sorted(SCHEDULE_ROWS))
def test_schedule_row(name):
    spec, check = SCHEDULE_ROWS[name]
    cb = train.SCHEDULES.build(spec, context=_JOB)
    assert check(_drive(cb, 6, 2, lambda e: {"val_loss": 1.0}))


# ---------------------------------------------------------------------------- datasets
# name -> (options, expected (train samples, test samples or None), feature shape); None: needs files
DATASET_ROWS = {
    "fashion-mnist": None,   # real files: tests/data/test_datasets.py writes small IDX files for it
    "mnist": None,
    "digits": ({"seed": 0}, (1438, 359), (8, 8)),
    "spirals": ({"seed": 0, "n_per_class": 10}, (24, 6), (2,)),
    "blobs": ({"seed": 0, "n": 50}, (40, 10), (2,)),
}


@pytest.mark.parametrize("registry, rows", [
    (nn.ACTIVATIONS, ACTIVATION_ROWS), (nn.NORMALIZATIONS, NORM_ROWS), (nn.init.INITIALIZERS, INIT_ROWS),
    (train.LOSSES, LOSS_ROWS), (train.SCHEDULES, SCHEDULE_ROWS), (data.CATALOG, DATASET_ROWS),
], ids=lambda v: getattr(v, "kind", ""))
def test_every_registered_component_has_a_row(registry, rows):
    assert sorted(registry) == sorted(rows), f"{registry.kind}s without a row here (or rows of unknown ones)"


def test_datasets_that_need_files_take_the_download_options():
    for name, row in DATASET_ROWS.items():
        if row is None:
            assert {"root", "download", "progress"} <= set(data.CATALOG.parameters(name))


@pytest.mark.parametrize("name", sorted(n for n, r in DATASET_ROWS.items() if r is not None))
def test_dataset_row(name):
    options, (n_train, n_test), shape = DATASET_ROWS[name]
    (x, y), (xt, yt) = data.CATALOG.build(name, **options)
    assert (len(x), len(xt)) == (n_train, n_test) and x.shape[1:] == shape and len(y) == len(x)
    assert y.dtype.kind in "iu"


# ---------------------------------------------------------------------------- lab experiments
def test_every_lab_experiment_is_named_by_an_end_to_end_test():
    """Each registered experiment's id appears, quoted, in a test module under tests/lab
    (where its ``test`` preset is run and its verdict rule checked)."""
    import pathlib

    from deeprecipe.lab import registry
    text = "\n".join(p.read_text(encoding="utf-8") for p in pathlib.Path(__file__).parents[1].glob("lab/test_*.py"))
    missing = [i for i in registry.ids() if f'"{i}"' not in text and f"'{i}'" not in text]
    assert not missing, f"experiments without an end-to-end test in tests/lab: {missing}"
