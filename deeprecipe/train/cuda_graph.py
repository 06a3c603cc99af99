"""A whole training step (forward, loss, backward, optimizer step) captured once as a CUDA
graph and replayed: one graph launch per step instead of hundreds of kernel launches
issued from Python.

    opt = optim.Adam(model.parameters(), lr=1e-3, capturable=True)   # model.to('cuda') first
    step = CudaGraphStep(model, loss_fn, opt)
    for xb, yb in batches:                  # every batch the same shape
        out, loss = step(xb, yb)            # warm-up eagerly, then capture once, then replay

or simply ``fit(model, ..., cuda_graph=True)`` (which builds a named optimizer capturable,
runs a last partial batch eagerly, and falls back to eager steps with a warning that says
why when the step cannot be captured).

References: torch's whole-network capture, https://pytorch.org/docs/stable/notes/cuda.html#cuda-graphs;
CUDA stream capture, https://docs.nvidia.com/cuda/cuda-c-programming-guide/index.html#cuda-graphs;
CuPy's ``Stream.begin_capture`` / ``end_capture`` -> ``cupy.cuda.Graph`` and ``Graph.launch``,
https://docs.cupy.dev/en/stable/reference/generated/cupy.cuda.Stream.html.

How the step is made replayable:

* **static buffers** (``StaticBatch``): the graph reads its batch from fixed addresses;
  each batch is copied into them before the replay (so every batch must have the captured
  shape and dtype: x ``(B, ...)``, y ``(B,)`` labels or ``(B, ...)`` targets).
* **warm-up**: the first ``warmup`` calls run the very same step eagerly (``step_arrays``),
  so kernels are compiled, cuBLAS/cuDNN handles exist and the optimizer's state and scratch
  arrays are allocated before the capture (no lazy allocation is recorded).
* **memory**: the capture runs with a private CuPy ``MemoryPool`` as the allocator
  (``cupy.cuda.using_allocator``).  Every array the captured step allocates (activations,
  gradients, temporaries) comes from that pool, and nothing outside the last warm-up step
  and the capture ever allocates from it, so the addresses the graph writes at each replay
  are never handed to other arrays (torch keeps a private pool per graph for the same
  reason).  The last warm-up step already runs on the capture stream with that pool (as
  torch warms up on a side stream), so the pool holds blocks of the sizes the step needs
  and the capture is served from them; where it still has to grow, CuPy's default relaxed
  capture mode lets it call ``cudaMalloc``.
* **gradients**: ``step_arrays`` sets them to None before backward, so each replay's
  backward writes them afresh into the graph's buffers; nothing accumulates.
* **the optimizer must be capturable** (``capturable=True``: step counts, bias corrections
  and lr in device arrays).  Its lr is copied into those arrays before each replay
  (``Optimizer.sync_lr``), so learning-rate schedules work; any other hyperparameter is
  frozen into the graph, and changing one after the capture raises ``CudaGraphError``.
* **no host reads inside the step**: ``float()``, ``.item()``, ``bool()`` or ``if`` on an
  array, host random numbers (dropout masks) or host-to-device copies cannot be recorded;
  the capture then fails with a ``CudaGraphError`` that says so.  Label-range checks of
  the losses are skipped during the capture (``config.no_host_checks``); ``fit`` checks
  every label before training.

On the CPU (NumPy) there is nothing to capture: ``CudaGraphStep`` raises ``CudaGraphError``
naming the reason, and ``fit(cuda_graph=True)`` warns and trains eagerly.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..config import no_host_checks
from .step import step_arrays

_NOT_FROZEN = ("params", "lr", "initial_lr")   # keys a replay may see change (lr is read from the device)


def _cupy():
    """The cupy module or None (one indirection, so tests can stand in for CuPy)."""
    return backend.cupy_module()


def _on_gpu(a) -> bool:
    return backend.is_cupy_array(a)


class CudaGraphError(RuntimeError):
    """The training step cannot be captured or replayed as a CUDA graph; the message says
    why and what to do."""


# ---------------------------------------------------------------------------- checks
def unsupported_reasons(model, optimizer) -> list:
    """Every reason why ``model`` and ``optimizer`` cannot be captured as a CUDA graph
    (an empty list: a capture can be tried; it may still fail on an op that reads the host)."""
    reasons = []
    params = list(model.parameters())
    if not params:
        reasons.append("the model has no parameters")
    if _cupy() is None:
        reasons.append("CuPy with a visible GPU is not available (install the 'gpu' extra on a CUDA machine)")
    elif params and not all(_on_gpu(p.data) for p in params):
        reasons.append("the model's parameters are NumPy arrays on the CPU; move the model to the GPU first "
                       "(model.to('cuda'))")
    if not hasattr(optimizer, "capturing") or not hasattr(optimizer, "sync_lr"):
        reasons.append(f"{type(optimizer).__name__} is not a deeprecipe Optimizer with a capturable mode")
    else:
        bad = [gi for gi, g in enumerate(optimizer.param_groups) if not g.get("capturable", False)]
        if bad:
            name = type(optimizer).__name__
            reasons.append(
                f"the optimizer is not capturable (parameter group(s) {bad}): a replay would reuse the step count "
                f"and lr of the capture; build it with capturable=True, e.g. {name}(model.parameters(), ..., "
                "capturable=True) (Adam, AdamW, SGD, SGDW have that mode)")
    for name, m in model.named_modules():
        kind = type(m).__name__
        if kind == "Dropout" and getattr(m, "p", 0) > 0:
            reasons.append(f"module '{name or kind}' (Dropout p={m.p}) draws its mask from the host's random "
                           "generator at each step; a graph would replay the mask of the capture")
        if kind.startswith("BatchNorm") and getattr(m, "momentum", 0.1) is None and m.track_running_stats:
            reasons.append(f"module '{name or kind}' (momentum=None, a cumulative average) reads its batch count "
                           "on the host at each step; give it a momentum (e.g. 0.1)")
    return reasons


def frozen_hyperparameters(optimizer) -> list:
    """Each group's hyperparameters that a captured graph has frozen (all but the lr)."""
    return [{k: v for k, v in g.items() if k not in _NOT_FROZEN} for g in optimizer.param_groups]


