"""Experiments batchnorm, l1-vs-l2, dropout, early-stopping, hyperparameter-search and
optimizers-mnist: the test preset runs end to end, the helpers compute what they claim, and
each verdict follows hand-made metrics (supporting → holds, contradicting → does not hold)."""
import numpy as np
import pytest

from deeprecipe.lab import DOES_NOT_HOLD, HOLDS, INCONCLUSIVE, registry
from deeprecipe.lab.experiment import Results
from deeprecipe.lab.experiments import (
    batchnorm, dropout, early_stopping, hyperparameter_search, l1_vs_l2, optimizers_mnist,
)

from .helpers import run_test_preset

BATCH2 = ["batchnorm", "l1-vs-l2", "dropout", "early-stopping", "hyperparameter-search", "optimizers-mnist"]


@pytest.mark.parametrize("exp_id", BATCH2)
def test_test_preset_runs_end_to_end(exp_id, tmp_path):
    exp = registry.get(exp_id)
    o = run_test_preset(exp, tmp_path)
    assert o.seeds == list(range(exp.n_seeds("test")))


def test_full_presets_follow_the_sources():
    bn = batchnorm.EXPERIMENT.config("full")
    np.testing.assert_allclose(bn["scales"], np.logspace(0, -4, 16))
    assert (bn["n_train"], bn["hidden"], bn["lr"], bn["batch_size"], bn["epochs"], bn["bn_eps"]) == \
        (1000, [100] * 5, 0.01, 100, 20, 1e-6)
    do = dropout.EXPERIMENT.config("full")
    assert (do["n_train"], do["hidden"], do["dropout"], do["epochs"], do["scale_at_test"]) == \
        (300, [100] * 6, 0.2, 301, True)
    assert l1_vs_l2.EXPERIMENT.config("full")["l2"] == 0.1
    hp = hyperparameter_search.EXPERIMENT.config("full")
    assert (hp["n_examples"], hp["val_fraction"], hp["hidden"], hp["epochs"], hp["trials"]) == \
        (500, 0.2, [100] * 6, 50, 100)
    assert (hp["log10_lr"], hp["log10_wd"]) == ([-6.0, -2.0], [-8.0, -4.0])
    om = optimizers_mnist.EXPERIMENT.config("full")
    assert (om["hidden"], om["batch_size"], om["steps"]) == ([100] * 4, 128, 2000)
    assert om["optimizers"]["SGD"] == {"optimizer": "sgd", "lr": 0.01}
    for exp_id in BATCH2:
        exp = registry.get(exp_id)
        assert exp.n_seeds("full") >= exp.n_seeds("quick") >= 1


# ------------------------------------------------------------------ batchnorm
def test_batchnorm_grid_fills_stopped_runs_with_chance():
    grid = batchnorm.eval_epochs(10, 4)
    np.testing.assert_array_equal(grid, [4, 8, 10])
    # a run that diverged in epoch 6: evaluated at 4 and (stop) 6, NaN there
    acc = batchnorm.on_grid([4, 6], [0.3, np.nan], grid, fill=0.1)
    np.testing.assert_allclose(acc, [0.3, 0.1, 0.1])
    assert batchnorm.win_fraction([0.9, 0.5, 0.2], [0.1, 0.5, 0.3]) == (1, 3)   # a tie is not a win


def _bn_run(bn, plain):
    def arm(a):
        a = np.asarray(a, float)
        return {"final_train_acc": a, "final_test_acc": a - 0.05, "diverged": np.zeros(a.size, bool)}
    return {"scales": np.logspace(0, -4, len(bn)), "bn": arm(bn), "plain": arm(plain)}


def test_batchnorm_verdict_follows_the_numbers():
    plain = [0.9, 0.8, 0.3, 0.1, 0.1, 0.1]
    good = [0.95, 0.9, 0.9, 0.9, 0.8, 0.5]             # wins 6/6
    assert batchnorm.verdict(Results.from_metrics([_bn_run(good, plain)] * 2)).verdict == HOLDS
    bad = [0.5, 0.5, 0.2, 0.1, 0.1, 0.1]                # wins 0/6
    v = batchnorm.verdict(Results.from_metrics([_bn_run(bad, plain)] * 2))
    assert v.verdict == DOES_NOT_HOLD and v.numbers["scales where BN wins"] == "0/6"
    middle = [0.5, 0.5, 0.9, 0.9, 0.8, 0.1]             # wins 3/6 = 1/2: refuted ("most" needs ≥ 2/3)
    assert batchnorm.verdict(Results.from_metrics([_bn_run(middle, plain)])).verdict == DOES_NOT_HOLD
    between = [0.95, 0.5, 0.9, 0.9, 0.8, 0.1, 0.6]      # wins 4/7: between 1/2 and 2/3
    r = _bn_run(between, plain + [0.7])
    assert batchnorm.verdict(Results.from_metrics([r])).verdict == INCONCLUSIVE


