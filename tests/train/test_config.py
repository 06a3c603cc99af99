"""The training job's configuration: TOML, command line, precedence, validation."""

import pytest

from deeprecipe.cli import build_parser
from deeprecipe.train.cli import resolve
from deeprecipe.train.config import (TrainConfig, config_from_mapping, parse_model_spec, read_toml,
                                     validate)


def parse(argv):
    return build_parser().parse_args(["train", *argv])


def test_defaults_then_toml_then_command_line(tmp_path):
    toml = tmp_path / "job.toml"
    toml.write_text('data = "blobs"\nmodel = "mlp:16,8"\nlr = 0.01\nepochs = 3\nbatch_size = 32\n')
    cfg = resolve(parse(["--config", str(toml), "--epochs", "5"]))
    assert (cfg.data, cfg.model, cfg.lr, cfg.batch_size) == ("blobs", "mlp:16,8", 0.01, 32)
    assert cfg.epochs == 5  # the command line wins
    assert cfg.optimizer == TrainConfig().optimizer  # untouched options keep their defaults


def test_toml_train_table_and_integer_for_float(tmp_path):
    toml = tmp_path / "job.toml"
    toml.write_text('[train]\nlr = 1\ndropout = 0\n')
    cfg = config_from_mapping(read_toml(toml), "job.toml")
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float)


def test_unknown_toml_key_lists_valid_ones_and_suggests(tmp_path):
    toml = tmp_path / "job.toml"
    toml.write_text('learning_rate = 0.1\n')
    with pytest.raises(ValueError) as e:
        resolve(parse(["--config", str(toml)]))
    msg = str(e.value)
    assert "learning_rate" in msg and "valid options" in msg and "batch_size" in msg


def test_unknown_cli_option_is_refused_with_a_suggestion(capsys):
    with pytest.raises(SystemExit) as e:
        parse(["--batchsize", "3"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "--batchsize" in err and "did you mean --batch-size" in err


def test_abbreviated_options_are_not_accepted(capsys):
    with pytest.raises(SystemExit):
        parse(["--epo", "3"])


@pytest.mark.parametrize("key,value,match", [
    ("dropout", 1.0, "dropout"),
    ("lr", -1.0, "lr"),
    ("epochs", 0, "epochs"),
    ("activation", "rleu", "did you mean 'relu'"),
    ("schedule", "one-cycel", "did you mean 'onecycle'"),
    ("schedule", "cosine:T_max=3", "accepts total_steps, eta_min"),
    ("optimizer", "adam:momentum=0.9", "accepts lr, betas"),
    ("init", "normal", "needs parameters"),
    ("data", "fashion_mnist2", "unknown dataset 'fashion_mnist2'.*npz:PATH"),
    ("model", "mlp:12,x", "comma-separated integers"),
    ("model", "transformer", "unknown model"),
])
def test_bad_values_are_refused_clearly(key, value, match):
    with pytest.raises(ValueError, match=match):
        validate(config_from_mapping({key: value}, "test"))


def test_wrong_types_in_toml_are_refused(tmp_path):
    toml = tmp_path / "job.toml"
    toml.write_text('epochs = "ten"\n')
    with pytest.raises(TypeError, match="epochs"):
        config_from_mapping(read_toml(toml), "job.toml")
    toml.write_text('epochs = true\n')
    with pytest.raises(TypeError, match="boolean"):
        config_from_mapping(read_toml(toml), "job.toml")


def test_invalid_toml_syntax(tmp_path):
    toml = tmp_path / "job.toml"
    toml.write_text('epochs = = 3\n')
    with pytest.raises(ValueError, match="not valid TOML"):
        read_toml(toml)


def test_model_specs():
    assert parse_model_spec("mlp:512,256").hidden == [512, 256]
    assert parse_model_spec("mlp").hidden == []
    cnn = parse_model_spec("cnn:32,64/128")
    assert (cnn.kind, cnn.hidden, cnn.fc) == ("cnn", [32, 64], [128])
    assert parse_model_spec("cnn").fc == [128]


def test_identity_ignores_runtime_options():
    a = TrainConfig(out="a", threads=1, progress="none")
    b = TrainConfig(out="b", threads=4, progress="lines")
    assert a.identity() == b.identity()
    assert TrainConfig(lr=0.1).identity() != TrainConfig(lr=0.2).identity()


def test_resume_and_overwrite_together_are_refused():
    with pytest.raises(ValueError, match="only one"):
        validate(TrainConfig(resume=True, overwrite=True))


def test_every_config_field_is_a_cli_option():
    opts = {a.dest for a in build_parser()._subparsers._group_actions[0].choices["train"]._actions}
    assert set(TrainConfig.field_names()) <= opts


@pytest.mark.parametrize("text, spec", [("he", "he_normal"), ("default", "default"), ("normal:0.01", "normal:0.01"),
                                        ("Normal:1", "normal:1"), ("normal:0,2", "normal:0,2"),
                                        ("uniform:-0.1,0.1", "uniform:-0.1,0.1"),
                                        ("orthogonal:2", "orthogonal:2")])
def test_parametrized_init_specs(text, spec):
    assert validate(TrainConfig(init=text)).init == spec


@pytest.mark.parametrize("text, match", [("normal", "needs parameters"), ("uniform", "needs parameters"),
                                         ("normal:abc", "give numbers"), ("normal:-1", "non-negative"),
                                         ("nromal:1", "did you mean 'normal'"),
                                         ("he:1,2,3,4,5", "too many positional arguments")])
def test_bad_init_specs_are_refused_clearly(text, match):
    with pytest.raises(ValueError, match=match):
        validate(TrainConfig(init=text))


def test_init_std_from_cli_and_toml_reaches_the_weights(tmp_path):
    import numpy as np

    from deeprecipe.train.job import build_model, load_data
    toml = tmp_path / "job.toml"
    toml.write_text('data = "blobs"\nmodel = "mlp:400"\ninit = "normal:0.01"\n')
    for argv in (["--config", str(toml)], ["--data", "blobs", "--model", "mlp:400", "--init", "normal:1"]):
        cfg = resolve(parse(argv))
        model = build_model(cfg, load_data(cfg))
        std = float(np.std(model[0].weight.data))
        assert std == pytest.approx(0.01 if "--config" in argv else 1.0, rel=0.1)


def test_blobs_from_the_cli_are_standardized():
    import numpy as np

    from deeprecipe.train.job import load_data
    d = load_data(validate(TrainConfig(data="blobs", val_fraction=0.0)))
    assert np.abs(d.x_train.mean(0)).max() < 1e-5 and np.allclose(d.x_train.std(0), 1, atol=1e-4)
    assert np.abs(d.x_test).max() < 10   # the test part, with the training statistics