def changed_hyperparameters(frozen: list, optimizer) -> list:
    """``(group, name, captured value, current value)`` for each frozen hyperparameter
    that changed since the capture."""
    out = []
    for gi, (old, g) in enumerate(zip(frozen, optimizer.param_groups)):
        for k, v in old.items():
            if g.get(k) != v:
                out.append((gi, k, v, g.get(k)))
    return out


# ---------------------------------------------------------------------------- static buffers
class StaticBatch:
    """The input and target buffers a captured graph reads.

    The first ``fill(x, y)`` allocates them (with ``x``'s and ``y``'s shapes and dtypes, on
    the device of ``xp``); each later ``fill`` copies the batch into the same arrays, or
    raises ``ValueError`` when the shapes or dtypes differ.  ``x`` ``(B, ...)``; ``y``
    ``(B,)`` integer labels or ``(B, ...)`` targets.  Works with NumPy too (tests)."""

    def __init__(self, xp):
        self.xp = xp
        self.x = None
        self.y = None

    def accepts(self, x, y) -> bool:
        """Whether ``(x, y)`` fits the buffers (always, before the first ``fill``)."""
        if self.x is None:
            return True
        return (x.shape == self.x.shape and x.dtype == self.x.dtype and y is not None
                and y.shape == self.y.shape and y.dtype == self.y.dtype)

    def fill(self, x, y) -> None:
        if y is None:
            raise ValueError("a captured training step needs targets: y is None")
        if self.x is None:
            self.x = self.xp.empty(x.shape, dtype=x.dtype)
            self.y = self.xp.empty(y.shape, dtype=y.dtype)
        elif not self.accepts(x, y):
            raise ValueError(
                f"the CUDA graph was captured for batches x {self.x.shape} {self.x.dtype}, y {self.y.shape} "
                f"{self.y.dtype}; got x {x.shape} {x.dtype}, y {y.shape} {y.dtype}.  A graph replays fixed "
                "shapes: give every batch the same size (fit(..., drop_last=True) drops a last partial batch; "
                "fit(..., cuda_graph=True) runs it eagerly) or build another CudaGraphStep for this shape")
        _copy_into(self.x, x)
        _copy_into(self.y, y)


def _copy_into(dst, src) -> None:
    if _on_gpu(dst) and not _on_gpu(src):
        dst.set(np.ascontiguousarray(src, dtype=dst.dtype))   # host -> device, outside any capture
    else:
        dst[...] = src


# ---------------------------------------------------------------------------- capture
def capture(stream, fn):
    """Record ``fn()`` on ``stream`` (a CuPy stream, not the legacy default one) and return
    ``(graph, fn's result)``.  Any failure, in ``fn`` or in ending the capture (a capture
    that an illegal operation invalidated), becomes a ``CudaGraphError`` that says which
    operations cannot be recorded; the stream is left out of capture mode either way."""
    stream.begin_capture()
    err, result, graph = None, None, None
    try:
        result = fn()
    except Exception as e:  # noqa: BLE001 - re-raised below, with the capture ended first
        err = e
    try:
        graph = stream.end_capture()
    except Exception as e:  # noqa: BLE001
        err = err or e
    if err is not None:
        raise CudaGraphError(
            f"capturing the training step as a CUDA graph failed ({type(err).__name__}: {err}).  Nothing inside the "
            "step may read a device value on the host (float(), .item(), bool() or an `if` on an array, .get(), "
            "conversion to NumPy) or copy host data to the device (NumPy arrays, host random numbers): keep "
            "losses and metrics as arrays inside the step, or train without cuda_graph") from err
    return graph, result


