"""The optimization experiments (seed 002, 004 L5–L6): the test preset runs end to end, each
verdict follows hand-made metrics — "holds" for supporting ones, "does not hold" for
contradicting ones, "inconclusive" when the interval straddles the threshold (or a sanity
check fails) — and every registered experiment has an end-to-end test somewhere in tests/lab."""
import importlib
import pkgutil

import numpy as np
import pytest

import tests.lab as lab_tests
from deeprecipe.lab import DOES_NOT_HOLD, HOLDS, INCONCLUSIVE, Results, registry
from deeprecipe.lab.experiments import (
    _optim_common, adam_big_gradient, adaptive_lr_burst, curriculum, decoupled_decay, lr_schedules, nesterov,
    shuffling,
)
from deeprecipe.lab.runner import load_results
from deeprecipe.lab.storage import experiment_dir
from deeprecipe.lab.rules import check_value

from .helpers import run_test_preset

OPTIM = ["adam-vs-sgdm", "adam-big-gradient", "warmup", "lr-schedules", "lookahead", "nesterov", "gradient-noise",
         "adaptive-lr-burst", "decoupled-decay", "shuffling", "curriculum", "fine-tuning"]
TIGHT = np.array([-0.004, 0.0, 0.004])      # small seed-to-seed noise: a tight, finite interval
WIDE = np.array([0.3, -0.25, 0.0])          # large noise: an interval across any small threshold


def _verdict(exp_id, runs, config=None):
    return registry.get(exp_id).verdict(Results.from_metrics(runs, config=config or {}))


# ----------------------------------------------------------------------------- end to end
@pytest.mark.parametrize("exp_id", OPTIM)
def test_test_preset_runs_end_to_end(exp_id, tmp_path):
    o = run_test_preset(exp_id, tmp_path)
    _, results, failed = load_results(experiment_dir(tmp_path, exp_id), exp_id)
    assert not failed and results.n == registry.get(exp_id).n_seeds("test")
    again = registry.get(exp_id).verdict(results)       # recomputed from the saved metrics
    assert again.verdict == o.verdict.verdict and again.numbers == o.verdict.numbers


def _end_to_end_ids() -> set:
    """The ids every ``test_test_preset_runs_end_to_end`` in tests/lab is parametrized with."""
    covered = set()
    for info in pkgutil.iter_modules(lab_tests.__path__):
        if not info.name.startswith("test_"):
            continue
        fn = getattr(importlib.import_module(f"tests.lab.{info.name}"), "test_test_preset_runs_end_to_end", None)
        for mark in getattr(fn, "pytestmark", []):
            if mark.name == "parametrize" and mark.args[0] == "exp_id":
                covered |= set(mark.args[1])
    return covered


def test_every_registered_experiment_has_an_end_to_end_test():
    assert not registry.broken(), registry.broken()
    missing = sorted(set(registry.ids()) - _end_to_end_ids())
    assert not missing, (f"experiments without an end-to-end test of their test preset: {missing}; add them to "
                         "a test_test_preset_runs_end_to_end parametrization in tests/lab")


def test_new_experiments_follow_claims_order_and_presets():
    for exp_id in OPTIM:
        exp = registry.get(exp_id)
        assert exp_id in registry.CLAIMS_ORDER
        assert exp.n_seeds("full") >= exp.n_seeds("quick") >= 1
        if exp_id != "adam-big-gradient":        # arithmetic: one seed is exact
            assert exp.n_seeds("quick") >= 3
    note = adam_big_gradient.EXPERIMENT.config("full")
    assert (note["n_small"], note["spike"], note["beta2"]) == (1000, 1e5, 0.999)
    noise = registry.get("gradient-noise").config("full")
    assert (noise["hidden"], noise["init_std"], noise["gamma"]) == ([50] * 20, 0.1, 0.55)


