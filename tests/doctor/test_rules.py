"""Each rule of the doctor fires on a hand-made history with its symptom, stays silent on a
healthy one, and switches at its threshold."""
import copy
import json
import math

import numpy as np
import pytest

from deeprecipe.doctor import FINDING_IDS, diagnose
from deeprecipe.doctor import rules as R

E = 10
CHANCE = math.log(10)


def healthy() -> dict:
    """10 epochs of a well-behaved 3-layer ReLU run on 10 classes."""
    loss = list(np.linspace(1.2, 0.25, E))
    d = {
        "loss": loss, "val_loss": [x + 0.05 for x in loss],
        "accuracy": list(np.linspace(0.6, 0.93, E)), "val_accuracy": list(np.linspace(0.58, 0.9, E)),
        "grad_norm": list(np.linspace(1.5, 0.6, E)),
        "num_classes": 10,
        "inputs": {"abs_feature_mean_max": 0.9, "feature_std_max": 0.5, "min": 0.0, "max": 1.0},
        "steps": {"batch_loss": {"step": [0, 1, 2], "value": [2.31, 2.0, 1.8]},
                  "grad_norm": {"step": [0, 20], "value": [1.4, 1.3]}},
    }
    for layer in ("0", "2", "4"):
        d[f"grad_norm/{layer}"] = list(np.linspace(0.8, 0.3, E))
        d[f"update_ratio/{layer}"] = [2e-3] * E
    for m in ("1", "3"):
        d[f"act_dead/{m}"] = [0.05] * E
        d[f"act_std/{m}"] = [0.6] * E
    return d


def ids(d, severities=("error", "warning")):
    return [f.id for f in diagnose(d).findings if f.severity in severities]


def test_healthy_history_is_healthy_and_says_why():
    d = diagnose(healthy())
    assert d.healthy and d.findings == []
    text = str(d)
    assert "Healthy" in text and "final train loss 0.25" in text


