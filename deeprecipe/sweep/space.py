"""The search space of a sweep: which training options vary, and how.

On the command line, one ``--param NAME=KIND:...`` per option::

    --param lr=log:1e-5:1e-1             log-uniform float in [1e-5, 1e-1]
    --param dropout=uniform:0:0.5        uniform float in [0, 0.5]
    --param epochs=int:2:8               integer in [2, 8] (``int:2:8:2`` for a step of 2)
    --param batch_size=log:16:256        an integer option with ``log``: log-uniform integer
    --param optimizer=choice:adam,sgd    one of the listed values (converted to the option's type)

In a TOML file (``--space FILE``), a ``[params]`` table with the same strings, or tables,
or lists for choices; an optional ``[train]`` table holds fixed training options::

    [params]
    lr = "log:1e-5:1e-1"
    weight_decay = {type = "log", low = 1e-8, high = 1e-3}
    optimizer = ["adam", "sgd"]

    [train]
    data = "fashion-mnist"
    epochs = 5

NAME is any option of ``deeprecipe train`` that changes what a run computes (not
``out``, ``threads``, ``progress``, ``resume``, ``overwrite``).  Every bound and every
choice is checked up front with the same validation as ``deeprecipe train``, so a
space that would produce an invalid run (``dropout=uniform:0:1.5``) is refused before
the first trial.
"""
from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass

from ..train.config import TrainConfig, coerce, validate

KINDS = ("log", "uniform", "int", "choice")
_NOT_SEARCHABLE = set(TrainConfig.RUNTIME_KEYS)
_ALIASES = {"learning_rate": "lr", "wd": "weight_decay", "bs": "batch_size", "optim": "optimizer"}
SYNTAX = ("NAME=log:LOW:HIGH | NAME=uniform:LOW:HIGH | NAME=int:LOW:HIGH[:STEP] | "
          "NAME=choice:A,B,...")


class SpaceError(ValueError):
    """A search space that is malformed, names an unknown option, or would give invalid runs."""


@dataclass(frozen=True)
class Param:
    """One searched option: ``kind`` in :data:`KINDS`; ``low``/``high``/``step`` for ranges,
    ``choices`` for categorical.  ``log`` on an integer option searches integers log-uniformly."""
    name: str
    kind: str
    low: float | int | None = None
    high: float | int | None = None
    step: int | None = None
    choices: tuple = ()

    def to_dict(self) -> dict:
        d = {"name": self.name, "kind": self.kind}
        if self.kind == "choice":
            d["choices"] = list(self.choices)
        else:
            d.update(low=self.low, high=self.high)
            if self.step is not None:
                d["step"] = self.step
        return d

    def describe(self) -> str:
        if self.kind == "choice":
            return f"{self.name}=choice:{','.join(map(str, self.choices))}"
        step = f":{self.step}" if self.step is not None else ""
        return f"{self.name}={self.kind}:{self.low}:{self.high}{step}"

    def suggest(self, trial):
        """Ask an Optuna ``trial`` for this option's value."""
        if self.kind == "choice":
            return trial.suggest_categorical(self.name, list(self.choices))
        if _field_type(self.name) is int:
            return trial.suggest_int(self.name, int(self.low), int(self.high), step=self.step or 1,
                                     log=self.kind == "log")
        return trial.suggest_float(self.name, float(self.low), float(self.high), log=self.kind == "log")


def _field_type(name):
    return type(getattr(TrainConfig(), name))


def check_name(name: str, where: str) -> str:
    """``name`` as a TrainConfig field; unknown or runtime-only names are refused with the valid list."""
    key = name.strip().replace("-", "_")
    valid = [f for f in TrainConfig.field_names() if f not in _NOT_SEARCHABLE]
    if key in valid:
        return key
    if key in _NOT_SEARCHABLE:
        raise SpaceError(f"{where}: {name!r} does not change what a run computes and cannot be searched")
    near = [_ALIASES[key]] if key in _ALIASES else difflib.get_close_matches(key, valid, n=1)
    hint = f" (did you mean {near[0]!r}?)" if near else ""
    raise SpaceError(f"{where}: unknown parameter {name!r}{hint}; searchable options: {', '.join(valid)}")


def _number(text, what, where):
    if isinstance(text, bool):
        raise SpaceError(f"{where}: {what} must be a number, got {text!r}")
    if isinstance(text, (int, float)):
        return text
    try:
        v = float(text)
    except (TypeError, ValueError):
        raise SpaceError(f"{where}: {what} must be a number, got {text!r}") from None
    return int(v) if v.is_integer() and "." not in str(text) and "e" not in str(text).lower() else v


def _choice_value(name, value, where):
    t = _field_type(name)
    if isinstance(value, str) and t is not str:
        if t is int:
            try:
                value = int(value)
            except ValueError:
                raise SpaceError(f"{where}: {name} takes integers; choice {value!r} is not one") from None
        else:
            value = _number(value, f"choice {value!r} of {name}", where)
    try:
        return coerce(name, value, where)
    except TypeError as e:
        raise SpaceError(str(e)) from None