# ----------------------------------------------------------------------------- shared helpers
def test_best_of_grid_picks_on_validation_and_never_a_diverged_run():
    scores = {0.1: 0.5, 0.3: float("nan"), 1.0: 0.7}
    out = _optim_common.best_of_grid(lambda lr: {"final": {"val_acc": scores[lr]}, "tag": lr}, [0.1, 0.3, 1.0])
    assert out["best"] == 1.0 and out["tag"] == 1.0 and out["best_index"] == 2
    np.testing.assert_array_equal(out["grid"], [0.1, 0.3, 1.0])
    low = _optim_common.best_of_grid(lambda lr: {"final": {"val_loss": scores[lr]}}, [0.1, 0.3, 1.0],
                                     score="val_loss", higher=False)
    assert low["best"] == 0.1


def test_a_failed_sanity_check_makes_the_verdict_inconclusive():
    ok = check_value("x", 1.0, ">", 0.0)
    v = _optim_common.verdict_with_sanity([ok], [check_value("identity error", 0.0, "<=", 1e-12)], "rule")
    assert v.verdict == HOLDS and "sanity: identity error" in v.numbers
    v = _optim_common.verdict_with_sanity([ok], [check_value("identity error", 1e-3, "<=", 1e-12)], "rule")
    assert v.verdict == INCONCLUSIVE and "[FAILED] identity error" in v.rule


# ----------------------------------------------------------------------------- adam-big-gradient
def _abg(spike_over_bound=0.8, ams_last=3e-4, adam_last=0.99, err=1e-12, lr=1e-3):
    bound = lr / np.sqrt(1 - 0.999)
    run = {"bound": bound, "spike_index": 1000}
    for b1, scale in ((0.0, 1.0), (0.9, 0.1)):
        for ams in (False, True):
            run[adam_big_gradient.arm_key(b1, ams)] = {
                "spike_step": spike_over_bound * scale * bound, "last_step": (ams_last if ams else adam_last) * lr,
                "closed_form_rel_err": err, "v_monotone": True}
    return [run], {"lr": lr, "beta1s": [0.0, 0.9]}


def test_adam_big_gradient_closed_form_matches_the_library():
    g = adam_big_gradient.gradients(50, 1e4, 20)
    for ams in (False, True):
        lib, _ = adam_big_gradient.library_steps(g, 1e-3, 0.0, 0.999, ams)
        ref = adam_big_gradient.closed_form_steps(g, 1e-3, 0.0, 0.999, ams)
        np.testing.assert_allclose(lib, ref, rtol=1e-6)
        assert lib[50] < 1e-3 / np.sqrt(1 - 0.999)            # the note's bound, at the spike


def test_adam_big_gradient_verdict():
    assert _verdict("adam-big-gradient", *_abg()).verdict == HOLDS
    assert _verdict("adam-big-gradient", *_abg(spike_over_bound=3.0)).verdict == DOES_NOT_HOLD   # above the bound
    assert _verdict("adam-big-gradient", *_abg(ams_last=0.5)).verdict == DOES_NOT_HOLD          # AMSGrad recovered
    # arithmetic has no interval: a wrong library (closed form not matched) leaves it undecided
    assert _verdict("adam-big-gradient", *_abg(err=1e-2)).verdict == INCONCLUSIVE
    assert _verdict("adam-big-gradient", *_abg(spike_over_bound=float("nan"))).verdict == INCONCLUSIVE


# ----------------------------------------------------------------------------- adaptive-lr-burst
def _burst(ratio_log10=2.0, decay_log10=-2.0, quiet=1e-4, noise=TIGHT):
    runs = []
    for j in noise:
        r = {}
        for name in adaptive_lr_burst.OPTIMIZERS:
            big = 10 ** (ratio_log10 + j)
            r[f"{name}_constant"] = {"late_max": big, "late_median": 1.0, "quiet_grad_ratio": quiet, "late_argmax": 10}
            r[f"{name}_decay"] = {"late_max": big * 10 ** decay_log10, "late_median": 1.0, "quiet_grad_ratio": quiet,
                                  "late_argmax": 10}
        runs.append(r)
    return runs


