"""``Optimizer``: the torch.optim-like base class every deeprecipe optimizer is wired from.

Size: one class, torch's Optimizer protocol (groups, stepping, state_dict/load_state_dict with
their validation); splitting it would spread one object's invariants over files.

A named optimizer is a chain of update rules (``rule.py``) plus its hyperparameters; the
base class runs the chain through the private executor (``_executor.py``).  What it owns:

* ``param_groups``: a list of dicts, each with ``'params'`` (a list of Parameters) and its
  own hyperparameters (``'lr'``, ``'weight_decay'``, ...).  ``group['lr']`` is the one
  canonical learning rate; schedules change it between steps.
* flat buffers: at construction the parameters of each group (per dtype and device) are
  copied into one contiguous array and ``p.data`` is rebound to views of it
  (see ``_executor.py``).  Code elsewhere must write parameters in place
  (``p.data[...] = x``); a rebound ``p.data`` is detected and re-attached at the next step.
* state: per-element arrays (``exp_avg``, ...) and per-parameter scalars (``step``) keyed by
  the parameter's index in the order the groups list them (as torch does) — never by
  ``id()`` — so ``state_dict()`` / ``load_state_dict()`` round-trip exactly.
* gradient transforms (``transforms=[...]``, see ``transforms.py``): applied, in order, to
  the gathered gradients before the chain of rules.

Capturable optimizers (``capturable=True``, torch's name and meaning): the step counts, the
bias corrections derived from them and the lr live in device arrays updated by array ops
only (see ``rule.py`` and ``FlatBuffer``), so that the whole step can be captured in a CUDA
graph (``deeprecipe.train.cuda_graph``).  ``group['lr']`` stays the one canonical lr:
``step()`` copies it into the device array when it changed, and inside a capture
(``capturing()``) the graph runner does so before each replay (``sync_lr``).  The option
is per group like torch's; only optimizers whose every rule is capturable accept it.

Semantics follow torch: a parameter whose ``.grad`` is ``None`` is skipped (its step count
does not advance and its state is not created); ``step(closure)`` re-evaluates the loss.
The optimizer never writes into ``p.grad``: it copies the gradients into its own buffer.
"""
from __future__ import annotations

import contextlib
import copy
import numbers

import numpy as np

from ..backend import device_of, get_array_module, to_device
from ..config import enable_grad
from ..engine import Tensor
from . import _validate as V
from ._executor import FlatBuffer, update_group

#: constructor arguments of an optimizer that are not hyperparameters
NOT_HYPERPARAMETERS = ("self", "params", "transforms", "denormal_guard", "__class__")


def hyperparameters(local_vars: dict) -> dict:
    """The hyperparameters among a constructor's ``locals()`` (lists become tuples, as
    torch's ``betas``), so that a named optimizer spells each one once, in its signature."""
    return {k: (tuple(v) if isinstance(v, list) else v) for k, v in local_vars.items()
            if k not in NOT_HYPERPARAMETERS}


def _as_groups(params) -> list:
    if isinstance(params, (Tensor, np.ndarray)) or hasattr(params, "shape"):
        raise TypeError(
            "params must be an iterable of Parameters or of dicts (parameter groups), got a single "
            f"{type(params).__name__}; wrap it in a list: [param]")
    if isinstance(params, dict):
        raise TypeError("params must be an iterable of Parameters or of dicts; to pass one group, use [group]")
    try:
        items = list(params)
    except TypeError:
        raise TypeError(f"params must be an iterable of Parameters or of dicts, got {type(params).__name__}") from None
    if not items:
        raise ValueError("optimizer got an empty parameter list")
    if all(isinstance(x, dict) for x in items):
        return items
    if any(isinstance(x, dict) for x in items):
        raise TypeError("params mixes Parameters and dicts: pass either Parameters or parameter-group dicts")
    if all(isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], str) for x in items):
        items = [p for _, p in items]  # named_parameters() output
    return [{"params": items}]


