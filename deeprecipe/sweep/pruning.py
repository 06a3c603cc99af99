"""Stopping unpromising trials early: Optuna's median rule, and the doctor's diagnosis.

``median``
    Optuna's ``MedianPruner``: after each epoch a trial reports its validation score;
    it is stopped when that score is worse than the median of the other trials at the
    same epoch (after 5 complete trials, and never in its first epoch).
``doctor``
    :class:`DoctorPruner`: after each epoch the trial's training history goes to the
    doctor (``deeprecipe.doctor.diagnose``), and the trial is stopped when the doctor
    finds, at severity ``error``, that it diverged, that its gradients vanish, or that
    its units died (finding ids ``divergence``, ``vanishing-gradient``, ``dead-units``).
    This is diagnosis-based trial pruning (the idea of BTTackler, 2026: detect "bad
    trials" from training symptoms): the median rule waits for a trial to
    *score* badly; a diagnosis can stop a trial whose training is broken before its
    score says so, and it never stops a healthy slow starter.

Both can be combined (``median+doctor``): a trial stops at whichever comes first.  The
reason is kept on the trial (``user_attrs['pruned_by']``).
"""
from __future__ import annotations

from collections.abc import Callable

PRUNERS = ("none", "median", "doctor", "median+doctor")
DOCTOR_FINDINGS = ("divergence", "vanishing-gradient", "dead-units")


class DoctorUnavailable(RuntimeError):
    """``--pruner doctor`` was asked for but ``deeprecipe.doctor.diagnose`` cannot be imported."""


def _import_diagnose() -> Callable:
    try:
        from ..doctor import diagnose
    except ImportError as e:
        raise DoctorUnavailable(
            f"--pruner doctor needs the doctor (deeprecipe.doctor.diagnose), which this installation of "
            f"deeprecipe lacks ({e}); use --pruner median or --pruner none") from None
    return diagnose


class DoctorPruner:
    """Decides from the doctor's findings whether a trial's training is broken.

    Args:
        diagnose: ``diagnose(history_or_run_dir) -> report`` with ``report.findings``, each
            with ``.id`` and ``.severity``; default ``deeprecipe.doctor.diagnose``, imported
            on first use (so tests can inject a fake one).
        findings: the finding ids that stop a trial.
        severities: the severities that count (default only ``"error"``: a warning is not
            enough evidence to throw a trial away).
        min_epochs: epochs a trial runs before it is first diagnosed.
    """

    def __init__(self, diagnose: Callable | None = None, findings=DOCTOR_FINDINGS, severities=("error",),
                 min_epochs: int = 1):
        self._diagnose = diagnose
        self.findings = tuple(findings)
        self.severities = tuple(severities)
        self.min_epochs = int(min_epochs)

    @property
    def diagnose(self) -> Callable:
        if self._diagnose is None:
            self._diagnose = _import_diagnose()
        return self._diagnose

    def check(self, history, epochs_done: int) -> str | None:
        """The reason to stop (``'doctor: divergence — ...'``), or None to go on."""
        if epochs_done < self.min_epochs:
            return None
        report = self.diagnose(history)
        for f in getattr(report, "findings", None) or ():
            if getattr(f, "id", None) in self.findings and getattr(f, "severity", None) in self.severities:
                detail = getattr(f, "title", None) or getattr(f, "summary", None) or getattr(f, "message", None)
                return f"doctor: {f.id}" + (f" — {detail}" if detail else "")
        return None


def optuna_pruner(name: str):
    """The Optuna pruner for ``--pruner name`` (the doctor part is not an Optuna pruner)."""
    import optuna
    if name not in PRUNERS:
        raise ValueError(f"--pruner must be one of {', '.join(PRUNERS)}, got {name!r}")
    if "median" in name:
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    return optuna.pruners.NopPruner()


def doctor_pruner(name: str, diagnose: Callable | None = None) -> DoctorPruner | None:
    """A :class:`DoctorPruner` when ``name`` asks for one (its ``diagnose`` is resolved now,
    so a missing doctor is reported before any trial runs), else None."""
    if "doctor" not in name:
        return None
    p = DoctorPruner(diagnose)
    p.diagnose  # noqa: B018 - import now: fail before the first trial, not in the middle of a sweep
    return p