def test_adaptive_lr_burst_verdict():
    assert _verdict("adaptive-lr-burst", _burst()).verdict == HOLDS
    assert _verdict("adaptive-lr-burst", _burst(ratio_log10=0.1)).verdict == DOES_NOT_HOLD      # no burst
    assert _verdict("adaptive-lr-burst", _burst(decay_log10=0.0)).verdict == DOES_NOT_HOLD      # decay does not tame
    assert _verdict("adaptive-lr-burst", _burst(ratio_log10=1.0, noise=WIDE * 3)).verdict == INCONCLUSIVE


def test_adaptive_lr_burst_mean_form_bursts_and_decay_tames_it():
    cfg = dict(adaptive_lr_burst.EXPERIMENT.config("quick"))
    path, grads = adaptive_lr_burst.trajectory("adagrad", cfg, decay=False, seed=0)
    s = adaptive_lr_burst.burst_stats(path, grads, 100)
    path_d, grads_d = adaptive_lr_burst.trajectory("adagrad", cfg, decay=True, seed=0)
    assert adaptive_lr_burst.burst_stats(path_d, grads_d, 100)["late_max"] < s["late_max"]


# ----------------------------------------------------------------------------- shuffling / curriculum
def _arms(names, values, noise=TIGHT, extra=None):
    """Runs where ``values[arm]`` (a dict of dotted metric -> number) gets the seed's noise added."""
    runs = []
    for j in noise:
        r = {}
        for arm in names:
            d = {"best": 0.01}
            for key, v in values[arm].items():
                node = d
                parts = key.split(".")
                for part in parts[:-1]:
                    node = node.setdefault(part, {})
                node[parts[-1]] = v + j
            r[arm] = d
        r.update(extra or {})
        runs.append(r)
    return runs


def test_shuffling_verdict():
    def runs(acc_sorted, osc_sorted, noise=TIGHT):
        vals = {"shuffled": {"final.test_acc": 0.8, "oscillation": 0.1},
                "once": {"final.test_acc": 0.79, "oscillation": 0.1},
                "sorted": {"final.test_acc": acc_sorted, "oscillation": osc_sorted}}
        return _arms(shuffling.ARMS, vals, noise)
    assert _verdict("shuffling", runs(0.4, 0.3)).verdict == HOLDS
    assert _verdict("shuffling", runs(0.85, 0.3)).verdict == DOES_NOT_HOLD       # sorted is better
    assert _verdict("shuffling", runs(0.4, 0.05)).verdict == DOES_NOT_HOLD       # sorted oscillates less
    noisy = runs(0.8, 0.3)
    for r, j in zip(noisy, WIDE):
        r["sorted"]["final"]["test_acc"] += j
    assert _verdict("shuffling", noisy).verdict == INCONCLUSIVE


def test_shuffling_orders():
    from deeprecipe.lab.data import image_data
    d = image_data("synthetic", n_train=50, n_test=10, seed=0)
    s = shuffling.ordered(d, "sorted", 0)
    assert np.all(np.diff(s.y_train) >= 0) and sorted(s.y_train) == sorted(d.y_train)
    assert shuffling.ordered(d, "shuffled", 0) is d
    assert shuffling.oscillation([1.0, 3.0, 2.0]) == 1.5


def test_curriculum_verdict_and_helpers():
    def runs(delta, noise=TIGHT):
        return _arms(curriculum.ARMS, {"curriculum": {"final.test_acc": 0.75 + delta},
                                       "random": {"final.test_acc": 0.75}}, noise, {"noisy_share": 0.4})
    assert _verdict("curriculum", runs(0.03)).verdict == HOLDS
    assert _verdict("curriculum", runs(-0.03)).verdict == DOES_NOT_HOLD
    r = runs(0.0)
    for x, j in zip(r, WIDE):
        x["curriculum"]["final"]["test_acc"] += j
    assert _verdict("curriculum", r).verdict == INCONCLUSIVE
    rng = np.random.default_rng(0)
    y, noisy = curriculum.corrupt(np.zeros(100, dtype=np.int64), 0.3, 10, rng)
    assert noisy.sum() == 30 and np.all(y[noisy] != 0) and np.all(y[~noisy] == 0)
    s = curriculum.stream([np.arange(3), np.arange(10)], [7, 5], rng)
    assert len(s) == 12 and set(s[:7]) <= {0, 1, 2}


