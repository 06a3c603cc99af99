"""The training job's configuration: defaults, TOML files, validation.

``deeprecipe train`` reads its options from (later wins) the defaults below, a TOML
file (``--config job.toml``) and the command line.  A TOML file uses the option names
with underscores, at the top level or in a ``[train]`` table::

    data = "fashion-mnist"
    model = "mlp:512,256"
    activation = "relu"
    norm = "batch"
    dropout = 0.2
    init = "he"
    optimizer = "adam"
    lr = 1e-3
    schedule = "onecycle"
    epochs = 10
    batch_size = 128
    seed = 0
    out = "runs/fmnist-mlp"

``activation``, ``norm``, ``init``, ``optimizer``, ``schedule`` and ``data`` are component
specs read by their registries (``nn.ACTIVATIONS``, ``nn.NORMALIZATIONS``,
``nn.init.INITIALIZERS``, ``optim.OPTIMIZERS``, ``train.SCHEDULES``, ``data.CATALOG``):
a name, optionally with arguments — ``activation = "leaky_relu:0.1"``,
``init = "normal:0.01"``, ``optimizer = "adabound:final_lr=0.1"``,
``schedule = "cosine:eta_min=1e-5"`` — checked against the component's signature.  A
component registered from user code is accepted like a built-in one.

Unknown keys are refused, with the list of valid ones (and the closest match).  TOML is
read with the standard library's ``tomllib`` (Python >= 3.11), else with ``tomli`` if it
is installed.

The *resolved* configuration (every option, after defaults) is what identifies a run:
it is written to ``<out>/config.json``, and an output folder that holds a run with a
different resolved configuration is refused unless ``--overwrite`` is given.
"""
from __future__ import annotations

import dataclasses
import difflib
import math
import os
from dataclasses import dataclass, field

MODEL_HELP = ("'mlp:H1,H2,...' (hidden sizes; 'mlp' alone is a linear softmax model) or "
              "'cnn:C1,C2,...[/F1,F2,...]' (3x3 conv + 2x2 max-pool blocks with C channels, then "
              "hidden fully connected layers F; default cnn:32,64/128)")

#: options with a fixed set of values
CHOICES = {
    "device": ("cpu", "cuda"),
    "progress": ("auto", "bar", "lines", "none"),
    "doctor": ("off", "report", "stop"),
}
#: value of a component option that means "none of them"
NONE_VALUES = {"norm": "none", "schedule": "none", "init": "default"}


def registries() -> dict:
    """Option name -> the registry its specs are read from (imported when needed)."""
    from .. import data, nn, optim
    from .schedules import SCHEDULES
    return {"activation": nn.ACTIVATIONS, "norm": nn.NORMALIZATIONS, "init": nn.init.INITIALIZERS,
            "optimizer": optim.OPTIMIZERS, "schedule": SCHEDULES, "data": data.CATALOG}


def component_names(option: str) -> list[str]:
    """The names an option accepts (for ``--help`` and messages)."""
    names = registries()[option].names()
    return ([NONE_VALUES[option]] if option in NONE_VALUES else []) + names


@dataclass
class TrainConfig:
    """Every option of a training job (see ``deeprecipe train --help`` for each one)."""

    data: str = "fashion-mnist"
    model: str = "mlp:512,256"
    activation: str = "relu"
    norm: str = "none"
    dropout: float = 0.0
    init: str = "he"
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.0
    weight_decay: float = 0.0
    schedule: str = "none"
    epochs: int = 10
    batch_size: int = 128
    seed: int = 0
    val_fraction: float = 0.1
    train_samples: int = 0
    standardize: bool = False
    patience: int = 0
    checkpoint_every: int = 0
    device: str = "cpu"
    # Not part of a run's identity (how and where it runs, not what it computes):
    out: str = ""
    threads: int = 0
    progress: str = "auto"
    monitor_every: int = 50
    doctor: str = "off"
    overwrite: bool = False
    resume: bool = False
    cuda_graph: bool = False

    #: options that do not change the result, left out when comparing two runs (the
    #: monitors only read the model: a probe forward in eval mode, without a graph; a
    #: CUDA-graph replay is the eager step, and checkpoints resume across the two)
    RUNTIME_KEYS = ("out", "threads", "progress", "monitor_every", "doctor", "overwrite", "resume", "cuda_graph")

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    def identity(self) -> dict:
        """The resolved options that define what the run computes."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in self.RUNTIME_KEYS}

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


_FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}


def _type_of(name):
    return type(_FIELDS[name].default)  # every option has a default of its type


def unknown_key_error(key: str, where: str) -> ValueError:
    from ..validation.options import suggest
    valid = TrainConfig.field_names()
    near = suggest(key, valid)
    hint = f" (did you mean {near!r}?)" if near else ""
    return ValueError(f"unknown option {key!r} in {where}{hint}; valid options: {', '.join(valid)}")


def coerce(name: str, value, where: str = "the configuration"):
    """Check ``value``'s type for option ``name`` (ints are accepted for floats; bools are not numbers)."""
    t = _type_of(name)
    if t is bool:
        if not isinstance(value, bool):
            raise TypeError(f"{name} in {where} must be true or false, got {value!r}")
        return value
    if isinstance(value, bool):
        raise TypeError(f"{name} in {where} must be a {t.__name__}, got the boolean {value!r}")
    if t is float:
        if not isinstance(value, (int, float)):
            raise TypeError(f"{name} in {where} must be a number, got {value!r}")
        return float(value)
    if t is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int):
            raise TypeError(f"{name} in {where} must be an integer, got {value!r}")
        return value
    if not isinstance(value, str):
        raise TypeError(f"{name} in {where} must be a string, got {value!r}")
    return value


