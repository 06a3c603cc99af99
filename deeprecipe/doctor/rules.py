"""The Recipe's rules: one function per finding, each reading measured series.

The lectures' "Recipe of Deep Learning" (seeds 000, 001; seed 004 L3) asks two questions
in order: *is the training loss good?*  If not, it is either **model bias** (the model
cannot express a good function: make it bigger) or an **optimization** problem (it could,
but training does not find it: vanishing gradients, saturation, dead units, the learning
rate, saddle points and plateaus).  *Then*, if training is good but validation is bad:
**overfitting**.  Each rule below belongs to one step of that flowchart (``STEP``).

Every rule documents its signal, its threshold and why, and its advice; the thresholds
are module constants (fixed from the reasoning written beside them before the zoo of sick
runs was built; see ``benchmarks/doctor_zoo.py`` for how they were checked).

Conventions: ``L`` is the per-epoch training loss, ``C`` the number of classes and
``ln C`` the cross-entropy of a uniform guess, so ``L / ln C`` is a scale-free "how much
of the chance-level loss is left" (1: nothing learned; a healthy Fashion-MNIST MLP ends
near 0.13, digits near 0.03).  Per-layer series are in model order, input side first.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np

from .signals import Signals

ERROR, WARNING, INFO = "error", "warning", "info"
SEVERITIES = (ERROR, WARNING, INFO)

TRAINING = "1. training loss bad -> optimization"
MODEL_BIAS = "1. training loss bad -> model bias"
VALIDATION = "2. training good, validation bad"
INPUT = "0. the data going in"

# ---------------------------------------------------------------- thresholds (and why)
#: divergence: final training loss above this many times ln C *and* above the loss at
#: initialization (the first recorded mini-batch loss; else the first epoch's): a classifier
#: that has learned anything sits below ln C; 3x means confident, wrong predictions from
#: weights that blew up during training.  Any non-finite loss is divergence too.
DIVERGED_LOSS = 3.0
#: exploding gradient: global gradient norm of the first recorded step (the initialization,
#: before any update) above this.  Cross-entropy's gradient w.r.t. the logits has norm
#: <= sqrt(2) per example, so a norm of 100 means layers amplify it 100x on the way back:
#: weights or activations far too large (He/Glorot inits give norms of order 1).
EXPLODING_NORM = 100.0
#: ... or per-layer gradient norms growing toward the input by this factor at that step.
EXPLODING_RATIO = 100.0
#: vanishing gradient: first layer's gradient norm / last layer's, median over the epochs,
#: below this (the input side learns 100x slower than the output side: seed 000's picture
#: of deep sigmoid nets).  Needs >= 3 layers with parameters.
VANISHING_RATIO = 1e-2
#: dead units: fraction of a hidden layer's units with no gradient on the probe batch, at
#: the last epoch.  Half the layer lost means half its capacity is gone for good (ReLU).
DEAD_FRACTION = 0.5
#: saturated units: fraction of a layer's outputs where the derivative is < 0.01, mean over
#: the run.  Beyond half, most of the backward signal through the layer is cut by 100x.
SATURATED_FRACTION = 0.5
#: the training loss is "not good" above this fraction of ln C (model bias, plateaus).
HIGH_LOSS = 0.4
#: ... and "stuck at chance" above this fraction (saddle points near the origin).
CHANCE_LOSS = 0.8
#: "flat": the training loss fell by less than this fraction over the run's second half.
FLAT = 0.05
#: lr too high: update/weight ratio ||dW||/||W|| per step, median over layers and epochs,
#: above this (Karpathy's rule of thumb is ~1e-3; 5% per step rewrites the weights in 20 steps).
UPDATE_RATIO_HIGH = 0.05
#: ... or the training loss rose (by > 2%) in at least this fraction of epoch transitions.
LOSS_RISES = 1 / 3
#: lr too low: median update/weight ratio below this (10x below ~1e-3's healthy pace).
UPDATE_RATIO_LOW = 1e-4
#: lr too high, second sign: the final training loss this much (relative) above its minimum
#: over the epochs (the loss went back up: steps overshoot).
REBOUND = 0.10
#: saddle point: the global gradient norm (mean over the last epoch) below this while the
#: loss stays near chance: no direction to go, though the loss is not low.  (Mini-batch
#: noise keeps the output bias's gradient near 0.05 even at a critical point, hence also:)
SMALL_GRAD = 1e-2
#: ... or every hidden activation's std over the probe batch below this: every unit outputs
#: ~the same value for every input, the network sits at the symmetric critical point around
#: the origin (tiny weights), where the gradient of every hidden layer is ~0.
COLLAPSED_STD = 1e-2
#: plateau with a large gradient: the median gradient norm over the second half of the run
#: at least this fraction of the first half's (it did not shrink as it does when settling
#: into a minimum), while the second half found no lower loss than the first (STUCK).
GRAD_KEPT = 0.5
#: "stuck": the best training loss of the second half is not below this fraction of the
#: best of the first half (no new progress, whether the loss is flat or bouncing).
STUCK = 0.95
#: overfitting: validation loss this much (relative) above its minimum at the end...
VAL_RISE = 0.10
#: ... while the training loss fell by at least this much (relative) after that minimum.
TRAIN_FALL = 0.10
#: unnormalized input: largest |feature mean| or feature std above this.  He/Glorot inits
#: assume unit-scale inputs; 5x that scales the first layer's pre-activations by 5x.
INPUT_SCALE = 5.0


@dataclass
class Finding:
    """One diagnosis: an ``id`` of :data:`FINDING_IDS`, its severity, the numbers that show
    it (``evidence``: name -> number) and the Recipe's advice."""

    id: str
    severity: str
    evidence: dict
    advice: str
    summary: str = ""
    step: str = ""
    since_epoch: int | None = None

    def to_dict(self) -> dict:
        """JSON-ready: evidence values are finite numbers (an unmeasured NaN is left out, an
        infinite value, e.g. a loss that overflowed, becomes the largest float)."""
        ev = {k: float(v) for k, v in self.evidence.items() if not math.isnan(float(v))}
        ev = {k: v if math.isfinite(v) else math.copysign(sys.float_info.max, v) for k, v in ev.items()}
        return {"id": self.id, "severity": self.severity, "evidence": ev, "advice": self.advice}