# ----------------------------------------------------------------------------- lr-schedules
def test_lr_schedules_verdict():
    def runs(cyc_gain, err=0.0, noise=TIGHT):
        vals = {s: {"final.test_acc": 0.80 + (cyc_gain if s in lr_schedules.CLAIMED else 0.0),
                    "lr_max_abs_err": err} for s in lr_schedules.SCHEDULES}
        out = _arms(lr_schedules.SCHEDULES, vals, noise)
        for r in out:
            for s in lr_schedules.SCHEDULES:
                r[s]["lr_max_abs_err"] = err       # an identity: the same in every seed
        return out
    assert _verdict("lr-schedules", runs(0.02)).verdict == HOLDS
    assert _verdict("lr-schedules", runs(-0.02)).verdict == DOES_NOT_HOLD
    r = runs(0.0)
    for x, j in zip(r, WIDE):
        x["sgdr"]["final"]["test_acc"] += j
    assert _verdict("lr-schedules", r).verdict in (INCONCLUSIVE, DOES_NOT_HOLD)
    r = runs(0.02)
    for x, j in zip(r, WIDE):
        for s in lr_schedules.CLAIMED:
            x[s]["final"]["test_acc"] = 0.80 + j
    assert _verdict("lr-schedules", r).verdict == INCONCLUSIVE
    assert _verdict("lr-schedules", runs(0.02, err=1e-3)).verdict == INCONCLUSIVE       # schedule not followed


def test_lr_schedules_shapes():
    lr, t = 0.1, 90
    const = lr_schedules.schedule("constant", lr, t)
    assert const(0) == const(89) == lr
    assert lr_schedules.schedule("step", lr, t)(30) == pytest.approx(0.01)
    sgdr = lr_schedules.schedule("sgdr", lr, t)
    assert sgdr(0) == sgdr(30) == pytest.approx(lr) and sgdr(29) < 0.01 * lr
    one = lr_schedules.schedule("one_cycle", lr, t)
    assert one(0) == pytest.approx(lr / 25) and max(one(k) for k in range(t)) == pytest.approx(lr)
    assert one(t + 5) == one(t - 1)                       # clamped, never raises past the end


# ----------------------------------------------------------------------------- lookahead
def test_lookahead_verdict():
    def runs(spread_la, noise=TIGHT):
        return _arms(("adam", "lookahead"), {
            "adam": {"spread": 0.15, "mean_over_grid": 0.6, "final.test_acc": 0.8},
            "lookahead": {"spread": spread_la, "mean_over_grid": 0.7, "final.test_acc": 0.8}}, noise)
    assert _verdict("lookahead", runs(0.05)).verdict == HOLDS
    assert _verdict("lookahead", runs(0.25)).verdict == DOES_NOT_HOLD
    r = runs(0.15)
    for x, j in zip(r, WIDE):
        x["lookahead"]["spread"] += j
    assert _verdict("lookahead", r).verdict == INCONCLUSIVE


# ----------------------------------------------------------------------------- nesterov
def test_nesterov_verdict():
    def runs(nag_over=0.5, nadam_over=0.2, nag_loss=0.3, noise=TIGHT):
        bowl = {"sgdm": {"overshoot": 1.0}, "nag": {"overshoot": nag_over}, "adam": {"overshoot": 0.7},
                "nadam": {"overshoot": nadam_over}}
        return _arms(nesterov.ARMS, {"sgdm": {"final_loss": 0.4}, "nag": {"final_loss": nag_loss},
                                     "adam": {"final_loss": 0.4}, "nadam": {"final_loss": 0.3}}, noise,
                     {"bowl": bowl})
    assert _verdict("nesterov", runs()).verdict == HOLDS
    assert _verdict("nesterov", runs(nag_over=1.5)).verdict == DOES_NOT_HOLD     # NAG overshoots more
    assert _verdict("nesterov", runs(nag_loss=0.5)).verdict == DOES_NOT_HOLD     # NAG's loss is higher
    r = runs(nag_loss=0.4)
    for x, j in zip(r, WIDE):
        x["nag"]["final_loss"] += j
    assert _verdict("nesterov", r).verdict == INCONCLUSIVE


