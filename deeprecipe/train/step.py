"""One training step and the running sums an epoch's logs are made of.

The step is what a reader expects::

    out = model(Tensor(xb))               # records the graph
    loss = loss_fn(out, yb)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

and, cheaply, the batch's contribution to the epoch's means (loss, each metric's batch
sum: from the outputs already computed, no second pass), written once here and used by
both the training loop and the evaluation loop.
"""
from __future__ import annotations

import math

from .. import backend
from ..engine.tensor import Tensor


def prepare_target(yb, device, dtype):
    """Targets on the model's device; float targets in the model's dtype (labels keep theirs)."""
    if yb is None:
        return None
    if yb.dtype.kind == "f" and yb.dtype != dtype:
        yb = yb.astype(dtype)
    if device != "cpu":
        yb = backend.to_device(yb, device)
    return yb


class EpochSums:
    """Running sums of one epoch: loss × samples, each metric's batch sums and counts."""

    __slots__ = ("loss", "metric", "metric_n", "n")

    def __init__(self, k: int):
        self.loss = 0.0
        self.n = 0
        self.metric = [0] * k
        self.metric_n = [0] * k

    def add(self, metrics, out, yb, loss_value: float, n: int) -> None:
        """Add one batch: its mean loss ``loss_value`` over ``n`` samples and each metric's
        batch sum of the output array ``out`` against ``yb``."""
        self.loss += loss_value * n
        self.n += n
        for j, m in enumerate(metrics):
            self.metric[j] += m.batch_sum(out, yb)
            self.metric_n[j] += out.size if m.per_element else n

    def logs(self, metrics, prefix: str = "") -> dict:
        out = {prefix + "loss": self.loss / self.n if self.n else math.nan}
        for m, s, c in zip(metrics, self.metric, self.metric_n):
            out[prefix + m.name] = float(s) / c if c else math.nan
        return out

    def state(self) -> dict:
        return {"loss": float(self.loss), "n": int(self.n),
                "metric": [float(s) for s in self.metric], "metric_n": [int(c) for c in self.metric_n]}

    @classmethod
    def from_state(cls, state, k: int) -> EpochSums:
        s = cls(k)
        s.loss = float(state["loss"])
        s.n = int(state["n"])
        if len(state["metric"]) != k:
            raise ValueError("the checkpoint was written with different metrics; resume with the same metrics=")
        # Metric sums are counts (or sums of batch means): floats hold them exactly.
        s.metric = [float(v) for v in state["metric"]]
        s.metric_n = [int(v) for v in state["metric_n"]]
        return s


def step_arrays(model, loss_fn, optimizer, xb, yb):
    """Forward, backward and one optimizer step on a prepared batch, reading nothing back to
    the host: returns ``(output array, loss array)`` (the loss 0-d).  This is the step a CUDA
    graph captures (``cuda_graph.py``) and the body of ``train_step``, so the graph records
    exactly the eager step.  Gradients are set to None before backward, so backward writes
    them afresh (nothing accumulates from one step, or one graph replay, to the next)."""
    out = model(Tensor(xb))
    loss = loss_fn(out, yb)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return out.data, loss.data


def train_step(model, loss_fn, optimizer, xb, yb):
    """Forward, backward and one optimizer step on a prepared batch; returns
    ``(output array, loss value)``."""
    out, loss = step_arrays(model, loss_fn, optimizer, xb, yb)
    return out, float(loss)
