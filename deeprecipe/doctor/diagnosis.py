"""``diagnose(run)``: run every rule, then reason like the Recipe about causes.

The rules (:mod:`deeprecipe.doctor.rules`) fire independently; one sick run often shows
several symptoms of one cause.  The differential step below keeps the cause at its
severity and marks its consequences ``info`` (still reported, with the reason), so the
note leads with what to treat:

1. **divergence**: once the loss blew up, every other training signal is a consequence
   (lr-too-high, dead or saturated units, plateaus, overfitting, ...): ``info``.
2. **unnormalized input**: inputs far from unit scale make huge pre-activations, so an
   exploding gradient, saturation, dead units, an unstable or stalled loss (and what the
   later Recipe steps would read from it: underfitting, overfitting) are its consequences.
3. **saturated units**, **dead units** or a **saddle point** (the network collapsed near the
   origin) cut the backward signal: a vanishing gradient beside them is their consequence;
   dead units make a flat region that is not a saddle.
4. **lr-too-low** explains a plateau (the loss is flat because the steps are tiny); on a
   plateau (no progress while the gradient stays large), unstable loss and large update
   ratios are the bouncing between the valley's walls that seed 004 draws: lr-too-high is
   named as part of it (``info``), and the prescription is an adaptive learning rate.
5. a **vanishing gradient** makes the early layers' updates tiny and the loss stall:
   lr-too-low and a plateau beside it are its consequences; an **unstable** training loss
   (lr-too-high from loss rises or a rebound) makes the validation loss bounce: not
   overfitting.  (These two were added after the zoo's first pass; see the zoo's docstring.)
6. **underfitting** (model bias) is only named when optimization looks healthy (seed 004
   L3: the Recipe checks optimization first).  With ``probe=`` (a shallower control's
   training loss, :mod:`deeprecipe.doctor.probe`), a control that reaches a *lower*
   training loss proves an optimization problem: underfitting becomes ``info``; a control
   that does no better confirms model bias.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from . import rules as R
from .signals import Signals, load_signals

_RANK = {R.ERROR: 0, R.WARNING: 1, R.INFO: 2}
_STEPS = (R.INPUT, R.TRAINING, R.MODEL_BIAS, R.VALIDATION)   # the Recipe's order: data first, validation last
_ORDER = {r.id: (_STEPS.index(r.step), i) for i, r in enumerate(R.RULES)}
_OPTIMIZATION = ("exploding-gradient", "vanishing-gradient", "dead-units", "saturated-units", "lr-too-high",
                 "lr-too-low", "plateau-large-gradient", "saddle-point")


@dataclass
class Diagnosis:
    """What :func:`diagnose` returns.  ``to_dict()`` is the JSON contract:
    ``{"healthy": bool, "findings": [{"id", "severity", "evidence", "advice"}]}``."""

    findings: list
    signals: Signals = field(repr=False)
    seconds: float = 0.0
    probe: dict | None = None

    @property
    def healthy(self) -> bool:
        """No finding of severity ``error`` or ``warning``."""
        return not any(f.severity in (R.ERROR, R.WARNING) for f in self.findings)

    @property
    def ids(self) -> list:
        """Ids of the error and warning findings, most severe first."""
        return [f.id for f in self.findings if f.severity != R.INFO]

    def most_severe(self):
        return self.findings[0] if self.findings and self.findings[0].severity != R.INFO else None

    def to_dict(self) -> dict:
        return {"healthy": bool(self.healthy), "findings": [f.to_dict() for f in self.findings]}

    def vitals(self) -> dict:
        """The numbers a healthy note shows (and the HTML page's header)."""
        s = self.signals
        v = {"epochs": float(s.epochs), "final_train_loss": R._last(s.get("loss")),
             "train_loss_over_chance": R.loss_ratio(s)}
        for k in ("accuracy", "val_loss", "val_accuracy", "grad_norm"):
            x = R._last(s.get(k))
            if math.isfinite(x):
                v[f"final_{k}"] = x
        extra = {"first_over_last_layer_grad": R._median(R.grad_ratio_by_epoch(s)),
                 "update_ratio_median": R.update_ratio_median(s)}
        dead = [R._last(x) for _, x in s.layers("act_dead").items()]
        sat = [R._median(x) for _, x in s.layers("act_saturated").items()]
        if dead:
            extra["dead_fraction_max"] = max(dead)
        if sat:
            extra["saturated_fraction_max"] = max(sat)
        v.update({k: x for k, x in extra.items() if math.isfinite(x)})
        return v

    def __str__(self) -> str:
        from .note import text_note
        return text_note(self)


def _demote(f, why: str):
    if f.severity != R.INFO:
        f.severity = R.INFO
        f.summary = f"{f.summary} ({why})"


def differential(findings: list, probe: dict | None = None) -> list:
    """Apply the cause-and-consequence rules of the module docstring; returns findings sorted
    by severity, then by the Recipe's order."""
    by = {f.id: f for f in findings}
    if "divergence" in by:
        for f in findings:
            if f.id not in ("divergence", "exploding-gradient", "unnormalized-input"):
                _demote(f, "after the divergence: a consequence")
    if "unnormalized-input" in by:
        for i in ("exploding-gradient", "saturated-units", "dead-units", "lr-too-high", "lr-too-low",
                  "plateau-large-gradient", "saddle-point", "vanishing-gradient", "divergence", "underfitting",
                  "overfitting"):
            if i in by:
                _demote(by[i], "a likely consequence of the unnormalized input")
    for cause in ("saturated-units", "dead-units", "exploding-gradient", "saddle-point"):
        if cause in by and by[cause].severity != R.INFO and "vanishing-gradient" in by:
            _demote(by["vanishing-gradient"], f"explained by the {cause.replace('-', ' ')}")
    if "dead-units" in by and "saddle-point" in by:
        _demote(by["saddle-point"], "the flat region of dead units, not a saddle")
    if "vanishing-gradient" in by and by["vanishing-gradient"].severity != R.INFO:
        for i in ("lr-too-low", "plateau-large-gradient"):
            if i in by:
                _demote(by[i], "the early layers' tiny gradients: a consequence of the vanishing gradient")
    if "lr-too-high" in by and "overfitting" in by and (
            by["lr-too-high"].evidence["loss_rise_fraction"] >= R.LOSS_RISES
            or by["lr-too-high"].evidence["loss_rebound"] > R.REBOUND):
        _demote(by["overfitting"], "the validation loss bounces with an unstable training loss")
    if "lr-too-low" in by and "plateau-large-gradient" in by:
        _demote(by["plateau-large-gradient"], "explained by the tiny steps")
    if "plateau-large-gradient" in by and "lr-too-high" in by and by["plateau-large-gradient"].severity != R.INFO:
        _demote(by["lr-too-high"], "the large, bouncing steps are the plateau's picture (seed 004)")
    if "underfitting" in by:
        u = by["underfitting"]
        optimization = [f for f in findings if f.id in _OPTIMIZATION and f.severity != R.INFO]
        if probe is not None and math.isfinite(probe.get("control_loss", math.nan)):
            u.evidence["control_train_loss"] = probe["control_loss"]
            u.evidence["train_loss"] = probe.get("run_loss", R._last([]))
            if probe["control_loss"] < probe.get("run_loss", math.inf):
                _demote(u, "a shallower control trains better: an optimization problem, not model bias")
                for f in optimization:
                    f.evidence["control_train_loss"] = probe["control_loss"]
        elif optimization:
            _demote(u, "optimization problems come first in the Recipe")
    return sorted(findings, key=lambda f: (_RANK[f.severity], _ORDER.get(f.id, (99, 99))))


def diagnose(source, *, probe: dict | None = None) -> Diagnosis:
    """Diagnose a training run the way the Recipe does.

    Args:
        source: a run folder written by ``deeprecipe train --out`` (str or path), a
            :class:`~deeprecipe.train.History` (from ``fit`` with a ``MonitorCallback``), a
            dict of per-epoch series ``{name: [value per epoch]}`` (see
            :mod:`deeprecipe.doctor.signals`), or :class:`Signals`.
        probe: the shallower control's result (``{"control_loss", "run_loss"}``) that
            separates model bias from optimization problems (``deeprecipe doctor --probe``).

    Returns:
        :class:`Diagnosis` with ``.healthy``, ``.findings`` (each ``.id``, ``.severity``,
        ``.evidence``, ``.advice``) and ``.to_dict()``.

    Raises:
        RunDirError: a path that is not a finished, readable run folder.
        TypeError, ValueError: a History or dict that cannot be read as series.
    """
    t0 = time.perf_counter()
    sig = load_signals(source)
    findings = []
    if sig.epochs:
        for rule in R.RULES:
            f = rule.check(sig)
            if f is not None:
                findings.append(f)
    findings = differential(findings, probe)
    return Diagnosis(findings, sig, time.perf_counter() - t0, probe)