# ------------------------------------------------------------------ l1-vs-l2
def test_matched_l1_equalizes_the_penalties():
    w = np.random.default_rng(0).standard_normal(1000) * 0.05
    lam1 = l1_vs_l2.matched_l1(w, 0.1)
    assert lam1 * np.abs(w).sum() == pytest.approx(0.05 * (w ** 2).sum(), rel=1e-12)
    # for Gaussian weights λ1 ≈ λ2/2·σ·√(π/2)
    assert lam1 == pytest.approx(0.05 * 0.05 * np.sqrt(np.pi / 2), rel=0.05)


def test_weight_stats_measures_sparsity():
    w = np.concatenate([np.zeros(900), np.full(100, 0.5)])
    s = l1_vs_l2.weight_stats(w, 1e-3)
    assert s["frac_near_zero"] == 0.9 and s["max_abs"] == 0.5 and s["median_abs"] == 0.0
    assert s["hist_w"].sum() == 1000 and s["hist_log_abs"].sum() == 1000


def _l1_run(nz1, nz2, q1, q2):
    arm = lambda nz, q: {"weights": {"frac_near_zero": nz, "q999_abs": q, "median_abs": 0.01},  # noqa: E731
                         "final": {"test_acc": 0.7}}
    return {"l1": arm(nz1, q1), "l2": arm(nz2, q2), "l1_lambda": 0.007, "l2_lambda": 0.1}


def test_l1_vs_l2_verdict_follows_the_numbers():
    good = [_l1_run(0.45, 0.02, 0.40, 0.24), _l1_run(0.44, 0.025, 0.39, 0.25), _l1_run(0.46, 0.02, 0.41, 0.24)]
    assert l1_vs_l2.verdict(Results.from_metrics(good)).verdict == HOLDS
    l2_sparser = [_l1_run(0.02, 0.45, 0.40, 0.24), _l1_run(0.025, 0.44, 0.39, 0.25), _l1_run(0.02, 0.46, 0.41, 0.24)]
    v = l1_vs_l2.verdict(Results.from_metrics(l2_sparser))
    assert v.verdict == DOES_NOT_HOLD and "[does not hold] fraction of |w|" in v.rule
    l2_larger = [_l1_run(0.45, 0.02, 0.20, 0.24), _l1_run(0.44, 0.025, 0.19, 0.25), _l1_run(0.46, 0.02, 0.2, 0.24)]
    assert l1_vs_l2.verdict(Results.from_metrics(l2_larger)).verdict == DOES_NOT_HOLD


# ------------------------------------------------------------------ dropout
def _do_run(tr0, te0, tr1, te1):
    return {"no_dropout": {"final": {"train_acc": tr0, "test_acc": te0}},
            "dropout": {"final": {"train_acc": tr1, "test_acc": te1}}}


def test_dropout_verdict_follows_the_numbers():
    good = [_do_run(1.0, 0.72, 0.85, 0.76), _do_run(0.99, 0.73, 0.86, 0.78), _do_run(1.0, 0.71, 0.84, 0.75)]
    assert dropout.verdict(Results.from_metrics(good)).verdict == HOLDS
    worse_test = [_do_run(1.0, 0.74, 0.52, 0.45), _do_run(0.99, 0.73, 0.50, 0.46), _do_run(1.0, 0.74, 0.55, 0.45)]
    v = dropout.verdict(Results.from_metrics(worse_test))
    assert v.verdict == DOES_NOT_HOLD and "[does not hold] test acc" in v.rule
    higher_train = [_do_run(0.8, 0.72, 0.9, 0.76), _do_run(0.81, 0.73, 0.92, 0.78)]
    assert dropout.verdict(Results.from_metrics(higher_train)).verdict == DOES_NOT_HOLD


# ------------------------------------------------------------------ early-stopping
def test_patience_rule_matches_the_library_early_stopping():
    from deeprecipe.train.callbacks import EarlyStopping
    rng = np.random.default_rng(3)
    for _ in range(20):
        val = np.cumsum(rng.normal(0.0, 1.0, 30))
        patience = int(rng.integers(1, 6))
        es = EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=False)
        es.on_train_begin()
        stop = len(val) - 1
        for epoch, v in enumerate(val):
            es.on_epoch_end(epoch, {"val_loss": float(v)})
            if es.stopped_epoch:
                stop = es.stopped_epoch
                break
        assert early_stopping.patience_index(val, patience) == (es.best_epoch, stop)
    assert early_stopping.best_index([3.0, 1.0, 2.0, 1.0]) == 1


def _es_run(val_loss, test_acc, test_loss):
    n = len(val_loss)
    return {"curves": {"epoch": np.arange(1, n + 1), "val_loss": np.asarray(val_loss, float),
                       "train_loss": np.linspace(1.0, 0.01, n), "test_acc": np.asarray(test_acc, float),
                       "test_loss": np.asarray(test_loss, float), "val_acc": np.asarray(test_acc, float)}}


