"""Experiments deep-sigmoid, relu-fixes-depth, relu-variants, maxout, ce-vs-mse,
normalize-input and init-mnist: the test preset runs end to end (metrics, figure, verdict),
and each verdict follows hand-made metrics — "holds" for ones that support the claim,
"does not hold" for ones that contradict it, "inconclusive" for intervals that straddle a
threshold."""
import math

import numpy as np
import pytest

from deeprecipe import Tensor
from deeprecipe import functions as F
from deeprecipe.lab import Results, registry
from deeprecipe.lab.runner import load_results
from deeprecipe.lab.storage import experiment_dir
from tests.lab.helpers import run_test_preset

IDS = ["deep-sigmoid", "relu-fixes-depth", "relu-variants", "maxout", "ce-vs-mse", "normalize-input",
       "init-mnist"]
JITTER = np.array([-0.004, 0.0, 0.004])   # small seed-to-seed noise: tight but finite intervals


def _verdict(exp_id, runs, config=None):
    return registry.get(exp_id).verdict(Results.from_metrics(runs, config=config or {}))


# ----------------------------------------------------------------------------- end to end
@pytest.mark.parametrize("exp_id", IDS)
def test_test_preset_runs_end_to_end(exp_id, tmp_path):
    o = run_test_preset(exp_id, tmp_path)
    _, results, failed = load_results(experiment_dir(tmp_path, exp_id), exp_id)
    assert not failed and results.n == registry.get(exp_id).n_seeds("test")
    # the verdict recomputed from the saved metrics is the one the run reported
    again = registry.get(exp_id).verdict(results)
    assert again.verdict == o.verdict.verdict and again.numbers == o.verdict.numbers


# ----------------------------------------------------------------------------- depth sweeps
def _depth_runs(acc_shallow, acc_deep, ratio_deep, spread=1.0):
    """``ratio_deep``: per-weight RMS gradient first / last layer of the deep net (seed j gets
    ratio · spread^j); whole-layer norms are given a 30x parameter-count factor that must not matter."""
    runs = []
    for k, j in enumerate(JITTER):
        r = ratio_deep * (1 + j) * spread ** (k - 1)
        g_deep = np.array([[r, 0.5, 1.0]] * 4)       # records × layers
        runs.append({
            "depths": [1, 9],
            "d1": {"final": {"train_acc_all": acc_shallow + j, "test_acc_all": acc_shallow - 0.02 + j},
                   "probe": {"layer_grad_rms": np.array([[0.8, 1.0]] * 4),
                             "layer_grad_norm": np.array([[0.8 * 30, 1.0]] * 4)}},
            "d9": {"final": {"train_acc_all": acc_deep + j, "test_acc_all": acc_deep - 0.02 + j},
                   "probe": {"layer_grad_rms": g_deep, "layer_grad_norm": g_deep * [30.0, 1.0, 1.0]}},
        })
    return runs


def test_deep_sigmoid_verdict():
    assert _verdict("deep-sigmoid", _depth_runs(0.85, 0.10, 1e-5)).verdict == "holds"
    assert _verdict("deep-sigmoid", _depth_runs(0.85, 0.90, 1e-5)).verdict == "does not hold"   # deeper is better
    assert _verdict("deep-sigmoid", _depth_runs(0.85, 0.10, 0.5)).verdict == "does not hold"    # no vanishing
    # log10 ratios -1, -2.5, -4 across seeds: the interval straddles -2
    assert _verdict("deep-sigmoid", _depth_runs(0.85, 0.10, 10 ** -2.5, spread=10 ** 1.5)).verdict == "inconclusive"


def test_relu_fixes_depth_verdict():
    assert _verdict("relu-fixes-depth", _depth_runs(0.85, 0.86, 0.9)).verdict == "holds"
    assert _verdict("relu-fixes-depth", _depth_runs(0.85, 0.10, 0.9)).verdict == "does not hold"
    assert _verdict("relu-fixes-depth", _depth_runs(0.85, 0.86, 1e-3)).verdict == "does not hold"
    assert _verdict("relu-fixes-depth", _depth_runs(0.85, 0.86, 50.0)).verdict == "does not hold"
    assert _verdict("relu-fixes-depth", _depth_runs(0.85, 0.86, 0.1, spread=10.0)).verdict == "inconclusive"


