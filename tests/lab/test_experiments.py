"""The exemplar experiments: test preset end to end, and verdicts against contradicting metrics."""
import numpy as np
import pytest

from deeprecipe.lab import DOES_NOT_HOLD, HOLDS, INCONCLUSIVE, registry, write_report
from deeprecipe.lab.experiment import Results
from deeprecipe.lab.experiments import dropout_ensemble, init_histograms, optimizer_paths, overfit, weight_decay

from .helpers import parse_report, run_test_preset

EXEMPLARS = ["init-histograms", "optimizer-paths", "dropout-ensemble", "overfit", "weight-decay"]


@pytest.mark.parametrize("exp_id", EXEMPLARS)
def test_test_preset_runs_end_to_end(exp_id, tmp_path):
    exp = registry.get(exp_id)
    o = run_test_preset(exp, tmp_path)
    assert o.seeds == list(range(exp.n_seeds("test")))
    rep = write_report(tmp_path)
    page = parse_report(open(rep["html"], encoding="utf-8").read())
    assert len(page.images) == 1 and f"exp-{exp_id}" in page.ids
    assert rep["entries"][0].outcome.verdict == o.verdict      # recomputed from the saved metrics
    if o.verdict.sanity:                                        # identities shown apart from the verdict
        html_text = open(rep["html"], encoding="utf-8").read()
        assert "Sanity checks (identities that fail only on a bug; not deciding)" in html_text
        ok = sum(c["ok"] for c in o.verdict.sanity)
        assert f"({'sanity' if ok == len(o.verdict.sanity) else 'SANITY FAILED'} " in rep["summary"]


def test_every_exemplar_declares_source_settings_in_full_preset():
    for exp_id in EXEMPLARS:
        exp = registry.get(exp_id)
        assert exp.n_seeds("full") >= exp.n_seeds("quick") >= 1
        assert exp.config("test") != exp.config("full") or exp_id == "optimizer-paths"
    full = overfit.EXPERIMENT.config("full")
    assert (full["n_train"], full["hidden"], full["lr"], full["batch_size"], full["epochs"]) == \
        (300, [100] * 6, 0.01, 100, 201)
    assert weight_decay.EXPERIMENT.config("full")["weight_decay"] == 0.1
    paths = optimizer_paths.EXPERIMENT.config("full")
    assert (paths["lr_sgd"], paths["lr_momentum"], paths["lr_adagrad"], paths["lr_adam"], paths["steps"]) == \
        (0.95, 0.1, 1.5, 0.3, 30)


# ------------------------------------------------------------------ init-histograms
def _hist_run(near_ends_std1=0.8, near_half_small=0.99, he_std=(1.0, 1.0, 1.0, 1.0, 1.0)):
    depth = 5
    def cfg(near_ends, near_half, std):
        return {"near_ends": np.full(depth, near_ends), "near_half": np.full(depth, near_half),
                "std": np.asarray(std, dtype=float)}
    return {
        "sigmoid-std1": cfg(near_ends_std1, 0.0, [0.45] * depth),
        "sigmoid-std0_01": cfg(0.0, near_half_small, [0.01] * depth),
        "sigmoid-xavier": cfg(0.03, 0.6, [0.13] * depth),
        "relu-std0_01": cfg(0, 0, [0.06, 0.004, 3e-4, 2e-5, 1e-6]),
        "relu-xavier": cfg(0, 0, [0.6, 0.4, 0.3, 0.2, 0.15]),
        "relu-he": cfg(0, 0, he_std),
    }


def test_init_histograms_verdict_follows_the_numbers():
    ok = Results.from_metrics([_hist_run(), _hist_run()])
    assert init_histograms.verdict(ok).verdict == HOLDS
    # std-1 sigmoid activations NOT pushed to 0/1
    bad = Results.from_metrics([_hist_run(near_ends_std1=v) for v in (0.2, 0.25, 0.22)])
    v = init_histograms.verdict(bad)
    assert v.verdict == DOES_NOT_HOLD and "[does not hold] sigmoid σ=1" in v.rule
    # He does not keep the spread (shrinks like Xavier)
    shrink = [0.8, 0.5, 0.3, 0.2, 0.1]
    bad = Results.from_metrics([_hist_run(he_std=shrink), _hist_run(he_std=shrink)])
    assert init_histograms.verdict(bad).verdict == DOES_NOT_HOLD
    straddling = Results.from_metrics([_hist_run(near_ends_std1=v) for v in (0.7, 0.3, 0.55)])
    assert init_histograms.verdict(straddling).verdict == INCONCLUSIVE


