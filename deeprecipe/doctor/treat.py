"""Treat: apply the Recipe's prescription for the most severe finding and re-run.

The treated run has the same data, epoch budget and seed as the original; only the
prescribed options change.  It is written next to the original as
``RUN-treated-<finding>`` (the original folder is only read).  The result compares, before
and after, the signal that defined the finding (its first evidence number), the final
validation accuracy, and whether the finding is gone.

Prescriptions (seeds 000, 001 and 004), each a change of ``deeprecipe train`` options:

==========================  ==========================================================
divergence                  learning rate / 10, and at most the optimizer's usual starting rate
                            (SGD 0.1, Adam 1e-3); He/Glorot init when the init was a raw normal
exploding-gradient          He init (ReLU family) or Glorot (sigmoid/tanh)
vanishing-gradient          ReLU + He init
dead-units                  Leaky ReLU + He init (and the lowered learning rate, as for
                            divergence, when the median update/weight ratio is above 1e-2)
saturated-units             Glorot init (sigmoid/tanh) or ReLU + He
lr-too-high                 the lowered learning rate, as for divergence
lr-too-low                  learning rate x 10
plateau-large-gradient      Adam (adaptive learning rate) at 1e-3
saddle-point                scaled init (He/Glorot) and Adam
underfitting                a bigger model: every hidden layer 4x wider, one layer more
overfitting                 early stopping on val_loss (patience 2, best weights restored)
                            and weight decay 1e-4
unnormalized-input          standardize the inputs (training mean and std)
==========================  ==========================================================
"""
from __future__ import annotations

import dataclasses
import math
import os

from .diagnosis import diagnose
from .signals import from_run_dir

_SQUASHING = ("sigmoid", "tanh", "softplus")


def _scaled_init(cfg) -> str:
    return "glorot" if cfg.activation in _SQUASHING else "he"


def _bigger(model: str) -> str:
    from ..train.config import parse_model_spec
    spec = parse_model_spec(model)
    if spec.kind == "mlp":
        hidden = [4 * h for h in spec.hidden] or [128]
        return "mlp:" + ",".join(str(h) for h in hidden + [hidden[-1]])
    return "cnn:" + ",".join(str(2 * c) for c in spec.hidden) + "/" + ",".join(str(2 * f) for f in spec.fc or [64])


#: usual starting learning rates: a lowered rate goes at least down to these
USUAL_LR = {"sgd": 0.1, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3, "adagrad": 1e-2}


def _lower_lr(cfg) -> float:
    """A tenth of the rate, and no more than the optimizer's usual starting rate."""
    return min(cfg.lr / 10, USUAL_LR.get(cfg.optimizer.lower(), cfg.lr / 10))


def prescription(finding_id: str, cfg, evidence: dict | None = None) -> tuple[dict, str]:
    """``(changed options, what and why)`` for a finding, given the run's TrainConfig and
    (optionally) the diagnosis's numbers (``update_ratio_median``)."""
    evidence = evidence or {}
    raw_init = cfg.init.startswith(("normal", "uniform"))
    if finding_id == "divergence":
        ch = {"lr": _lower_lr(cfg)}
        if raw_init:
            ch["init"] = _scaled_init(cfg)
        return ch, f"lower the learning rate to {ch['lr']:g}" + (" and use a scaled init" if raw_init else "")
    if finding_id == "exploding-gradient":
        return {"init": _scaled_init(cfg)}, f"{_scaled_init(cfg)} initialization instead of {cfg.init}"
    if finding_id == "vanishing-gradient":
        return {"activation": "relu", "init": "he"}, "ReLU with He initialization instead of " + cfg.activation
    if finding_id == "dead-units":
        if evidence.get("update_ratio_median", 0.0) > 1e-2:   # 10x Karpathy's ~1e-3: steps too large
            return ({"activation": "leaky_relu", "init": "he", "lr": _lower_lr(cfg)},
                    (f"Leaky ReLU with He init, and the learning rate lowered to {_lower_lr(cfg):g} (the large "
                    "steps killed the units)"))
        return {"activation": "leaky_relu", "init": "he"}, "Leaky ReLU (no unit loses its gradient) with He init"
    if finding_id == "saturated-units":
        if cfg.activation in _SQUASHING:
            return {"init": "glorot"}, "Glorot initialization (keeps pre-activations in the non-saturated range)"
        return {"activation": "relu", "init": "he"}, "ReLU with He initialization"
    if finding_id == "lr-too-high":
        return {"lr": _lower_lr(cfg)}, f"lower the learning rate to {_lower_lr(cfg):g}"
    if finding_id == "lr-too-low":
        return {"lr": cfg.lr * 10}, "raise the learning rate 10x"
    if finding_id == "plateau-large-gradient":
        return {"optimizer": "adam", "lr": 1e-3, "momentum": 0.0}, "Adam (an adaptive learning rate per parameter)"
    if finding_id == "saddle-point":
        return ({"init": _scaled_init(cfg), "optimizer": "adam", "lr": 1e-3, "momentum": 0.0},
                f"{_scaled_init(cfg)} initialization away from the origin's saddle, and Adam")
    if finding_id == "underfitting":
        return {"model": _bigger(cfg.model)}, "a more expressive model (model bias)"
    if finding_id == "overfitting":
        return ({"patience": 2, "weight_decay": max(cfg.weight_decay, 1e-4)},
                "early stopping on val_loss (best weights restored) and weight decay")
    if finding_id == "unnormalized-input":
        return {"standardize": True}, "standardize the inputs"
    raise ValueError(f"no prescription for finding {finding_id!r}")


