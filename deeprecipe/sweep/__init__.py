"""Hyperparameter sweeps on Optuna: ``deeprecipe sweep`` (see :mod:`deeprecipe.sweep.study`).

* :mod:`.space`   — the search space (``--param lr=log:1e-5:1e-1``, TOML files), checked up front;
* :mod:`.trial`   — one trial: a training job reporting its validation score every epoch;
* :mod:`.pruning` — Optuna's median rule and the doctor-driven :class:`DoctorPruner`;
* :mod:`.study`   — the study in SQLite/PostgreSQL, local or Dask workers, summary, test score once;
* :mod:`.plot`    — the figure.

Optuna (the ``sweep`` extra) is imported only when a sweep runs.
"""
from .pruning import DOCTOR_FINDINGS, PRUNERS, DoctorPruner, DoctorUnavailable
from .space import Param, SpaceError, parse_param, parse_spec, read_space_file
from .study import SweepError, SweepSpec, run_sweep, summarize, work

__all__ = ["DOCTOR_FINDINGS", "PRUNERS", "DoctorPruner", "DoctorUnavailable", "Param", "SpaceError", "SweepError",
           "SweepSpec", "parse_param", "parse_spec", "read_space_file", "run_sweep", "summarize", "work"]
