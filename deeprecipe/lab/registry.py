"""The registry of experiments: every module in ``deeprecipe.lab.experiments`` that defines
``EXPERIMENT = Experiment(...)`` is found automatically (modules starting with ``_`` are
shared helpers and skipped).  Experiments defined elsewhere (a plugin, a test) join with
:func:`register`.

A module that fails to import does not take the others down: its error is kept in
:func:`broken` and shown by ``deeprecipe lab list``; running it reports the error.
"""
from __future__ import annotations

import importlib
import pkgutil
import traceback

from .experiment import Experiment

# The sections and order of the list of claims, so that lists and reports read like the lecture
# (the Recipe's two questions first: results on the training data, then on the test data).
CLAIM_SECTIONS = [
    ("A. Getting good results on training data", [
        "deep-sigmoid", "relu-fixes-depth", "relu-variants", "maxout", "optimizer-paths",
        "optimizers-mnist", "adam-vs-sgdm", "adam-big-gradient", "warmup", "lr-schedules",
        "lookahead", "nesterov", "gradient-noise", "plain-vs-residual", "ce-vs-mse",
        "normalize-input", "batch-size", "critical-points", "stuck-not-small", "adaptive-lr-burst",
        "shuffling", "curriculum", "fine-tuning"]),
    ("B. Initialization and normalization", [
        "init-histograms", "init-mnist", "batchnorm", "batchnorm-sigmoid-lr", "bn-inference",
        "normalizers"]),
    ("C. Getting good results on test data", [
        "overfit", "weight-decay", "l1-vs-l2", "decoupled-decay", "dropout", "dropout-gap", "dropout-ensemble",
        "early-stopping", "hyperparameter-search"]),
    ("D. Classic models the notes build on", [
        "generative-shared-cov", "logistic-regression", "lagged-regression", "fizzbuzz"]),
]
CLAIMS_ORDER = [exp_id for _, ids in CLAIM_SECTIONS for exp_id in ids]
#: experiments registered from elsewhere (plugins, tests) are listed under this heading
OTHER_SECTION = "Other experiments"


def section_of(exp_id: str) -> str:
    """The heading ``exp_id`` is listed under in reports."""
    return next((title for title, ids in CLAIM_SECTIONS if exp_id in ids), OTHER_SECTION)

_registry: dict = {}
_broken: dict = {}
_discovered = False


class UnknownExperimentError(KeyError):
    """An experiment id that is not registered; the message lists the valid ids."""

    def __str__(self):  # KeyError would quote the message
        return self.args[0]


def register(experiment: Experiment) -> Experiment:
    """Add an experiment defined outside ``deeprecipe.lab.experiments``; returns it."""
    if not isinstance(experiment, Experiment):
        raise TypeError(f"register() takes an Experiment, got {type(experiment).__name__}")
    _discover()
    old = _registry.get(experiment.id)
    if old is not None and old is not experiment and old.module != experiment.module:
        raise ValueError(f"experiment id {experiment.id!r} is already registered by {old.module}")
    _registry[experiment.id] = experiment
    return experiment


def unregister(experiment_id: str) -> None:
    _registry.pop(experiment_id, None)


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    _discovered = True
    from . import experiments as pkg
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        name = f"{pkg.__name__}.{info.name}"
        try:
            mod = importlib.import_module(name)
        except Exception as e:  # keep the others usable; report this one
            _broken[name] = "".join(traceback.format_exception_only(type(e), e)).strip()
            continue
        exp = getattr(mod, "EXPERIMENT", None)
        if not isinstance(exp, Experiment):
            _broken[name] = "module defines no EXPERIMENT = Experiment(...)"
            continue
        if exp.id in _registry:
            _broken[name] = f"duplicate experiment id {exp.id!r} (also in {_registry[exp.id].module})"
            continue
        _registry[exp.id] = exp


def _order_key(exp_id: str):
    return (CLAIMS_ORDER.index(exp_id), "") if exp_id in CLAIMS_ORDER else (len(CLAIMS_ORDER), exp_id)


def all_experiments() -> list:
    """Every registered experiment, in the order of CLAIMS.md (others after, by id)."""
    _discover()
    return [_registry[k] for k in sorted(_registry, key=_order_key)]


def ids() -> list:
    return [e.id for e in all_experiments()]


def broken() -> dict:
    """Experiment modules that failed to import: module name → error message."""
    _discover()
    return dict(_broken)


def get(experiment_id: str) -> Experiment:
    """The experiment with this id; an unknown id raises an error listing the valid ones."""
    _discover()
    if isinstance(experiment_id, Experiment):
        return experiment_id
    try:
        return _registry[experiment_id]
    except KeyError:
        import difflib
        valid = ids()
        close = difflib.get_close_matches(str(experiment_id), valid, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownExperimentError(
            f"unknown experiment {experiment_id!r}.{hint} Valid ids: {', '.join(valid) or '(none)'}"
            " (see `deeprecipe lab list`)") from None


def locate(module: str, experiment_id: str) -> Experiment:
    """Find an experiment in a worker process: import its module, then look it up."""
    mod = importlib.import_module(module)
    for value in vars(mod).values():
        if isinstance(value, Experiment) and value.id == experiment_id:
            return value
    return get(experiment_id)
