"""Shared pieces of the sweep tests: a small, fast, real training job (scikit-learn's digits)."""
import dataclasses

import pytest

from deeprecipe.train.config import TrainConfig

pytest.importorskip("optuna", reason="the sweep tests need Optuna: pip install 'deeprecipe[sweep]'")
pytest.importorskip("sklearn", reason="the sweep tests train on scikit-learn's digits")

BASE = dataclasses.asdict(TrainConfig(data="digits", model="mlp:16", epochs=2, batch_size=64, progress="none"))


def spec(tmp_path, **kw):
    from deeprecipe.sweep import SweepSpec
    d = {"base": dict(BASE), "params": [{"name": "lr", "kind": "log", "low": 1e-3, "high": 1e-1}],
         "trials": 3, "pruner": "none", "out": str(tmp_path / "sweep"), "sampler": "random"}
    d.update(kw)
    return SweepSpec(**d)
