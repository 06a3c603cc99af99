"""Train a classifier for an experiment and record its curves: built on ``deeprecipe.train.fit``.

    metrics, model = train_classifier(data, hidden=[100] * 6, activation="relu", init="he",
                                      optimizer="sgd", lr=0.01, epochs=200, batch_size=100,
                                      seed=seed, weight_decay=0.1)
    metrics["curves"]["test_acc"]     # one value per evaluation (every ``eval_every`` epochs)
    metrics["final"]["train_acc"]      # after the last epoch

What is recorded (NumPy arrays, ready to be returned from ``run``):

* ``curves.step_loss``: the mini-batch loss of every optimizer step (training mode, i.e.
  with dropout active — what the book's ``optimizer_compare_mnist`` plots);
* ``curves.epoch``: the epochs (counted from 1) after which the model was evaluated, and
  ``curves.train_acc``/``train_loss``/``test_acc``/``test_loss`` (``val_*`` when the data
  has a validation split) there, in **eval mode** on the whole split (as the book's
  ``Trainer`` does: ``network.accuracy(x_train, t_train)`` with dropout off);
* ``final``: the last evaluation as plain numbers, plus ``diverged`` (a non-finite loss
  stopped training) and ``steps``.

The network is ``deeprecipe.nn.MLP`` unless a ``model`` is given.  ``weight_decay`` is
the lecture's L2 on the weights only (biases and normalization parameters are not
decayed): the optimizer's coupled ``weight_decay`` on a parameter group of the weights,
i.e. ``g ← g + λw`` (loss + λ/2·‖W‖²).
"""
from __future__ import annotations

import math

import numpy as np


def split_decay_groups(model, weight_decay: float) -> list:
    """Parameter groups: matrices/kernels (ndim ≥ 2) get ``weight_decay``, the rest 0
    (``optim.weight_decay_groups``)."""
    from ..optim import weight_decay_groups
    return weight_decay_groups(model.named_parameters(), float(weight_decay))


def make_optimizer(model, name="sgd", lr: float = 0.01, weight_decay: float = 0.0, **kwargs):
    """An optimizer of ``deeprecipe.optim`` by name (``'sgd'``, ``'adam'``, ...), with the
    weights-only weight decay of :func:`split_decay_groups`.

    ``name`` may instead be a factory ``f(model, lr) -> optimizer`` for what a name cannot
    say: parameter groups with their own learning rates, a ``Lookahead`` wrapper, gradient
    transforms (``weight_decay`` and ``kwargs`` must then be left out)."""
    if callable(name):
        if weight_decay or kwargs:
            raise ValueError("an optimizer factory builds its own groups: pass weight decay and other "
                             "hyperparameters inside it, not as weight_decay=/optimizer_kwargs=")
        return name(model, lr)
    from ..optim import create
    params = split_decay_groups(model, weight_decay) if weight_decay else list(model.parameters())
    return create(name, params, lr=lr, **kwargs)


def _recorder_class():
    from ..train.callbacks.base import Callback
    from ..train.evaluation import evaluate

    class Recorder(Callback):
        """Records every step's loss; evaluates train/val/test in eval mode every few epochs;
        stops after ``max_steps`` optimizer steps; drives an optional progress bar."""

        def __init__(self, data, eval_every, epochs, max_steps, bar, eval_train_max, eval_batch):
            self.data, self.eval_every, self.epochs = data, eval_every, epochs
            self.max_steps, self.bar, self.eval_batch = max_steps, bar, eval_batch
            n = len(data.x_train)
            self.train_idx = slice(None) if eval_train_max is None or eval_train_max >= n else \
                slice(0, int(eval_train_max))
            self.step_loss = []
            self.evals = {"epoch": []}
            self.diverged = False   # the trainer's verdict, kept at the end (the trainer lets go of us)

        def on_train_batch_end(self, batch, logs=None):
            loss = float(logs["loss"])
            self.step_loss.append(loss)
            if self.bar is not None:
                self.bar.update(1)
            if not math.isfinite(loss):
                self.trainer.stop("the loss became non-finite", diverged=True)
            elif self.max_steps is not None and len(self.step_loss) >= self.max_steps:
                self.trainer.stop(f"reached {self.max_steps} steps")

        def on_train_end(self, logs=None):
            self.diverged = bool(self.trainer.diverged)

        def on_epoch_end(self, epoch, logs=None):
            last = epoch + 1 == self.epochs or self.trainer.stop_training
            if (epoch + 1) % self.eval_every and not last:
                return
            self.evaluate(epoch + 1)

        def evaluate(self, epoch):
            d = self.data
            self.evals["epoch"].append(epoch)
            splits = [("train", d.x_train[self.train_idx], d.y_train[self.train_idx])]
            if len(d.y_val):
                splits.append(("val", d.x_val, d.y_val))
            splits.append(("test", d.x_test, d.y_test))
            for name, x, y in splits:
                if (self.trainer.diverged if self.trainer is not None else self.diverged):
                    r = {"loss": math.nan, "accuracy": math.nan}
                else:
                    r = evaluate(self.model, x, y, batch_size=self.eval_batch)
                self.evals.setdefault(f"{name}_acc", []).append(float(r["accuracy"]))
                self.evals.setdefault(f"{name}_loss", []).append(float(r["loss"]))

    return Recorder