# ---------------------------------------------------------------- helpers
def _finite(a) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return a[np.isfinite(a)]


def _last(a, default=math.nan) -> float:
    f = _finite(a)
    return float(f[-1]) if f.size else default


def _median(a, default=math.nan) -> float:
    f = _finite(a)
    return float(np.median(f)) if f.size else default


def loss_ratio(sig: Signals) -> float:
    """Final training loss / ln C."""
    return _last(sig.get("loss")) / sig.chance_loss


def second_half_drop(sig: Signals) -> float:
    """Relative fall of the training loss over the second half of the run (NaN if < 3 epochs)."""
    L = sig.get("loss")
    if len(L) < 3 or not np.isfinite(L).all():
        return math.nan
    h = len(L) // 2
    return float((L[h - 1] - L[-1]) / max(abs(L[h - 1]), 1e-12))


def _ordered_layers(sig: Signals, quantity: str) -> list:
    return list(sig.layers(quantity).items())


def grad_ratio_by_epoch(sig: Signals) -> np.ndarray:
    """First layer's gradient norm / last layer's, per epoch."""
    layers = _ordered_layers(sig, "grad_norm")
    if len(layers) < 3:
        return np.full(sig.epochs, math.nan)
    first, last = layers[0][1], layers[-1][1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return first / last


def update_ratio_median(sig: Signals) -> float:
    vals = [v for _, v in _ordered_layers(sig, "update_ratio")]
    return _median(np.concatenate(vals)) if vals else math.nan


def first_step_grad(sig: Signals):
    """(global gradient norm, first/last layer ratio) at the first recorded step."""
    _steps, g = sig.step_series("grad_norm")
    g0 = float(g[0]) if g.size else float(sig.get("grad_norm")[0]) if sig.epochs else math.nan
    ratio = math.nan
    layers = [k for k in sig.steps if k.startswith("grad_norm/")]
    if len(layers) >= 3:
        a, b = sig.steps[layers[0]][1], sig.steps[layers[-1]][1]
        if a.size and b.size and b[0] > 0:
            ratio = float(a[0] / b[0])
    elif len(_ordered_layers(sig, "grad_norm")) >= 3:
        r = grad_ratio_by_epoch(sig)
        ratio = float(r[0]) if r.size else math.nan
    return g0, ratio


# ---------------------------------------------------------------- the rules
def divergence(sig: Signals):
    L = sig.get("loss")
    vl = sig.get("val_loss")
    _, bl = sig.step_series("batch_loss")
    nonfinite = (~np.isfinite(L[~np.isnan(L)])).any() if L.size else False
    nan_epochs = bool(np.isnan(L).any() and sig.epochs > 0)
    nonfinite = nonfinite or nan_epochs or (bl.size and not np.isfinite(bl).all())
    # TerminateOnNaN's reason (the History keeps it; the NaN epoch itself may not be recorded)
    nonfinite = nonfinite or bool(sig.stop_reason and sig.stop_reason.startswith("TerminateOnNaN"))
    first, last = (float(L[0]) if L.size else math.nan), _last(L)
    init = float(bl[0]) if bl.size and np.isfinite(bl[0]) else first
    rose = last > DIVERGED_LOSS * sig.chance_loss and last > init
    if not (nonfinite or rose):
        return None
    bad_epoch = next((i for i, v in enumerate(L) if not np.isfinite(v)), None)
    ev = {"final_train_loss": last if not nonfinite else math.inf, "loss_at_init": init,
          "chance_loss": sig.chance_loss, "nonfinite": float(bool(nonfinite))}
    if np.isfinite(vl).any():
        ev["final_val_loss"] = _last(vl)
    return Finding("divergence", ERROR, ev,
                   "Lower the learning rate (10x) or add warm-up; clip gradients if spikes remain. "
                   "The loss blew up, so no other reading of this run can be trusted.",
                   "the training loss blew up" + (" to NaN/inf" if nonfinite else " above 3x chance"),
                   TRAINING, bad_epoch)


def exploding_gradient(sig: Signals):
    g0, ratio = first_step_grad(sig)
    gmax = float(np.nanmax(sig.step_series("grad_norm")[1])) if sig.step_series("grad_norm")[1].size \
        and np.isfinite(sig.step_series("grad_norm")[1]).any() else _median(sig.get("grad_norm"))
    if not (g0 > EXPLODING_NORM or ratio > EXPLODING_RATIO):
        return None
    return Finding("exploding-gradient", ERROR,
                   {"grad_norm_at_init": g0, "first_over_last_layer_at_init": ratio, "grad_norm_max": gmax},
                   "Use a scaled initialization (He for ReLU, Glorot for tanh/sigmoid) instead of large "
                   "weights, add batch normalization, or clip the gradient norm.",
                   "gradients are huge from the first step", TRAINING, 0)


def vanishing_gradient(sig: Signals):
    r = grad_ratio_by_epoch(sig)
    med = _median(r)
    if not med < VANISHING_RATIO:
        return None
    layers = _ordered_layers(sig, "grad_norm")
    return Finding("vanishing-gradient", ERROR,
                   {"first_over_last_layer": med, "first_layer_grad": _median(layers[0][1]),
                    "last_layer_grad": _median(layers[-1][1]), "layers": float(len(layers)),
                    "train_loss_over_chance": loss_ratio(sig)},
                   "Replace sigmoid/tanh with ReLU (or a variant), use He initialization, add batch "
                   "normalization or residual connections (seed 000: the layers near the input learn "
                   "slowly while the output layers are already done).",
                   "the layers near the input get 100x less gradient than the output layer", TRAINING, 0)


def _worst_layer(sig: Signals, quantity: str, summary):
    """``(layer, value, mean over layers, values)`` of the layer with the largest ``summary``
    (last or median over epochs) of a per-layer fraction; ``None`` when it was not recorded."""
    layers = [(k, summary(v)) for k, v in _ordered_layers(sig, quantity)]
    layers = [(k, v) for k, v in layers if np.isfinite(v)]
    if not layers:
        return None
    worst, frac = max(layers, key=lambda kv: kv[1])
    values = [v for _, v in layers]
    return worst, frac, float(np.mean(values)), values


def dead_units(sig: Signals):
    w = _worst_layer(sig, "act_dead", _last)
    if w is None or not w[1] >= DEAD_FRACTION:
        return None
    worst, frac, mean, values = w
    return Finding("dead-units", ERROR if frac >= 0.99 else WARNING,
                   {"dead_fraction_worst_layer": frac, "dead_fraction_mean": mean,
                    "layers_over_half_dead": float(sum(v >= DEAD_FRACTION for v in values))},
                   "Lower the learning rate (large steps push ReLU units to never fire again), use Leaky "
                   "ReLU/ELU, or He initialization with zero biases.",
                   f"{frac:.0%} of the units of layer {worst} get no gradient", TRAINING)


def saturated_units(sig: Signals):
    w = _worst_layer(sig, "act_saturated", _median)
    if w is None or not w[1] >= SATURATED_FRACTION:
        return None
    worst, frac, mean, _ = w
    return Finding("saturated-units", WARNING,
                   {"saturated_fraction_worst_layer": frac, "saturated_fraction_mean": mean},
                   "Scale the initialization down (Glorot for sigmoid/tanh), normalize the inputs, add "
                   "batch normalization before the activation, or use ReLU.",
                   f"{frac:.0%} of layer {worst}'s outputs sit where the derivative is ~0", TRAINING)


def loss_rises(sig: Signals) -> float:
    """Fraction of epoch-to-epoch transitions where the training loss rose by more than 2%
    (0 with fewer than 4 epochs: too few to call a pattern)."""
    f = _finite(sig.get("loss"))
    return float(np.mean(np.diff(f) > 0.02 * np.abs(f[:-1]))) if f.size >= 4 else 0.0


def rebound(sig: Signals) -> float:
    """Final training loss relative to its minimum over the epochs, minus 1."""
    f = _finite(sig.get("loss"))
    return float(f[-1] / f.min() - 1) if f.size >= 3 and f.min() > 0 else 0.0


def lr_too_high(sig: Signals):
    rises, back = loss_rises(sig), rebound(sig)
    upd = update_ratio_median(sig)
    unstable = rises >= LOSS_RISES or back > REBOUND
    if not (unstable or upd > UPDATE_RATIO_HIGH):
        return None
    if loss_ratio(sig) < 0.05 and not upd > UPDATE_RATIO_HIGH:
        return None  # tiny wiggles of an already near-zero loss
    return Finding("lr-too-high", WARNING,
                   {"update_ratio_median": upd, "loss_rise_fraction": rises, "loss_rebound": back,
                    "train_loss_over_chance": loss_ratio(sig)},
                   "Lower the learning rate (3-10x), add warm-up or a decaying schedule, or use an "
                   "adaptive optimizer (Adam).",
                   "the loss is unstable / each step rewrites the weights too much", TRAINING)


def lr_too_low(sig: Signals):
    upd = update_ratio_median(sig)
    if not upd < UPDATE_RATIO_LOW:
        return None
    if not loss_ratio(sig) > HIGH_LOSS:
        return None
    return Finding("lr-too-low", WARNING,
                   {"update_ratio_median": upd, "train_loss_over_chance": loss_ratio(sig),
                    "second_half_drop": second_half_drop(sig)},
                   "Raise the learning rate (10x), or use Adam; the loss would keep falling but each "
                   "step barely moves the weights.",
                   "the weights barely move and the loss is still high", TRAINING)


def activation_spread(sig: Signals) -> float:
    """Largest (over activation modules) std of the activations on the probe batch, last epoch."""
    stds = [_last(v) for v in sig.layers("act_std").values()]
    stds = [v for v in stds if math.isfinite(v)]
    return max(stds) if stds else math.nan


def saddle_point(sig: Signals):
    g = _last(sig.get("grad_norm"))
    lr = loss_ratio(sig)
    drop = second_half_drop(sig)
    spread = activation_spread(sig)
    if not (lr > CHANCE_LOSS and (g < SMALL_GRAD or spread < COLLAPSED_STD) and not drop > FLAT):
        return None
    ev = {"grad_norm_last_epoch": g, "activation_std_max": spread, "train_loss_over_chance": lr,
          "second_half_drop": drop}
    if "hessian_min_eigenvalue" in sig.inputs:
        ev["hessian_min_eigenvalue"] = sig.inputs["hessian_min_eigenvalue"]
    return Finding("saddle-point", WARNING, ev,
                   "Stuck where the gradient is ~0 but the loss is at chance: a critical point (seed "
                   "004 L4; near the origin of a too-small initialization it is a saddle). Use a "
                   "scaled init (He/Glorot), momentum or Adam, or smaller batches whose noise escapes it.",
                   "the gradient is ~0 while the loss stays at chance", TRAINING)


def stuck(sig: Signals) -> float:
    """Best training loss of the run's second half / best of its first half (NaN if < 4 epochs)."""
    L = sig.get("loss")
    if len(L) < 4 or not np.isfinite(L).all():
        return math.nan
    h = len(L) // 2
    return float(L[h:].min() / max(L[:h].min(), 1e-12))


def plateau_large_gradient(sig: Signals):
    G = sig.get("grad_norm")
    h = len(G) // 2
    g_first, g_second = _median(G[:h]), _median(G[h:])
    lr = loss_ratio(sig)
    progress = stuck(sig)
    kept = g_second / g_first if g_first > 0 else math.nan
    upd = update_ratio_median(sig)
    if not (lr > HIGH_LOSS and progress >= STUCK and kept >= GRAD_KEPT and g_second >= SMALL_GRAD):
        return None
    if activation_spread(sig) < COLLAPSED_STD:
        return None  # the gradient is the output bias's noise around a collapsed network: a saddle
    return Finding("plateau-large-gradient", WARNING,
                   {"second_over_first_half_best_loss": progress, "grad_norm_first_half": g_first,
                    "grad_norm_second_half": g_second, "update_ratio_median": upd, "train_loss_over_chance": lr},
                   "Training is stuck although the gradient is not small (seed 004: training stuck != "
                   "small gradient; the steps bounce between the walls of a valley). Use an adaptive "
                   "learning rate (Adam/RMSProp), momentum, or a smaller learning rate.",
                   "the loss is flat while the gradient stays large", TRAINING)


def underfitting(sig: Signals):
    lr = loss_ratio(sig)
    if not lr > HIGH_LOSS:
        return None
    return Finding("underfitting", WARNING,
                   {"train_loss_over_chance": lr, "final_train_loss": _last(sig.get("loss")),
                    "final_train_accuracy": _last(sig.get("accuracy")), "second_half_drop": second_half_drop(sig)},
                   "Model bias: the training loss stays high while optimization looks healthy. Make the "
                   "model more expressive (wider/deeper layers, better features) before any "
                   "regularization (seed 004 L3).",
                   "the training loss stays high", MODEL_BIAS)


def overfitting(sig: Signals):
    vl, L = sig.get("val_loss"), sig.get("loss")
    if not np.isfinite(vl).sum() >= 3:
        return None
    best = int(np.nanargmin(vl))
    v_best, v_last = float(vl[best]), _last(vl)
    rise = (v_last - v_best) / max(abs(v_best), 1e-12)
    after = L[best:]
    fall = (float(after[0]) - _last(after)) / max(abs(float(after[0])), 1e-12) if after.size else 0.0
    if not (rise >= VAL_RISE and fall >= TRAIN_FALL):
        return None
    ev = {"val_rise": rise, "best_val_epoch": float(best), "val_loss_best": v_best, "val_loss_last": v_last,
          "train_fall_after_best": fall}
    acc, vacc = _last(sig.get("accuracy")), _last(sig.get("val_accuracy"))
    if np.isfinite(acc) and np.isfinite(vacc):
        ev["accuracy_gap"] = acc - vacc
    handled = int(sig.config.get("patience", 0) or 0) > 0   # early stopping restored the best weights
    return Finding("overfitting", INFO if handled else WARNING, ev,
                   f"Overfitting from epoch {best}: stop there (early stopping on val_loss), add weight "
                   "decay or dropout, get more data or a more constrained model.",
                   f"validation loss rose {rise:.0%} after epoch {best} while training loss kept falling"
                   + (" (handled: early stopping restored the weights of that epoch)" if handled else ""),
                   VALIDATION, best)


def unnormalized_input(sig: Signals):
    inp = sig.inputs or {}
    m, s = inp.get("abs_feature_mean_max"), inp.get("feature_std_max")
    if m is None or s is None:
        return None
    if not (m > INPUT_SCALE or s > INPUT_SCALE):
        return None
    return Finding("unnormalized-input", WARNING,
                   {"abs_feature_mean_max": m, "feature_std_max": s, "input_min": inp.get("min", math.nan),
                    "input_max": inp.get("max", math.nan)},
                   "Standardize each feature (subtract the training mean, divide by the std) or scale "
                   "pixels to [0, 1]; inits and learning rates assume unit-scale inputs (seed 004 L8).",
                   "the input features are far from unit scale", INPUT)


@dataclass(frozen=True)
class Rule:
    id: str
    check: object
    step: str


RULES = (
    Rule("divergence", divergence, TRAINING),
    Rule("exploding-gradient", exploding_gradient, TRAINING),
    Rule("vanishing-gradient", vanishing_gradient, TRAINING),
    Rule("dead-units", dead_units, TRAINING),
    Rule("saturated-units", saturated_units, TRAINING),
    Rule("lr-too-high", lr_too_high, TRAINING),
    Rule("lr-too-low", lr_too_low, TRAINING),
    Rule("plateau-large-gradient", plateau_large_gradient, TRAINING),
    Rule("saddle-point", saddle_point, TRAINING),
    Rule("underfitting", underfitting, MODEL_BIAS),
    Rule("overfitting", overfitting, VALIDATION),
    Rule("unnormalized-input", unnormalized_input, INPUT),
)
FINDING_IDS = tuple(r.id for r in RULES)
