"""``fit``, ``evaluate`` and ``predict``: the training loop, with callbacks and exact resume.

One training step is what a reader expects::

    model.train()
    for xb, yb in loader:                     # a seeded permutation per epoch
        out = model(Tensor(xb))               # records the graph
        loss = loss_fn(out, yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

plus, cheaply, the running sums the epoch's logs need (loss, correct predictions:
from the outputs already computed, no second pass) and the callback hooks (only
those some callback implements are called).

Resume
------
A training checkpoint (``Trainer.state_dict``; written by ``ModelCheckpoint``) holds the
model, optimizer, every callback's state (schedules, EarlyStopping, History, ...), the
epoch and the number of batches done in it, the running sums of a partial epoch, the
DataLoader seed and the global random generator's state (dropout masks).  The
DataLoader's order depends only on ``(seed, epoch)``, so ``fit(..., resume_from=path)``
skips the batches already done and continues with the very same batches and random
numbers: on CPU the final weights are bit-identical to those of an uninterrupted run.
"""
from __future__ import annotations

import json
import math
import os
import sys

import numpy as np

from .. import backend
from ..config import no_grad
from ..engine.tensor import Tensor
from .callbacks.base import CallbackList
from .callbacks.progress import ProgressBar
from .history import History
from .losses import get_loss
from .metrics import resolve_metrics
from .validation import (as_array, callback_list, check_fit_arrays, check_numeric_finite, model_device, model_dtype,
                         prepare_batch)

CHECKPOINT_FORMAT = "deeprecipe.train.checkpoint/1"


# ---------------------------------------------------------------------------- helpers
def make_optimizer(optimizer, model, lr=None):
    """An optimizer instance from a name (``'adam'``, ``'sgd'``, ...) or the instance itself."""
    if hasattr(optimizer, "step") and hasattr(optimizer, "param_groups"):
        if lr is not None:
            raise ValueError("lr= is for optimizers given by name; set the learning rate on the optimizer you built")
        return optimizer
    if not isinstance(optimizer, str):
        raise TypeError(f"optimizer must be a name ('adam', 'sgd', ...) or an Optimizer, got {type(optimizer).__name__}")
    cls = resolve_optimizer_class(optimizer)
    params = list(model.parameters())
    if not params:
        raise ValueError("the model has no parameters to train")
    return cls(params) if lr is None else cls(params, lr=float(lr))


def resolve_optimizer_class(name: str):
    """The class of :mod:`deeprecipe.optim` named ``name`` (case-insensitive), with a suggestion
    when there is none."""
    import difflib
    from ..optim import OPTIMIZERS
    key = str(name).lower().replace("-", "").replace("_", "")
    if key in OPTIMIZERS:
        return OPTIMIZERS[key]
    near = difflib.get_close_matches(key, list(OPTIMIZERS), n=1)
    hint = f" (did you mean {near[0]!r}?)" if near else ""
    raise ValueError(f"unknown optimizer {name!r}{hint}; choose one of {', '.join(sorted(OPTIMIZERS))}")


def _is_loader(obj) -> bool:
    return hasattr(obj, "iter_from") and hasattr(obj, "__len__")


def make_loader(data, batch_size, shuffle=True, drop_last=False, seed=None, name="train"):
    """A :class:`~deeprecipe.data.DataLoader` for ``(x, y)``, or the given loader."""
    from ..data import DataLoader
    if _is_loader(data):
        return data
    if isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = data
        y = None if y is None else as_array(y, f"{name} y")
        return DataLoader(as_array(x, f"{name} x"), y, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
                          seed=seed)
    raise TypeError(f"{name} data must be a tuple (x, y) or a deeprecipe.data.DataLoader, got {type(data).__name__}")


def _loader_arrays(loader):
    return loader.x, loader.y, getattr(loader, "transform", None)


def _iter_eval_batches(x, y, batch_size, transform=None):
    """Consecutive slices (views, no copies) of the arrays, in order."""
    n = len(x)
    for i in range(0, n, batch_size):
        xb = x[i:i + batch_size]
        if transform is not None:
            xb = transform(xb)
        yield xb, (None if y is None else y[i:i + batch_size])


