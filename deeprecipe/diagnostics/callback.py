"""``MonitorCallback``: gradient, update, weight and activation monitors during ``fit``.

    mon = MonitorCallback(every=10)
    history = fit(model, train, callbacks=[mon], ...)
    history.steps["grad_norm/0"], history.step_index["grad_norm/0"]   # every 10th step
    history.history["grad_norm/0"]                                  # its mean per epoch
    mon.histograms["1"]["counts"]                                   # activation histograms

On a recorded step (``global_step % every == 0``) the callback

1. before the step (``on_train_batch_begin``): copies the weights (for the update ratio)
   and switches the activation hooks on, so the step's forward pass is measured;
2. after the step (``on_train_batch_end``): reads the gradients the backward pass left in
   ``p.grad``, compares the weights with the copy, takes the weight statistics (of the
   weights after the step), and writes every number as a per-step
   series into the trainer's ``History`` (names in :mod:`deeprecipe.diagnostics.series`).

A step is numbered by the optimizer steps done before it (``trainer.global_step`` at
``on_train_batch_begin``: 0 for the first step), so ``every=10`` records steps 0, 10, 20, ...
and the histograms and series of one step carry the same number.

With ``probe=x`` the activation statistics come instead from a forward pass of that fixed
batch in evaluation mode without a graph, right after the recorded step: the same examples
every time, so dead and saturated fractions are comparable across steps and not biased by
dropout masks or by which mini-batch happened to be drawn (the doctor reads them this way).
``batch_loss=True`` also records every step's mini-batch loss (series ``batch_loss``), the
signal of an unstable learning rate.

Other steps cost one integer test, plus one attribute test per hooked module call.  At the
end of each epoch the mean of each series over that epoch's recorded steps goes into the
epoch table (``epoch_summary="mean"``; ``"last"`` or ``None`` also possible).

It follows the trainer's callback protocol (:mod:`deeprecipe.train.callbacks.base`) by
duck typing, so the diagnostics package does not import the training package.  Outside
``fit``, pass ``model=``, ``optimizer=`` and ``history=`` (any object with
``record_step(name, value, step=)`` and ``record(name, value)``) and call the hooks yourself.
"""
from __future__ import annotations

import math

import numpy as np

from .activations import ActivationMonitor
from .gradients import grad_norms_by_layer, global_grad_norm
from .series import flatten
from .updates import snapshot, update_ratios
from .weights import weight_stats