def test_depth_verdicts_use_the_gradient_per_weight_not_the_layer_norm():
    # per weight the first layer's gradient equals the last's (ratio 1): ReLU "fixes depth";
    # the whole-layer norms differ 30x only by the parameter count, which must not decide it
    runs = _depth_runs(0.85, 0.86, 1.0)
    for r in runs:
        r["d9"]["probe"]["layer_grad_norm"] = r["d9"]["probe"]["layer_grad_rms"] * [300.0, 1.0, 1.0]
    v = _verdict("relu-fixes-depth", runs)
    assert v.verdict == "holds"
    assert v.numbers["log10 whole-layer norm first / last (9 hidden)"] > 2


# ----------------------------------------------------------------------------- relu-variants
def _variant_runs(dead_relu, dead_leaky, dead_prelu, alpha_shift, spread=0.0):
    runs = []
    for k, j in enumerate(JITTER):
        alpha = np.full((3, 8), 0.25 + alpha_shift + j / 10)
        runs.append({a: {"final": {"dead_frac": d + j / 10 + spread * (k - 1), "dead_frac_start": 0.1,
                                   "came_back": 0.0, "train_acc": 0.8}}
                     for a, d in (("relu", dead_relu), ("leaky", dead_leaky), ("prelu", dead_prelu))})
        runs[-1]["prelu"]["alpha"] = alpha
    return runs


def test_relu_variants_verdict():
    v = _verdict("relu-variants", _variant_runs(0.2, 0.0, 0.0, 0.05))
    assert v.verdict == "holds"
    assert "PReLU α 5% / 50% / 95% (start 0.25)" in v.numbers
    assert _verdict("relu-variants", _variant_runs(0.2, 0.3, 0.0, 0.05)).verdict == "does not hold"
    assert _verdict("relu-variants", _variant_runs(0.2, 0.0, 0.0, 0.0)).verdict == "does not hold"  # α frozen
    # no ReLU dies in the setting: nothing to decide
    assert _verdict("relu-variants", _variant_runs(0.01, 0.0, 0.0, 0.05)).verdict == "inconclusive"
    # ReLU dead share 0.2 ± 0.3 over seeds: the interval straddles both thresholds
    assert _verdict("relu-variants", _variant_runs(0.2, 0.1, 0.1, 0.05, spread=0.15)).verdict == "inconclusive"


def test_unit_status_counts_zero_gradient_units():
    from deeprecipe import nn
    from deeprecipe.lab.experiments.relu_variants import came_back, unit_status
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((50, 6)).astype(np.float32), rng.integers(0, 3, 50)
    for act, expect_dead in (("relu", True), (("leaky_relu", 0.01), False)):
        model = nn.MLP([6, 5, 3], activation=act, init="he", rng=0)
        model[0].bias.data[:2] = -100.0                 # units 0 and 1: z < 0 on every example
        st = unit_status(model, x, y)
        assert st["inactive"][0, :2].all() and not st["inactive"][0, 2:].any()
        assert st["dead"][0, :2].all() == expect_dead and not st["dead"][0, 2:].any()
        assert all(p.grad is None for p in model.parameters())
    assert came_back([True, True, False], [False, True, False]) == 0.5
    assert math.isnan(came_back([False], [False]))


# ----------------------------------------------------------------------------- maxout
def _maxout_runs(diff, acc_relu, acc_max, spread=0.0):
    runs = []
    for k, j in enumerate(JITTER):
        runs.append({
            "exact": {"max_abs_diff": diff, "max_abs_grad_diff": 0.0, "separate_matmul_max_abs_diff": 1e-7},
            "relu": {"final": {"test_acc_all": acc_relu + j, "train_acc_all": 0.9}, "n_params": 1000},
            "maxout": {"final": {"test_acc_all": acc_max + j + spread * (k - 1), "train_acc_all": 0.9},
                       "n_params": 990, "shapes": {"piece_norm_ratio": np.array([0.3, 0.8])}},
        })
    return runs