def train_classifier(data, hidden=(100,), activation="relu", init="he", optimizer="sgd", lr=0.01,
                     weight_decay: float = 0.0, dropout: float = 0.0, norm=None, epochs: int | None = None,
                     steps: int | None = None, batch_size: int = 100, seed: int = 0, eval_every: int = 1,
                     eval_train_max: int | None = None, eval_batch: int = 1000, optimizer_kwargs=None,
                     model=None, callbacks=(), progress=None, loss: str = "cross_entropy", shuffle: bool = True):
    """Train an MLP (or ``model``) on ``data`` (:class:`~deeprecipe.lab.data.ImageData`).

    Give ``epochs`` or ``steps`` (optimizer steps; epochs are then as many as needed).
    ``optimizer``: a name or a factory ``f(model, lr)`` (see :func:`make_optimizer`).
    ``shuffle=False`` presents the training examples in their stored order every epoch
    (experiments on data order arrange ``data.x_train`` themselves).
    ``progress`` is ``ctx.progress`` (a bar over the steps).  ``model``'s parameters are
    initialized by the caller; otherwise ``nn.MLP([d_in, *hidden, n_classes], activation,
    norm, dropout, init, rng=seed)``.  Returns ``(metrics, model)`` (module docstring).
    """
    from .. import nn
    from ..train import fit
    if (epochs is None) == (steps is None):
        raise ValueError("give exactly one of epochs= or steps=")
    n = len(data.x_train)
    per_epoch = max(1, n // batch_size + (n % batch_size > 0))
    if steps is not None:
        if steps < 1:
            raise ValueError(f"steps must be positive, got {steps}")
        epochs = -(-int(steps) // per_epoch)
    if epochs < 1 or eval_every < 1:
        raise ValueError(f"epochs and eval_every must be positive, got {epochs}, {eval_every}")
    if model is None:
        sizes = [int(np.prod(data.x_train.shape[1:])), *[int(h) for h in hidden], int(data.n_classes)]
        model = nn.MLP(sizes, activation=activation, norm=norm, dropout=dropout, init=init, rng=seed)
    opt = make_optimizer(model, optimizer, lr, weight_decay, **(optimizer_kwargs or {}))
    total = int(steps) if steps is not None else epochs * per_epoch
    bar = progress(total, "train") if progress is not None else None
    rec = _recorder_class()(data, int(eval_every), int(epochs), steps, bar, eval_train_max, eval_batch)
    try:
        # Divergence is an outcome some experiments expect (raw 0..255 inputs, large weight
        # scales): it is detected from the loss and recorded as ``diverged``, so NumPy's
        # overflow warnings on the way there are noise, not news.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            fit(model, (data.x_train, data.y_train), optimizer=opt, epochs=int(epochs),
                batch_size=int(batch_size), seed=int(seed), callbacks=[rec, *callbacks], verbose=0,
                loss=loss, shuffle=bool(shuffle))
    finally:
        if bar is not None:
            bar.close()
    if not rec.evals["epoch"]:   # stopped inside the first epoch before any evaluation
        rec.evaluate(1)
    curves = {k: np.asarray(v, dtype=np.float64) for k, v in rec.evals.items()}
    curves["epoch"] = curves["epoch"].astype(np.int64)
    curves["step_loss"] = np.asarray(rec.step_loss, dtype=np.float64)
    final = {k: float(v[-1]) for k, v in curves.items() if k not in ("epoch", "step_loss")}
    final["diverged"] = rec.diverged
    final["steps"] = len(rec.step_loss)
    return {"curves": curves, "final": final}, model
