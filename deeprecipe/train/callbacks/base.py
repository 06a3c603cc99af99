"""``Callback``: hooks into the training loop, with Keras's method names and semantics.

A callback is any object with some of these methods (all optional, duck-typed):

=============================================  ===========================================
``on_train_begin(logs)``                       before the first epoch; reset state here
``on_epoch_begin(epoch, logs)``                before each epoch (``epoch`` from 0)
``on_train_batch_begin(batch, logs)``          before each optimizer step (``batch`` from 0)
``on_train_batch_end(batch, logs)``            after it; ``logs['loss']`` is the batch loss
``on_epoch_end(epoch, logs)``                  after each epoch; ``logs`` holds the epoch's
                                               means (``loss``, ``accuracy``, ``val_loss``,
                                               ``val_accuracy``, ``lr``, ...)
``on_train_end(logs)``                         after training, however it ended
``on_test_begin/end``, ``on_test_batch_*``     around ``evaluate`` (same as Keras)
``state_dict()`` / ``load_state_dict(state)``  what a checkpoint must keep to resume exactly
=============================================  ===========================================

Before ``on_train_begin`` the trainer calls ``set_context(trainer)``, which gives the
callback ``self.trainer`` (step counters ``epoch``, ``batch``, ``global_step``, the
``stop_training`` flag, ``history``, ``request_checkpoint``), ``self.model`` and
``self.optimizer``.  Callbacks reset their state in ``on_train_begin``; on a resumed
run the trainer calls ``load_state_dict`` right after it, so state comes back from the
checkpoint instead.

Adding series to the History: see :mod:`deeprecipe.train.history`.
"""
from __future__ import annotations

import math
import sys
import warnings

_HOOKS = (
    "on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
    "on_train_batch_begin", "on_train_batch_end",
    "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
)


