"""Shared helpers for the boundary tests: small data files and a snapshot of a folder."""
import hashlib
import os

import numpy as np
import pytest


def snapshot(root) -> dict:
    """Every entry under ``root`` (links not followed) -> its bytes' digest, 'dir' or 'link'."""
    out = {}
    root = os.fspath(root)
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(d, n)
            rel = os.path.relpath(p, root)
            if os.path.islink(p):
                out[rel] = "link:" + os.readlink(p)
            elif os.path.isdir(p):
                out[rel] = "dir"
            else:
                with open(p, "rb") as f:
                    out[rel] = hashlib.sha256(f.read()).hexdigest()
    return out


def toy_arrays(n=120, d=4, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, size=n)
    centers = rng.normal(0, 3, size=(classes, d))
    x = (centers[y] + rng.normal(size=(n, d))).astype(np.float32)
    return x, y


@pytest.fixture
def toy_npz(tmp_path):
    x, y = toy_arrays()
    path = tmp_path / "toy.npz"
    np.savez(path, x_train=x[:100], y_train=y[:100], x_test=x[100:], y_test=y[100:])
    return path
