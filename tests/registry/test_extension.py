"""A user extends deeprecipe from outside the package: a new activation and a new optimizer,
registered once, are then usable through nn.MLP, fit and the train CLI (with their
arguments checked), and the activation monitor watches the new activation."""
import json

import numpy as np
import pytest

from deeprecipe import Tensor, data, diagnostics, nn, optim, train
from deeprecipe import functions as F
from deeprecipe.cli import main
from deeprecipe.optim.optimizer import hyperparameters
from deeprecipe.optim.rule import Maximize, Rule, ScaleByLR


class Swish(nn.Module):
    """x·σ(βx) (Ramachandran et al. 2017), built from library ops."""

    def __init__(self, beta=1.0):
        super().__init__()
        self.beta = float(beta)

    def forward(self, x):
        return x * F.sigmoid(x * self.beta)


class ScaleBySign(Rule):
    """signSGD's direction sign(g) (Bernstein et al. 2018)."""

    checks = {}

    def update(self, u, state, params, step, hp):
        state.xp.sign(u, out=state.tmp(0))
        return state.tmp(0)


class SignSGD(optim.Optimizer):
    """θ ← θ − γ·sign(g): one new rule plus the library's shared ones."""

    rules = (Maximize(), ScaleBySign(), ScaleByLR())

    def __init__(self, params, lr=1e-2, *, maximize=False, transforms=None, denormal_guard=16):
        super().__init__(params, hyperparameters(locals()), transforms=transforms, denormal_guard=denormal_guard)


@pytest.fixture
def registered():
    nn.ACTIVATIONS.register("swish", lambda width, beta=1.0: Swish(beta), module=Swish, kind=None)
    optim.OPTIMIZERS.register("signsgd", SignSGD)
    try:
        yield
    finally:
        nn.ACTIVATIONS.unregister("swish")
        optim.OPTIMIZERS.unregister("signsgd")


def test_new_optimizer_is_a_thin_chain_and_steps_by_lr_times_sign():
    p = nn.Parameter(np.array([1.0, -2.0, 0.0]))
    opt = SignSGD([p], lr=0.5)
    p.grad = np.array([3.0, -0.1, 0.0])
    opt.step()
    np.testing.assert_array_equal(p.data, [0.5, -1.5, 0.0])
    assert opt.state_dict()["state"]["0"]["step"] == 1


def test_registered_components_work_in_mlp_fit_and_monitor(registered):
    model = nn.MLP([2, 8, 3], activation="swish:beta=2", init="he", rng=0)
    assert isinstance(model[1], Swish) and model[1].beta == 2.0
    assert model.config["activation"] == "swish:beta=2"
    x, y = data.spirals(n_per_class=20, classes=3, seed=0)
    before = model.state_dict()["0.weight"].copy()
    h = train.fit(model, (x, y), optimizer="SignSGD:lr=0.01", epochs=2, batch_size=20, seed=0, verbose=0)
    assert len(h.history["loss"]) == 2 and np.isfinite(h.history["loss"]).all()
    step = model.state_dict()["0.weight"] - before
    # 6 steps of ±lr or 0 per weight: every change is a whole number of lr steps
    units = step / 0.01
    assert np.abs(units).max() >= 1 and np.allclose(units, np.round(units), atol=1e-3)
    monitor = diagnostics.ActivationMonitor(model)
    assert monitor.names == ["1"]          # the new activation is watched, no list to edit
    with pytest.raises(ValueError, match="accepts beta"):
        nn.MLP([2, 8, 3], activation="swish:gamma=2")
    with pytest.raises(ValueError, match="accepts lr, maximize"):
        optim.create("signsgd:momentum=0.9", model.parameters())


@pytest.fixture
def cli(tmp_path):
    """``cli(*options, out=name)``: ``deeprecipe train`` for one epoch on a small npz table."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 4)).astype(np.float32)
    path = tmp_path / "toy.npz"
    np.savez(path, x_train=x, y_train=(x[:, 0] > 0).astype(np.int64))

    def run(*options, out="run"):
        return main(["train", "--progress", "none", "--data", f"npz:{path}", "--model", "mlp:8", "--epochs", "1",
                     *options, "--out", str(tmp_path / out)])
    return run


def test_registered_components_work_through_the_cli(registered, cli, tmp_path, capsys):
    rc = cli("--activation", "swish:beta=0.5", "--optimizer", "signsgd", "--opt", "lr=0.02")
    assert rc == 0, capsys.readouterr().err
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    assert cfg["activation"] == "swish:beta=0.5" and cfg["optimizer"] == "signsgd:lr=0.02"
    rc = cli("--optimizer", "signsgd", "--opt", "final_lr=0.1", out="bad")
    assert rc == 2 and "final_lr" in capsys.readouterr().err and not (tmp_path / "bad").exists()


def test_cli_passes_any_registered_optimizers_hyperparameters(cli, tmp_path, capsys):
    rc = cli("--optimizer", "adabound", "--opt", "final_lr=0.05", "--opt", "gamma=0.01")
    assert rc == 0, capsys.readouterr().err
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    assert cfg["optimizer"] == "adabound:final_lr=0.05,gamma=0.01"


def test_a_taken_name_is_refused_and_lookups_forgive_case_and_separators():
    with pytest.raises(ValueError, match="already registered"):
        optim.OPTIMIZERS.register("Adam", optim.Adam)
    assert optim.get_optimizer("adam_w") is optim.AdamW is optim.OPTIMIZERS["AdamW"]
    assert nn.ACTIVATIONS.canonical("LeakyReLU") == "leaky_relu"
    with pytest.raises(ValueError, match="did you mean 'rmsprop'"):
        optim.create("rmsprob", [nn.Parameter(np.zeros(2))])
    out = nn.MLP([3, 4, 2], activation="leaky_relu:0.2", rng=0)(Tensor(np.ones((1, 3), np.float32)))
    assert out.shape == (1, 2)
