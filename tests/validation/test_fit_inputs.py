"""Arrays and arguments given to ``fit``: each bad one named, before anything is written."""
import numpy as np
import pytest

from deeprecipe import nn
from deeprecipe.train import CSVLogger, ModelCheckpoint, fit


def _x_y():
    rng = np.random.default_rng(0)
    return rng.normal(size=(20, 4)).astype(np.float32), rng.integers(0, 3, 20)


@pytest.mark.parametrize("case,match", [
    ("ragged", r"train x cannot be made into one array"),
    ("y_none", r"no targets y"),
    ("overflow", r"x holds 1e\+300, beyond the largest float32"),
    ("callbacks_int", r"callbacks must be a list of callbacks, got int"),
    ("negative", r"labels must lie in \[0, 3\).*= -1"),
    ("stray", r"labels must lie in \[0, 3\).*= 1000000"),
    ("empty_val", r"the val data is empty"),
    ("int_rows", r"probability rows, which must be floats, got dtype int64"),
])
def test_bad_fit_input(tmp_path, case, match):
    x, y = _x_y()
    kw = {"callbacks": [CSVLogger(tmp_path / "out" / "m.csv"), ModelCheckpoint(tmp_path / "out" / "ck")]}
    train, val = (x, y), None
    if case == "ragged":
        train = ([[1.0, 2.0], [3.0]], [0, 1])
    elif case == "y_none":
        train = (x, None)
    elif case == "overflow":
        train = (np.full((20, 4), 1e300), y)
    elif case == "callbacks_int":
        kw["callbacks"] = 5
    elif case == "negative":
        y[2] = -1
    elif case == "stray":
        y[2] = 1_000_000
    elif case == "empty_val":
        val = (x[:0], y[:0])
    elif case == "int_rows":  # (N, 3) integers used to pass the checks and fail inside the loss
        train = (x, np.eye(3, dtype=np.int64)[y])
    with pytest.raises((ValueError, TypeError), match=match):
        fit(nn.MLP([4, 3], rng=0), train, val=val, epochs=1, verbose=0, **kw)
    assert not (tmp_path / "out").exists()
