"""Training checkpoints: the structure of a resumable state, checked before any of it is used.

:func:`deeprecipe.load` already guarantees that a checkpoint file is intact (zip, header,
dtypes, shapes, SHA-256).  A file can still be intact and wrong: written by another tool,
by an older format, or edited and re-saved.  :func:`check_training_state` checks every field
``fit`` writes (``train/checkpoint.py``) -- counters are non-negative integers, the RNG state is JSON,
the running sums, callback keys and states have their shapes, every model array is finite
(a checkpoint is the last *good* state: one holding NaN/inf would resume a dead run) --
and raises :class:`~deeprecipe.serialization.CheckpointError` naming the file and the field.
"""
from __future__ import annotations

import json
import numbers

import numpy as np

_COUNTERS = ("epoch", "batch", "global_step", "epochs", "steps_per_epoch")


def _fail(path, msg):
    from ..serialization import CheckpointError
    return CheckpointError(f"{path!r}: {msg}; the file was not written by this deeprecipe's fit, or was edited: "
                           "resume from another checkpoint, or start the run again")


def _int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _num(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def check_training_state(state: dict, path) -> dict:
    """Check a training checkpoint's tree (see module docs); returns it unchanged."""
    for k in _COUNTERS:
        v = state.get(k)
        if not _int(v) or v < 0:
            raise _fail(path, f"field {k!r} must be a non-negative integer, got {v!r}")
    if state["batch"] > state["steps_per_epoch"]:
        raise _fail(path, f"batch {state['batch']} is beyond the {state['steps_per_epoch']} batches per epoch")
    if not isinstance(state.get("stopped"), bool):
        raise _fail(path, f"field 'stopped' must be true or false, got {state.get('stopped')!r}")
    if not isinstance(state.get("stop_reason"), str):
        raise _fail(path, f"field 'stop_reason' must be a string, got {state.get('stop_reason')!r}")
    if not _int(state.get("loader_seed")):
        raise _fail(path, f"field 'loader_seed' must be an integer, got {state.get('loader_seed')!r}")
    rng = state.get("rng")
    if isinstance(rng, str):   # format /1 kept it as JSON text
        try:
            rng = json.loads(rng)
        except ValueError:
            rng = None
    if not isinstance(rng, dict):
        raise _fail(path, "field 'rng' must hold the random generator's state as a JSON object")
    sums = state.get("sums")
    if not (isinstance(sums, dict) and _num(sums.get("loss")) and _int(sums.get("n"))
            and isinstance(sums.get("metric"), list) and isinstance(sums.get("metric_n"), list)
            and len(sums["metric"]) == len(sums["metric_n"])
            and all(_num(v) for v in sums["metric"]) and all(_int(v) for v in sums["metric_n"])):
        raise _fail(path, "field 'sums' (the running sums of a partial epoch) is malformed")
    model = state.get("model")
    if not isinstance(model, dict) or not all(isinstance(k, str) and isinstance(v, np.ndarray)
                                              for k, v in model.items()):
        raise _fail(path, "field 'model' must map parameter names to arrays")
    for k, v in model.items():
        if v.dtype.kind == "f" and not np.isfinite(v).all():
            raise _fail(path, f"model array {k!r} holds NaN or inf (a checkpoint must be a good state)")
    if not isinstance(state.get("optimizer"), dict):
        raise _fail(path, "field 'optimizer' must be an optimizer state dict")
    cbs = state.get("callbacks")
    keys, states = (cbs.get("keys"), cbs.get("states")) if isinstance(cbs, dict) else (None, None)
    if not (isinstance(keys, list) and all(isinstance(k, str) for k in keys) and isinstance(states, list)
            and len(keys) == len(states) and all(isinstance(s, dict) for s in states)):
        raise _fail(path, "field 'callbacks' must hold a list of names ('keys') and one dict per name ('states')")
    return state
