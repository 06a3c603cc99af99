"""Building blocks for verdict rules: checks on measured numbers, combined into a Verdict.

A claim usually has several parts ("training accuracy reaches ~100%" AND "test accuracy
stays far lower").  Each part becomes a :class:`Check` whose outcome is computed from
the numbers; :func:`combine` turns the checks into one :class:`Verdict`:

* ``holds`` when every check holds,
* ``does not hold`` when any check does not hold,
* ``inconclusive`` otherwise (some check could not be decided, e.g. its confidence
  interval straddles the threshold).

Noisy quantities use :func:`check_mean` (or :func:`check_diff` for A-vs-B comparisons):
the claim's side of the threshold must contain the whole 95% confidence interval over
seeds to hold; the interval entirely on the other side means it does not hold; an
interval across the threshold is inconclusive.  With one seed the value itself
decides (no interval is available; the rule text says so).
"""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field

import numpy as np

from .experiment import DOES_NOT_HOLD, HOLDS, INCONCLUSIVE, Verdict
from .stats import MeanCI, diff_ci, format_ci, mean_ci

_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


@dataclass(frozen=True)
class Check:
    """One decided part of a claim: ``text`` states it ("train acc ≥ 0.95"),
    ``outcome`` is a verdict string, ``numbers`` the values that decided it."""
    text: str
    outcome: str
    numbers: dict = field(default_factory=dict)


def _decide_interval(ci: MeanCI, op: str, threshold: float) -> str:
    if op not in _OPS:
        raise ValueError(f"comparison must be one of {sorted(_OPS)}, got {op!r}")
    f = _OPS[op]
    if math.isnan(ci.mean):
        return INCONCLUSIVE
    if ci.n == 1 or math.isnan(ci.half_width):
        return HOLDS if f(ci.mean, threshold) else DOES_NOT_HOLD
    lo, hi = ci.low, ci.high
    if f(lo, threshold) and f(hi, threshold):
        return HOLDS
    if not f(lo, threshold) and not f(hi, threshold):
        return DOES_NOT_HOLD
    return INCONCLUSIVE


def check_mean(name: str, values, op: str, threshold: float, confidence: float = 0.95) -> Check:
    """Does the mean of ``values`` (one per seed) satisfy ``mean <op> threshold``?

    Decided by the whole confidence interval (module docstring).
    """
    ci = mean_ci(np.asarray(values, dtype=np.float64), confidence)
    outcome = _decide_interval(ci, op, threshold)
    return Check(f"{name} {op} {threshold:g}", outcome, {name: format_ci(ci)})


def check_diff(name: str, a, b, op: str, threshold: float = 0.0, paired: bool = True,
               confidence: float = 0.95) -> Check:
    """Does ``mean(a) - mean(b) <op> threshold`` hold, judged by the CI of the difference?

    ``paired=True`` (default) when ``a[i]`` and ``b[i]`` share seed ``i``.
    """
    ci = diff_ci(a, b, paired=paired, confidence=confidence)
    outcome = _decide_interval(ci, op, threshold)
    return Check(f"{name} {op} {threshold:g}", outcome, {name: format_ci(ci)})


def check_value(name: str, value: float, op: str, threshold: float, fmt: str = ".4g") -> Check:
    """A deterministic number (no seeds to average) compared with a threshold."""
    if op not in _OPS:
        raise ValueError(f"comparison must be one of {sorted(_OPS)}, got {op!r}")
    value = float(value)
    if math.isnan(value):
        outcome = INCONCLUSIVE
    else:
        outcome = HOLDS if _OPS[op](value, threshold) else DOES_NOT_HOLD
    return Check(f"{name} {op} {threshold:g}", outcome, {name: float(f"{value:{fmt}}")})


def check_true(text: str, condition: bool, numbers: dict | None = None) -> Check:
    """A yes/no part of a claim decided by ``condition`` (computed from the metrics)."""
    return Check(text, HOLDS if bool(condition) else DOES_NOT_HOLD, dict(numbers or {}))


def combine(checks, rule: str, extra_numbers: dict | None = None, sanity=()) -> Verdict:
    """All checks hold → holds; any does not hold → does not hold; else inconclusive.

    The Verdict's ``rule`` is ``rule`` followed by each check and its outcome, and its
    numbers are the checks' numbers (plus ``extra_numbers``, shown but not deciding).
    ``sanity``: :class:`Check` s of identities that only a bug can break (see
    :attr:`Verdict.sanity`); they are reported beside the verdict and do not decide it.
    """
    checks = list(checks)
    if not checks:
        raise ValueError("combine needs at least one check")
    outcomes = [c.outcome for c in checks]
    if all(o == HOLDS for o in outcomes):
        verdict = HOLDS
    elif any(o == DOES_NOT_HOLD for o in outcomes):
        verdict = DOES_NOT_HOLD
    else:
        verdict = INCONCLUSIVE
    numbers = {}
    for c in checks:
        numbers.update(c.numbers)
    numbers.update(extra_numbers or {})
    parts = "; ".join(f"[{c.outcome}] {c.text}" for c in checks)
    text = (f"{rule.rstrip('.')}. Checks: {parts}. Holds if every check holds; does not hold "
            f"if any fails; a 95% interval over seeds straddling a threshold is inconclusive.")
    sanity = [{"text": c.text, "ok": c.outcome == HOLDS, "numbers": dict(c.numbers)} for c in sanity]
    if sanity:
        text += (" Sanity checks (identities that fail only on a bug; shown, not deciding): "
                 + "; ".join(f"[{'ok' if c['ok'] else 'FAILED'}] {c['text']}" for c in sanity) + ".")
    return Verdict(verdict, numbers, text, sanity)


def check_converged(name: str, curve, window: float = 0.1, tol: float = 0.01) -> Check:
    """Has a (seeds × evaluations) accuracy-like curve stopped rising?

    Per seed: the mean of the last ``window`` share of the evaluations minus the mean of the
    ``window`` share before it; converged when that rise is at most ``tol``, judged like
    :func:`check_mean` (95% interval over seeds entirely ≤ ``tol``: converged; entirely
    above: still rising, does not hold; across: inconclusive).
    """
    c = np.asarray(curve, dtype=np.float64)
    if c.ndim == 1:
        c = c[None]
    k = max(1, int(round(window * c.shape[1])))
    if c.shape[1] < 2 * k:
        raise ValueError(f"check_converged needs at least {2 * k} evaluations, got {c.shape[1]}")
    rise = c[:, -k:].mean(axis=1) - c[:, -2 * k:-k].mean(axis=1)
    return check_mean(f"{name}: rise over the last {k} evaluations", rise, "<=", tol)


def mean_pair(a, b, fmt: str = ".4f") -> str:
    """``"<mean of a> / <mean of b>"``: the side-by-side figure shown beside a verdict."""
    return f"{float(np.mean(a)):{fmt}} / {float(np.mean(b)):{fmt}}"
