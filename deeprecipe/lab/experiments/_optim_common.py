"""Shared parts of the optimization experiments (seed 002 and 004 L5–L6).

* :func:`best_of_grid` — "each arm at its own best learning rate from a small grid on
  validation data": trains one arm at every value of a grid (same seed, same data, same
  budget), keeps the validation score of every grid point and the whole record of the
  best one.  The grid is saved with the metrics and drawn by :func:`plot_grid`, so a
  reader sees where each arm's optimum fell (an optimum at the edge of the grid is a
  warning that the grid was too narrow).
* :func:`verdict_with_sanity` — identities that can only fail on a bug (an update rule
  against its closed form, a frozen weight that must not move) are shown apart from the
  empirical checks: they do not decide the claim, but if one fails the claim cannot be
  judged and the verdict is "inconclusive".
* :func:`smooth` / :func:`tail_mean` are those of ``optimizers_mnist`` (re-exported).
"""
from __future__ import annotations

import math

import numpy as np

from ..experiment import DOES_NOT_HOLD, HOLDS, INCONCLUSIVE, Verdict
from ..plotting import color
from ..rules import combine
from .optimizers_mnist import smooth, tail_mean  # noqa: F401  (re-exported for the experiments)


def best_of_grid(train_at, grid, score: str = "val_acc", higher: bool = True) -> dict:
    """Train at every grid value and keep the best on validation data.

    ``train_at(value) -> metrics`` (the dict of ``train_classifier``, with
    ``final[score]``).  A diverged run scores ``nan`` and is never chosen unless every
    grid point diverged.  Returns ``{"grid": values, "grid_score": scores, "best": value,
    "best_index": i, **metrics of the best run}``.
    """
    grid = [float(v) for v in grid]
    if not grid:
        raise ValueError("best_of_grid needs at least one grid value")
    scores, runs = [], []
    for v in grid:
        m = train_at(v)
        s = float(m["final"][score])
        scores.append(s)
        runs.append(m)
    arr = np.asarray(scores, dtype=np.float64)
    ok = np.isfinite(arr)
    if ok.any():
        masked = np.where(ok, arr, -np.inf if higher else np.inf)
        i = int(np.argmax(masked) if higher else np.argmin(masked))
    else:
        i = 0
    out = dict(runs[i])
    out.update({"grid": np.asarray(grid), "grid_score": arr, "best": grid[i], "best_index": i})
    return out


def plot_grid(ax, results, arms, labels=None, score_label: str = "validation accuracy",
              grid_name: str = "learning rate") -> None:
    """Validation score against the grid for each arm (mean over seeds, each seed's pick marked)."""
    labels = labels or arms
    for i, (arm, label) in enumerate(zip(arms, labels)):
        grid = np.asarray(results.first(f"{arm}.grid"), dtype=np.float64)
        scores = results.stack(f"{arm}.grid_score")
        ax.plot(grid, np.nanmean(scores, axis=0), "o-", color=color(i), label=label, markersize=4)
        picks = results.values(f"{arm}.best")
        for p in picks:
            j = int(np.argmin(np.abs(grid - p)))
            ax.plot(grid[j], np.nanmean(scores[:, j]), "*", color=color(i), markersize=11, alpha=0.6)
    ax.set_xscale("log")
    ax.set_xlabel(f"{grid_name} (★ = chosen on validation, per seed)")
    ax.set_ylabel(score_label)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def picks(results, arm: str) -> str:
    """The grid values chosen per seed, for the numbers beside a verdict."""
    return ", ".join(f"{v:g}" for v in results.values(f"{arm}.best"))


def verdict_with_sanity(checks, sanity, rule: str, extra: dict | None = None) -> Verdict:
    """``combine(checks, rule, extra)``, with sanity checks shown apart.

    ``sanity`` is a list of :class:`~deeprecipe.lab.rules.Check` of identities that only a
    bug breaks.  Their numbers appear prefixed ``"sanity: "``; they do not take part in
    deciding the claim, but a failed one turns the verdict into "inconclusive" (the
    measurement cannot be trusted), and the rule says which one failed.
    """
    v = combine(checks, rule, extra)
    numbers = dict(v.numbers)
    failed = []
    for c in sanity:
        for k, val in c.numbers.items():
            numbers[f"sanity: {k}"] = val
        if c.outcome != HOLDS:
            failed.append(c.text)
    text = v.rule + " Sanity checks (shown apart, not deciding): " + "; ".join(
        f"[{'ok' if c.outcome == HOLDS else 'FAILED'}] {c.text}" for c in sanity) + "."
    verdict = v.verdict
    if failed and verdict in (HOLDS, DOES_NOT_HOLD):
        verdict = INCONCLUSIVE
        text += " A sanity check failed, so the claim is not judged: inconclusive."
    return Verdict(verdict, numbers, text)


def finite_or(value: float, fill: float) -> float:
    """``value`` unless it is nan/inf (a diverged run), else ``fill``."""
    return float(value) if math.isfinite(float(value)) else float(fill)