def test_early_stopping_verdict_follows_the_numbers():
    u = [1.0, 0.6, 0.5, 0.55, 0.7, 0.9]              # minimum at epoch 3
    good = [_es_run(u, [0.6, 0.7, 0.80 + d, 0.78, 0.76, 0.75], [1.0, 0.6, 0.5, 0.55, 0.7, 0.9 + d])
            for d in (0.0, 0.01, 0.02)]
    v = early_stopping.verdict(Results.from_metrics(good, config={"patience": 2}))
    assert v.verdict == HOLDS and v.numbers["early-stopping epoch (min val loss)"] == "3, 3, 3"
    worse = [_es_run(u, [0.6, 0.7, 0.70 + d, 0.78, 0.8, 0.82], [1.0, 0.6, 0.9, 0.55, 0.5, 0.4 + d])
             for d in (0.0, 0.01, 0.02)]
    assert early_stopping.verdict(Results.from_metrics(worse)).verdict == DOES_NOT_HOLD
    still_falling = [_es_run([1.0, 0.8, 0.6, 0.5], [0.5, 0.6, 0.7, 0.8], [1.0, 0.8, 0.6, 0.5])] * 2
    v = early_stopping.verdict(Results.from_metrics(still_falling))
    assert v.verdict == INCONCLUSIVE and "[inconclusive] the validation loss is lowest before" in v.rule


# ------------------------------------------------------------------ hyperparameter-search
def test_next_range_spans_the_best_trials():
    assert hyperparameter_search.next_range([-5.0, -3.0, -2.5, -4.0], [0.1, 0.6, 0.5, 0.2], 2) == [-3.0, -2.5]
    assert hyperparameter_search.next_range([-5.0, -3.0, -2.5, -4.0], [0.1, 0.6, 0.5, 0.2], 3) == [-4.0, -2.5]


def test_search_never_sees_the_test_set():
    from deeprecipe.lab.data import image_data
    d = image_data("synthetic", n_train=20, n_val=10, n_test=30, seed=0)
    view = hyperparameter_search._search_view(d)
    assert len(view.y_val) == 0 and len(view.y_train) == 20
    np.testing.assert_array_equal(view.x_test, d.x_val)          # the held-out split is the validation part


def _hp_run(first, last):
    acc = np.array([first, (np.asarray(first) + np.asarray(last)) / 2, last], float)
    return {"val_acc": acc, "range_log10_lr": np.array([[-6, -2], [-3, -2], [-2.5, -2.2]], float),
            "range_log10_wd": np.array([[-8, -4], [-7, -5], [-6, -5.5]], float),
            "chosen": {"log10_lr": -2.3, "log10_wd": -5.8, "val_acc": 0.6, "test_acc": 0.55},
            "log10_lr": np.zeros_like(acc), "log10_wd": np.zeros_like(acc), "test_set_evaluations": 1}


def test_hyperparameter_search_verdict_follows_the_numbers():
    good = [_hp_run([0.1, 0.1, 0.5, 0.2], [0.5, 0.55, 0.6, 0.5]), _hp_run([0.1, 0.4, 0.1, 0.1], [0.45, 0.5, 0.5, 0.6])]
    assert hyperparameter_search.verdict(Results.from_metrics(good)).verdict == HOLDS
    worse = [_hp_run([0.5, 0.55, 0.6, 0.5], [0.1, 0.1, 0.5, 0.2]), _hp_run([0.45, 0.5, 0.5, 0.6], [0.1, 0.4, 0.1, 0.1])]
    assert hyperparameter_search.verdict(Results.from_metrics(worse)).verdict == DOES_NOT_HOLD


# ------------------------------------------------------------------ optimizers-mnist
def test_optimizer_table_builds_every_optimizer_including_lookahead():
    from deeprecipe import nn, optim
    for name, spec in optimizers_mnist.OPTIMIZERS.items():
        opt = optimizers_mnist.build_optimizer(spec, nn.Linear(3, 2, rng=0).parameters())
        assert opt.param_groups[0]["lr"] == spec["lr"], name
    assert isinstance(optimizers_mnist.build_optimizer(optimizers_mnist.OPTIMIZERS["Lookahead(Adam)"],
                                                       nn.Linear(3, 2, rng=0).parameters()), optim.Lookahead)
    assert optimizers_mnist.tail_mean(np.arange(100.0), 0.1) == pytest.approx(94.5)


def _om_run(losses):
    names = list(losses)
    r = {"names": names}
    for n, v in losses.items():
        r[optimizers_mnist.key(n)] = {"final_loss": v, "test_acc": 0.8}
    return r


def test_optimizers_mnist_verdict_follows_the_numbers():
    good = [_om_run({"SGD": 0.9 + d, "Momentum": 0.6, "Adam": 0.5 + d}) for d in (0.0, 0.01, 0.03)]
    v = optimizers_mnist.verdict(Results.from_metrics(good))
    assert v.verdict == HOLDS and v.numbers["SGD rank (1 = fastest)"] == "3 of 3"
    adam_slower = [_om_run({"SGD": 0.9 + d, "Momentum": 0.6, "Adam": 1.2 + d}) for d in (0.0, 0.01, 0.03)]
    v = optimizers_mnist.verdict(Results.from_metrics(adam_slower))
    assert v.verdict == DOES_NOT_HOLD and "[does not hold] final loss SGD - Adam" in v.rule