class _Sums:
    """Running sums of one epoch: loss x samples, each metric's batch sums, counts."""

    __slots__ = ("loss", "n", "metric", "metric_n")

    def __init__(self, k):
        self.loss = 0.0
        self.n = 0
        self.metric = [0] * k
        self.metric_n = [0] * k

    def logs(self, metrics, prefix="") -> dict:
        out = {prefix + "loss": self.loss / self.n if self.n else math.nan}
        for m, s, c in zip(metrics, self.metric, self.metric_n):
            out[prefix + m.name] = float(s) / c if c else math.nan
        return out

    def state(self) -> dict:
        return {"loss": float(self.loss), "n": int(self.n),
                "metric": [float(s) for s in self.metric], "metric_n": [int(c) for c in self.metric_n]}

    @classmethod
    def from_state(cls, state, k):
        s = cls(k)
        s.loss = float(state["loss"])
        s.n = int(state["n"])
        if len(state["metric"]) != k:
            raise ValueError("the checkpoint was written with different metrics; resume with the same metrics=")
        # Metric sums are counts (or sums of batch means): floats hold them exactly.
        s.metric = [float(v) for v in state["metric"]]
        s.metric_n = [int(v) for v in state["metric_n"]]
        return s


def _run_eval(model, batches, loss_fn, metrics, device, dtype, callbacks=None) -> _Sums:
    """Forward every batch in eval mode without a graph; returns the sums."""
    sums = _Sums(len(metrics))
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            for i, (xb, yb) in enumerate(batches):
                if callbacks is not None:
                    callbacks.call("on_test_batch_begin", i, {"batch": i, "size": len(xb)})
                xb = prepare_batch(xb, device, dtype)
                yb = _prepare_target(yb, device, dtype)
                out = model(Tensor(xb))
                n = len(xb)
                lval = float(loss_fn(out, yb).data)
                sums.loss += lval * n
                sums.n += n
                od = out.data
                for j, m in enumerate(metrics):
                    sums.metric[j] += m.batch_sum(od, yb)
                    sums.metric_n[j] += od.size if m.per_element else n
                if callbacks is not None:
                    callbacks.call("on_test_batch_end", i, {"batch": i, "size": n, "loss": lval})
    finally:
        model.train(was_training)
    return sums


def _prepare_target(yb, device, dtype):
    if yb is None:
        return None
    if yb.dtype.kind == "f" and yb.dtype != dtype:
        yb = yb.astype(dtype)
    if device != "cpu":
        yb = backend.to_device(yb, device)
    return yb


def _finite_params(model) -> bool:
    for p in model.parameters():
        xp = backend.get_array_module(p.data)
        if not bool(xp.isfinite(p.data).all()):
            return False
    return True


