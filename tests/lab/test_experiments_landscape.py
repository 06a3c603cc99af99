"""Experiments plain-vs-residual, batch-size, critical-points, stuck-not-small,
batchnorm-sigmoid-lr, bn-inference and normalizers: the test preset runs end to end, the
helpers compute what they claim, and each verdict follows hand-made metrics (supporting →
holds, contradicting → does not hold, straddling → inconclusive)."""
import math

import numpy as np
import pytest

from deeprecipe.lab import DOES_NOT_HOLD, HOLDS, INCONCLUSIVE, registry
from deeprecipe.lab.experiment import Results
from deeprecipe.lab.experiments import (
    batch_size, batchnorm_sigmoid_lr, bn_inference, critical_points, normalizers, plain_vs_residual,
    stuck_not_small,
)

from .helpers import run_test_preset

LANDSCAPE = ["plain-vs-residual", "batch-size", "critical-points", "stuck-not-small", "batchnorm-sigmoid-lr",
             "bn-inference", "normalizers"]


@pytest.mark.parametrize("exp_id", LANDSCAPE)
def test_test_preset_runs_end_to_end(exp_id, tmp_path):
    exp = registry.get(exp_id)
    o = run_test_preset(exp, tmp_path)
    assert o.seeds == list(range(exp.n_seeds("test")))


def test_registered_in_claims_order_with_sources():
    ids = registry.ids()
    assert all(i in ids for i in LANDSCAPE)
    assert not [m for m in registry.broken() if any(k.replace("-", "_") in m for k in LANDSCAPE)]
    full = plain_vs_residual.EXPERIMENT.config("full")
    assert (full["shallow"], full["deep"]) == (20, 56)
    for exp_id in LANDSCAPE:
        exp = registry.get(exp_id)
        assert exp.n_seeds("full") >= exp.n_seeds("quick") >= 1


def _seeds(values):
    return [dict(v) for v in values]


# ------------------------------------------------------------------ plain-vs-residual
def _pvr(shallow, deep, res):
    return [{"plain_shallow": {"train_loss": a, "test_acc": 0.8, "test_loss": a, "lr": 0.1},
             "plain_deep": {"train_loss": b, "test_acc": 0.7, "test_loss": b, "lr": 0.1},
             "residual_deep": {"train_loss": c, "test_acc": 0.85, "test_loss": c, "lr": 0.1}}
            for a, b, c in zip(shallow, deep, res)]


def test_plain_vs_residual_verdict_follows_the_numbers():
    v = plain_vs_residual.verdict
    assert v(Results.from_metrics(_pvr([0.5, 0.52, 0.51], [0.9, 0.95, 0.92], [0.4, 0.41, 0.42]))).verdict == HOLDS
    # the deep plain net trains as well as the shallow one: no degradation
    assert v(Results.from_metrics(_pvr([0.9, 0.95, 0.92], [0.5, 0.52, 0.51], [0.4, 0.41, 0.42]))).verdict \
        == DOES_NOT_HOLD
    # a difference whose interval straddles 0
    assert v(Results.from_metrics(_pvr([0.5, 0.6, 0.4], [0.6, 0.4, 0.55], [0.1, 0.1, 0.1]))).verdict == INCONCLUSIVE


# ------------------------------------------------------------------ batch-size
def _bs(acc_small, acc_full, sharp_small, sharp_full, epoch_full=0.01):
    return [{"batch_sizes": [1, 16, 500], "device": "cpu",
             "test_acc": np.array([0.7, a, b]), "train_loss": np.array([0.5, 0.3, 0.2]),
             "train_acc": np.array([0.8, 0.9, 0.95]), "sharpness": np.array([5.0, s, t]),
             "sharpness_converged": np.array([True] * 3),
             "time_per_update": np.array([1e-4, 2e-4, 1e-3]), "time_per_epoch": np.array([1.0, 0.1, epoch_full])}
            for a, b, s, t in zip(acc_small, acc_full, sharp_small, sharp_full)]


def test_batch_size_verdict_follows_the_numbers():
    v = batch_size.verdict
    cfg = {"small_batch": 16}
    good = _bs([0.82, 0.83, 0.81], [0.78, 0.79, 0.77], [10, 11, 12], [40, 45, 50])
    assert v(Results.from_metrics(good, cfg)).verdict == HOLDS
    sharper_small = _bs([0.82, 0.83, 0.81], [0.78, 0.79, 0.77], [40, 45, 50], [10, 11, 12])
    r = v(Results.from_metrics(sharper_small, cfg))
    assert r.verdict == DOES_NOT_HOLD and "time per update" in " ".join(r.numbers)
    slow_epochs = _bs([0.82, 0.83, 0.81], [0.78, 0.79, 0.77], [10, 11, 12], [40, 45, 50], epoch_full=5.0)
    assert v(Results.from_metrics(slow_epochs, cfg)).verdict == DOES_NOT_HOLD
    straddle = _bs([0.80, 0.78, 0.81], [0.79, 0.80, 0.78], [10, 11, 12], [40, 45, 50])
    assert v(Results.from_metrics(straddle, cfg)).verdict == INCONCLUSIVE


