"""The optimizer's private executor: everything about memory that update rules never see.

Size: deliberately every memory concern of the optimizers in one private module, so that
no rule, transform or wrapper needs to know any of it.

It owns, for the parameters of one group that share a dtype and a device (a ``FlatBuffer``):

* layout: the parameters as views into one contiguous array, so that an update is a few
  whole-array in-place ufuncs instead of a Python loop over many small arrays (the idea
  of torch's ``foreach`` / ``fused`` optimizers, with plain NumPy/CuPy ``out=`` ufuncs);
* binding: ``p.data`` is rebound to its view; a parameter rebound elsewhere is copied back
  and re-attached (``bind``);
* gradient staging: gradients are copied into the buffer's own ``grad`` array (never
  written in ``p.grad``, which may be shared) — up front when gradient transforms need
  them all, else block by block during the update; a chain that only reads its gradient
  reads ``p.grad`` in place;
* runs: maximal ranges of consecutive parameters with a gradient this step and equal
  scalar state (the same step count), updated together;
* cache blocking: on the CPU a run is updated in blocks of ``block_bytes`` per array, so a
  chain's dozen passes read main memory once;
* denormal flushing of the state (``flush_denormals``);
* running a chain of rules (``rule.py``) on each block: ``run_chain``;
* for a capturable group (torch's ``capturable=True``), the device copies of the step
  counts and of the lr (``dscal``, ``lr``), updated by array ops only, so that a CUDA graph
  of the step reads them at every replay (see ``FlatBuffer``).

A buffer owns, for its parameters ``p_0 .. p_{n-1}`` (sizes ``s_j``, total ``N``):
``data`` (N,) the parameters, ``grad`` (N,) staged gradients, ``state`` name -> (N,)
per-element state, ``scal`` name -> (n,) per-parameter scalar state (``step``, ...).
"""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module, is_cupy_array, to_device
from .rule import Scale, as_scalar

_GRAD = "staged-grad"   # scratch key of a block's staged gradient (fill_grad)


def _pointer(a) -> int:
    return a.data.ptr if is_cupy_array(a) else a.__array_interface__["data"][0]


def _existing_flat(arrays, xp):
    """If ``arrays`` are already consecutive C-contiguous views of one 1-D base array
    (e.g. because another optimizer flattened them), return that region of the base;
    else ``None``.  Reusing it keeps both optimizers pointing at the same memory."""
    base = arrays[0].base
    if base is None or base.ndim != 1 or not base.flags.c_contiguous:
        return None
    dtype = base.dtype
    item = dtype.itemsize
    start_ptr = _pointer(arrays[0])
    expected = start_ptr
    for a in arrays:
        if a.base is not base or a.dtype != dtype or not a.flags.c_contiguous or _pointer(a) != expected:
            return None
        expected += a.size * item
    start = (start_ptr - _pointer(base)) // item
    total = (expected - start_ptr) // item
    return base[start:start + total]


class _Run:
    """A range ``[i0, i1)`` of a buffer's parameters (elements ``[lo, hi)``) updated together.

    ``param`` and ``grad`` are 1-D views; ``step`` is the step count *after* this update
    (torch increments first, so the first update sees ``step == 1``).  ``blocks(n)`` cuts a
    run into sub-runs of at most ``n`` elements that share the run's scalar state.
    """

    __slots__ = ("seg", "i0", "i1", "lo", "hi", "step", "param", "_grad", "_scalars")

    def __init__(self, seg: FlatBuffer, i0: int, i1: int, lo: int | None = None, hi: int | None = None,
                 scalars: dict | None = None):
        self.seg = seg
        self.i0, self.i1 = i0, i1
        self.lo = int(seg.offsets[i0]) if lo is None else lo
        self.hi = int(seg.offsets[i1]) if hi is None else hi
        if scalars is None:
            scalars = {k: float(v[i0]) for k, v in seg.scal.items()}
        self._scalars = scalars
        self.step = int(scalars["step"]) + 1
        self.param = seg.data[self.lo:self.hi]
        self._grad = None

    @property
    def grad(self):
        """The run's gradient: what ``fill_grad`` handed it, else its view of the staged
        gradients (``seg.grad``, allocated on first use)."""
        if self._grad is None:
            self._grad = self.seg.grad[self.lo:self.hi]
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        self._grad = value

    @property
    def size(self) -> int:
        return self.hi - self.lo

    @property
    def xp(self):
        return self.seg.xp

    def blocks(self, n: int | None):
        """Sub-runs of at most ``n`` elements (the run itself when ``n`` is None or large)."""
        if not n or self.hi - self.lo <= n:
            return (self,)
        return [_Run(self.seg, self.i0, self.i1, lo, min(lo + n, self.hi), self._scalars)
                for lo in range(self.lo, self.hi, n)]

    def state(self, name: str, init: float = 0.0):
        """View of per-element state ``name`` (allocated for the whole segment, filled with
        ``init``, on first use)."""
        return self.seg.state_array(name, init)[self.lo:self.hi]

    def tmp(self, k=0):
        """Scratch buffer ``k`` (any hashable key; same size and dtype as the run), contents undefined.

        Block-sized, not buffer-sized: blocks are updated one after the other, so one
        block's scratch is dead when the next starts (measured: the MLP's Adam kept 2 MiB
        of scratch per key before, 256 KiB now)."""
        n = self.hi - self.lo
        return self.seg.scratch(k, n)[:n]

    def scalar(self, name: str) -> float:
        """Per-parameter scalar state as it was before this step (the same for every
        parameter of the run and for all its blocks)."""
        return self._scalars[name]

    def set_scalar(self, name: str, value: float) -> None:
        self.seg.scal[name][self.i0:self.i1] = value