class Callback:
    """Base class with no-op hooks; subclass and override the ones you need."""

    model = None
    optimizer = None
    trainer = None
    #: Run after every other callback in the same hook (History, ModelCheckpoint: they
    #: must see what the other callbacks wrote into ``logs`` and their updated state).
    run_last = False

    def set_context(self, trainer) -> None:
        self.trainer = trainer
        self.model = getattr(trainer, "model", None)
        self.optimizer = getattr(trainer, "optimizer", None)

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        pass

    def on_train_batch_end(self, batch, logs=None):
        pass

    def on_test_begin(self, logs=None):
        pass

    def on_test_end(self, logs=None):
        pass

    def on_test_batch_begin(self, batch, logs=None):
        pass

    def on_test_batch_end(self, batch, logs=None):
        pass

    def state_dict(self) -> dict:
        """State a checkpoint must keep so that a resumed run behaves as an uninterrupted one."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


def _overrides(cb, name: str) -> bool:
    """Whether ``cb`` has a hook ``name`` that does something (not Callback's no-op)."""
    fn = getattr(type(cb), name, None)
    if fn is None:
        return callable(getattr(cb, name, None))  # set on the instance
    return fn is not getattr(Callback, name, None)


class CallbackList:
    """Calls each hook on every callback that defines it, in order (``run_last`` ones last).

    Which callbacks implement which hook is worked out once, so a hook nobody overrides
    costs one empty loop per training step.
    """

    def __init__(self, callbacks=()):
        from ..validation import callback_list
        callbacks = callback_list(callbacks)
        for cb in callbacks:
            if not any(callable(getattr(cb, h, None)) for h in _HOOKS):
                raise TypeError(
                    f"{cb!r} is not a callback: it has none of the methods {', '.join(_HOOKS)}; "
                    "subclass deeprecipe.train.Callback")
        first = [cb for cb in callbacks if not getattr(cb, "run_last", False)]
        last = [cb for cb in callbacks if getattr(cb, "run_last", False)]
        self.callbacks = first + last
        self._by_hook = {h: [getattr(cb, h) for cb in self.callbacks if _overrides(cb, h)] for h in _HOOKS}

    def __iter__(self):
        return iter(self.callbacks)

    def __len__(self):
        return len(self.callbacks)

    def has(self, hook: str) -> bool:
        return bool(self._by_hook[hook])

    def set_context(self, trainer) -> None:
        for cb in self.callbacks:
            if hasattr(cb, "set_context"):
                cb.set_context(trainer)
            else:  # a bare duck-typed object: give it the same attributes
                for k in ("trainer", "model", "optimizer"):
                    try:
                        setattr(cb, k, trainer if k == "trainer" else getattr(trainer, k))
                    except AttributeError:
                        pass

    def release_context(self, trainer) -> None:
        """After ``on_train_end``: drop each callback's reference to ``trainer`` (keeping
        ``model`` and ``optimizer``).  The trainer holds its callbacks, so the reference
        made a cycle that kept the trainer — optimizer state, data loader — alive until
        Python's cycle collector ran, long after ``fit`` returned (and as long as the
        returned History lived); without it that memory is freed as soon as it is unused."""
        for cb in self.callbacks:
            if getattr(cb, "trainer", None) is trainer:
                try:
                    cb.trainer = None
                except AttributeError:
                    pass

    def call(self, hook: str, *args) -> None:
        for fn in self._by_hook[hook]:
            fn(*args)

    # Keras-named forwarding methods (used by the trainer and by tests).
    def on_train_begin(self, logs=None):
        self.call("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self.call("on_train_end", logs)

    def on_epoch_begin(self, epoch, logs=None):
        self.call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self.call("on_epoch_end", epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self.call("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self.call("on_train_batch_end", batch, logs)

    def on_test_begin(self, logs=None):
        self.call("on_test_begin", logs)

    def on_test_end(self, logs=None):
        self.call("on_test_end", logs)

    def keys(self) -> list[str]:
        """A key per callback, ``<class name>#<i>`` (i counts callbacks of that class), by
        which a checkpoint matches saved states to callbacks."""
        seen: dict = {}
        keys = []
        for cb in self.callbacks:
            name = type(cb).__name__
            i = seen.get(name, 0)
            seen[name] = i + 1
            keys.append(f"{name}#{i}")
        return keys

    def state_dict(self) -> dict:
        """``{'keys': [...], 'states': [...]}``: each callback's ``state_dict()`` (``{}`` if none)."""
        return {"keys": self.keys(),
                "states": [(cb.state_dict() if hasattr(cb, "state_dict") else {}) or {} for cb in self.callbacks]}

    def load_state_dict(self, state: dict) -> None:
        """Give each callback its saved state, matched by key.  A callback with state of its
        own but none in the checkpoint is an error (resume with the same callbacks);
        saved states of callbacks not in this run (a progress bar, say) are reported."""
        keys, states = list(state["keys"]), list(state["states"])
        saved = dict(zip(keys, states))
        mine = self.keys()
        for key, cb in zip(mine, self.callbacks):
            if key in saved:
                if saved[key] and hasattr(cb, "load_state_dict"):
                    cb.load_state_dict(saved[key])
            elif type(cb).state_dict is not Callback.state_dict and hasattr(cb, "state_dict") and cb.state_dict():
                raise ValueError(
                    f"the checkpoint holds no state for callback {key} (it has {', '.join(keys) or 'none'}); "
                    "resume with the same callbacks")
        lost = [k for k in keys if k not in set(mine) and saved[k]]
        if lost:
            print(f"warning: the checkpoint's state for {', '.join(lost)} is not used: those callbacks are "
                  "not in this run", file=sys.stderr)


# ---------------------------------------------------------------------------- monitors
def resolve_mode(mode: str, monitor: str) -> str:
    """``'min'`` or ``'max'``; ``'auto'`` picks ``'max'`` for accuracy-like names (Keras rule)."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        name = monitor.lower()
        return "max" if ("acc" in name or "auc" in name or name.endswith("f1")) else "min"
    return mode


def initial_best(mode: str) -> float:
    return math.inf if mode == "min" else -math.inf


def improved(current: float, best: float, mode: str, min_delta: float = 0.0) -> bool:
    """Whether ``current`` beats ``best`` by more than ``|min_delta|`` in direction ``mode``."""
    d = abs(min_delta)
    if mode == "min":
        return current < best - d
    return current > best + d


def read_monitor(logs, monitor: str, who: str):
    """The float value of ``logs[monitor]``, or None with a warning naming the keys there are."""
    value = (logs or {}).get(monitor)
    if value is None:
        warnings.warn(
            f"{who}: the monitored quantity {monitor!r} is not in the logs (available: "
            f"{', '.join(sorted(logs or {})) or 'none'}); pass val= to fit to get val_* metrics, "
            "or monitor one that exists", RuntimeWarning, stacklevel=3)
        return None
    return float(value)