def test_maxout_verdict():
    v = _verdict("maxout", _maxout_runs(0.0, 0.85, 0.855))
    assert v.verdict == "holds" and v.sanity_ok
    v = _verdict("maxout", _maxout_runs(1e-3, 0.85, 0.855))     # identity broken: a bug, flagged beside
    assert v.verdict == "holds" and not v.sanity_ok
    assert _verdict("maxout", _maxout_runs(0.0, 0.85, 0.70)).verdict == "does not hold"     # far worse
    assert _verdict("maxout", _maxout_runs(0.0, 0.85, 0.86, spread=0.03)).verdict == "inconclusive"


def test_maxout_exactness_and_matched_width():
    from deeprecipe import nn
    from deeprecipe.lab.experiments.maxout import exactness, matched_width, n_params
    x = np.random.default_rng(0).random((50, 20)).astype(np.float32)
    e = exactness(x, units=7, seed=3)
    assert e["max_abs_diff"] == 0.0 and e["max_abs_grad_diff"] == 0.0 and e["zero_piece_max_abs"] == 0.0
    assert 0.0 < e["frac_active"] < 1.0           # both sides of the kink were exercised
    w = matched_width(784, 100, 2, 10, 2)
    assert w == 53
    assert n_params(784, w, 2, 10, 2) == nn.MLP([784, w, w, 10], activation=("maxout", 2)).num_parameters()
    assert n_params(784, 100, 2, 10) == nn.MLP([784, 100, 100, 10]).num_parameters()


# ----------------------------------------------------------------------------- ce-vs-mse
def _ce_mse_runs(steps_ce, steps_mse, ratio_mse, ratio_ce, reached_ce=True, spread=0.0):
    runs = []
    for k, j in enumerate(JITTER):
        runs.append({
            "grad": {"log_ratio_mse": ratio_mse + j + spread * (k - 1), "log_ratio_ce": ratio_ce + j,
                     "n_confidently_wrong": 100},
            "ce": {"best_steps": steps_ce + 1000 * j, "best_reached": reached_ce, "best_lr": 0.1,
                   "lrs": np.array([0.03, 0.1, 0.3, 1.0])},
            "mse": {"best_steps": steps_mse + 1000 * j, "best_reached": True, "best_lr": 0.3},
        })
    return runs


def test_ce_vs_mse_verdict():
    cfg = {"target_acc": 0.8}
    assert _verdict("ce-vs-mse", _ce_mse_runs(100, 400, -3.0, 0.3), cfg).verdict == "holds"
    assert _verdict("ce-vs-mse", _ce_mse_runs(400, 100, -3.0, 0.3), cfg).verdict == "does not hold"  # MSE faster
    assert _verdict("ce-vs-mse", _ce_mse_runs(100, 400, 0.0, 0.3), cfg).verdict == "does not hold"   # no vanishing
    assert _verdict("ce-vs-mse", _ce_mse_runs(100, 400, -3.0, -1.0), cfg).verdict == "does not hold"  # CE vanishes
    # CE never reaching the target cannot show that MSE is slower
    assert _verdict("ce-vs-mse", _ce_mse_runs(600, 600, -3.0, 0.3, reached_ce=False), cfg).verdict == "inconclusive"
    # MSE's log ratio -1 ± 2 over seeds straddles -1
    assert _verdict("ce-vs-mse", _ce_mse_runs(100, 400, -1.0, 0.3, spread=2.0), cfg).verdict == "inconclusive"