class FlatBuffer:
    """The parameters of one group that share a dtype and a device, in one flat buffer.

    Public read-only attributes (for wrappers such as Lookahead and for diagnostics):
    ``data`` (the flat parameters), ``params``, ``keys`` (parameter indices in the
    optimizer), ``shapes``, ``offsets`` (``data[offsets[j]:offsets[j+1]]`` is parameter j),
    ``dtype``, ``xp``; ``bind()`` re-attaches parameters whose ``.data`` was rebound.

    With ``capturable=True`` the scalar state also lives on the parameters' device:
    ``dscal`` name -> (n,) float64 (the step counts: the truth, incremented by an array op
    at each update) and ``lr`` () float64 (the group's lr, written by ``write_lr`` outside a
    graph capture).  ``scal`` then only mirrors them on the host for splitting runs (it
    advances with eager steps, not with graph replays) and is refreshed from the device by
    ``pull_scalars`` whenever the host needs the counts (``state_dict``)."""

    def __init__(self, params, keys, scalar_init: dict, capturable: bool = False):
        self.params = list(params)
        self.keys = list(keys)
        first = self.params[0].data
        self.xp = get_array_module(first)
        self.dtype = first.dtype
        self.shapes = [tuple(p.data.shape) for p in self.params]
        sizes = [int(p.data.size) for p in self.params]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.numel = int(self.offsets[-1])
        datas = [p.data for p in self.params]
        flat = _existing_flat(datas, self.xp) if self.numel else None
        if flat is None:
            flat = self.xp.empty(self.numel, dtype=self.dtype)
            for j, d in enumerate(datas):
                flat[self.offsets[j]:self.offsets[j + 1]] = d.reshape(-1)
        self.data = flat
        self.views = [flat[self.offsets[j]:self.offsets[j + 1]].reshape(self.shapes[j])
                      for j in range(len(self.params))]
        for p, v in zip(self.params, self.views):
            p.data = v
        self._grad = None      # staged gradients, allocated on first use (see ``grad``)
        self.state: dict[str, object] = {}
        self.state_init: dict[str, float] = {}
        self._scratch: dict = {}
        self._scratch_ids: set = set()
        self._mask = None
        self._pending = None  # gradients whose copy into self.grad is deferred (see gather)
        self.scalar_init = dict(scalar_init)
        self.scal = {k: np.full(len(self.params), v, dtype=np.float64) for k, v in scalar_init.items()}
        self.uniform = True  # all scalar states equal across the segment's parameters
        self.capturable = bool(capturable)
        if self.capturable:
            # float64 whatever the parameters' dtype: counts stay exact and the derived
            # scalars (bias corrections) are computed as in the host's double precision
            self.dscal = {k: self.xp.full(len(self.params), v, dtype=np.float64) for k, v in scalar_init.items()}
            self.lr = self.xp.zeros((), dtype=np.float64)
            self._lr_host = None

    # ------------------------------------------------------------------ capturable scalars
    def write_lr(self, lr) -> None:
        """Copy the group's lr into the device array ``self.lr`` (only when it changed: a
        schedule's new value costs one tiny host-to-device write, no synchronization)."""
        if lr != self._lr_host:
            self.lr.fill(float(lr))
            self._lr_host = lr

    def device_step(self, i: int):
        """Parameter ``i``'s step count as a 0-d view of ``dscal['step']`` (a device value)."""
        return self.dscal["step"][i:i + 1].reshape(())

    def count_device(self, run) -> None:
        """Count the step of a run's parameters on the device (before its update, as torch)."""
        self.dscal["step"][run.i0:run.i1] += 1

    def pull_scalars(self) -> None:
        """Refresh the host mirror ``scal`` from the device counts (synchronizes)."""
        for k, a in self.dscal.items():
            self.scal[k][...] = to_device(a, "cpu")
        self.refresh_uniform()

    def push_scalars(self) -> None:
        """Write the host's ``scal`` to the device counts (after ``load_state_dict``)."""
        for k, a in self.dscal.items():
            a[...] = self.xp.asarray(self.scal[k])
        self._lr_host = None

    # ------------------------------------------------------------------ buffers
    def state_array(self, name: str, init: float = 0.0):
        a = self.state.get(name)
        if a is None:
            a = self.xp.full(self.numel, init, dtype=self.dtype) if init else self.xp.zeros(self.numel, self.dtype)
            self.state[name] = a
            self.state_init[name] = float(init)
        return a

    def block_elems(self, block_bytes: int | None) -> int | None:
        """Elements per cache-sized block on the CPU (None: no blocking, e.g. on the GPU)."""
        if not block_bytes or self.xp is not np:
            return None
        return max(1024, int(block_bytes) // self.dtype.itemsize)

    @property
    def grad(self):
        """The staged gradients ``(numel,)``, for gradient transforms that need all of them
        at once (an eager ``gather``); allocated on first use, since a deferred gather
        stages each block in block-sized scratch instead (``fill_grad``)."""
        if self._grad is None:
            self._grad = self.xp.zeros(self.numel, dtype=self.dtype)
        return self._grad

    def scratch(self, k=0, n: int | None = None):
        """Scratch array ``k`` (any hashable key) of at least ``n`` elements (default: the
        buffer's size), allocated on first use and replaced by a larger one when needed;
        callers use its first ``n`` elements."""
        n = self.numel if n is None else n
        a = self._scratch.get(k)
        if a is None or a.size < n:
            if a is not None:
                self._scratch_ids.discard(id(a))
            a = self._scratch[k] = self.xp.empty(n, dtype=self.dtype)
            self._scratch_ids.add(id(a))
        return a

    def owns(self, u) -> bool:
        """Whether ``u`` is a view of this buffer's staged gradients or of a scratch array
        (so a rule may write into it), not of ``p.grad`` or of optimizer state."""
        b = u.base
        return (b is not None and b is self._grad) or id(b) in self._scratch_ids

    def bool_scratch(self, n: int | None = None):
        n = self.numel if n is None else n
        if self._mask is None or self._mask.size < n:
            self._mask = self.xp.empty(n, dtype=bool)
        return self._mask

    # ------------------------------------------------------------------ binding
    def bind(self) -> None:
        """Make sure every ``p.data`` is still our view.  Code that *rebinds* ``p.data``
        (instead of writing in place) would otherwise silently detach the parameter from
        the optimizer; we copy the new values into the buffer and rebind the view."""
        for j, (p, v) in enumerate(zip(self.params, self.views)):
            d = p.data
            if d is v:
                continue
            if d.shape != v.shape or d.dtype != v.dtype or get_array_module(d) is not self.xp:
                raise RuntimeError(
                    f"parameter {self.keys[j]} was replaced by an array of shape {d.shape}, dtype {d.dtype} "
                    f"after the optimizer was built (expected shape {v.shape}, dtype {v.dtype} on the same "
                    "device); write new values in place (p.data[...] = x) or build a new optimizer")
            v[...] = d
            p.data = v

    # ------------------------------------------------------------------ gradients
    def gather(self, eager: bool = True) -> list:
        """Collect the parameters' gradients into ``self.grad`` and return the runs to update.

        With ``eager=False`` (and every parameter having a gradient) the copy is deferred:
        ``fill_grad(lo, hi)`` copies each block right before it is updated, while it is hot
        in the cache, which saves one pass over memory."""
        grads = [p.grad for p in self.params]
        n = len(grads)
        has = [g is not None for g in grads]
        self._pending = None
        if all(has):
            if eager:
                self._copy_all(grads)
            else:
                self._check_shapes(grads)
                self._pending = [g.reshape(-1) for g in grads]
            if self.uniform:
                return [_Run(self, 0, n)]
        else:
            if not any(has):
                return []
            for j, g in enumerate(grads):
                if g is not None:
                    self._copy_one(j, g)
        return self._split(has)

    def _check_shapes(self, grads) -> None:
        if [getattr(g, "shape", None) for g in grads] != self.shapes:
            for j, g in enumerate(grads):
                self._copy_one(j, g)   # raises the precise error

    def fill_grad(self, lo: int, hi: int, direct: bool = False):
        """The gradient of elements [lo, hi) for an update, after a deferred ``gather``.

        With ``direct=True`` (the update rule only reads its gradient) and [lo, hi) inside
        one parameter whose ``.grad`` has the parameter's dtype, this is a read-only view of
        that ``.grad`` (no copy at all); otherwise the elements are copied into
        ``self.grad`` and its view is returned."""
        pending = self._pending
        if pending is None:
            return self.grad[lo:hi]
        off = self.offsets
        j = int(np.searchsorted(off, lo, side="right")) - 1
        if direct and hi <= off[j + 1] and pending[j].dtype == self.dtype:
            return pending[j][lo - off[j]:hi - off[j]]
        # staged in block-sized scratch: the block is updated before the next is filled
        out = self.scratch(_GRAD, hi - lo)[:hi - lo]
        while j < len(pending) and off[j] < hi:
            a, b = max(lo, int(off[j])), min(hi, int(off[j + 1]))
            if b > a:
                out[a - lo:b - lo] = pending[j][a - off[j]:b - off[j]]
            j += 1
        return out

    def _copy_all(self, grads) -> None:
        self._check_shapes(grads)
        try:
            if len(grads) == 1:
                self.grad[...] = grads[0].reshape(-1)
            else:
                self.xp.concatenate([g.reshape(-1) for g in grads], out=self.grad)
        except (ValueError, TypeError, AttributeError):
            for j, g in enumerate(grads):
                self._copy_one(j, g)
            raise  # pragma: no cover - _copy_one raises the precise error first

    def _copy_one(self, j: int, g) -> None:
        shape = self.shapes[j]
        if not hasattr(g, "shape") or tuple(g.shape) != tuple(shape):
            raise ValueError(
                f"parameter {self.keys[j]} has shape {shape} but its .grad has shape "
                f"{getattr(g, 'shape', type(g).__name__)}; gradients must match their parameter")
        if get_array_module(g) is not self.xp:
            raise ValueError(f"parameter {self.keys[j]} and its .grad live on different devices")
        self.grad[self.offsets[j]:self.offsets[j + 1]] = g.reshape(-1)

    def _split(self, has) -> list:
        """Maximal runs of consecutive parameters with a gradient and equal scalar state."""
        runs = []
        n = len(has)
        scal = list(self.scal.values())
        j = 0
        while j < n:
            if not has[j]:
                j += 1
                continue
            k = j + 1
            while k < n and has[k] and all(s[k] == s[j] for s in scal):
                k += 1
            runs.append(_Run(self, j, k))
            j = k
        return runs

    def advance(self, runs) -> None:
        """Count the step of the parameters in ``runs``."""
        self._pending = None
        step = self.scal["step"]
        partial = len(runs) != 1 or runs[0].i0 != 0 or runs[0].i1 != len(self.params)
        for r in runs:
            step[r.i0:r.i1] = r.step
        if partial or not self.uniform:
            self.refresh_uniform()

    def refresh_uniform(self) -> None:
        self.uniform = all(bool((s == s[0]).all()) for s in self.scal.values()) if self.params else True

    # ------------------------------------------------------------------ denormals
    def flush_denormals(self, block: int | None = None) -> None:
        """Set state values whose magnitude is below the smallest normal number to 0.

        Adam-family state of units that stop receiving gradient (dead ReLUs) decays
        geometrically into subnormal numbers; arithmetic on those is many times slower
        on most x86 CPUs and would slow every later step.  Zeros are exact and fast, and
        a value below ~1e-38 (float32) has no visible effect on any update."""
        if not self.state:
            return
        xp = self.xp
        tiny = np.finfo(self.dtype).tiny
        step = min(block or self.numel, self.numel) or 1
        # any scratch array will do (nothing is live between steps): no extra memory
        t = self.scratch(next(iter(self._scratch), 0), step)
        m = self.bool_scratch(step)
        for a in self.state.values():
            for lo in range(0, self.numel, step):   # block by block, so each stays in cache
                hi = min(lo + step, self.numel)
                n = hi - lo
                xp.abs(a[lo:hi], out=t[:n])
                xp.greater_equal(t[:n], tiny, out=m[:n])   # False for subnormals (and NaN)
                # multiply by the 0/1 mask: branch-free, where a masked copy with a random
                # mask (dead units are scattered) is ten times slower; NaN·0 stays NaN
                xp.multiply(a[lo:hi], m[:n], out=a[lo:hi])


# ---------------------------------------------------------------------- running a chain
class _RuleState:
    """One rule's view of the state of one block (see ``rule.py``): per-element arrays,
    per-parameter scalars, private scratch, the group's state."""

    __slots__ = ("_run", "_rule", "_i", "_hp", "group")

    def __init__(self, run, rule, i, hp, group):
        self._run, self._rule, self._i, self._hp, self.group = run, rule, i, hp, group

    @property
    def xp(self):
        return self._run.seg.xp

    def __getitem__(self, name: str):
        r = self._run
        return r.seg.state_array(name, self._rule.init(name, self._hp))[r.lo:r.hi]

    def tmp(self, k: int = 0):
        return self._run.tmp((self._i, k))

    def scalar(self, name: str) -> float:
        return self._run.scalar(name)

    def set_scalar(self, name: str, value: float) -> None:
        self._run.set_scalar(name, value)


class Chain:
    """The rules of one group that are active for its current hyperparameters, with what the
    executor needs to know about them (computed once per group and step)."""

    __slots__ = ("rules", "scales", "writes", "direct", "blockwise")

    def __init__(self, rules, hp: dict):
        self.rules = [r for r in rules if r.active(hp)]
        self.scales = [isinstance(r, Scale) for r in self.rules]
        self.writes = [(not s) and r.writes_input(hp) for r, s in zip(self.rules, self.scales)]
        self.direct = not any(self.writes)
        self.blockwise = all(r.blockwise for r in self.rules)


_EXEC = "executor"   # the executor's own scratch key


def _is(c, value: float) -> bool:
    """Whether the scalar ``c`` is known on the host to equal ``value`` (a device scalar of a
    capturable step never is: comparing it would synchronize)."""
    return isinstance(c, (float, int)) and c == value


def run_chain(chain: Chain, hp: dict, run, group_state: dict) -> None:
    """θ ← θ + c·u after passing the run's gradient through the chain's rules.

    For a capturable buffer, ``step`` is the device count and ``c`` may be a device scalar;
    it is then cast to the parameters' dtype before it meets an array (``as_scalar``)."""
    seg = run.seg
    xp = seg.xp
    u = run.grad
    c = 1.0
    cap = seg.capturable
    step = seg.device_step(run.i0) if cap else run.step
    for i, rule in enumerate(chain.rules):
        if chain.scales[i]:
            c *= rule.factor(hp, step)
            continue
        if not _is(c, 1.0):   # a pending scalar before a rule that needs the values
            out = u if seg.owns(u) else run.tmp(_EXEC)
            xp.multiply(u, as_scalar(c, u) if cap else c, out=out)
            u, c = out, 1.0
        elif chain.writes[i] and not seg.owns(u):
            out = run.tmp(_EXEC)
            out[...] = u
            u = out
        r = rule.update(u, _RuleState(run, rule, i, hp, group_state), run.param, step, hp)
        if r is None:
            return
        if isinstance(r, tuple):
            u, c = r
        else:
            u = r
    if _is(c, 1.0):
        run.param += u
    elif _is(c, -1.0):
        run.param -= u
    else:
        out = u if seg.owns(u) else run.tmp(_EXEC)
        xp.multiply(u, as_scalar(c, u) if cap else c, out=out)
        run.param += out


def update_group(rules, hp: dict, runs, block_bytes, group_state: dict) -> None:
    """Run the group's chain over its runs, block by block where every rule allows it,
    fetching deferred gradients right before each block (see ``FlatBuffer.fill_grad``).

    A capturable buffer counts the step on the device first and hands its rules the
    device lr (``hp['lr']`` is then ``seg.lr``)."""
    chain = Chain(rules, hp)
    for run in runs:
        seg = run.seg
        rhp = hp
        if seg.capturable:
            seg.count_device(run)
            rhp = dict(hp)
            rhp["lr"] = seg.lr
        n = seg.block_elems(block_bytes) if chain.blockwise else None
        for block in run.blocks(n):
            block.grad = seg.fill_grad(block.lo, block.hi, chain.direct)
            run_chain(chain, rhp, block, group_state)
    if runs:
        for rule in chain.rules:
            rule.finish_group(group_state, hp, runs[0].step)
