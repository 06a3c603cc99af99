"""A training probe shared by deep-sigmoid, relu-fixes-depth, relu-variants, maxout,
ce-vs-mse, normalize-input and init-mnist: numbers recorded every few optimizer steps.

``StepProbe(x, y, every)`` is a ``fit`` callback (duck-typed, like the diagnostics'
``MonitorCallback``) that records, on steps ``0, every, 2·every, …`` and the last one:

* ``acc_step``, ``acc``, ``loss``: accuracy and cross-entropy of the model on a fixed probe
  set ``(x, y)`` (e.g. 1000 training examples), measured after ``acc_step`` optimizer steps
  (step 0 = the initialization), in eval mode without a graph;
* ``grad_step``, ``layer_grad_norm`` (records × layers): the per-layer gradient norms the
  backward pass of step ``grad_step`` left in ``.grad`` (:func:`deeprecipe.diagnostics.
  grad_norms_by_layer`; layers input side first), i.e. the gradient at the weights reached
  after ``grad_step`` steps, and ``global_grad_norm``;
* ``layer_grad_rms`` (records × layers): the root-mean-square gradient *per weight* of each
  layer's weight matrix, ‖∇W‖ / √(number of entries of W) — free of the parameter-count
  factor that makes a 784×100 layer's norm larger than a 100×10 one's at equal per-weight
  gradients (what "the first layers barely learn" is about);
* with ``activations=True``, ``dead`` and ``saturated`` (records × activation modules):
  the diagnostics' fraction of dead units (ReLU family: output ≤ 0 on every probe example)
  and of saturated outputs (sigmoid/tanh) on the probe set.

:func:`probe_metrics` turns it into NumPy arrays ready to return from an experiment's ``run``.
"""
from __future__ import annotations

import math

import numpy as np


def evaluate_arrays(model, x, y, batch_size: int = 1000) -> tuple:
    """``(accuracy, mean cross-entropy)`` of ``model`` on ``(x, y)`` in eval mode, no graph.

    Unlike :func:`deeprecipe.train.evaluate` it also measures a diverged model: non-finite
    logits predict class ``argmax`` (NumPy's rule: the first NaN), so a broken network gets
    the accuracy it would really deliver, and its loss is ``nan``.
    """
    from ... import Tensor, functions as F, no_grad
    from ...backend import to_device
    was_training = model.training
    model.eval()
    correct, loss_sum = 0, 0.0
    try:
        with no_grad():
            for i in range(0, len(x), batch_size):
                xb, yb = x[i:i + batch_size], y[i:i + batch_size]
                out = model(Tensor(xb))
                logits = np.asarray(to_device(out.data, "cpu"), dtype=np.float64)
                correct += int((np.argmax(logits, axis=1) == yb).sum())
                loss_sum += float(F.cross_entropy(out, yb, reduction="sum").item())
    finally:
        model.train(was_training)
    n = len(x)
    loss = loss_sum / n if math.isfinite(loss_sum) else math.nan
    return correct / n, loss


def weight_grad_rms_by_layer(model) -> dict:
    """``layer -> RMS of the gradient over the layer's weight entries`` (parameters of ndim ≥ 2;
    biases and norm scales left out), input side first; layers without weight gradient left out."""
    from ...diagnostics.layers import params_by_layer
    out = {}
    for layer, named in params_by_layer(model).items():
        grads = [p.grad for _, p in named if p.grad is not None and p.data.ndim >= 2]
        if grads:
            sq = sum(float(np.sum(np.asarray(g, dtype=np.float64) ** 2)) for g in grads)
            out[layer] = math.sqrt(sq / sum(int(g.size) for g in grads))
    return out