def make_param(name: str, kind: str, args: list, where: str) -> Param:
    """Build and check a :class:`Param` from its kind and arguments."""
    name = check_name(name, where)
    kind = kind.strip().lower()
    t = _field_type(name)
    if kind in ("categorical", "choices"):
        kind = "choice"
    if kind not in KINDS:
        raise SpaceError(f"{where}: unknown kind {kind!r} for {name}; use {', '.join(KINDS)} ({SYNTAX})")
    if kind == "choice":
        if not args or any(a == "" for a in args):
            raise SpaceError(f"{where}: choice needs at least one value, e.g. {name}=choice:A,B")
        choices = tuple(_choice_value(name, a, where) for a in args)
        if len(set(choices)) != len(choices):
            raise SpaceError(f"{where}: {name} lists a choice twice: {list(choices)}")
        return Param(name, "choice", choices=choices)
    if t not in (int, float):
        raise SpaceError(f"{where}: {name} is a {t.__name__} option; search it with choice:A,B,... not {kind}")
    if kind == "int" and t is not int:
        raise SpaceError(f"{where}: {name} takes real numbers; use uniform or log, not int")
    if len(args) not in (2, 3) or (len(args) == 3 and kind != "int"):
        raise SpaceError(f"{where}: {name}={kind} needs LOW:HIGH{'[:STEP]' if kind == 'int' else ''}, got "
                         f"{':'.join(map(str, args)) or 'nothing'}")
    low, high = (_number(a, w, where) for a, w in zip(args[:2], ("LOW", "HIGH")))
    step = None
    if len(args) == 3:
        step = _number(args[2], "STEP", where)
        if not isinstance(step, int) or step < 1:
            raise SpaceError(f"{where}: the step of {name} must be a positive integer, got {args[2]!r}")
    if t is int and not (float(low).is_integer() and float(high).is_integer()):
        raise SpaceError(f"{where}: {name} takes integers; got bounds {low}, {high}")
    if not (math.isfinite(low) and math.isfinite(high)) or not low < high:
        raise SpaceError(f"{where}: {name} needs LOW < HIGH (finite), got {low} and {high}")
    if kind == "log" and low <= 0:
        raise SpaceError(f"{where}: {name}=log needs LOW > 0 (a log scale), got {low}")
    if t is int:
        low, high = int(low), int(high)
    return Param(name, kind, low, high, step)


def parse_param(text: str, where: str = "--param") -> Param:
    """``'lr=log:1e-5:1e-1'`` -> :class:`Param` (see the module docstring for the syntax)."""
    name, eq, spec = text.partition("=")
    if not eq or not name.strip() or not spec.strip():
        raise SpaceError(f"{where} {text!r}: expected {SYNTAX}")
    return parse_spec(name, spec, f"{where} {text!r}")


def parse_spec(name: str, spec, where: str) -> Param:
    """A parameter from a spec string (``'log:1e-5:1e-1'``), a table or a list (choices)."""
    if isinstance(spec, str):
        kind, _, rest = spec.partition(":")
        if kind.strip().lower() in ("choice", "categorical", "choices"):
            return make_param(name, kind, [a.strip() for a in rest.split(",")] if rest else [], where)
        return make_param(name, kind, [a.strip() for a in rest.split(":")] if rest else [], where)
    if isinstance(spec, list):
        return make_param(name, "choice", spec, where)
    if isinstance(spec, dict):
        kind = spec.get("type", spec.get("kind"))
        extra = set(spec) - {"type", "kind", "low", "high", "step", "choices"}
        if not isinstance(kind, str) or extra:
            raise SpaceError(f"{where}: a table for {name} needs type = one of {', '.join(KINDS)} and low/high "
                             f"(or choices){'; unknown keys ' + ', '.join(sorted(extra)) if extra else ''}")
        if kind.lower() in ("choice", "categorical", "choices"):
            return make_param(name, "choice", list(spec.get("choices") or []), where)
        args = [spec[k] for k in ("low", "high", "step") if k in spec]
        return make_param(name, kind, args, where)
    raise SpaceError(f"{where}: {name} must be a string like 'log:1e-5:1e-1', a table or a list of choices, "
                     f"got {type(spec).__name__}")


def read_space_file(path) -> tuple[list, dict]:
    """``(params, fixed training options)`` from a TOML file (module docstring)."""
    from ..train.config import parse_toml_file
    try:
        doc = parse_toml_file(path)
    except FileNotFoundError:
        raise SpaceError(f"search-space file {path!r} does not exist") from None
    except (ValueError, RuntimeError) as e:
        raise SpaceError(str(e)) from None
    unknown = set(doc) - {"params", "train"}
    if unknown:
        raise SpaceError(f"{path}: a search-space file holds [params] and optionally [train]; "
                         f"unknown entries: {', '.join(sorted(unknown))}")
    table = doc.get("params")
    if not isinstance(table, dict) or not table:
        raise SpaceError(f"{path}: no [params] table (e.g. [params] lr = \"log:1e-5:1e-1\")")
    fixed = doc.get("train", {})
    if not isinstance(fixed, dict):
        raise SpaceError(f"{path}: [train] must be a table of training options")
    return [parse_spec(k, v, f"{path} [params] {k}") for k, v in table.items()], fixed


def check_space(params: list, base: TrainConfig) -> None:
    """Refuse duplicates, and any bound or choice that ``deeprecipe train`` would refuse."""
    seen = set()
    for p in params:
        if p.name in seen:
            raise SpaceError(f"parameter {p.name!r} is given twice in the search space")
        seen.add(p.name)
    if not params:
        raise SpaceError(f"the search space is empty: give --param {SYNTAX} or --space FILE")
    from ..nn import Linear
    from ..train.job import build_optimizer
    probe = Linear(1, 1)  # a model to build each optimizer on
    for p in params:
        values = p.choices if p.kind == "choice" else (p.low, p.high)
        for v in values:
            try:
                cfg = validate(dataclasses.replace(base, **{p.name: v}))
                # the optimizer's name and its momentum/weight decay are checked when it is built
                build_optimizer(cfg, probe)
            except (ValueError, TypeError, KeyError) as e:
                raise SpaceError(f"search space {p.describe()}: the value {v!r} gives an invalid run: {e}") from None
