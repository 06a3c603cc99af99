"""Option names on the command line and in TOML files: the suggestion for an unknown one.

``difflib`` finds typos (``--epoch`` -> ``--epochs``) but not the other names people use
for the same thing (``--learning-rate`` for ``--lr``); :data:`SYNONYMS` lists those, so
the suggestion works for both kinds of mistake, on the command line and in a file.
"""
from __future__ import annotations

import difflib

#: other spellings people use -> deeprecipe's option name (underscores, no dashes)
SYNONYMS = {
    "learning_rate": "lr", "learningrate": "lr", "eta": "lr", "step_size": "lr",
    "bs": "batch_size", "batch": "batch_size", "batchsize": "batch_size", "minibatch_size": "batch_size",
    "wd": "weight_decay", "l2": "weight_decay", "decay": "weight_decay",
    "optim": "optimizer", "opt": "optimizer", "solver": "optimizer",
    "act": "activation", "nonlinearity": "activation",
    "normalization": "norm", "dataset": "data", "arch": "model", "architecture": "model",
    "n_epochs": "epochs", "num_epochs": "epochs", "epoch": "epochs", "max_epochs": "epochs",
    "lr_schedule": "schedule", "scheduler": "schedule", "output": "out", "output_dir": "out",
    "outdir": "out", "dir": "out", "random_seed": "seed", "early_stopping": "patience",
    "initialization": "init", "initializer": "init", "valid_fraction": "val_fraction",
    "validation_split": "val_fraction", "val_split": "val_fraction", "drop": "dropout",
}


def suggest(name: str, valid) -> str | None:
    """The valid option meant by ``name`` (any of ``--x-y``, ``x-y``, ``x_y``), or None.

    Returned in the underscore form; callers format it as ``--x-y`` or ``x_y``.
    """
    key = name.lstrip("-").split("=", 1)[0].lower().replace("-", "_")
    valid = list(valid)
    if key in SYNONYMS and SYNONYMS[key] in valid:
        return SYNONYMS[key]
    near = difflib.get_close_matches(key, valid, n=1)
    return near[0] if near else None