# ---------------------------------------------------------------------------- trainer
class Trainer:
    """Runs ``fit``; callbacks see it as ``self.trainer``.

    Attributes callbacks may read: ``model``, ``optimizer``, ``history``, ``epochs``,
    ``steps_per_epoch``, ``epoch`` (current, from 0), ``batch`` (batches done in the
    current epoch), ``global_step`` (optimizer steps done since the start of training),
    ``initial_epoch`` and ``resuming`` (a resumed run), ``stop_training``, ``diverged``,
    ``stop_reason``.  Methods: ``stop(reason)``, ``request_checkpoint(path)``,
    ``save_checkpoint(path)``, ``state_dict()``.

    Epoch logs: ``loss`` and each metric (exact means over the epoch's samples, from the
    training steps' own outputs, so with the weights changing during the epoch),
    ``val_loss``/``val_<metric>`` (after the epoch, eval mode), and ``lr``: the first
    parameter group's rate after the epoch's last step (a per-step schedule has already
    moved it on; per-epoch callbacks such as ReduceLROnPlateau change it afterwards).
    """

    def __init__(self, model, loss="cross_entropy", optimizer="adam", lr=None, metrics=("accuracy",),
                 callbacks=None, verbose="auto"):
        self.model = model
        self.loss = get_loss(loss)
        self.metrics = resolve_metrics(metrics, self.loss.kind)
        self.optimizer = make_optimizer(optimizer, model, lr)
        callbacks = callback_list(callbacks)
        hist = [cb for cb in callbacks if isinstance(cb, History)]
        if len(hist) > 1:
            raise ValueError("pass at most one History callback")
        if hist:
            self.history = hist[0]
        else:
            self.history = History()
            callbacks.append(self.history)
        if verbose not in (0, 1, 2, "auto", False, True):
            raise ValueError(f"verbose must be 0 (silent), 1 (progress bar) or 2 (one line per epoch), got {verbose!r}")
        if verbose and not any(isinstance(cb, ProgressBar) for cb in callbacks):
            callbacks.insert(0, ProgressBar("lines" if verbose == 2 else "auto"))
        self.callbacks = CallbackList(callbacks)
        self.epochs = 0
        self.steps_per_epoch = 0
        self.epoch = 0
        self.batch = 0
        self.global_step = 0
        self.initial_epoch = 0
        self.resuming = False
        self.stop_training = False
        self.diverged = False
        self.stop_reason = None
        self._pending = []
        self._next = (0, 0)  # (epoch, batch) a checkpoint written now would resume at
        self._sums = None
        self.loader = None

    # ------------------------------------------------------------------ control
    def stop(self, reason: str | None = None, diverged: bool = False) -> None:
        """Stop after the current step (or epoch end). ``diverged`` also blocks further checkpoints."""
        self.stop_training = True
        if diverged:
            self.diverged = True
        if reason and self.stop_reason is None:
            self.stop_reason = reason
            self.history.stop_reason = reason

    def request_checkpoint(self, path) -> None:
        """Save a training checkpoint to ``path`` once the current hook has run on every callback."""
        path = os.fspath(path)
        if path not in self._pending:
            self._pending.append(path)

    def _flush(self) -> None:
        paths, self._pending = self._pending, []
        if not paths or self.diverged:
            return
        if not _finite_params(self.model):
            # The weights went bad in this step even though its loss was finite:
            # keep the last good checkpoint on disk.
            print(f"warning: not saving {', '.join(paths)}: the parameters hold NaN/inf at step "
                  f"{self.global_step}", file=sys.stderr)
            return
        state = self.state_dict()
        from ..serialization import save
        meta = self._meta()
        for p in paths:
            save(p, state, meta=meta)

    def save_checkpoint(self, path) -> None:
        """Write a training checkpoint now (atomic)."""
        from ..serialization import save
        save(os.fspath(path), self.state_dict(), meta=self._meta())

    def _meta(self) -> dict:
        """Readable without the arrays (``deeprecipe.serialization.load_metadata``): what the
        file is, where in training, and the model's ``config`` (``nn.build_model`` rebuilds it)."""
        epoch, batch = self._next
        meta = {"kind": "deeprecipe.train checkpoint", "epoch": int(epoch), "batch": int(batch),
                "global_step": int(self.global_step), "model_class": type(self.model).__name__}
        config = getattr(self.model, "config", None)
        if config is not None:
            try:
                json.dumps(config, allow_nan=False)
                meta["model_config"] = config
            except (TypeError, ValueError):
                pass
        return meta

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """Everything a resumed ``fit`` needs to continue exactly (see module docs)."""
        epoch, batch = self._next
        cbs = self.callbacks.callbacks
        keys = _callback_keys(cbs)
        return {
            "format": CHECKPOINT_FORMAT,
            "epoch": int(epoch),
            "batch": int(batch),
            "global_step": int(self.global_step),
            "epochs": int(self.epochs),
            "steps_per_epoch": int(self.steps_per_epoch),
            "stopped": bool(self.stop_training),
            "stop_reason": self.stop_reason or "",
            "loader_seed": int(self.loader.seed) if self.loader is not None and hasattr(self.loader, "seed") else -1,
            "rng": json.dumps(backend.get_rng_state()),
            "sums": (self._sums.state() if (self._sums is not None and batch > 0) else _Sums(len(self.metrics)).state()),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "callback_keys": keys,
            "callback_states": [(cb.state_dict() if hasattr(cb, "state_dict") else {}) or {} for cb in cbs],
        }

    def _load_callback_states(self, keys, states) -> None:
        from .callbacks.base import Callback
        saved = dict(zip(keys, states))
        cbs = self.callbacks.callbacks
        for key, cb in zip(_callback_keys(cbs), cbs):
            if key in saved:
                if saved[key] and hasattr(cb, "load_state_dict"):
                    cb.load_state_dict(saved[key])
            elif type(cb).state_dict is not Callback.state_dict and hasattr(cb, "state_dict") and cb.state_dict():
                raise ValueError(
                    f"the checkpoint holds no state for callback {key} (it has {', '.join(keys) or 'none'}); "
                    "resume with the same callbacks")
        mine = set(_callback_keys(cbs))
        lost = [k for k in keys if k not in mine and saved[k]]
        if lost:
            print(f"warning: the checkpoint's state for {', '.join(lost)} is not used: those callbacks are "
                  "not in this run", file=sys.stderr)

    # ------------------------------------------------------------------ fit
    def fit(self, train, val=None, epochs=1, batch_size=32, seed=None, shuffle=True, drop_last=False,
            resume_from=None, val_batch_size=None) -> History:
        if not isinstance(epochs, (int, np.integer)) or isinstance(epochs, bool) or epochs < 0:
            raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        state = None
        if resume_from is not None:
            state = load_checkpoint(resume_from)
        if seed is not None:
            backend.seed(seed)
        model = self.model
        loader = make_loader(train, int(batch_size), shuffle, drop_last, seed)
        self.loader = loader
        x, y, tf = _loader_arrays(loader)
        check_fit_arrays(model, x, y, self.loss.kind, "train", tf)
        if val is not None:
            if _is_loader(val):
                vx, vy, vtf = _loader_arrays(val)
            elif isinstance(val, (tuple, list)) and len(val) == 2:
                vx, vy, vtf = np.asarray(val[0]), np.asarray(val[1]), None
            else:
                raise TypeError(f"val must be a tuple (x, y) or a DataLoader, got {type(val).__name__}")
            check_fit_arrays(model, vx, vy, self.loss.kind, "val", vtf)
            val_arrays = (vx, vy, vtf)
        else:
            val_arrays = None
        val_bs = int(val_batch_size or max(256, batch_size))

        self.epochs = int(epochs)
        self.steps_per_epoch = len(loader)
        self.stop_training = False
        self.diverged = False
        self.stop_reason = None
        self.global_step = 0
        self.initial_epoch = 0
        self.resuming = state is not None
        start_batch = 0
        if state is not None:
            self.initial_epoch = int(state["epoch"])
            start_batch = int(state["batch"])
            if int(state["steps_per_epoch"]) != self.steps_per_epoch:
                raise ValueError(
                    f"the checkpoint was written with {state['steps_per_epoch']} batches per epoch, this run has "
                    f"{self.steps_per_epoch}: resume with the same data and batch_size")
            self.global_step = int(state["global_step"])
            if int(state["loader_seed"]) >= 0 and hasattr(loader, "seed"):
                loader.seed = int(state["loader_seed"])
        self.epoch = self.initial_epoch
        self.batch = start_batch
        self._next = (self.initial_epoch, start_batch)

        cbl = self.callbacks
        cbl.set_context(self)
        cbl.on_train_begin({})
        if state is not None:
            self._restore(state)
            if bool(state["stopped"]):
                self.stop_training = True
                self.stop_reason = state["stop_reason"] or "the checkpointed run had already stopped"
        device, dtype = model_device(model), model_dtype(model)
        try:
            if not self.stop_training:
                self._epochs(loader, start_batch, state, val_arrays, val_bs, device, dtype)
        except KeyboardInterrupt:
            self.stop("interrupted (KeyboardInterrupt)")
            cbl.on_train_end({})
            raise
        cbl.on_train_end({})
        if self.diverged and self.stop_reason:
            print(self.stop_reason, file=sys.stderr)
        return self.history

    def _restore(self, state) -> None:
        from ..nn.module import StateDictError
        try:
            self.model.load_state_dict(state["model"])
        except StateDictError as e:
            raise ValueError(f"the checkpoint does not fit this model:\n{e}") from None
        try:
            self.optimizer.load_state_dict(state["optimizer"])
            self._load_callback_states(list(state["callback_keys"]), list(state["callback_states"]))
        except (KeyError, TypeError, IndexError, AttributeError) as e:  # a state written for something else
            raise ValueError(f"the checkpoint's optimizer or callback state does not fit this run "
                             f"({type(e).__name__}: {e}); resume with the same optimizer and callbacks") from None

    def _epochs(self, loader, start_batch, state, val_arrays, val_bs, device, dtype):
        model, opt, cbl = self.model, self.optimizer, self.callbacks
        loss_fn = self.loss.fn
        metrics = self.metrics
        k = len(metrics)
        has_bb = cbl.has("on_train_batch_begin")
        has_be = cbl.has("on_train_batch_end")
        pending = self._pending
        for epoch in range(self.initial_epoch, self.epochs):
            first = epoch == self.initial_epoch
            b0 = start_batch if first else 0
            self.epoch = epoch
            self.batch = b0
            cbl.on_epoch_begin(epoch, {"resumed_at_batch": b0} if (first and state is not None) else {})
            if first and state is not None:
                # Set the random generator after on_epoch_begin, where the uninterrupted run was
                # when it drew this epoch's first dropout mask.
                backend.set_rng_state(json.loads(state["rng"]))
                sums = _Sums.from_state(state["sums"], k) if b0 > 0 else _Sums(k)
            else:
                sums = _Sums(k)
            self._sums = sums
            model.train()
            b = b0
            for xb, yb in loader.iter_from(b0, epoch=epoch):
                n = len(xb)
                if has_bb:
                    cbl.call("on_train_batch_begin", b, {"batch": b, "size": n})
                xb = prepare_batch(xb, device, dtype)
                yb = _prepare_target(yb, device, dtype)
                out = model(Tensor(xb))
                loss = loss_fn(out, yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
                lval = float(loss.data)
                sums.loss += lval * n
                sums.n += n
                if k:
                    od = out.data
                    for j in range(k):
                        m = metrics[j]
                        sums.metric[j] += m.batch_sum(od, yb)
                        sums.metric_n[j] += od.size if m.per_element else n
                b += 1
                self.batch = b
                self.global_step += 1
                self._next = (epoch, b)
                if has_be:
                    cbl.call("on_train_batch_end", b - 1, {"batch": b - 1, "size": n, "loss": lval})
                if pending:
                    self._flush()
                    pending = self._pending
                if self.stop_training:
                    break
            logs = sums.logs(metrics)
            if val_arrays is not None and not self.diverged:
                vx, vy, vtf = val_arrays
                vs = _run_eval(model, _iter_eval_batches(vx, vy, val_bs, vtf), loss_fn, metrics, device, dtype)
                logs.update(vs.logs(metrics, prefix="val_"))
            logs["lr"] = float(opt.param_groups[0]["lr"])
            if not self.stop_training or b == self.steps_per_epoch:
                self._next = (epoch + 1, 0)
            self._sums = None if self._next[1] == 0 else sums
            cbl.on_epoch_end(epoch, logs)
            self._flush()
            pending = self._pending
            if self.stop_training:
                break


def _callback_keys(cbs) -> list[str]:
    seen = {}
    keys = []
    for cb in cbs:
        name = type(cb).__name__
        i = seen.get(name, 0)
        seen[name] = i + 1
        keys.append(f"{name}#{i}")
    return keys


def load_checkpoint(path) -> dict:
    """Read a training checkpoint written by ``ModelCheckpoint``/``Trainer.save_checkpoint``."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path!r} to resume from")
    from ..serialization import load
    state = load(path)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path!r} is not a deeprecipe training checkpoint (format {CHECKPOINT_FORMAT}); "
                         "a weights-only file loads with model.load_state_dict(deeprecipe.load(path))")
    from ..validation.checkpoints import check_training_state
    return check_training_state(state, path)


# ---------------------------------------------------------------------------- public API
def fit(model, train, val=None, *, loss="cross_entropy", optimizer="adam", lr=None, epochs=1, batch_size=32,
        callbacks=None, metrics=("accuracy",), seed=None, shuffle=True, drop_last=False, resume_from=None,
        verbose="auto", val_batch_size=None) -> History:
    """Train ``model`` and return its :class:`History` (Keras-style ``history.history``).

    Args:
        model: a :class:`deeprecipe.nn.Module`.
        train: ``(x, y)`` arrays or a :class:`deeprecipe.data.DataLoader`.  x ``(N, ...)``
            in the shape the model takes; y integer labels ``(N,)`` for cross-entropy.
            Integer x (uint8 pixels) is cast per batch to the model's float dtype; scale it
            first (:func:`deeprecipe.data.scale01`) or give the loader a ``transform``.
        val: optional validation ``(x, y)`` or DataLoader, evaluated (eval mode, no graph)
            after each epoch: ``val_loss`` and ``val_<metric>`` in the logs.
        loss: a name (``'cross_entropy'``, ``'bce'``, ``'mse'``, ...) or ``f(output, y)``.
        optimizer: a name (``'adam'``, ``'sgd'``, ...; built on ``model.parameters()`` with
            ``lr``) or an optimizer instance.
        epochs: total number of epochs (a resumed run continues up to this number).
        batch_size: samples per optimizer step (when ``train`` is arrays).
        callbacks: Keras-style callbacks (see :mod:`deeprecipe.train.callbacks`).
        metrics: ``['accuracy']`` (default for classification) and/or functions.
        seed: seeds the global generator (dropout masks) and the data order; None keeps the
            current global state and draws a loader seed from it.
        resume_from: a training checkpoint to continue from (same model, data, batch size,
            optimizer and callbacks).
        verbose: 0 silent, 1 or ``'auto'`` a progress bar (tqdm on a terminal), 2 one line
            per epoch.

    Raises:
        ValueError/TypeError: before anything runs or is written, for mismatched x/y
        lengths, NaN/inf inputs, labels outside ``[0, classes)``, or inputs the model
        cannot take.
    """
    trainer = Trainer(model, loss=loss, optimizer=optimizer, lr=lr, metrics=metrics, callbacks=callbacks,
                      verbose=verbose)
    return trainer.fit(train, val, epochs=epochs, batch_size=batch_size, seed=seed, shuffle=shuffle,
                       drop_last=drop_last, resume_from=resume_from, val_batch_size=val_batch_size)


def evaluate(model, x, y, *, loss="cross_entropy", metrics=("accuracy",), batch_size=256, callbacks=None) -> dict:
    """Mean loss and metrics of ``model`` on ``(x, y)``, in eval mode without a graph.

    Returns ``{'loss': ..., 'accuracy': ...}``.  The model's train/eval mode is restored.
    """
    spec = get_loss(loss)
    mets = resolve_metrics(metrics, spec.kind)
    x, y = np.asarray(x), np.asarray(y)
    check_fit_arrays(model, x, y, spec.kind, "evaluation")
    cbl = CallbackList(callbacks or [])
    cbl.on_test_begin({})
    sums = _run_eval(model, _iter_eval_batches(x, y, int(batch_size)), spec.fn, mets, model_device(model),
                     model_dtype(model), cbl)
    logs = sums.logs(mets)
    cbl.on_test_end(logs)
    return logs


def predict(model, x, *, batch_size=256) -> np.ndarray:
    """The model's outputs for ``x`` as a NumPy array, in eval mode without a graph."""
    x = np.asarray(x)
    check_numeric_finite(x, "x")
    if len(x) == 0:
        raise ValueError("predict needs at least one sample")
    device, dtype = model_device(model), model_dtype(model)
    outs = []
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            for xb, _ in _iter_eval_batches(x, None, int(batch_size)):
                outs.append(backend.to_device(model(Tensor(prepare_batch(xb, device, dtype))).data, "cpu"))
    except Exception as e:
        if len(outs) == 0:
            raise ValueError(f"the model cannot take inputs of shape {x.shape[1:]} per sample: "
                             f"{type(e).__name__}: {e}") from e
        raise
    finally:
        model.train(was_training)
    return np.concatenate(outs, axis=0)