class MonitorCallback:
    """Record per-layer diagnostics every ``every`` optimizer steps.

    Args:
        every: record on steps ``0, every, 2*every, ...`` (global optimizer steps).
        gradients, updates, weights, activations: which monitors to run.
        bins, hist_range: activation histograms (see ``activation_stats``); give a fixed
            ``hist_range`` to compare histograms of unbounded activations across steps.
        near_zero: threshold for the weights' near-zero fraction.
        modules, kinds: which modules' activations to watch and kind overrides
            (see ``ActivationMonitor``).
        epoch_summary: ``"mean"`` (default), ``"last"`` or ``None``: what goes into the
            per-epoch table for each series.
        probe: a fixed input batch (array ``(n, ...)``) whose forward pass (eval mode, no
            graph) gives the activation statistics on recorded steps; ``None``: the recorded
            training step's own forward pass.
        batch_loss: also record every step's mini-batch loss as the per-step series ``batch_loss``.
        model, optimizer, history: for use outside ``fit`` (``fit`` sets model and optimizer
            and the trainer's history through ``set_context``).

    Attributes:
        histograms: ``{module: {"step": [int], "counts": [int64 array], "edges": [float64 array]}}``.
        last: ``{series name: float}`` of the latest recorded step.
    """

    def __init__(self, every: int = 10, *, gradients: bool = True, updates: bool = True, weights: bool = True,
                 activations: bool = True, bins: int = 20, hist_range=None, near_zero: float = 1e-3,
                 modules=None, kinds=None, epoch_summary: str | None = "mean",
                 probe=None, batch_loss: bool = False,
                 model=None, optimizer=None, history=None):
        if not isinstance(every, (int, np.integer)) or every < 1:
            raise ValueError(f"every must be a positive integer (record every N steps), got {every!r}")
        if epoch_summary not in ("mean", "last", None):
            raise ValueError(f"epoch_summary must be 'mean', 'last' or None, got {epoch_summary!r}")
        self.every = int(every)
        self.gradients, self.updates, self.weights, self.activations = gradients, updates, weights, activations
        self.bins, self.hist_range, self.near_zero = bins, hist_range, near_zero
        self.modules, self.kinds = modules, kinds
        self.epoch_summary = epoch_summary
        self.probe, self.batch_loss = probe, bool(batch_loss)
        self.model, self.optimizer, self.trainer = model, optimizer, None
        self._history = history
        self._fit_history = None
        self._monitor = None
        self._reset()

    # ------------------------------------------------------------------ protocol
    def set_context(self, trainer) -> None:
        self.trainer = trainer
        # the trainer's History (fixed for its lifetime), still ours after fit lets go of the trainer
        self._fit_history = getattr(trainer, "history", None)
        self.model = getattr(trainer, "model", self.model)
        self.optimizer = getattr(trainer, "optimizer", self.optimizer)

    @property
    def history(self):
        return self._fit_history if self._fit_history is not None else self._history

    def _reset(self):
        self.histograms: dict = {}
        self.last: dict = {}
        self._count = 0          # steps seen (used when no trainer gives a global step)
        self._step = None        # global step being recorded, or None
        self._before = None
        self._probe_x = None
        self._epoch_acc: dict = {}

    def _global_step(self) -> int:
        s = getattr(self.trainer, "global_step", None) if self.trainer is not None else None
        return self._count if s is None else int(s)

    def on_train_begin(self, logs=None):
        if self.model is None:
            raise RuntimeError("MonitorCallback has no model: use it in fit(callbacks=[...]) or pass model=")
        self._reset()
        self._detach()
        if self.activations:
            self._monitor = ActivationMonitor(self.model, modules=self.modules, kinds=self.kinds,
                                              bins=self.bins, range=self.hist_range)

    def on_train_batch_begin(self, batch, logs=None):
        step = self._global_step()
        if step % self.every:
            self._step = None
            return
        self._step = step
        self._before = snapshot(self.model) if self.updates else None
        if self._monitor is not None and self.probe is None:
            self._monitor.start()

    def _probe_forward(self):
        """Forward the probe batch in eval mode without a graph, recording activations."""
        from ..backend import to_device
        from ..config import no_grad
        from ..engine.tensor import Tensor
        if self._probe_x is None:
            device = next(iter(self.model.parameters())).data
            x = np.asarray(self.probe)
            self._probe_x = Tensor(to_device(x, "cpu" if isinstance(device, np.ndarray) else "cuda"))
        modes = [(m, m.training) for m in self.model.modules()]
        self.model.eval()
        try:
            with no_grad(), self._monitor.record():
                self.model(self._probe_x)
        finally:
            for m, mode in modes:
                m.__dict__["training"] = mode

    def on_train_batch_end(self, batch, logs=None):
        self._count += 1
        if self.batch_loss and logs and "loss" in logs:
            hist = self.history
            if hist is not None:
                hist.record_step("batch_loss", logs["loss"], step=self._global_step() - 1
                                 if self.trainer is not None else self._count - 1)
        step, self._step = self._step, None
        if step is None:
            return
        if self._monitor is not None:
            if self.probe is None:
                self._monitor.stop()
            else:
                self._probe_forward()
        stats = {}
        if self.gradients:
            stats["layer_grad_norm"] = grad_norms_by_layer(self.model)
            stats["global_grad_norm"] = global_grad_norm(self.model)
        if self.updates:
            upd = update_ratios(self.model, self._before)
            stats["update_ratio"], stats["update_norm"] = upd["layer"], upd["layer_update_norm"]
            self._before = None
        if self.weights:
            stats["weights"] = weight_stats(self.model, self.near_zero)
        if self._monitor is not None:
            stats["activations"] = self._monitor.stats
            for name, a in self._monitor.stats.items():
                h = self.histograms.setdefault(name, {"step": [], "counts": [], "edges": []})
                h["step"].append(step)
                h["counts"].append(a["hist"])
                h["edges"].append(a["edges"])
        series = flatten(stats)
        self.last = series
        hist = self.history
        for name, value in series.items():
            if hist is not None:
                hist.record_step(name, value, step=step)
            self._epoch_acc.setdefault(name, []).append(value)

    def on_epoch_end(self, epoch, logs=None):
        hist = self.history
        if hist is not None and self.epoch_summary is not None:
            for name, values in self._epoch_acc.items():
                if self.epoch_summary == "last":
                    v = values[-1]
                else:
                    finite = [x for x in values if math.isfinite(x)]
                    v = sum(finite) / len(finite) if finite else math.nan
                hist.record(name, v)
        self._epoch_acc = {}

    def on_train_end(self, logs=None):
        self._detach()

    def _detach(self):
        if self._monitor is not None:
            self._monitor.remove()
            self._monitor = None

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        """Histograms, counters and this epoch's recorded values, so a run resumed mid-epoch
        continues the same records and the same epoch means.

        (The scalar series live in the History, which the checkpoint saves itself.)"""
        names = list(self.histograms)
        acc = list(self._epoch_acc)
        return {
            "count": self._count,
            "epoch_names": acc,
            "epoch_values": [np.asarray(self._epoch_acc[n], np.float64) for n in acc],
            "hist_names": names,
            "hist_steps": [np.asarray(self.histograms[n]["step"], np.int64) for n in names],
            "hist_counts": [np.asarray(self.histograms[n]["counts"], np.int64) for n in names],
            "hist_edges": [np.asarray(self.histograms[n]["edges"], np.float64) for n in names],
        }

    def load_state_dict(self, state: dict) -> None:
        self._count = int(state.get("count", 0))
        self._epoch_acc = {n: [float(v) for v in np.asarray(vals, np.float64).tolist()]
                           for n, vals in zip(state.get("epoch_names", []), state.get("epoch_values", []))}
        self.histograms = {}
        for n, s, c, e in zip(state.get("hist_names", []), state.get("hist_steps", []),
                              state.get("hist_counts", []), state.get("hist_edges", [])):
            self.histograms[n] = {"step": [int(i) for i in np.asarray(s).tolist()],
                                  "counts": list(np.asarray(c, np.int64)),
                                  "edges": list(np.asarray(e, np.float64))}

    def __repr__(self) -> str:
        return f"MonitorCallback(every={self.every})"