# ------------------------------------------------------------------ optimizer-paths
def test_zigzag_measure():
    straight = np.array([[0, 4], [1, 3], [2, 2], [3, 1]], float)
    zig = np.array([[0, 4], [1, -3], [2, 2], [3, -1]], float)
    assert optimizer_paths.zigzag(straight) == 0.0
    assert optimizer_paths.zigzag(zig) == 1.0


def test_optimizer_paths_sgd_trajectory_is_the_closed_form():
    # plain SGD on f: x ← x(1 - lr/10), y ← y(1 - 2 lr), exactly
    cfg = optimizer_paths.EXPERIMENT.config("full")
    path = optimizer_paths.path_of("SGD", cfg)
    t = np.arange(cfg["steps"] + 1)
    np.testing.assert_allclose(path[:, 0], -7.0 * (1 - 0.95 / 10) ** t, rtol=1e-12)
    np.testing.assert_allclose(path[:, 1], 2.0 * (1 - 2 * 0.95) ** t, rtol=1e-12)


def test_optimizer_paths_verdict_follows_the_numbers():
    def run(sgd_zz, mom_over, ada_zz, adam_zz):
        r = {}
        for name, zz, over in (("SGD", sgd_zz, 0), ("Momentum", 0.1, mom_over), ("AdaGrad", ada_zz, 0),
                               ("Adam", adam_zz, 0)):
            r[name] = {"zigzag_y": zz, "x_overshoot": over, "path_length": 10.0, "final_distance": 0.1}
        return r
    assert optimizer_paths.verdict(Results.from_metrics([run(1.0, 0.9, 0.0, 0.1)])).verdict == HOLDS
    # SGD moves smoothly, Adam zig-zags: contradicts the claim
    v = optimizer_paths.verdict(Results.from_metrics([run(0.1, 0.9, 0.0, 0.9)]))
    assert v.verdict == DOES_NOT_HOLD
    v = optimizer_paths.verdict(Results.from_metrics([run(1.0, 0.0, 0.0, 0.1)]))   # no overshoot
    assert v.verdict == DOES_NOT_HOLD and "[does not hold] Momentum" in v.rule
    # one deterministic path, no interval to straddle: an unmeasurable (nan) part is inconclusive
    v = optimizer_paths.verdict(Results.from_metrics([run(1.0, float("nan"), 0.0, 0.1)]))
    assert v.verdict == INCONCLUSIVE


# ------------------------------------------------------------------ dropout-ensemble
def test_all_masks_probabilities():
    masks, probs = dropout_ensemble.all_masks(3, 0.2)
    assert masks.shape == (8, 3) and len({tuple(m) for m in masks}) == 8
    assert probs.sum() == pytest.approx(1.0)
    assert probs[-1] == pytest.approx(0.8 ** 3)          # all kept


def test_ensemble_of_linear_net_equals_weight_scaling_and_relu_does_not():
    from deeprecipe import nn
    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 5)).astype(np.float32)
    lin = nn.Sequential(nn.Linear(5, 4, rng=1), nn.Dropout(0.5), nn.Linear(4, 3, rng=2))
    ens, scaled, preds, total = dropout_ensemble.ensemble_vs_scaling(lin, x, 0.5, relu=False)
    assert total == pytest.approx(1.0) and preds.shape == (16, 7)
    np.testing.assert_allclose(ens, scaled, rtol=1e-12, atol=1e-12)
    relu = nn.Sequential(nn.Linear(5, 4, rng=1), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4, 6, rng=2), nn.ReLU(),
                         nn.Linear(6, 3, rng=3))
    ens, scaled, _, _ = dropout_ensemble.ensemble_vs_scaling(relu, x, 0.5, relu=True)
    assert np.max(np.abs(ens - scaled)) > 1e-6          # only an approximation


