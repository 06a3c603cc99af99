"""What ``fit`` keeps in a training checkpoint to resume exactly, and how it comes back.

The file format is the one of :func:`deeprecipe.serialization.save_checkpoint` (model,
optimizer, epoch, step, RNG state); ``fit`` adds, under the same tree, its position in
the loop (``batch``, ``global_step``, ``epochs``, ``steps_per_epoch``, ``stopped``,
``stop_reason``), the DataLoader seed, the running sums of a partial epoch and every
callback's state (schedules, EarlyStopping, History, ...).  The DataLoader's order
depends only on ``(seed, epoch)``, so a resumed ``fit`` skips the batches already done
and continues with the very same batches and random numbers: on CPU the final weights are
bit-identical to those of an uninterrupted run.  One reader, :func:`load_checkpoint`,
serves both (it is ``deeprecipe.serialization.load_checkpoint``).
"""
from __future__ import annotations

import json
import os

from ..serialization import load_checkpoint, save_checkpoint
from .step import EpochSums

__all__ = ["load_checkpoint", "save_trainer_checkpoint", "load_resume_state", "RESUME_KEYS"]

#: the entries ``fit`` adds to a checkpoint, without which it cannot resume
RESUME_KEYS = ("batch", "global_step", "epochs", "steps_per_epoch", "stopped", "stop_reason", "loader_seed",
               "sums", "callbacks")


def _meta(trainer) -> dict:
    """Readable without the arrays (``serialization.load_metadata(path)['meta']['user']``)."""
    epoch, batch = trainer._next
    return {"epoch": int(epoch), "batch": int(batch), "global_step": int(trainer.global_step)}


def _model_config_ok(model) -> bool:
    config = getattr(model, "config", None)
    if config is None:
        return True
    try:
        json.dumps(config, allow_nan=False)
        return True
    except (TypeError, ValueError):
        return False


def trainer_extra(trainer) -> dict:
    """The loop's own entries of a checkpoint (see the module docstring)."""
    epoch, batch = trainer._next
    loader = trainer.loader
    sums = trainer._sums if (trainer._sums is not None and batch > 0) else EpochSums(len(trainer.metrics))
    return {
        "batch": int(batch),
        "global_step": int(trainer.global_step),
        "epochs": int(trainer.epochs),
        "steps_per_epoch": int(trainer.steps_per_epoch),
        "stopped": bool(trainer.stop_training),
        "stop_reason": trainer.stop_reason or "",
        "loader_seed": int(loader.seed) if loader is not None and hasattr(loader, "seed") else -1,
        "sums": sums.state(),
        "callbacks": trainer.callbacks.state_dict(),
    }


def save_trainer_checkpoint(trainer, path) -> None:
    """Write the trainer's state to ``path`` (atomic)."""
    epoch, _ = trainer._next
    model = trainer.model
    if not _model_config_ok(model):   # a config that is not JSON is left out, not an error
        config, model.config = model.config, None
    else:
        config = None
    try:
        save_checkpoint(os.fspath(path), model=model, optimizer=trainer.optimizer, epoch=int(epoch),
                        step=int(trainer.global_step), meta=_meta(trainer), extra=trainer_extra(trainer))
    finally:
        if config is not None:
            model.config = config


def load_resume_state(path) -> dict:
    """Read a checkpoint ``fit`` can continue from (written by ``ModelCheckpoint`` or
    ``Trainer.save_checkpoint``); the RNG is restored later, by the loop."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path!r} to resume from")
    state = load_checkpoint(path, restore_rng=False)
    if "callback_keys" in state and "callbacks" not in state:   # format /1, written by earlier versions
        state["callbacks"] = {"keys": list(state.pop("callback_keys")), "states": list(state.pop("callback_states"))}
    missing = [k for k in RESUME_KEYS if k not in state]
    if missing:
        raise ValueError(f"{path!r} is a training checkpoint without fit's loop state ({', '.join(missing)}); "
                         "fit can resume only from checkpoints written by fit (ModelCheckpoint); load this one "
                         "with deeprecipe.serialization.load_checkpoint(path, model=..., optimizer=...)")
    from ..validation.checkpoints import check_training_state
    return check_training_state(state, path)
