"""Experiments deep-sigmoid, relu-fixes-depth, relu-variants, maxout, ce-vs-mse,
normalize-input and init-mnist: the test preset runs end to end (metrics, figure, verdict),
and each verdict follows hand-made metrics — "holds" for ones that support the claim,
"does not hold" for ones that contradict it."""
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
def _depth_runs(acc_shallow, acc_deep, ratio_deep):
    runs = []
    for j in JITTER:
        g_deep = np.array([[ratio_deep * (1 + j), 0.5, 1.0]] * 4)       # records × layers
        runs.append({
            "depths": [1, 9],
            "d1": {"final": {"train_acc_all": acc_shallow + j, "test_acc_all": acc_shallow - 0.02 + j},
                   "probe": {"layer_grad_norm": np.array([[0.8, 1.0]] * 4)}},
            "d9": {"final": {"train_acc_all": acc_deep + j, "test_acc_all": acc_deep - 0.02 + j},
                   "probe": {"layer_grad_norm": g_deep}},
        })
    return runs


def test_deep_sigmoid_verdict():
    assert _verdict("deep-sigmoid", _depth_runs(0.85, 0.10, 1e-5)).verdict == "holds"
    assert _verdict("deep-sigmoid", _depth_runs(0.85, 0.90, 1e-5)).verdict == "does not hold"   # deeper is better
    assert _verdict("deep-sigmoid", _depth_runs(0.85, 0.10, 0.5)).verdict == "does not hold"    # no vanishing


def test_relu_fixes_depth_verdict():
    assert _verdict("relu-fixes-depth", _depth_runs(0.85, 0.86, 0.9)).verdict == "holds"
    assert _verdict("relu-fixes-depth", _depth_runs(0.85, 0.10, 0.9)).verdict == "does not hold"
    assert _verdict("relu-fixes-depth", _depth_runs(0.85, 0.86, 1e-3)).verdict == "does not hold"
    assert _verdict("relu-fixes-depth", _depth_runs(0.85, 0.86, 50.0)).verdict == "does not hold"


# ----------------------------------------------------------------------------- relu-variants
def _variant_runs(dead_relu, dead_leaky, dead_prelu, alpha_shift):
    runs = []
    for j in JITTER:
        alpha = np.full((3, 8), 0.25 + alpha_shift + j / 10)
        runs.append({a: {"final": {"dead_frac": d + j / 10, "train_acc_all": 0.8}}
                     for a, d in (("relu", dead_relu), ("leaky", dead_leaky), ("prelu", dead_prelu))})
        runs[-1]["prelu"]["alpha"] = alpha
    return runs


def test_relu_variants_verdict():
    v = _verdict("relu-variants", _variant_runs(0.2, 0.02, 0.01, 0.05))
    assert v.verdict == "holds"
    assert "PReLU α mean per layer" in v.numbers
    assert _verdict("relu-variants", _variant_runs(0.02, 0.2, 0.01, 0.05)).verdict == "does not hold"
    assert _verdict("relu-variants", _variant_runs(0.2, 0.02, 0.01, 0.0)).verdict == "does not hold"  # α frozen


# ----------------------------------------------------------------------------- maxout
def _maxout_runs(diff, acc_relu, acc_max):
    runs = []
    for j in JITTER:
        runs.append({
            "exact": {"max_abs_diff": diff, "max_abs_grad_diff": 0.0, "separate_matmul_max_abs_diff": 1e-7},
            "relu": {"final": {"test_acc_all": acc_relu + j, "train_acc_all": 0.9}, "n_params": 1000},
            "maxout": {"final": {"test_acc_all": acc_max + j, "train_acc_all": 0.9}, "n_params": 990,
                       "shapes": {"piece_norm_ratio": np.array([0.3, 0.8])}},
        })
    return runs


def test_maxout_verdict():
    assert _verdict("maxout", _maxout_runs(0.0, 0.85, 0.855)).verdict == "holds"
    assert _verdict("maxout", _maxout_runs(1e-3, 0.85, 0.855)).verdict == "does not hold"   # not exact
    assert _verdict("maxout", _maxout_runs(0.0, 0.85, 0.70)).verdict == "does not hold"     # far worse
    assert _verdict("maxout", _maxout_runs(0.0, 0.70, 0.85)).verdict == "does not hold"     # far better


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
def _ce_mse_runs(steps_ce, steps_mse, g_ce, g_mse, reached_ce=True):
    runs = []
    for j in (-10, 0, 10):
        runs.append({a: {"final": {"steps_to_target": s + j, "reached_target": r, "early_grad_norm": g * (1 + j / 100),
                                   "train_acc_all": 0.85}}
                     for a, s, g, r in (("ce", steps_ce, g_ce, reached_ce), ("mse", steps_mse, g_mse, True))})
    return runs


def test_ce_vs_mse_verdict():
    cfg = {"target_acc": 0.8}
    assert _verdict("ce-vs-mse", _ce_mse_runs(100, 400, 2.0, 0.4), cfg).verdict == "holds"
    assert _verdict("ce-vs-mse", _ce_mse_runs(400, 100, 2.0, 0.4), cfg).verdict == "does not hold"
    assert _verdict("ce-vs-mse", _ce_mse_runs(100, 400, 0.4, 2.0), cfg).verdict == "does not hold"
    # CE never reaching the target cannot show that MSE is slower
    assert _verdict("ce-vs-mse", _ce_mse_runs(800, 800, 2.0, 0.4, reached_ce=False), cfg).verdict == "inconclusive"


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
def _norm_runs(raw, scaled, std):
    return [{a: {"final": {"test_acc_all": v + j, "diverged": a == "raw" and v < 0.2}}
             for a, v in (("raw", raw), ("scaled", scaled), ("standardized", std))} for j in JITTER]


def test_normalize_input_verdict():
    assert _verdict("normalize-input", _norm_runs(0.10, 0.84, 0.83)).verdict == "holds"
    assert _verdict("normalize-input", _norm_runs(0.84, 0.84, 0.83)).verdict == "does not hold"


# ----------------------------------------------------------------------------- init-mnist
def _init_runs(l_small, l_xavier, l_he):
    return [{a: {"final": {"final_loss": v + j, "test_acc": 0.5}}
             for a, v in (("std0_01", l_small), ("xavier", l_xavier), ("he", l_he))} for j in JITTER]


def test_init_mnist_verdict():
    assert _verdict("init-mnist", _init_runs(2.30, 0.60, 0.45)).verdict == "holds"
    assert _verdict("init-mnist", _init_runs(0.70, 0.60, 0.45)).verdict == "does not hold"   # std 0.01 learns
    assert _verdict("init-mnist", _init_runs(2.30, 0.45, 0.60)).verdict == "does not hold"   # He not best
    assert _verdict("init-mnist", _init_runs(2.30, 2.10, 0.45)).verdict == "does not hold"   # Xavier stuck


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
    assert p["dead"].shape == (4, 2) and p["layers"] == ["0", "2", "4"]
    assert np.allclose(log10_first_last(p["layer_grad_norm"]),
                       np.log10(p["layer_grad_norm"][:, 0] / p["layer_grad_norm"][:, -1]))
    assert m["final"]["steps"] == 7
    assert math.isclose(m["final"]["probe_acc"], float(F.accuracy(model(Tensor(data.x_train[:60])),
                                                                  data.y_train[:60])))
