"""The search space: the command-line and TOML syntaxes, and every way to get it wrong."""
import dataclasses

import pytest

from deeprecipe.sweep.space import Param, SpaceError, check_space, parse_param, read_space_file
from deeprecipe.train.config import TrainConfig


class _Trial:
    """Records what was asked of an Optuna trial."""

    def __init__(self):
        self.calls = []

    def suggest_float(self, name, low, high, log=False):
        self.calls.append(("float", name, low, high, log))
        return low

    def suggest_int(self, name, low, high, step=1, log=False):
        self.calls.append(("int", name, low, high, step, log))
        return low

    def suggest_categorical(self, name, choices):
        self.calls.append(("cat", name, choices))
        return choices[0]


@pytest.mark.parametrize("text,expected,call", [
    ("lr=log:1e-5:1e-1", Param("lr", "log", 1e-5, 1e-1), ("float", "lr", 1e-5, 1e-1, True)),
    ("dropout=uniform:0:0.5", Param("dropout", "uniform", 0, 0.5), ("float", "dropout", 0.0, 0.5, False)),
    ("epochs=int:2:8:2", Param("epochs", "int", 2, 8, 2), ("int", "epochs", 2, 8, 2, False)),
    ("batch-size=log:16:256", Param("batch_size", "log", 16, 256), ("int", "batch_size", 16, 256, 1, True)),
    ("optimizer=choice:adam,sgd", Param("optimizer", "choice", choices=("adam", "sgd")),
     ("cat", "optimizer", ["adam", "sgd"])),
    ("momentum=choice:0,0.9", Param("momentum", "choice", choices=(0.0, 0.9)), ("cat", "momentum", [0.0, 0.9])),
    ("epochs=choice:1,3", Param("epochs", "choice", choices=(1, 3)), ("cat", "epochs", [1, 3])),
])
def test_command_line_syntax(text, expected, call):
    p = parse_param(text)
    assert p == expected
    t = _Trial()
    p.suggest(t)
    assert t.calls == [call]
    assert parse_param(p.describe()) == p          # describe() is parseable again


@pytest.mark.parametrize("text,msg", [
    ("lr", "expected NAME=log:LOW:HIGH"),
    ("lr=", "expected NAME=log:LOW:HIGH"),
    ("learning_rate=log:1e-5:1e-1", r"unknown parameter 'learning_rate' \(did you mean 'lr'\?\)"),
    ("out=choice:a,b", "does not change what a run computes"),
    ("lr=normal:0:1", "unknown kind 'normal'"),
    ("lr=log:1e-1:1e-5", "needs LOW < HIGH"),
    ("lr=log:0:1", "needs LOW > 0"),
    ("lr=log:1e-5", "needs LOW:HIGH"),
    ("lr=uniform:a:1", "LOW must be a number, got 'a'"),
    ("lr=int:1:5", "takes real numbers; use uniform or log"),
    ("epochs=int:1:5:0", "step of epochs must be a positive integer"),
    ("epochs=uniform:1.5:3", "takes integers"),
    ("optimizer=log:1:2", "search it with choice"),
    ("optimizer=choice:", "choice needs at least one value"),
    ("optimizer=choice:adam,adam", "lists a choice twice"),
    ("epochs=choice:1,x", "takes integers; choice 'x'"),
])
def test_malformed_parameters_are_refused_with_the_reason(text, msg):
    with pytest.raises(SpaceError, match=msg):
        parse_param(text)


def test_values_that_train_would_refuse_are_caught_before_the_first_trial():
    base = TrainConfig()
    check_space([parse_param("lr=log:1e-5:1e-1")], base)
    with pytest.raises(SpaceError, match=r"dropout=uniform:0:1.5: the value 1.5 gives an invalid run: dropout must"):
        check_space([parse_param("dropout=uniform:0:1.5")], base)
    with pytest.raises(SpaceError, match=r"'rleu' gives an invalid run: .*activation.*'relu'\?"):
        check_space([parse_param("activation=choice:relu,rleu")], base)
    with pytest.raises(SpaceError, match="'adamm' gives an invalid run"):
        check_space([parse_param("optimizer=choice:adam,adamm")], base)
    with pytest.raises(SpaceError, match="the value 0.9 gives an invalid run: optimizer 'adam' takes no momentum"):
        check_space([parse_param("momentum=choice:0,0.9")], base)      # adam is the default optimizer
    check_space([parse_param("momentum=choice:0,0.9")], dataclasses.replace(base, optimizer="sgd"))
    with pytest.raises(SpaceError, match="given twice"):
        check_space([parse_param("lr=log:1e-5:1e-1"), parse_param("lr=log:1e-4:1e-1")], base)
    with pytest.raises(SpaceError, match="search space is empty"):
        check_space([], base)


def test_toml_space_file(tmp_path):
    f = tmp_path / "space.toml"
    f.write_text('[params]\nlr = "log:1e-5:1e-1"\nweight_decay = {type = "log", low = 1e-8, high = 1e-3}\n'
                 'optimizer = ["adam", "sgd"]\nepochs = {type = "int", low = 1, high = 4, step = 1}\n'
                 '[train]\ndata = "digits"\nepochs = 2\n')
    params, fixed = read_space_file(f)
    assert [p.name for p in params] == ["lr", "weight_decay", "optimizer", "epochs"]
    assert params[1] == Param("weight_decay", "log", 1e-8, 1e-3)
    assert params[2].choices == ("adam", "sgd") and params[3] == Param("epochs", "int", 1, 4, 1)
    assert fixed == {"data": "digits", "epochs": 2}
    check_space(params, dataclasses.replace(TrainConfig(), data="digits"))


@pytest.mark.parametrize("text,msg", [
    ("[params\n", "not valid TOML"),
    ("lr = 1\n", "unknown entries: lr"),
    ("[train]\nepochs = 2\n", r"no \[params\] table"),
    ('[params]\nlr = {type = "log", low = 1e-5}\n', "needs LOW:HIGH"),
    ('[params]\nlr = {low = 1e-5, high = 1}\n', "needs type = one of"),
    ('[params]\nlr = {type = "log", low = 1e-5, high = 1, scale = 2}\n', "unknown keys scale"),
    ("[params]\nlr = 3\n", "must be a string like"),
    ('[params]\nlearning_rate = "log:1e-5:1e-1"\n', "unknown parameter 'learning_rate'"),
])
def test_malformed_space_files(tmp_path, text, msg):
    f = tmp_path / "s.toml"
    f.write_text(text)
    with pytest.raises(SpaceError, match=msg) as e:
        read_space_file(f)
    assert str(f) in str(e.value)
    with pytest.raises(SpaceError, match="does not exist"):
        read_space_file(tmp_path / "missing.toml")
