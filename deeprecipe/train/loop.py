"""``fit`` and the ``Trainer``: the epoch loop that orchestrates the step, the evaluation, the
checkpoints and the callbacks.

Each job has its own module: ``step.py`` (one training step, the epoch's running sums),
``evaluation.py`` (the evaluation loop, ``evaluate``, ``predict``), ``checkpoint.py`` (what a
checkpoint keeps to resume exactly), ``callbacks/`` (Keras-named hooks); this module only
puts them in order::

    model.train()
    for xb, yb in loader:                     # a seeded permutation per epoch
        out, loss = train_step(model, loss_fn, optimizer, xb, yb)
        sums.add(...)                         # the epoch's means, from the outputs at hand
        callbacks.on_train_batch_end(...)     # only hooks some callback implements are called
    logs |= run_eval(val) ; callbacks.on_epoch_end(epoch, logs)
"""
from __future__ import annotations

import os
import sys
import warnings

import numpy as np

from .. import backend
from .callbacks.base import CallbackList
from .callbacks.progress import ProgressBar
from .checkpoint import load_resume_state, save_trainer_checkpoint
from .cuda_graph import CudaGraphError, CudaGraphStep
from .evaluation import evaluate, iter_batches, predict, run_eval  # noqa: F401 - public names of this module
from .history import History
from .losses import get_loss
from .metrics import resolve_metrics
from .step import EpochSums, prepare_target, train_step
from .validation import as_array, callback_list, check_fit_arrays, model_device, model_dtype, prepare_batch