class StepProbe:
    """Record probe accuracy/loss, per-layer gradient norms (and dead/saturated fractions)
    every ``every`` optimizer steps of ``fit`` (module docstring)."""

    def __init__(self, x, y, every: int = 10, activations: bool = False, modules=None,
                 stop_at_acc: float | None = None):
        if not isinstance(every, (int, np.integer)) or every < 1:
            raise ValueError(f"StepProbe: every must be a positive integer, got {every!r}")
        self.x, self.y, self.every = x, y, int(every)
        self.stop_at_acc = stop_at_acc   # stop training once the probe accuracy reaches it
        self.activations, self.modules = activations, modules
        self.model, self.trainer = None, None
        self._reset()

    def _reset(self):
        self.acc_step, self.acc, self.loss = [], [], []
        self.grad_step, self.layer_grad_norm, self.global_grad_norm = [], [], []
        self.layer_grad_rms = []
        self.layers, self.act_names = None, None
        self.dead, self.saturated = [], []
        self._steps = 0

    # the fit callback protocol (duck-typed: see deeprecipe.train.callbacks.base)
    def set_context(self, trainer) -> None:
        self.trainer = trainer
        self.model = getattr(trainer, "model", self.model)

    def on_train_begin(self, logs=None):
        self._reset()
        self._measure(0)

    def on_train_batch_end(self, batch, logs=None):
        from ...diagnostics import global_grad_norm, grad_norms_by_layer
        self._steps += 1
        done = self._steps
        last = self.trainer is not None and getattr(self.trainer, "stop_training", False)
        if (done - 1) % self.every == 0:
            norms = grad_norms_by_layer(self.model)
            if self.layers is None:
                self.layers = list(norms)
            self.grad_step.append(done - 1)
            self.layer_grad_norm.append([norms.get(k, math.nan) for k in self.layers])
            self.global_grad_norm.append(global_grad_norm(self.model))
            rms = weight_grad_rms_by_layer(self.model)
            self.layer_grad_rms.append([rms.get(k, math.nan) for k in self.layers])
        if done % self.every == 0 or last:
            self._measure(done)

    def on_train_end(self, logs=None):
        if not self.acc_step or self.acc_step[-1] != self._steps:
            self._measure(self._steps)

    def _measure(self, step: int) -> None:
        if self.acc_step and self.acc_step[-1] == step:
            return
        if self.activations:
            self._measure_activations()
        acc, loss = evaluate_arrays(self.model, self.x, self.y)
        self.acc_step.append(step)
        self.acc.append(acc)
        self.loss.append(loss)
        if self.stop_at_acc is not None and acc >= self.stop_at_acc and self.trainer is not None:
            self.trainer.stop(f"probe accuracy reached {self.stop_at_acc}")

    def _measure_activations(self) -> None:
        from ... import Tensor, no_grad
        from ...diagnostics import ActivationMonitor
        mods = self.modules or (lambda name, m: type(m).__name__ in
                                ("Sigmoid", "Tanh", "ReLU", "LeakyReLU", "PReLU", "ELU"))
        mon = ActivationMonitor(self.model, modules=mods)
        was_training = self.model.training
        self.model.eval()
        try:
            with no_grad(), mon.record():
                self.model(Tensor(self.x))
        finally:
            mon.remove()
            self.model.train(was_training)
        if self.act_names is None:
            self.act_names = list(mon.stats)
        self.dead.append([mon.stats[k].get("frac_dead", math.nan) for k in self.act_names])
        self.saturated.append([mon.stats[k].get("frac_saturated", math.nan) for k in self.act_names])


def probe_metrics(probe: StepProbe) -> dict:
    """The probe's records as NumPy arrays (a dict to nest in an experiment's metrics)."""
    out = {
        "acc_step": np.asarray(probe.acc_step, dtype=np.int64),
        "acc": np.asarray(probe.acc, dtype=np.float64),
        "loss": np.asarray(probe.loss, dtype=np.float64),
        "grad_step": np.asarray(probe.grad_step, dtype=np.int64),
        "layer_grad_norm": np.asarray(probe.layer_grad_norm, dtype=np.float64).reshape(len(probe.grad_step), -1),
        "global_grad_norm": np.asarray(probe.global_grad_norm, dtype=np.float64),
        "layer_grad_rms": np.asarray(probe.layer_grad_rms, dtype=np.float64).reshape(len(probe.grad_step), -1),
        "layers": list(probe.layers or []),
    }
    if probe.activations:
        n = len(probe.act_names or [])
        out["act_names"] = list(probe.act_names or [])
        out["dead"] = np.asarray(probe.dead, dtype=np.float64).reshape(len(probe.dead), n)
        out["saturated"] = np.asarray(probe.saturated, dtype=np.float64).reshape(len(probe.saturated), n)
    return out


def train_probed(data, *, probe_n: int = 1000, probe_every: int = 10, activations: bool = False,
                 stop_at_acc: float | None = None, **train_kwargs):
    """:func:`deeprecipe.lab.training.train_classifier` with a :class:`StepProbe` on the first
    ``probe_n`` training examples.  Returns ``(metrics, model)``: the trainer's curves and
    final numbers, plus ``probe`` (:func:`probe_metrics`) and ``final.probe_acc`` /
    ``final.train_acc_all`` (accuracy on the whole training subset, measured even when
    training diverged).  ``stop_at_acc``: stop as soon as the probe accuracy reaches it
    (experiments that only need the steps to a target)."""
    from ..training import train_classifier
    probe = StepProbe(data.x_train[:probe_n], data.y_train[:probe_n], every=probe_every,
                      activations=activations, stop_at_acc=stop_at_acc)
    callbacks = list(train_kwargs.pop("callbacks", ())) + [probe]
    train_kwargs.setdefault("eval_every", 10 ** 9)  # the trainer's full evaluation: at the end only
    metrics, model = train_classifier(data, callbacks=callbacks, **train_kwargs)
    metrics["probe"] = probe_metrics(probe)
    acc_tr, loss_tr = evaluate_arrays(model, data.x_train, data.y_train)
    acc_te, loss_te = evaluate_arrays(model, data.x_test, data.y_test)
    metrics["final"].update(train_acc_all=acc_tr, train_loss_all=loss_tr, test_acc_all=acc_te,
                            test_loss_all=loss_te, probe_acc=float(probe.acc[-1]))
    return metrics, model


def log10_first_last(layer_grad) -> np.ndarray:
    """log10(grad first layer / grad last layer) per record of a (records × layers) array
    (norms or per-weight RMS, whichever is given)."""
    g = np.asarray(layer_grad, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log10(g[:, 0]) - np.log10(g[:, -1])