def read_toml(path) -> dict:
    """The training options of a TOML file (top level, or its ``[train]`` table)."""
    doc = parse_toml_file(path)
    if "train" in doc and isinstance(doc["train"], dict):
        extra = [k for k in doc if k != "train"]
        if extra:
            raise ValueError(f"{path}: put every option inside [train] or none of them; found {extra} outside")
        doc = doc["train"]
    return doc


def parse_toml_file(path) -> dict:
    """Parse a TOML file; ``tomllib`` (3.11+) or ``tomli``, else a clear error."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            raise RuntimeError(
                "reading a TOML file needs Python >= 3.11 (tomllib) or the tomli package: "
                "pip install tomli") from None
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"config file {path!r} does not exist")
    if os.path.isdir(path):
        raise ValueError(f"config file {path!r} is a directory; give a TOML file")
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"config file {path!r} is not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start}); "
                         "TOML files must be UTF-8: save it again with that encoding") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"config file {path!r} is not valid TOML: {e}") from None
    return doc


def config_from_mapping(values: dict, where: str, base: TrainConfig | None = None) -> TrainConfig:
    """Apply ``values`` (option name -> value) over ``base``; unknown names are refused."""
    cfg = dataclasses.replace(base) if base is not None else TrainConfig()
    for key, value in values.items():
        name = key.replace("-", "_")
        if name not in _FIELDS:
            raise unknown_key_error(key, where)
        if isinstance(value, dict):
            raise TypeError(f"{key} in {where} must be a value, not a table")
        setattr(cfg, name, coerce(name, value, where))
    return cfg


def normalize_spec(option: str, spec: str) -> str:
    """Check a component spec against its registry (name and arguments); returns it with
    the canonical name (``'LeakyReLU:0.1'`` -> ``'leaky_relu:0.1'``)."""
    from ..registry import format_spec, parse_spec
    if option in NONE_VALUES and spec.strip().lower() == NONE_VALUES[option]:
        return NONE_VALUES[option]
    reg = registries()[option]
    try:
        name, args, kwargs = parse_spec(spec)
        e = reg.entry(name)
        reg.check_arguments(e, args, kwargs, spec)
    except ValueError as err:
        hint = f" or {NONE_VALUES[option]!r}" if option in NONE_VALUES else ""
        raise ValueError(f"{option}: {err}{hint}") from None
    if option == "init" and e.name in ("normal", "uniform", "constant") and not (args or kwargs):
        raise ValueError(f"init {spec!r} needs parameters, e.g. normal:0.01 or uniform:-0.1,0.1")
    if option == "init":   # argument values are checked when drawing: draw once, on a 2x2 array
        import numpy as np

        from ..nn import init as _init
        try:
            _init.get(spec)(np.zeros((2, 2)), rng=0)
        except (ValueError, TypeError) as err:
            raise ValueError(f"init {spec!r}: bad argument values ({err}); give numbers, e.g. normal:0.01 "
                             "or uniform:-0.1,0.1") from None
    return format_spec(e.name, args, kwargs) if (args or kwargs) else e.name


def validate(cfg: TrainConfig) -> TrainConfig:
    """Check every option's range and choices; returns ``cfg`` with names normalized."""
    for name, choices in CHOICES.items():
        v = getattr(cfg, name).lower()
        if v not in choices:
            near = difflib.get_close_matches(v, choices, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ValueError(f"{name} must be one of {', '.join(choices)}; got {getattr(cfg, name)!r}{hint}")
        setattr(cfg, name, v)
    for name in ("activation", "norm", "init", "optimizer", "schedule"):
        setattr(cfg, name, normalize_spec(name, getattr(cfg, name)))
    if cfg.data.lower().startswith("npz:"):
        if len(cfg.data) == 4:
            raise ValueError("data npz:PATH needs a path after 'npz:'")
    else:
        try:
            cfg.data = normalize_spec("data", cfg.data)
        except ValueError as e:
            raise ValueError(f"{e} (or npz:PATH)") from None
    parse_model_spec(cfg.model)  # raises on a bad spec
    checks = [
        ("dropout", 0.0 <= cfg.dropout < 1.0, "must lie in [0, 1)"),
        ("lr", cfg.lr > 0 and math.isfinite(cfg.lr), "must be a positive number"),
        ("momentum", 0.0 <= cfg.momentum < 1.0, "must lie in [0, 1)"),
        ("weight_decay", cfg.weight_decay >= 0, "must be >= 0"),
        ("epochs", cfg.epochs >= 1, "must be >= 1"),
        ("batch_size", cfg.batch_size >= 1, "must be >= 1"),
        ("seed", cfg.seed >= 0, "must be >= 0"),
        ("val_fraction", 0.0 <= cfg.val_fraction < 1.0, "must lie in [0, 1) (0: no validation split)"),
        ("train_samples", cfg.train_samples >= 0, "must be >= 0 (0: all)"),
        ("patience", cfg.patience >= 0, "must be >= 0 (0: no early stopping)"),
        ("checkpoint_every", cfg.checkpoint_every >= 0, "must be >= 0 (0: only at epoch ends)"),
        ("threads", cfg.threads >= 0, "must be >= 0 (0: leave BLAS as it is)"),
        ("monitor_every", cfg.monitor_every >= 0, "must be >= 0 (0: no monitors)"),
    ]
    checks += [(name, "\0" not in getattr(cfg, name), "must not contain a NUL character")
               for name in ("data", "model", "out", "optimizer")]
    for name, ok, msg in checks:
        if not ok:
            raise ValueError(f"{name} {msg}, got {getattr(cfg, name)!r}")
    if cfg.patience and cfg.val_fraction == 0:
        raise ValueError("early stopping (patience > 0) watches val_loss: set val_fraction > 0")
    if cfg.schedule != "none":
        from .schedules import SCHEDULES
        watched = SCHEDULES.entry(cfg.schedule.partition(":")[0]).info.get("monitor")
        if watched and watched.startswith("val_") and cfg.val_fraction == 0:
            raise ValueError(f"schedule {cfg.schedule!r} watches {watched}: set val_fraction > 0")
    if cfg.resume and cfg.overwrite:
        raise ValueError("--resume continues the run in --out and --overwrite deletes it: pass only one")
    return cfg


@dataclass
class ModelSpec:
    kind: str                       # 'mlp' | 'cnn'
    hidden: list = field(default_factory=list)       # mlp hidden sizes / cnn conv channels
    fc: list = field(default_factory=list)           # cnn hidden fully connected sizes


def _ints(text: str, what: str, spec: str) -> list[int]:
    if not text.strip():
        return []
    try:
        vals = [int(t) for t in text.split(",")]
    except ValueError:
        raise ValueError(f"model {spec!r}: {what} must be comma-separated integers, got {text!r}") from None
    if any(v < 1 for v in vals):
        raise ValueError(f"model {spec!r}: {what} must be positive, got {vals}")
    return vals


def parse_model_spec(spec: str) -> ModelSpec:
    """``'mlp:512,256'`` or ``'cnn:32,64/128'`` -> :class:`ModelSpec` (see :data:`MODEL_HELP`)."""
    s = spec.strip().lower()
    kind, _, rest = s.partition(":")
    if kind == "mlp":
        return ModelSpec("mlp", _ints(rest, "hidden sizes", spec))
    if kind == "cnn":
        if not rest:
            return ModelSpec("cnn", [32, 64], [128])
        conv, _, fc = rest.partition("/")
        channels = _ints(conv, "conv channels", spec)
        if not channels:
            raise ValueError(f"model {spec!r}: a cnn needs at least one conv block, e.g. cnn:32,64/128")
        return ModelSpec("cnn", channels, _ints(fc, "fully connected sizes", spec))
    raise ValueError(f"unknown model {spec!r}: use {MODEL_HELP}")