def test_nesterov_overshoot_on_the_bowl():
    start = [-7.0, 2.0]
    sgdm = nesterov.overshoot(nesterov.path_2d("sgdm", 0.1, start, 100), start)
    nag = nesterov.overshoot(nesterov.path_2d("nag", 0.1, start, 100), start)
    assert sgdm > 0.1 and nag < sgdm
    assert nesterov.overshoot(np.array([[-7.0, 0], [1.0, 0], [-0.5, 0]]), start) == 1.0


# ----------------------------------------------------------------------------- gradient-noise
def test_gradient_noise_verdict():
    def runs(noise_loss, noise=TIGHT):
        return _arms(("plain", "noise"), {"plain": {"final_train_loss": 1.0, "final.test_acc": 0.6},
                                          "noise": {"final_train_loss": noise_loss, "final.test_acc": 0.7}}, noise)
    assert _verdict("gradient-noise", runs(0.5)).verdict == HOLDS
    assert _verdict("gradient-noise", runs(1.5)).verdict == DOES_NOT_HOLD
    r = runs(1.0)
    for x, j in zip(r, WIDE):
        x["noise"]["final_train_loss"] += j
    assert _verdict("gradient-noise", r).verdict == INCONCLUSIVE


# ----------------------------------------------------------------------------- decoupled-decay
def test_decoupled_decay_verdict_and_measures():
    def runs(asym_l2, err=0.0, noise=TIGHT):
        common = {"final.test_acc": 0.8, "weight_sq_norm": 100.0}
        return _arms(("none", "l2", "adamw"), {"none": common, "l2": {**common, "asymmetry": asym_l2},
                                               "adamw": {**common, "asymmetry": 0.0}}, noise,
                     {"adamw_step_error": err})
    assert _verdict("decoupled-decay", runs(2.0)).verdict == HOLDS
    assert _verdict("decoupled-decay", runs(-1.0)).verdict == DOES_NOT_HOLD
    r = runs(0.0)
    for x, j in zip(r, WIDE):
        x["l2"]["asymmetry"] += j
    assert _verdict("decoupled-decay", r).verdict == INCONCLUSIVE
    assert _verdict("decoupled-decay", runs(2.0, err=1e-3)).verdict == INCONCLUSIVE      # failed sanity check
    assert decoupled_decay.adamw_step_error(1e-3, 0.1, seed=0) <= 1e-12
    w_none = np.ones(8)
    v = np.arange(8.0)
    spared = np.where(v >= 6, 1.0, 0.5)          # large-v weights kept, small-v halved
    assert decoupled_decay.asymmetry(spared, w_none, v) == pytest.approx(np.log(2))
    assert decoupled_decay.asymmetry(0.5 * w_none, w_none, v) == pytest.approx(0.0)


# ----------------------------------------------------------------------------- warmup
def test_warmup_verdict():
    def runs(inst_adam=0.5, loss_adam=0.8, noise=TIGHT):
        vals = {"adam": {"large.grad_instability": inst_adam, "large.final_train_loss": loss_adam,
                         "final.val_loss": 0.5},
                "warmup": {"large.grad_instability": 0.1, "large.final_train_loss": 0.5, "final.val_loss": 0.5},
                "radam": {"large.grad_instability": 0.1, "large.final_train_loss": 0.5, "final.val_loss": 0.5}}
        return _arms(("adam", "warmup", "radam"), vals, noise)
    assert _verdict("warmup", runs()).verdict == HOLDS
    assert _verdict("warmup", runs(inst_adam=0.05)).verdict == DOES_NOT_HOLD     # Adam's start is the calmest
    assert _verdict("warmup", runs(loss_adam=0.3)).verdict == DOES_NOT_HOLD      # Adam ends lower
    r = runs(loss_adam=0.5)
    for x, j in zip(r, WIDE):
        x["adam"]["large"]["final_train_loss"] += j
    assert _verdict("warmup", r).verdict == INCONCLUSIVE