# ---------------------------------------------------------------------------- inputs
def resolve_optimizer(optimizer, model, lr=None, capturable=False):
    """An optimizer instance from a spec (``'adam'``, ``'sgd:momentum=0.9'``; any name in
    ``optim.OPTIMIZERS``), built on ``model.parameters()``, or the instance itself.
    ``capturable=True`` builds a named optimizer in its capturable mode where it has one
    (for ``cuda_graph=True``)."""
    if hasattr(optimizer, "step") and hasattr(optimizer, "param_groups"):
        if lr is not None:
            raise ValueError("lr= is for optimizers given by name; set the learning rate on the optimizer you built")
        return optimizer
    if not isinstance(optimizer, str):
        raise TypeError(f"optimizer must be a name ('adam', 'sgd', ...) or an Optimizer, "
                        f"got {type(optimizer).__name__}")
    from .. import optim
    params = list(model.parameters())
    if not params:
        raise ValueError("the model has no parameters to train")
    kw = {} if lr is None else {"lr": float(lr)}
    if capturable and "capturable" in optim.OPTIMIZERS.parameters(optimizer.partition(":")[0]):
        kw["capturable"] = True
    return optim.create(optimizer, params, **kw)


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
    ``save_checkpoint(path)``.

    Epoch logs: ``loss`` and each metric (exact means over the epoch's samples, from the
    training steps' own outputs, so with the weights changing during the epoch),
    ``val_loss``/``val_<metric>`` (after the epoch, eval mode), and ``lr``: the first
    parameter group's rate after the epoch's last step (a per-step schedule has already
    moved it on; per-epoch callbacks such as ReduceLROnPlateau change it afterwards).

    ``cuda_graph=True`` captures the training step as a CUDA graph and replays it (see
    ``cuda_graph.py``; a named optimizer is then built with ``capturable=True``).  A batch
    of another shape (a last partial batch) runs eagerly; where the step cannot be captured
    (CPU arrays, no CuPy, a non-capturable optimizer, dropout, a host read inside the step)
    a ``RuntimeWarning`` says why and training continues eagerly, with the same results.
    """

    def __init__(self, model, loss="cross_entropy", optimizer="adam", lr=None, metrics=("accuracy",),
                 callbacks=None, verbose="auto", cuda_graph=False):
        if not isinstance(cuda_graph, bool):
            raise TypeError(f"cuda_graph must be True or False, got {cuda_graph!r}")
        self.model = model
        self.loss = get_loss(loss)
        self.metrics = resolve_metrics(metrics, self.loss.kind)
        self.cuda_graph = cuda_graph
        self.optimizer = resolve_optimizer(optimizer, model, lr, capturable=cuda_graph)
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
        for p in paths:
            save_trainer_checkpoint(self, p)

    def save_checkpoint(self, path) -> None:
        """Write a training checkpoint now (atomic)."""
        save_trainer_checkpoint(self, path)

    # ------------------------------------------------------------------ fit
    def fit(self, train, val=None, epochs=1, batch_size=32, seed=None, shuffle=True, drop_last=False,
            resume_from=None, val_batch_size=None) -> History:
        if not isinstance(epochs, (int, np.integer)) or isinstance(epochs, bool) or epochs < 0:
            raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        state = None
        if resume_from is not None:
            state = load_resume_state(resume_from)
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
            cbl.release_context(self)
            raise
        cbl.on_train_end({})
        cbl.release_context(self)
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
            self.callbacks.load_state_dict(state["callbacks"])
        except (KeyError, TypeError, IndexError, AttributeError) as e:  # a state written for something else
            raise ValueError(f"the checkpoint's optimizer or callback state does not fit this run "
                             f"({type(e).__name__}: {e}); resume with the same optimizer and callbacks") from None

    def _graph_step(self):
        """The ``CudaGraphStep`` for ``cuda_graph=True``, or None (with a warning saying why)."""
        if not self.cuda_graph:
            return None
        try:
            return CudaGraphStep(self.model, self.loss.fn, self.optimizer)
        except CudaGraphError as e:
            warnings.warn(f"fit(cuda_graph=True): training without a CUDA graph: {e}", RuntimeWarning, stacklevel=5)
            return None

    def _step(self, graph, xb, yb):
        """One training step, replayed from the CUDA graph when there is one and the batch
        has its shape; returns ``(output array, loss value, graph or None)``."""
        if graph is not None and graph.accepts(xb, yb):
            try:
                out, loss = graph(xb, yb)
                return out, float(loss), graph
            except CudaGraphError as e:   # a failed capture ran nothing: this batch runs eagerly
                warnings.warn(f"fit(cuda_graph=True): continuing without a CUDA graph: {e}", RuntimeWarning,
                              stacklevel=5)
                graph = None
        out, lval = train_step(self.model, self.loss.fn, self.optimizer, xb, yb)
        return out, lval, graph

    def _epochs(self, loader, start_batch, state, val_arrays, val_bs, device, dtype):
        model, opt, cbl = self.model, self.optimizer, self.callbacks
        graph = self._graph_step()
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
                backend.set_rng_state(state["rng"])
                sums = EpochSums.from_state(state["sums"], k) if b0 > 0 else EpochSums(k)
            else:
                sums = EpochSums(k)
            self._sums = sums
            model.train()
            b = b0
            for xb, yb in loader.iter_from(b0, epoch=epoch):
                n = len(xb)
                if has_bb:
                    cbl.call("on_train_batch_begin", b, {"batch": b, "size": n})
                yb = prepare_target(yb, device, dtype)
                out, lval, graph = self._step(graph, prepare_batch(xb, device, dtype), yb)
                sums.add(metrics, out, yb, lval, n)
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
                vs = run_eval(model, iter_batches(vx, vy, val_bs, vtf), loss_fn, metrics, device, dtype)
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


# ---------------------------------------------------------------------------- public API
def fit(model, train, val=None, *, loss="cross_entropy", optimizer="adam", lr=None, epochs=1, batch_size=32,
        callbacks=None, metrics=("accuracy",), seed=None, shuffle=True, drop_last=False, resume_from=None,
        verbose="auto", val_batch_size=None, cuda_graph=False) -> History:
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
        cuda_graph: on a GPU, capture the training step (forward, loss, backward, optimizer)
            as a CUDA graph after 3 eager steps and replay it (one launch per step; see
            :mod:`deeprecipe.train.cuda_graph`).  A named optimizer is built with
            ``capturable=True``; an optimizer instance must be built so.  A last partial
            batch runs eagerly.  Where the step cannot be captured (on the CPU, with dropout,
            a non-capturable optimizer, a loss that reads the host) a ``RuntimeWarning``
            says why and training runs eagerly.

    Raises:
        ValueError/TypeError: before anything runs or is written, for mismatched x/y
        lengths, NaN/inf inputs, labels outside ``[0, classes)``, or inputs the model
        cannot take.
    """
    trainer = Trainer(model, loss=loss, optimizer=optimizer, lr=lr, metrics=metrics, callbacks=callbacks,
                      verbose=verbose, cuda_graph=cuda_graph)
    return trainer.fit(train, val, epochs=epochs, batch_size=batch_size, seed=seed, shuffle=shuffle,
                       drop_last=drop_last, resume_from=resume_from, val_batch_size=val_batch_size)