def test_logit_gradients_vanish_for_mse_when_confidently_wrong():
    from deeprecipe.lab.experiments.ce_vs_mse import bin_log_ratio, logit_gradients
    y = np.zeros(3, dtype=np.int64)
    z = np.array([[-10.0, 10.0, 0.0], [0.0, 0.1, 0.0], [0.0, -20.0, 15.0]])
    g = logit_gradients(z, y)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    ce = p - np.eye(3)[y]                                          # ∂CE/∂z = p - y
    np.testing.assert_allclose(g["grad_ce"], np.linalg.norm(ce, axis=1), rtol=1e-10)
    d = 2 * (p - np.eye(3)[y])                                     # ∂MSE/∂p, then the softmax Jacobian
    mse = np.stack([(np.diag(pi) - np.outer(pi, pi)) @ di for pi, di in zip(p, d)])
    np.testing.assert_allclose(g["grad_mse"], np.linalg.norm(mse, axis=1), rtol=1e-8)
    assert g["wrong"].tolist() == [True, True, True] and g["p_pred"][0] > 0.99
    g["p_true"][1] = 0.5                                           # example 1 "undecided" for the binning
    assert bin_log_ratio(g, "mse", 0.01) < -3 and bin_log_ratio(g, "ce", 0.01) > 0


def test_mse_on_softmax_and_steps_to():
    from deeprecipe.lab.experiments.ce_vs_mse import mse_on_softmax, steps_to
    rng = np.random.default_rng(1)
    z, y = rng.standard_normal((6, 4)), np.array([0, 1, 2, 3, 0, 1])
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    expected = np.mean(np.sum((p - np.eye(4)[y]) ** 2, axis=1))
    assert math.isclose(mse_on_softmax(Tensor(z), y).item(), expected, rel_tol=1e-12)
    assert steps_to([0, 10, 20, 30], [0.1, 0.5, 0.85, 0.9], 0.8, 100) == (20, True)
    assert steps_to([0, 10, 20], [0.1, 0.5, 0.6], 0.8, 100) == (100, False)


# ----------------------------------------------------------------------------- normalize-input
def _norm_runs(raw, scaled, std, cond_raw=1e9, steps_raw=1000, spread=0.0):
    runs = []
    for k, j in enumerate(JITTER):
        feats = {"raw": {"cond": cond_raw * (1 + j), "best_steps": steps_raw, "best_reached": False,
                         "best_lr": 1e-5, "test_acc": 0.7},
                 "standardized": {"cond": 50.0, "best_steps": 3 + k, "best_reached": True, "best_lr": 1.0,
                                  "test_acc": 0.97}}
        pix = {a: {"best_test_acc": v + j + (spread * (k - 1) if a == "raw" else 0.0), "best_lr": 0.1}
               for a, v in (("raw", raw), ("scaled", scaled), ("standardized", std))}
        runs.append({"features": feats, "pixels": pix})
    return runs


def test_normalize_input_verdict():
    assert _verdict("normalize-input", _norm_runs(0.70, 0.84, 0.83)).verdict == "holds"
    assert _verdict("normalize-input", _norm_runs(0.84, 0.84, 0.83)).verdict == "does not hold"   # raw as good
    assert _verdict("normalize-input", _norm_runs(0.70, 0.84, 0.83, cond_raw=100.0)).verdict == "does not hold"
    assert _verdict("normalize-input", _norm_runs(0.70, 0.84, 0.83, steps_raw=5)).verdict == "does not hold"
    # raw pixels 0.81 ± 0.1 over seeds: the difference straddles 0.02
    assert _verdict("normalize-input", _norm_runs(0.81, 0.84, 0.84, spread=0.1)).verdict == "inconclusive"


def test_elongated_surface_measures():
    from deeprecipe.lab.experiments.normalize_input import gd_steps_to_loss, input_condition
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 2)) * [1.0, 100.0]
    assert input_condition(x) > 1e3 and input_condition(x / [1.0, 100.0]) < 10
    y = (x[:, 0] + x[:, 1] / 100 > 0).astype(np.int64)
    slow = gd_steps_to_loss(x, y, 2, 1e-4, 0.3, 300)
    fast = gd_steps_to_loss(x / [1.0, 100.0], y, 2, 1.0, 0.3, 300)
    assert fast["reached"] and fast["steps"] < 50 and not slow["reached"] and slow["steps"] == 300
    assert gd_steps_to_loss(x, y, 2, 10.0, 0.3, 300)["diverged"]


