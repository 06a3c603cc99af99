"""The doctor: diagnose a training run the way the lectures' "Recipe of Deep Learning" does.

    from deeprecipe.doctor import diagnose
    d = diagnose("runs/fmnist-mlp")          # a 'deeprecipe train --out' folder, a History or a dict
    d.healthy, [f.id for f in d.findings]
    d.to_dict()   # {"healthy": bool, "findings": [{"id", "severity", "evidence", "advice"}]}
    print(d)      # the doctor's note

* :func:`diagnose`, :class:`Diagnosis`, :class:`Finding` — rules in :mod:`.rules` (one per id
  of :data:`FINDING_IDS`, each with its signal, threshold and why, Recipe step and advice)
* :class:`Doctor` — the same diagnosis live during ``fit`` (report, or stop on an error)
* :func:`treat` — apply the Recipe's prescription and re-run next to the original
* :func:`run_control` — the shallower control that separates model bias from optimization
* ``deeprecipe doctor RUN [--json] [--html FILE] [--probe] [--treat]`` (:mod:`.cli`)
"""
from .callback import Doctor  # noqa: F401
from .diagnosis import Diagnosis, diagnose, differential  # noqa: F401
from .probe import control_model, run_control, saddle_curvature  # noqa: F401
from .rules import ERROR, FINDING_IDS, INFO, RULES, SEVERITIES, WARNING, Finding  # noqa: F401
from .signals import RunDirError, Signals, load_signals  # noqa: F401
from .treat import prescription, treat  # noqa: F401