def test_time_per_update_measures_each_batch_size():
    from deeprecipe import nn
    x = np.random.default_rng(0).standard_normal((32, 5)).astype(np.float32)
    t = batch_size.time_per_update(lambda: nn.MLP([5, 4, 3], rng=0), x, np.arange(32) % 3, [1, 32], repeats=2)
    assert set(t) == {1, 32} and all(v > 0 for v in t.values())


# ------------------------------------------------------------------ critical-points
def _cp(index, dloss):
    n = len(index)
    return [{"converged": np.ones(n, bool), "index": np.asarray(index), "min_ratio": np.full(n, 0.5),
             "loss": np.full(n, 0.3), "escape_dloss": np.asarray(dloss, float), "init_grad_norm": np.full(n, 0.1),
             "n_params": 73}]


def test_critical_points_verdict_follows_the_numbers():
    v = critical_points.verdict
    cfg = {"grad_tol": 1e-3}
    saddles = _cp([3] * 29 + [0], [-1e-3] * 29 + [math.nan])
    assert v(Results.from_metrics(saddles, cfg)).verdict == HOLDS
    minima = _cp([0] * 25 + [2] * 5, [math.nan] * 25 + [-1e-3] * 5)
    assert v(Results.from_metrics(minima, cfg)).verdict == DOES_NOT_HOLD
    no_escape = _cp([3] * 30, [1e-4] * 30)          # stepping along λ < 0 never lowers the loss
    assert v(Results.from_metrics(no_escape, cfg)).verdict == DOES_NOT_HOLD
    few = _cp([2, 2, 0, 1], [-1e-3, -1e-3, math.nan, -1e-3])   # 1/4 minima, Wilson interval across 1/4
    assert v(Results.from_metrics(few, cfg)).verdict == INCONCLUSIVE