# ----------------------------------------------------------------------------- fine-tuning
def test_fine_tuning_verdict():
    def runs(frozen_gain, all_gain, change=0.0, noise=TIGHT):
        out = []
        for j in noise:
            r = {"shots": [5, 50], "frozen_max_change": change, "group_lr_ok": True}
            for n in (5, 50):
                r[f"n{n}"] = {"scratch": {"test_acc": 0.6 + j}, "frozen": {"test_acc": 0.6 + frozen_gain + j * 0.5},
                              "all": {"test_acc": 0.6 + all_gain}, "lower_lr": {"test_acc": 0.65}}
            out.append(r)
        return out
    assert _verdict("fine-tuning", runs(0.1, 0.1)).verdict == HOLDS
    assert _verdict("fine-tuning", runs(-0.1, 0.1)).verdict == DOES_NOT_HOLD
    assert _verdict("fine-tuning", runs(0.1, 0.0, noise=WIDE * 0.2)).verdict == INCONCLUSIVE
    assert _verdict("fine-tuning", runs(0.1, 0.1, change=1e-3)).verdict == INCONCLUSIVE    # frozen weights moved


def test_fine_tuning_target_model_copies_and_freezes_the_body():
    from deeprecipe import nn
    pre = nn.MLP([12, 8, 6, 5], activation="relu", init="he", rng=3)
    from deeprecipe.lab.experiments import fine_tuning
    m = fine_tuning.build_target_model([12, 8, 6, 5], "frozen", pre, seed=0)
    for p, q in zip(fine_tuning.body_params(m), fine_tuning.body_params(pre)):
        np.testing.assert_array_equal(p.data, q.data)
        assert not p.requires_grad
    assert all(p.requires_grad for p in list(m.parameters())[-2:])
    scratch = fine_tuning.build_target_model([12, 8, 6, 5], "scratch", pre, seed=0)
    np.testing.assert_array_equal(list(scratch.parameters())[-2].data, list(m.parameters())[-2].data)  # same head


# ----------------------------------------------------------------------------- adam-vs-sgdm (two-sided)
def test_adam_vs_sgdm_decides_each_side():
    def runs(auc_sgdm, acc_sgdm, noise=TIGHT):
        vals = {a: {"loss_auc": 1.0, "final.test_acc": 0.80} for a in ("adam", "adamw", "swats")}
        vals["sgdm"] = {"loss_auc": auc_sgdm, "final.test_acc": acc_sgdm}
        return _arms(("adam", "sgdm", "adamw", "swats"), vals, noise)
    v = _verdict("adam-vs-sgdm", runs(1.3, 0.85))
    assert v.verdict == HOLDS
    v = _verdict("adam-vs-sgdm", runs(1.3, 0.75))       # Adam faster, but SGDM does not generalize better
    assert v.verdict == DOES_NOT_HOLD
    assert v.numbers["side A (Adam trains fastest)"] == HOLDS
    assert v.numbers["side B (SGDM generalizes better)"] == DOES_NOT_HOLD
    v = _verdict("adam-vs-sgdm", runs(0.7, 0.85))       # SGDM faster
    assert v.verdict == DOES_NOT_HOLD and v.numbers["side A (Adam trains fastest)"] == DOES_NOT_HOLD
    r = runs(1.3, 0.80)
    for x, j in zip(r, WIDE):
        x["sgdm"]["final"]["test_acc"] += j
    v = _verdict("adam-vs-sgdm", r)
    assert v.verdict == INCONCLUSIVE and v.numbers["side B (SGDM generalizes better)"] == INCONCLUSIVE