class Optimizer:
    """Base class: parameter groups, the chain of rules, transforms, (de)serialization.

    A subclass lists its rules in ``rules`` (or chooses them per group in ``chain(hp)``,
    listing every rule it may use in ``all_rules()``) and passes its hyperparameter
    ``defaults``; every hyperparameter is checked by the rule that reads it (``Rule.checks``),
    by the class's ``_checks``, or by ``_validate.COMMON`` — one with no check is refused.

    Args:
        params: an iterable of Parameters, of ``(name, Parameter)`` pairs, or of dicts
            (parameter groups: ``{'params': [...], 'lr': 0.1, ...}``; missing keys take
            the defaults).
        defaults: hyperparameter defaults (every key a group may set).
        transforms: gradient transforms applied before the update (see ``transforms.py``).
        denormal_guard: every this many steps, flush subnormal state values to zero
            (0 disables it); see ``FlatBuffer.flush_denormals``.
    """

    rules: tuple = ()         # the update chain (see rule.py)
    _checks: dict = {}        # hyperparameter name -> check, overriding the rules' and COMMON
    block_bytes: int | None = 1 << 18  # CPU updates run on blocks of this many bytes per array

    def __init__(self, params, defaults: dict, *, transforms=None, denormal_guard: int = 16):
        if not isinstance(denormal_guard, numbers.Integral) or denormal_guard < 0:
            raise ValueError(f"denormal_guard must be a non-negative integer (0 disables it), got {denormal_guard!r}")
        rules = self.all_rules()
        self._state_names = tuple(dict.fromkeys(n for r in rules for n in r.state_names))
        self._scalar_init = {"step": 0.0}
        for r in rules:
            self._scalar_init.update(r.scalars)
        checks = {}
        for r in rules:
            checks.update(r.checks)
        checks.update(self._checks)
        missing = sorted(k for k in defaults if k not in checks and k not in V.COMMON)
        if missing:
            raise TypeError(f"{type(self).__name__}: no check for hyperparameter(s) {missing}; declare one in "
                            "the rule that reads it (Rule.checks) or in the class's _checks")
        self._all_checks = checks
        self.defaults = dict(defaults)
        self._check_values(self.defaults, where="")
        self.param_groups: list[dict] = []
        self._segments: list[list[FlatBuffer]] = []
        self._group_state: list[dict] = []
        self._param_ids: set = set()
        self._n_params = 0
        self.denormal_guard = int(denormal_guard)
        self._step_calls = 0
        self._any_capturable = False
        self._capturing = False
        for group in _as_groups(params):
            self.add_param_group(group)
        from .transforms import as_transform_list
        self.transforms = as_transform_list(transforms)
        if self.transforms and self._any_capturable:
            raise ValueError(f"{type(self).__name__}: capturable=True does not take gradient transforms "
                             "(they read norms on the host); clip or regularize outside the captured step, "
                             "or use capturable=False")
        for t in self.transforms:
            t.bind(self)

    def chain(self, hp: dict):
        """The rules that update a group with hyperparameters ``hp`` (default: ``rules``)."""
        return self.rules

    def all_rules(self) -> tuple:
        """Every rule ``chain`` may return (their state and checks are the optimizer's)."""
        return tuple(self.rules)

    # ------------------------------------------------------------------ groups
    def _check_values(self, values: dict, where: str) -> None:
        for name, value in values.items():
            check = self._all_checks.get(name, V.COMMON.get(name))
            if check is not None:
                try:
                    check(name, value)
                except (ValueError, TypeError) as e:
                    raise type(e)(f"{type(self).__name__}{where}: {e}") from None

    def _check_group(self, group: dict) -> None:
        """Cross-hyperparameter checks of one group (e.g. Nesterov needs momentum)."""

    def _init_group_state(self, group: dict) -> dict:
        """Per-group state of the rules (e.g. SWATS's phase); saved by ``state_dict``."""
        out = {}
        for r in self.all_rules():
            out.update(r.init_group(group))
        return out

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own hyperparameters (torch semantics)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"a parameter group must be a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError("a parameter group needs a 'params' entry")
        gi = len(self.param_groups)
        where = f" (param group {gi})"
        unknown = sorted(set(param_group) - set(self.defaults) - {"params"})
        if unknown:
            raise ValueError(
                f"{type(self).__name__}{where}: unknown hyperparameter(s) {unknown}; "
                f"{type(self).__name__} accepts {sorted(self.defaults)}")
        params = param_group["params"]
        if isinstance(params, (Tensor, np.ndarray)):
            params = [params]
        else:
            params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}{where}: parameter group has no parameters")
        if all(isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], str) for x in params):
            params = [p for _, p in params]
        ids = set()
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{type(self).__name__}{where}: params[{i}] is a {type(p).__name__}, not a Parameter/Tensor; "
                    "optimizers update Tensors in place")
            if p.data.dtype.kind != "f":
                raise TypeError(f"{type(self).__name__}{where}: params[{i}] has dtype {p.data.dtype}; "
                                "only floating-point parameters can be optimized")
            if id(p) in ids:
                raise ValueError(f"{type(self).__name__}{where}: params[{i}] appears twice in the same group")
            if id(p) in self._param_ids:
                raise ValueError(f"{type(self).__name__}{where}: params[{i}] already belongs to another "
                                 "parameter group; each parameter may appear in one group only")
            ids.add(id(p))
        values = {k: v for k, v in param_group.items() if k != "params"}
        self._check_values(values, where)
        group = {"params": params}
        for k, v in self.defaults.items():
            group[k] = values.get(k, v)
        self._check_group(group)
        capturable = bool(group.get("capturable", False))
        if capturable:
            self._check_capturable(group, where)

        # One flat buffer per (dtype, device), parameters in group order within each.
        buckets: dict = {}
        for j, p in enumerate(params):
            buckets.setdefault((p.data.dtype.str, device_of(p.data)), []).append(j)
        segs = [FlatBuffer([params[j] for j in idx], [self._n_params + j for j in idx], self._scalar_init,
                           capturable=capturable)
                for idx in buckets.values()]
        self._any_capturable = self._any_capturable or capturable
        self._param_ids |= ids
        self._n_params += len(params)
        self.param_groups.append(group)
        self._segments.append(segs)
        self._group_state.append(self._init_group_state(group))

    def _check_capturable(self, group: dict, where: str) -> None:
        bad = [type(r).__name__ for r in self.chain(group) if r.active(group) and not r.capturable]
        if bad:
            raise ValueError(
                f"{type(self).__name__}{where}: capturable=True needs every rule of the update to work on "
                f"device scalars, but {', '.join(bad)} reads the step count or the lr on the host; capturable "
                "optimizers: Adam, AdamW, SGD and SGDW (form='torch')")

    # ------------------------------------------------------------------ capturable
    def sync_lr(self) -> None:
        """Copy each capturable group's ``lr`` into its device array (only values that
        changed).  ``step()`` does it itself; a CUDA-graph runner calls it before each
        replay, since a replay runs no Python."""
        for group, segs in zip(self.param_groups, self._segments):
            for seg in segs:
                if seg.capturable:
                    seg.write_lr(group["lr"])

    @contextlib.contextmanager
    def capturing(self):
        """The context a CUDA graph captures ``step()`` in: every group must be capturable;
        the lr is not written (the graph reads the device array, which ``sync_lr`` fills
        before each replay) and no host-scheduled maintenance (denormal flushing) is
        recorded, so the graph is the same whichever step it was captured at."""
        not_cap = [gi for gi, g in enumerate(self.param_groups) if not g.get("capturable", False)]
        if not_cap:
            raise ValueError(
                f"{type(self).__name__}: parameter group(s) {not_cap} are not capturable; a step captured in a "
                "CUDA graph would replay with the step count and lr of the capture. Build the optimizer with "
                f"capturable=True, e.g. {type(self).__name__}(params, ..., capturable=True)")
        self.sync_lr()
        self._capturing = True
        try:
            yield self
        finally:
            self._capturing = False

    # ------------------------------------------------------------------ stepping
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients: ``None`` (default, as torch) or new zero arrays."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    # a new array, not an in-place fill: the old one may be shared
                    p.grad = get_array_module(p.grad).zeros_like(p.grad)

    def _collect(self, eager: bool = True) -> list:
        """Gather gradients; returns ``[(group_index, group, segment, runs)]`` with work to do."""
        work = []
        for gi, (group, segs) in enumerate(zip(self.param_groups, self._segments)):
            for seg in segs:
                seg.bind()
                runs = seg.gather(eager)
                if runs:
                    work.append((gi, group, seg, runs))
        return work

    def step(self, closure=None):
        """One update of every parameter that has a gradient.  ``closure`` (optional)
        re-computes the loss (with gradients) and is called first; its value is returned."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        if self._any_capturable and not self._capturing:
            self.sync_lr()   # a schedule's new lr into the device arrays (in a capture: by the runner)
        # Gradient transforms need every gradient first; without them the executor copies
        # the gradients block by block, right before each block's update.
        work = self._collect(eager=bool(self.transforms))
        for t in self.transforms:
            t.apply(self, work)
        by_group: dict = {}
        for gi, _, _, runs in work:
            by_group.setdefault(gi, []).extend(runs)
        for gi, runs in by_group.items():
            group = self.param_groups[gi]
            update_group(self.chain(group), group, runs, self.block_bytes, self._group_state[gi])
        for _, _, seg, runs in work:
            seg.advance(runs)
        self._step_calls += 1
        if self.denormal_guard and self._step_calls % self.denormal_guard == 0 and not self._capturing:
            for segs in self._segments:
                for seg in segs:
                    seg.flush_denormals(seg.block_elems(self.block_bytes))
        return loss

    # ------------------------------------------------------------------ helpers for tests / tools
    def segments(self):
        """(group index, FlatBuffer) pairs: the flat buffers (for wrappers such as Lookahead
        and for diagnostics; see ``FlatBuffer`` for what they expose)."""
        return [(gi, seg) for gi, segs in enumerate(self._segments) for seg in segs]

    def _pull_device_scalars(self) -> None:
        for segs in self._segments:
            for seg in segs:
                if seg.capturable:
                    seg.pull_scalars()

    def param_state(self, param) -> dict:
        """The state of one parameter as a dict of copies (``{}`` before its first step)."""
        self._pull_device_scalars()
        for segs in self._segments:
            for seg in segs:
                for j, p in enumerate(seg.params):
                    if p is param:
                        return self._entry(seg, j) if seg.scal["step"][j] > 0 else {}
        raise KeyError("this parameter is not managed by the optimizer")

    # ------------------------------------------------------------------ (de)serialization
    def _entry(self, seg: FlatBuffer, j: int) -> dict:
        entry = {}
        for name, arr in seg.scal.items():
            entry[name] = int(arr[j]) if name == "step" else float(arr[j])
        lo, hi = int(seg.offsets[j]), int(seg.offsets[j + 1])
        for name, arr in seg.state.items():
            entry[name] = to_device(arr[lo:hi], "cpu").reshape(seg.shapes[j]).copy()
        return entry

    def state_dict(self) -> dict:
        """A nested dict of arrays (copies, on the CPU) and scalars that ``load_state_dict``
        restores exactly; savable with ``deeprecipe.save``.

        ``state`` maps the parameter index (as a string) to its step count and state arrays;
        ``param_groups`` lists each group's hyperparameters and parameter indices."""
        self._pull_device_scalars()
        state = {}
        for segs in self._segments:
            for seg in segs:
                for j, key in enumerate(seg.keys):
                    if seg.scal["step"][j] > 0:
                        state[str(key)] = self._entry(seg, j)
        groups = []
        start = 0
        for group in self.param_groups:
            g = {k: (list(v) if isinstance(v, tuple) else v) for k, v in group.items() if k != "params"}
            g["params"] = list(range(start, start + len(group["params"])))
            start += len(group["params"])
            groups.append(g)
        return {
            "optimizer": type(self).__name__,
            "state": state,
            "param_groups": groups,
            "group_state": copy.deepcopy(self._group_state),
            "transforms": [t.state_dict() for t in self.transforms],
            "step_calls": self._step_calls,
        }

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore the state saved by ``state_dict`` (from an optimizer of the same class
        over parameters of the same shapes, grouped the same way)."""
        name = type(self).__name__
        if not isinstance(state_dict, dict) or "param_groups" not in state_dict or "state" not in state_dict:
            raise ValueError(f"{name}.load_state_dict expects a dict from Optimizer.state_dict(), "
                             f"got {type(state_dict).__name__}")
        saved_type = state_dict.get("optimizer")
        if saved_type != name:
            raise ValueError(f"this state dict was saved from a {saved_type} optimizer; it cannot be loaded "
                             f"into {name} (their states mean different things)")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"state dict has {len(saved_groups)} parameter groups, this {name} has "
                             f"{len(self.param_groups)}")
        for gi, (sg, g) in enumerate(zip(saved_groups, self.param_groups)):
            if len(sg["params"]) != len(g["params"]):
                raise ValueError(f"parameter group {gi}: the state dict has {len(sg['params'])} parameters, "
                                 f"this optimizer has {len(g['params'])}")
        transforms = state_dict.get("transforms", [])
        if len(transforms) != len(self.transforms):
            raise ValueError(f"state dict has {len(transforms)} gradient transforms, this optimizer has "
                             f"{len(self.transforms)}")
        saved_state = {str(k): v for k, v in state_dict["state"].items()}
        allowed = set(self._state_names) | set(self._scalar_init)
        # Validate everything before changing anything.
        for segs in self._segments:
            for seg in segs:
                for j, key in enumerate(seg.keys):
                    entry = saved_state.get(str(key))
                    if entry is None:
                        continue
                    unknown = sorted(set(entry) - allowed)
                    if unknown:
                        raise ValueError(f"state of parameter {key} has entries {unknown} that {name} does not "
                                         f"use (it uses {sorted(allowed)}); was it saved from another optimizer?")
                    for sname, value in entry.items():
                        if sname in self._scalar_init:
                            continue
                        if tuple(np.shape(value)) != tuple(seg.shapes[j]):
                            raise ValueError(f"state '{sname}' of parameter {key} has shape {np.shape(value)}, "
                                             f"but the parameter has shape {seg.shapes[j]}")
        for sg, g in zip(saved_groups, self.param_groups):
            for k, v in sg.items():
                # capturable is how this optimizer runs, not state: a checkpoint of either
                # mode resumes exactly in the other
                if k in ("params", "capturable"):
                    continue
                if isinstance(g.get(k), tuple) and isinstance(v, (list, tuple)):
                    v = tuple(v)
                g[k] = v
        for segs in self._segments:
            for seg in segs:
                for sname, arr in seg.state.items():
                    arr.fill(seg.state_init[sname])
                for sname, arr in seg.scal.items():
                    arr.fill(seg.scalar_init[sname])
                for j, key in enumerate(seg.keys):
                    entry = saved_state.get(str(key))
                    if entry is None:
                        continue
                    lo, hi = int(seg.offsets[j]), int(seg.offsets[j + 1])
                    for sname, value in entry.items():
                        if sname in seg.scal:
                            seg.scal[sname][j] = float(value)
                        else:
                            init = self._state_init_value(sname, self._group_of_segment(seg))
                            arr = seg.state_array(sname, init)
                            arr[lo:hi] = seg.xp.asarray(np.asarray(value).reshape(-1), dtype=seg.dtype)
                seg.refresh_uniform()
                if seg.capturable:
                    seg.push_scalars()
        self._group_state = [self._load_group_state(gi, gs) for gi, gs in
                             enumerate(state_dict.get("group_state", [{} for _ in self.param_groups]))]
        for t, ts in zip(self.transforms, transforms):
            t.load_state_dict(ts)
        self._step_calls = int(state_dict.get("step_calls", 0))

    def _load_group_state(self, gi: int, saved: dict) -> dict:
        return copy.deepcopy(dict(saved))

    def _group_of_segment(self, seg: FlatBuffer) -> dict:
        for group, segs in zip(self.param_groups, self._segments):
            if any(s is seg for s in segs):
                return group
        raise KeyError("segment not found")  # pragma: no cover

    def _state_init_value(self, name: str, group: dict) -> float:
        """Initial value of per-element state ``name``, from the rule that owns it."""
        for r in self.all_rules():
            if name in r.state_names:
                return r.init(name, group)
        return 0.0

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(g):
                if k != "params":
                    lines.append(f"    {k}: {g[k]}")
        if self.transforms:
            lines.append("Transforms: " + ", ".join(repr(t) for t in self.transforms))
        lines.append(")")
        return "\n".join(lines)