class CudaGraphStep:
    """One training step of ``model`` under ``loss_fn`` and a capturable ``optimizer``,
    captured as a CUDA graph after ``warmup`` eager calls and replayed at every later call.

    ``step(xb, yb) -> (out, loss)``: ``xb`` ``(B, ...)`` and ``yb`` (NumPy or CuPy) are
    copied into the static buffers; ``out`` ``(B, ...)`` and ``loss`` ``()`` are CuPy
    arrays that the next replay overwrites (copy them to keep them).  The step is
    ``step_arrays`` — exactly the eager ``train_step`` — and replaying it equals running
    it eagerly.  Every batch must have the first batch's shapes (``accepts`` tells).

    Raises ``CudaGraphError`` (at construction) naming every reason the step cannot be
    captured (CPU arrays, no CuPy, a non-capturable optimizer, dropout, ...), and at a call
    when the capture fails (a host read inside the step), when a frozen hyperparameter
    changed, or when a parameter was rebound (``p.data = ...``) after the capture.
    """

    def __init__(self, model, loss_fn, optimizer, *, warmup: int = 3):
        if not isinstance(warmup, (int, np.integer)) or isinstance(warmup, bool) or warmup < 1:
            raise ValueError(f"warmup must be an integer >= 1 (eager steps before the capture), got {warmup!r}")
        reasons = unsupported_reasons(model, optimizer)
        if reasons:
            raise CudaGraphError("cannot capture the training step as a CUDA graph: " + "; ".join(reasons))
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.warmup = int(warmup)
        self._cp = _cupy()
        self.batch = StaticBatch(self._cp)
        self.calls = 0
        self.graph = None
        self._frozen = None
        self._datas = None
        self._keep = None     # what the graph writes and the caller reads: kept alive with it
        self._pool = None
        self._stream = None

    @property
    def captured(self) -> bool:
        """Whether the graph has been captured (later calls replay it)."""
        return self.graph is not None

    def accepts(self, xb, yb) -> bool:
        """Whether a batch has the captured shapes and dtypes."""
        return self.batch.accepts(xb, yb)

    def __call__(self, xb, yb):
        self.batch.fill(xb, yb)
        if self.graph is None:
            if self.calls < self.warmup:
                self.calls += 1
                if self.calls < self.warmup:
                    return step_arrays(self.model, self.loss_fn, self.optimizer, self.batch.x, self.batch.y)
                return self._last_warmup()
            self._capture()
        else:
            self._check_unchanged()
        self.optimizer.sync_lr()   # the schedule's lr, read by the graph from the device
        self.graph.launch(stream=self._cp.cuda.get_current_stream())
        self.calls += 1
        return self._keep[0], self._keep[1]

    def _last_warmup(self):
        """The last eager warm-up step, on the capture stream and with the graph's private
        pool, so that the pool holds the blocks the captured step will ask for."""
        cp = self._cp
        # The capture stream may not be the legacy default stream; replays go to the
        # caller's current stream, so they are ordered with the caller's other work.
        self._stream = cp.cuda.Stream(non_blocking=True)
        self._pool = cp.cuda.MemoryPool()
        current = cp.cuda.get_current_stream()
        self._stream.wait_event(current.record())    # after the batch was copied in
        with cp.cuda.using_allocator(self._pool.malloc), self._stream:
            result = step_arrays(self.model, self.loss_fn, self.optimizer, self.batch.x, self.batch.y)
        current.wait_event(self._stream.record())    # the caller reads the results on its stream
        return result

    def _capture(self) -> None:
        cp = self._cp
        opt = self.optimizer
        stream, pool = self._stream, self._pool
        stream.wait_event(cp.cuda.get_current_stream().record())
        with cp.cuda.using_allocator(pool.malloc), stream, no_host_checks(), opt.capturing():
            graph, (out, loss) = capture(
                stream, lambda: step_arrays(self.model, self.loss_fn, opt, self.batch.x, self.batch.y))
        # capturing() wrote the lr on the side stream, which the caller's stream does not wait for
        stream.synchronize()
        params = list(self.model.parameters())
        self._keep = (out, loss, [p.grad for p in params])
        self._datas = [p.data for p in params]
        self._frozen = frozen_hyperparameters(opt)
        self.graph = graph

    def _check_unchanged(self) -> None:
        changed = changed_hyperparameters(self._frozen, self.optimizer)
        if changed:
            gi, k, old, new = changed[0]
            raise CudaGraphError(
                f"hyperparameter '{k}' of parameter group {gi} changed from {old!r} to {new!r} after the CUDA graph "
                "was captured, and a replay would still use the captured value.  Only lr may change between "
                "replays (it is read from the device); build a new CudaGraphStep after changing it (with OneCycleLR "
                "pass cycle_momentum=False)")
        for i, (p, d) in enumerate(zip(self.model.parameters(), self._datas)):
            if p.data is not d:
                raise CudaGraphError(
                    f"parameter {i} was rebound (p.data = ...) after the CUDA graph was captured; the graph still "
                    "updates the old array.  Write parameters in place (p.data[...] = x, as load_state_dict does)")