def test_dropout_ensemble_verdict_follows_the_numbers():
    def run(lin_gap, agree, single):
        return {"linear": {"rel_gap": lin_gap, "library_eval_vs_scaled": 1e-7},
                "relu": {"agreement": agree, "single_agreement_median": single, "rel_gap": 0.1,
                         "acc_ensemble": 0.8, "acc_scaled": 0.8, "acc_single_median": 0.5,
                         "library_eval_vs_scaled": 1e-7}}
    good = Results.from_metrics([run(1e-16, 0.98, 0.6), run(2e-16, 0.975, 0.55), run(0.0, 0.985, 0.5)])
    v = dropout_ensemble.verdict(good)
    assert v.verdict == HOLDS and v.sanity_ok and len(v.sanity) == 1
    # the linear identity is a sanity check beside the verdict: broken, it is flagged, not decisive
    broken = dropout_ensemble.verdict(Results.from_metrics([run(0.05, 0.98, 0.6), run(0.04, 0.975, 0.55),
                                                            run(0.03, 0.985, 0.5)]))
    assert broken.verdict == HOLDS and not broken.sanity_ok and "[FAILED] linear" in broken.rule
    bad = Results.from_metrics([run(1e-16, 0.5, 0.6), run(1e-16, 0.55, 0.6)])
    assert dropout_ensemble.verdict(bad).verdict == DOES_NOT_HOLD
    straddling = Results.from_metrics([run(1e-16, 0.99, 0.6), run(1e-16, 0.90, 0.6), run(1e-16, 0.97, 0.6)])
    assert dropout_ensemble.verdict(straddling).verdict == INCONCLUSIVE


# ------------------------------------------------------------------ overfit / weight-decay
def test_overfit_verdict_follows_the_numbers():
    holds = Results.from_metrics([{"final": {"train_acc": a, "test_acc": b}}
                                  for a, b in ((1.0, 0.72), (0.99, 0.74), (1.0, 0.75))])
    assert overfit.verdict(holds).verdict == HOLDS
    no_gap = Results.from_metrics([{"final": {"train_acc": a, "test_acc": b}}
                                   for a, b in ((0.99, 0.97), (1.0, 0.98), (0.99, 0.985))])
    v = overfit.verdict(no_gap)
    assert v.verdict == DOES_NOT_HOLD and "[does not hold] train - test" in v.rule
    underfit = Results.from_metrics([{"final": {"train_acc": a, "test_acc": b}}
                                     for a, b in ((0.6, 0.4), (0.62, 0.41), (0.58, 0.42))])
    assert overfit.verdict(underfit).verdict == DOES_NOT_HOLD
    straddling = Results.from_metrics([{"final": {"train_acc": a, "test_acc": b}}
                                       for a, b in ((1.0, 0.75), (0.90, 0.75), (0.97, 0.75))])
    assert overfit.verdict(straddling).verdict == INCONCLUSIVE


def _wd_run(gap0, gap1, err=1e-16):
    arm = lambda g: {"final": {"gap": g, "test_acc": 0.7, "weight_sq_norm": 10.0}}  # noqa: E731
    return {"no_decay": arm(gap0), "decay": arm(gap1), "update_rule_max_error": err}


def test_weight_decay_verdict_follows_the_numbers():
    assert weight_decay.verdict(Results.from_metrics([_wd_run(0.25, 0.1), _wd_run(0.3, 0.12),
                                                      _wd_run(0.2, 0.11)])).verdict == HOLDS
    wider = Results.from_metrics([_wd_run(0.1, 0.25), _wd_run(0.12, 0.3), _wd_run(0.11, 0.2)])
    assert weight_decay.verdict(wider).verdict == DOES_NOT_HOLD
    straddling = Results.from_metrics([_wd_run(0.25, 0.1), _wd_run(0.1, 0.2), _wd_run(0.2, 0.18)])
    assert weight_decay.verdict(straddling).verdict == INCONCLUSIVE
    # the update rule is a sanity check beside the verdict, not a part of the empirical decision
    wrong_rule = Results.from_metrics([_wd_run(0.25, 0.1, 1e-3), _wd_run(0.3, 0.12, 1e-3), _wd_run(0.2, 0.11, 1e-3)])
    v = weight_decay.verdict(wrong_rule)
    assert v.verdict == HOLDS and not v.sanity_ok and "[FAILED] max |SGD step" in v.rule
    assert v.to_dict()["sanity"][0]["ok"] is False


def test_weight_decay_update_rule_is_measured_exactly():
    assert weight_decay.update_rule_error(0.01, 0.1, seed=0) < 1e-12
