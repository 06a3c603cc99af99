"""The lab: re-run the lecture notes' claims as experiments with figures and verdicts.

    deeprecipe lab list
    deeprecipe lab run init-histograms            # quick preset, figure + verdict
    deeprecipe lab run --all --quick --jobs 2     # everything, then report.html
    deeprecipe lab report lab-results

From Python::

    from deeprecipe import lab
    outcomes = lab.run_experiments(["overfit"], preset="quick", out="lab-results")
    lab.write_report("lab-results")

Parts: :mod:`.experiment` (the declaration, Verdict, Results), :mod:`.registry`,
:mod:`.runner` (process pool, resume, failure capture), :mod:`.storage` (results
directory, atomic writes), :mod:`.report` (HTML + Markdown), :mod:`.stats` (mean ± CI),
:mod:`.rules` (checks → verdict), :mod:`.plotting`, :mod:`.data` and :mod:`.training`
(helpers for experiments).  How to add an experiment: :mod:`deeprecipe.lab.experiments`.
"""
from .experiment import (  # noqa: F401
    DOES_NOT_HOLD, HOLDS, INCONCLUSIVE, PRESETS, SEED_FILES, Experiment, Results, RunContext, Verdict,
)
from .registry import UnknownExperimentError, all_experiments, get, register  # noqa: F401
from .report import write_report  # noqa: F401
from .rules import Check, check_diff, check_mean, check_true, check_value, combine  # noqa: F401
from .runner import Outcome, finalize, load_results, run_experiments  # noqa: F401
from .stats import diff_ci, mean_ci  # noqa: F401
from .storage import FORMAT_VERSION, ResultsError  # noqa: F401