# ----------------------------------------------------------------------------- init-mnist
def _init_runs(l_small, l_xavier, l_he):
    return [{a: {"final": {"final_loss": v + j, "test_acc": 0.5}}
             for a, v in (("std0_01", l_small), ("xavier", l_xavier), ("he", l_he))} for j in JITTER]


def test_init_mnist_verdict():
    assert _verdict("init-mnist", _init_runs(2.30, 0.60, 0.45)).verdict == "holds"
    assert _verdict("init-mnist", _init_runs(0.70, 0.60, 0.45)).verdict == "does not hold"   # std 0.01 learns
    assert _verdict("init-mnist", _init_runs(2.30, 0.45, 0.60)).verdict == "does not hold"   # He not best
    assert _verdict("init-mnist", _init_runs(2.30, 2.10, 0.45)).verdict == "does not hold"   # Xavier stuck
    runs = _init_runs(2.30, 0.60, 0.45)
    for k, r in enumerate(runs):                                 # He - Xavier: -0.15 ± 0.3 straddles 0
        r["he"]["final"]["final_loss"] += 0.3 * (k - 1)
    assert _verdict("init-mnist", runs).verdict == "inconclusive"


# ----------------------------------------------------------------------------- the probe
def test_step_probe_records_on_schedule():
    from deeprecipe.lab.data import image_data
    from deeprecipe.lab.experiments._probes import log10_first_last, train_probed
    data = image_data("synthetic", n_train=120, n_test=40, seed=0)
    m, model = train_probed(data, hidden=[8, 8], activation="relu", init="he", optimizer="sgd", lr=0.05,
                            steps=7, batch_size=40, seed=0, probe_n=60, probe_every=3, activations=True)
    p = m["probe"]
    assert p["acc_step"].tolist() == [0, 3, 6, 7]          # init, every 3 steps, and the last step
    assert p["grad_step"].tolist() == [0, 3, 6]
    assert p["layer_grad_norm"].shape == (3, 3) and np.all(p["layer_grad_norm"] > 0)
    # the RMS per weight of the first layer (8×784 weights) is its weight-gradient norm / √6272
    sizes = np.array([8 * 784, 8 * 8, 10 * 8])
    assert p["layer_grad_rms"].shape == (3, 3)
    assert np.all(p["layer_grad_rms"] * np.sqrt(sizes) <= p["layer_grad_norm"] + 1e-9)
    assert p["dead"].shape == (4, 2) and p["layers"] == ["0", "2", "4"]
    assert np.allclose(log10_first_last(p["layer_grad_norm"]),
                       np.log10(p["layer_grad_norm"][:, 0] / p["layer_grad_norm"][:, -1]))
    assert m["final"]["steps"] == 7
    assert math.isclose(m["final"]["probe_acc"], float(F.accuracy(model(Tensor(data.x_train[:60])),
                                                                  data.y_train[:60])))


def test_weight_grad_rms_is_per_weight_and_leaves_biases_out():
    from deeprecipe import nn
    from deeprecipe.lab.experiments._probes import weight_grad_rms_by_layer
    model = nn.MLP([3, 4, 2], rng=0)
    for _, p in model.named_parameters():
        p.grad = np.full(p.data.shape, 2.0 if p.data.ndim >= 2 else 100.0, dtype=p.data.dtype)
    model[2].weight.grad[...] = 0.0
    model[2].weight.grad[0, 0] = 4.0                  # one entry of 8: RMS = 4/√8
    rms = weight_grad_rms_by_layer(model)
    assert list(rms) == ["0", "2"]
    assert rms["0"] == pytest.approx(2.0) and rms["2"] == pytest.approx(4.0 / math.sqrt(8))