def test_wilson_interval_and_newton_finds_a_saddle():
    lo, hi = critical_points.wilson(0, 30)
    assert lo == 0.0 and 0.1 < hi < 0.12
    assert critical_points.wilson(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    import deeprecipe as dr
    w = dr.Parameter(np.array([0.9, -0.4]))

    def f():  # L = x² − y² + y⁴/2 has a saddle at 0 and minima at y = ±1
        x, y = w[0], w[1]
        return x * x - y * y + 0.5 * y * y * y * y
    conv, eig, _, loss, g, _ = critical_points.newton_to_critical(f, [w], 1e-10, 50)
    assert conv and np.linalg.norm(g) <= 1e-10
    assert np.allclose(np.abs(w.data), [0, 0], atol=1e-8) or np.allclose(np.abs(w.data), [0, 1], atol=1e-8)


# ------------------------------------------------------------------ stuck-not-small
def _stuck(stuck, plateau, descent):
    return [{"stuck_share": s, "grad_plateau": p, "grad_descent": d, "grad_init": 2.0,
             "grad_plateau_end_over_start": 1.0, "sharpness": 4.0, "two_over_lr": 4.0}
            for s, p, d in zip(stuck, plateau, descent)]


def test_stuck_not_small_verdict_follows_the_numbers():
    v = stuck_not_small.verdict
    cfg = {"stuck_share": 0.1, "large_ratio": 0.25, "plateau_fraction": 0.5}
    assert v(Results.from_metrics(_stuck([0.02] * 3, [1.0, 1.1, 0.9], [1.0] * 3), cfg)).verdict == HOLDS
    vanished = _stuck([0.02] * 3, [1e-3, 2e-3, 1e-3], [1.0] * 3)
    assert v(Results.from_metrics(vanished, cfg)).verdict == DOES_NOT_HOLD
    still_falling = _stuck([0.5, 0.02, 0.02], [1.0] * 3, [1.0] * 3)
    assert v(Results.from_metrics(still_falling, cfg)).verdict == INCONCLUSIVE
    straddle = _stuck([0.02] * 3, [1.0, 0.01, 0.5], [1.0] * 3)
    assert v(Results.from_metrics(straddle, cfg)).verdict == INCONCLUSIVE


def test_plateau_numbers():
    loss = np.concatenate([np.linspace(2, 0.5, 50), np.full(50, 0.5)])
    gn = np.concatenate([np.full(50, 1.0), np.full(50, 0.8)])
    n = stuck_not_small.plateau_numbers(loss, gn, 0.5)
    assert n["plateau_start"] == 50 and n["stuck_share"] == pytest.approx(0.0, abs=1e-12)
    assert n["grad_plateau"] == pytest.approx(0.8) and n["grad_descent"] == pytest.approx(1.0)


# ------------------------------------------------------------------ batchnorm-sigmoid-lr
def _bsl(plain1, bn1, bn5):
    return [{"eta": 0.5, "plain_x1": {"train_loss": a, "train_acc": 0.1, "test_acc": 0.1, "diverged": False},
             "plain_x5": {"train_loss": 2.3, "train_acc": 0.1, "test_acc": 0.1, "diverged": True},
             "bn_x1": {"train_loss": b, "train_acc": 0.8, "test_acc": 0.8, "diverged": False},
             "bn_x5": {"train_loss": c, "train_acc": 0.85, "test_acc": 0.8, "diverged": False}}
            for a, b, c in zip(plain1, bn1, bn5)]


def test_batchnorm_sigmoid_lr_verdict_follows_the_numbers():
    v = batchnorm_sigmoid_lr.verdict
    assert v(Results.from_metrics(_bsl([2.3] * 3, [0.5, 0.52, 0.51], [0.4, 0.41, 0.42]))).verdict == HOLDS
    bn_no_help = _bsl([0.5, 0.52, 0.51], [2.3] * 3, [2.3] * 3)
    assert v(Results.from_metrics(bn_no_help)).verdict == DOES_NOT_HOLD
    bn_breaks_at_5x = _bsl([2.3] * 3, [0.5, 0.52, 0.51], [2.3, 2.2, 2.3])
    assert v(Results.from_metrics(bn_breaks_at_5x)).verdict == DOES_NOT_HOLD
    straddle = _bsl([2.3] * 3, [0.5, 0.5, 0.5], [0.3, 0.9, 0.5])
    assert v(Results.from_metrics(straddle)).verdict == INCONCLUSIVE


# ------------------------------------------------------------------ bn-inference
def _bni(ev, tr):
    return [{"eval_max_rel_diff": np.asarray(ev), "train_max_rel_diff": np.asarray(tr),
             "manual_max_rel_err": np.zeros(len(ev))}]


def test_bn_inference_verdict_follows_the_numbers():
    v = bn_inference.verdict
    cfg = {"n_batches": 3}
    assert v(Results.from_metrics(_bni([0.0, 1e-7], [0.3, 0.5]), cfg)).verdict == HOLDS
    assert v(Results.from_metrics(_bni([0.2, 0.1], [0.3, 0.5]), cfg)).verdict == DOES_NOT_HOLD
    assert v(Results.from_metrics(_bni([0.0, 0.0], [1e-7, 1e-6]), cfg)).verdict == DOES_NOT_HOLD
    assert v(Results.from_metrics(_bni([math.nan, 0.0], [0.3, 0.5]), cfg)).verdict == INCONCLUSIVE


def test_bn_manual_forward_matches_the_model_in_eval_mode():
    from deeprecipe import Tensor, nn
    m = nn.MLP([6, 5, 3], norm="batch", rng=0)
    x = np.random.default_rng(1).standard_normal((8, 6)).astype(np.float32)
    m.train()
    m(Tensor(x))  # running statistics move away from (0, 1)
    m.eval()
    np.testing.assert_allclose(bn_inference.manual_forward(m, x), m(Tensor(x)).data, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ normalizers
def _norms(losses):
    return [{v: {"train_loss": losses.get(v, [0.5])[i % len(losses.get(v, [0.5]))], "test_acc": 0.7, "lr": 0.01}
             for v in normalizers.VARIANTS} for i in range(3)]


def test_normalizers_verdict_follows_the_numbers():
    v = normalizers.verdict
    assert v(Results.from_metrics(_norms({"none": [2.3]}))).verdict == HOLDS   # 'none' is shown, not decided
    assert v(Results.from_metrics(_norms({"instance": [2.2, 2.3, 2.25]}))).verdict == DOES_NOT_HOLD
    assert v(Results.from_metrics(_norms({"weight": [0.3, 2.0, 1.0]}))).verdict == INCONCLUSIVE


def test_normalizer_variants_build_and_differ():
    from deeprecipe import nn
    kinds = {}
    for variant in normalizers.VARIANTS:
        m = normalizers.make_net(variant, 0, (1, 7, 7))
        kinds[variant] = {type(c).__name__ for c in m.modules()}
    assert "BatchNorm2d" in kinds["batch"] and "InstanceNorm2d" in kinds["instance"]
    assert "WeightNorm" in kinds["weight"] and "GroupNorm" in kinds["group"] and "GroupNorm" in kinds["layer"]
    assert not any("Norm" in k for k in kinds["none"])
    assert normalizers.shrink(np.ones((2, 28, 28)), 4).shape == (2, 1, 7, 7)
    assert isinstance(nn.WeightNorm, type)