def sick(rule_id):
    d = healthy()
    if rule_id == "divergence":
        d["loss"][-3:] = [3.0, 9.0, float("nan")]
    elif rule_id == "exploding-gradient":
        d["steps"]["grad_norm"]["value"][0] = 5e3
    elif rule_id == "vanishing-gradient":
        d["grad_norm/0"] = [1e-4] * E
    elif rule_id == "dead-units":
        d["act_dead/3"][-1] = 0.7
    elif rule_id == "saturated-units":
        d["act_saturated/1"] = [0.8] * E
    elif rule_id == "lr-too-high":
        for layer in ("0", "2", "4"):
            d[f"update_ratio/{layer}"] = [0.2] * E
    elif rule_id == "lr-too-low":
        for layer in ("0", "2", "4"):
            d[f"update_ratio/{layer}"] = [1e-6] * E
        d["loss"] = list(np.linspace(2.3, 2.0, E))
    elif rule_id == "plateau-large-gradient":
        d["loss"] = [2.0, 1.5, 1.4, 1.45, 1.42] * 2
        d["grad_norm"] = [1.5] * E
    elif rule_id == "saddle-point":
        d["loss"] = [2.3026] * E
        d["grad_norm"] = [1e-3] * E
        for m in ("1", "3"):
            d[f"act_std/{m}"] = [1e-4] * E
    elif rule_id == "underfitting":
        d["loss"] = list(np.linspace(2.0, 1.2, E // 2)) + [1.2] * (E // 2)
        d["grad_norm"] = list(np.linspace(1.5, 0.3, E))
    elif rule_id == "overfitting":
        d["val_loss"] = [1.0, 0.8, 0.6, 0.5, 0.55, 0.6, 0.7, 0.8, 0.9, 1.0]
    elif rule_id == "unnormalized-input":
        d["inputs"].update(abs_feature_mean_max=120.0, feature_std_max=80.0, max=255.0)
    return d


@pytest.mark.parametrize("rule_id", FINDING_IDS)
def test_each_rule_fires_on_its_symptom_and_leads_the_note(rule_id):
    d = diagnose(sick(rule_id))
    assert not d.healthy
    assert d.findings[0].id == rule_id, [(f.id, f.severity) for f in d.findings]
    f = d.findings[0]
    assert f.severity in ("error", "warning") and f.advice and f.evidence
    assert all(isinstance(v, float) for v in f.to_dict()["evidence"].values())
    # every rule is silent on the healthy history (checked rule by rule, not via the differential)
    rule = next(r for r in R.RULES if r.id == rule_id)
    assert rule.check(diagnose(healthy()).signals) is None


def test_json_contract_is_exact():
    for rule_id in FINDING_IDS:
        out = json.loads(json.dumps(diagnose(sick(rule_id)).to_dict(), allow_nan=False))
        assert set(out) == {"healthy", "findings"} and isinstance(out["healthy"], bool)
        for f in out["findings"]:
            assert set(f) == {"id", "severity", "evidence", "advice"}
            assert f["id"] in FINDING_IDS and f["severity"] in ("error", "warning", "info")
            assert isinstance(f["advice"], str) and f["advice"]
            assert all(isinstance(k, str) and isinstance(v, float) and math.isfinite(v)
                       for k, v in f["evidence"].items())
    assert diagnose(healthy()).to_dict() == {"healthy": True, "findings": []}


def _with(**changes):
    d = healthy()
    for k, v in changes.items():
        d[k] = v
    return d


@pytest.mark.parametrize("value, fires", [(R.VANISHING_RATIO * 0.8, True), (R.VANISHING_RATIO * 1.2, False)])
def test_vanishing_threshold_edge(value, fires):
    d = healthy()
    d["grad_norm/0"] = [value * x for x in d["grad_norm/4"]]
    assert ("vanishing-gradient" in ids(d)) == fires


@pytest.mark.parametrize("frac, fires", [(R.DEAD_FRACTION, True), (R.DEAD_FRACTION - 0.01, False)])
def test_dead_units_threshold_edge(frac, fires):
    d = healthy()
    d["act_dead/1"][-1] = frac
    assert ("dead-units" in ids(d)) == fires


def test_a_whole_dead_layer_is_an_error():
    d = healthy()
    d["act_dead/1"][-1] = 1.0
    assert diagnose(d).findings[0].severity == "error"


@pytest.mark.parametrize("frac, fires", [(R.SATURATED_FRACTION, True), (R.SATURATED_FRACTION - 0.01, False)])
def test_saturation_threshold_edge(frac, fires):
    assert ("saturated-units" in ids(_with(**{"act_saturated/1": [frac] * E}))) == fires


@pytest.mark.parametrize("scale, fires", [(R.INPUT_SCALE * 1.01, True), (R.INPUT_SCALE, False)])
def test_input_scale_threshold_edge(scale, fires):
    d = healthy()
    d["inputs"]["feature_std_max"] = scale
    assert ("unnormalized-input" in ids(d)) == fires


@pytest.mark.parametrize("g0, fires", [(R.EXPLODING_NORM * 1.01, True), (R.EXPLODING_NORM * 0.99, False)])
def test_exploding_threshold_edge(g0, fires):
    d = healthy()
    d["steps"]["grad_norm"]["value"][0] = g0
    assert ("exploding-gradient" in ids(d)) == fires


@pytest.mark.parametrize("factor, fires", [(1.01, True), (0.99, False)])
def test_divergence_threshold_edge(factor, fires):
    d = healthy()
    d["loss"][-1] = R.DIVERGED_LOSS * CHANCE * factor
    assert ("divergence" in ids(d)) == fires


@pytest.mark.parametrize("ratio, fires", [(R.UPDATE_RATIO_HIGH * 1.1, True), (R.UPDATE_RATIO_HIGH * 0.9, False)])
def test_lr_too_high_update_ratio_edge(ratio, fires):
    d = healthy()
    for layer in ("0", "2", "4"):
        d[f"update_ratio/{layer}"] = [ratio] * E
    assert ("lr-too-high" in ids(d)) == fires


def test_lr_too_high_from_an_unstable_loss():
    d = healthy()
    d["loss"] = [1.2, 0.9, 1.1, 0.8, 1.0, 0.7, 0.95, 0.6, 0.9, 0.65]
    assert "lr-too-high" in ids(d)


@pytest.mark.parametrize("ratio, fires", [(R.UPDATE_RATIO_LOW * 0.9, True), (R.UPDATE_RATIO_LOW * 1.1, False)])
def test_lr_too_low_edge(ratio, fires):
    d = sick("lr-too-low")
    for layer in ("0", "2", "4"):
        d[f"update_ratio/{layer}"] = [ratio] * E
    assert ("lr-too-low" in ids(d)) == fires


def test_overfitting_says_from_which_epoch_and_needs_a_real_rise():
    f = diagnose(sick("overfitting")).findings[0]
    assert f.since_epoch == 3 and f.evidence["best_val_epoch"] == 3.0
    assert "epoch 3" in f.advice
    d = healthy()
    d["val_loss"] = [1.0, 0.8, 0.6, 0.5, 0.52, 0.53, 0.54, 0.54, 0.54, 0.54]   # +8%: below VAL_RISE
    assert "overfitting" not in ids(d)


def test_overfitting_with_early_stopping_is_handled():
    d = sick("overfitting")
    d["config"] = {"patience": 2}
    assert "overfitting" in ids(d, ("info",)) and diagnose(d).healthy


def test_differential_keeps_the_cause_first():
    d = sick("saturated-units")
    d["grad_norm/0"] = [1e-4] * E      # vanishing gradient caused by the saturation
    diag = diagnose(d)
    assert diag.ids == ["saturated-units"]
    assert "vanishing-gradient" in [f.id for f in diag.findings if f.severity == "info"]
    d = sick("divergence")
    d["act_dead/1"][-1] = 1.0
    assert diagnose(d).ids == ["divergence"]


def test_underfitting_needs_healthy_optimization_and_the_probe_decides():
    d = sick("underfitting")
    assert ids(d) == ["underfitting"]
    better = diagnose(d, probe={"control_loss": 0.5, "run_loss": 1.2})
    assert "underfitting" not in better.ids and better.findings[0].evidence["control_train_loss"] == 0.5
    worse = diagnose(d, probe={"control_loss": 1.5, "run_loss": 1.2})
    assert worse.ids == ["underfitting"]


def test_history_object_and_bad_inputs():
    from deeprecipe.train.history import History
    h = History()
    for i, x in enumerate(healthy()["loss"]):
        h.add_epoch(i, {"loss": x, "val_loss": x + 0.05})
    assert diagnose(h).signals.epochs == E
    with pytest.raises(ValueError, match="different lengths"):
        diagnose({"loss": [1.0, 0.9], "val_loss": [1.0]})
    with pytest.raises(TypeError, match="run folder, a History or a dict"):
        diagnose(42)


def test_diagnosis_is_fast():
    d = healthy()
    for k in list(d):
        if "/" in k:
            d[k] = d[k] * 20
    for k in ("loss", "val_loss", "accuracy", "val_accuracy", "grad_norm"):
        d[k] = d[k] * 20
    diag = diagnose(copy.deepcopy(d))
    assert diag.signals.epochs == 200   # timing is reported, not asserted (shared machines)
    assert diag.seconds >= 0