def _defining(finding) -> tuple[str, float]:
    k = next(iter(finding.evidence))
    return k, float(finding.evidence[k])


def treat(run_dir, finding_id: str | None = None, out: str | None = None, progress: str = "none") -> dict:
    """Treat the run in ``run_dir`` for ``finding_id`` (default: its most severe finding).

    Returns a dict: ``finding``, ``prescription`` (text), ``changes`` (options), ``treated_dir``,
    ``before``/``after`` (``{signal, value, val_accuracy, findings}``) and ``cured`` (the
    finding is gone from the treated run's diagnosis and no error finding took its place).
    ``None`` when the run is healthy.
    """
    from ..train.config import TrainConfig, validate
    from ..train.job import run
    sig = from_run_dir(run_dir)
    before = diagnose(sig)
    if finding_id is None:
        top = before.most_severe()
        if top is None:
            return None
        finding_id = top.id
    finding = next((f for f in before.findings if f.id == finding_id), None)
    fields = set(TrainConfig.field_names())
    cfg = TrainConfig(**{k: v for k, v in sig.config.items() if k in fields})
    from . import rules as R
    changes, why = prescription(finding_id, cfg, {"update_ratio_median": R.update_ratio_median(sig)})
    out = out or os.path.normpath(os.fspath(run_dir)) + f"-treated-{finding_id}"
    if os.path.abspath(out) == os.path.abspath(run_dir):
        raise ValueError("the treated run must not be written over the original run")
    new = validate(dataclasses.replace(cfg, **changes, out=out, overwrite=os.path.exists(out), resume=False,
                                       progress=progress, doctor="off"))
    run(new)
    after = diagnose(out)
    key, value = _defining(finding) if finding is not None else ("", math.nan)
    f_after = next((f for f in after.findings if f.id == finding_id and f.severity != "info"), None)
    after_value = float(f_after.evidence.get(key, math.nan)) if f_after is not None else _signal_value(after, key)

    def acc(d):
        v = d.signals.get("val_accuracy")
        return float(v[-1]) if v.size else math.nan
    return {"finding": finding_id, "prescription": why, "changes": changes, "treated_dir": out,
            "before": {"signal": key, "value": value, "val_accuracy": acc(before), "findings": before.ids},
            "after": {"signal": key, "value": after_value, "val_accuracy": acc(after), "findings": after.ids},
            "cured": f_after is None and not any(f.severity == "error" for f in after.findings)}


def _signal_value(d, key: str) -> float:
    """The defining signal measured on a run where the finding no longer fires (by running
    the rule's computation without its threshold where the doctor can)."""
    from . import rules as R
    s = d.signals
    table = {
        "final_train_loss": lambda: R._last(s.get("loss")),
        "grad_norm_at_init": lambda: R.first_step_grad(s)[0],
        "first_over_last_layer": lambda: R._median(R.grad_ratio_by_epoch(s)),
        "dead_fraction_worst_layer": lambda: max([R._last(v) for v in s.layers("act_dead").values()] or [math.nan]),
        "saturated_fraction_worst_layer": lambda: max([R._median(v) for v in s.layers("act_saturated").values()]
                                                      or [math.nan]),
        "loss_rise_fraction": lambda: R.loss_rises(s),
        "update_ratio_median": lambda: R.update_ratio_median(s),
        "grad_norm_last_epoch": lambda: R._last(s.get("grad_norm")),
        "second_half_drop": lambda: R.second_half_drop(s),
        "second_over_first_half_best_loss": lambda: R.stuck(s),
        "train_loss_over_chance": lambda: R.loss_ratio(s),
        "val_rise": lambda: _val_rise(s),
        "abs_feature_mean_max": lambda: float(s.inputs.get("abs_feature_mean_max", math.nan)),
    }
    return float(table.get(key, lambda: math.nan)())


def _val_rise(s) -> float:
    import numpy as np
    vl = s.get("val_loss")
    if not np.isfinite(vl).any():
        return math.nan
    best = float(np.nanmin(vl))
    return (float(vl[np.isfinite(vl)][-1]) - best) / max(abs(best), 1e-12)
