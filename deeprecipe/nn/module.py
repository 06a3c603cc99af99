"""``Module``: the base class of every layer and model (PyTorch's ``nn.Module`` interface).

Size: one class, torch's ``nn.Module`` interface (registries, state_dict, hooks, modes).

A module owns three ordered registries, filled by plain attribute assignment:

* **parameters** (``Parameter``): learned by the optimizer, e.g. ``weight``, ``bias``;
* **buffers** (plain backend arrays, via :meth:`Module.register_buffer`): state that is
  saved but not learned, e.g. batch norm's ``running_mean``;
* **submodules** (``Module``).

All three are ``dict`` s (insertion ordered, never sets), so parameter order, dotted
names (``"layers.0.weight"``) and checkpoints are the same in every run.  Every
registered value is also kept in the instance ``__dict__`` so that reading
``self.weight`` in a hot ``forward`` is an ordinary attribute lookup.
"""
from __future__ import annotations

import itertools
import weakref
from collections import namedtuple

import numpy as np

from .. import backend
from ..backend import get_array_module, is_cupy_array, to_device
from ..config import no_grad
from ..engine.tensor import Parameter, Tensor

__all__ = ["Module", "RemovableHandle", "StateDictError", "IncompatibleKeys"]

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class StateDictError(ValueError):
    """A state dict does not fit the model; the message lists *every* problem found.

    Attributes ``missing_keys``, ``unexpected_keys`` and ``mismatched`` (a list of
    ``(key, what, expected, got)``) allow programmatic handling.
    """

    def __init__(self, message, missing_keys=(), unexpected_keys=(), mismatched=()):
        super().__init__(message)
        self.missing_keys = list(missing_keys)
        self.unexpected_keys = list(unexpected_keys)
        self.mismatched = list(mismatched)


class RemovableHandle:
    """Returned by :meth:`Module.register_forward_hook`; ``handle.remove()`` detaches the hook."""

    _ids = itertools.count()

    def __init__(self, module):
        self._module_ref = weakref.ref(module)  # a handle must not keep its module alive
        self.id = next(RemovableHandle._ids)

    def remove(self) -> None:
        module = self._module_ref()
        if module is not None:
            module._forward_hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _is_array(x) -> bool:
    return isinstance(x, np.ndarray) or is_cupy_array(x)


def _host_array(value, key):
    """A state-dict value as an array (NumPy, CuPy, Tensor, torch CPU tensor, or a number)."""
    if isinstance(value, Tensor):
        return value.data
    if _is_array(value):
        return value
    if value is None:
        raise TypeError(f"state_dict value for {key!r} is None")
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor (never imported here)
        value = value.detach().cpu().numpy()
    try:
        arr = np.asarray(value)
    except Exception as e:  # noqa: BLE001 - report what the value was
        raise TypeError(f"state_dict value for {key!r} is not an array ({type(value).__name__}): {e}") from None
    return arr


# which source dtype kinds may be copied into a target of each kind (precision may change)
_COMPATIBLE_KINDS = {"f": "fiub", "i": "iub", "u": "iub", "b": "b", "c": "cfiub"}


class Module:
    """Base class of layers and models.

    Subclasses call ``super().__init__()`` first, assign ``Parameter`` s and ``Module`` s
    as attributes, register buffers with :meth:`register_buffer`, and implement
    ``forward``.  Calling the module runs ``forward`` and then any forward hooks.
    """

    training: bool

    def __init__(self):
        d = self.__dict__
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_non_persistent"] = set()  # names only, for membership tests; order comes from _buffers
        d["_modules"] = {}
        d["_forward_hooks"] = {}
        d["training"] = True

    # ------------------------------------------------------------------ registration
    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get("_parameters")
        if params is None:
            if isinstance(value, (Parameter, Module)):
                raise AttributeError(
                    f"cannot assign {type(value).__name__} {name!r} before Module.__init__() ran: "
                    f"call super().__init__() at the start of {type(self).__name__}.__init__")
            object.__setattr__(self, name, value)
            return
        modules, buffers = d["_modules"], d["_buffers"]
        if isinstance(value, Parameter):
            modules.pop(name, None)
            buffers.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            buffers.pop(name, None)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign a {type(value).__name__} to parameter {name!r} of {type(self).__name__}: "
                    "assign a deeprecipe.Parameter (or None), or write in place with "
                    f"module.{name}.data[...] = new_values")
            params[name] = None
        elif name in modules:
            if value is not None:
                raise TypeError(f"cannot assign a {type(value).__name__} to submodule {name!r}: "
                                "assign a Module or None")
            modules[name] = None
        elif name in buffers:
            if value is not None and not _is_array(value):
                raise TypeError(
                    f"cannot assign a {type(value).__name__} to buffer {name!r}: buffers are NumPy/CuPy arrays")
            buffers[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        d = self.__dict__
        for reg in ("_parameters", "_buffers", "_modules"):
            d[reg].pop(name, None)
        d["_non_persistent"].discard(name)
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or ``None``, a declared-but-absent parameter such as ``bias=False``)."""
        self._check_name(name)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter({name!r}): expected a Parameter or None, got {type(param).__name__}")
        if param is None:
            self._modules.pop(name, None)
            self._buffers.pop(name, None)
            self._parameters[name] = None
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, param)

    def register_buffer(self, name: str, array, persistent: bool = True) -> None:
        """Add a buffer: an array that is part of the state (saved in ``state_dict`` unless
        ``persistent=False``) but is not a learned parameter."""
        self._check_name(name)
        if array is not None and not _is_array(array):
            raise TypeError(
                f"register_buffer({name!r}): a buffer must be a NumPy or CuPy array (or None), "
                f"got {type(array).__name__}")
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        self._buffers[name] = array
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)
        object.__setattr__(self, name, array)

    def add_module(self, name: str, module: Module | None) -> None:
        self._check_name(name)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module({name!r}): expected a Module, got {type(module).__name__}")
        self._parameters.pop(name, None)
        self._buffers.pop(name, None)
        self._modules[name] = module
        object.__setattr__(self, name, module)

    def _check_name(self, name):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"call super().__init__() at the start of {type(self).__name__}.__init__")
        if not isinstance(name, str) or not name or "." in name:
            raise ValueError(f"a parameter, buffer or module name must be a non-empty string without '.', got {name!r}")

    # ------------------------------------------------------------------ calling
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def __call__(self, *args, **kwargs):
        out = self.forward(*args, **kwargs)
        if self._forward_hooks:  # fast path: one dict truth test when no hooks are set
            for hook in list(self._forward_hooks.values()):
                r = hook(self, args, out)
                if r is not None:
                    out = r
        return out

    def register_forward_hook(self, hook) -> RemovableHandle:
        """Call ``hook(module, inputs, output)`` after every forward; a non-None return value
        replaces the output.  Returns a handle whose ``remove()`` detaches the hook."""
        if not callable(hook):
            raise TypeError("register_forward_hook needs a callable hook(module, inputs, output)")
        handle = RemovableHandle(self)
        self._forward_hooks[handle.id] = hook
        return handle

    # ------------------------------------------------------------------ traversal
    def named_modules(self, prefix: str = "", memo=None):
        """Yield ``(dotted_name, module)`` for this module (name ``prefix``) and all descendants,
        each module once."""
        if memo is None:
            memo = set()
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(f"{prefix}.{name}" if prefix else name, memo)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_parameters(self, prefix: str = "", recurse: bool = True):
        """Yield ``(dotted_name, Parameter)`` in registration order; a parameter shared by
        several modules is yielded once (under its first name)."""
        seen = set()
        mods = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mprefix, m in mods:
            for name, p in m._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mprefix}.{name}" if mprefix else name), p

    def parameters(self, recurse: bool = True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True):
        """Yield ``(dotted_name, array)`` for every buffer (persistent or not)."""
        mods = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mprefix, m in mods:
            for name, b in m._buffers.items():
                if b is not None:
                    yield (f"{mprefix}.{name}" if mprefix else name), b

    def buffers(self, recurse: bool = True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn):
        """Call ``fn(module)`` on every submodule and then on this one (as torch does); returns self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ modes and grads
    def train(self, mode: bool = True):
        """Set training mode (``mode=True``) or evaluation mode on this module and all
        descendants; affects dropout and batch norm.  Returns self."""
        mode = bool(mode)
        for m in self.modules():
            m.__dict__["training"] = mode
        return self

    def eval(self):
        """Evaluation mode: dropout off, batch norm uses its running statistics."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True):
        """Freeze (``False``) or unfreeze every parameter of this module; returns self.

        A frozen parameter gets no gradient from ``backward`` (``p.grad`` stays ``None``),
        and every optimizer skips a parameter without a gradient: no update, no weight
        decay, no momentum, no step count (torch semantics).  So fine-tuning with the lower
        layers fixed is::

            model[0].requires_grad_(False)                 # or p.requires_grad = False
            opt = optim.Adam(model.parameters(), lr=1e-3)  # frozen ones may stay in the list

        Per-group learning rates (e.g. a smaller lr for pre-trained layers) are parameter
        groups: ``optim.Adam([{'params': body, 'lr': 1e-4}, {'params': head}], lr=1e-3)``.
        ``num_parameters(trainable_only=True)`` counts what is left to train.
        """
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear parameter gradients: set them to ``None`` (default, like torch), or fill the
        existing arrays with zeros in place (``set_to_none=False``)."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad[...] = 0

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Number of scalar parameters (each shared parameter counted once)."""
        return int(sum(p.data.size for p in self.parameters() if p.requires_grad or not trainable_only))

    # ------------------------------------------------------------------ state
    def _state_items(self):
        """``(key, owner_module, attribute, kind)`` for every state entry, in state_dict order:
        each module's parameters, then its persistent buffers, then its children."""
        # no de-duplication: a module shared under two names appears under both (as in torch)
        out = []
        stack = [("", self)]
        while stack:
            pre, m = stack.pop()
            for name, p in m._parameters.items():
                if p is not None:
                    out.append((pre + name, m, name, "parameter"))
            for name, b in m._buffers.items():
                if b is not None and name not in m._non_persistent:
                    out.append((pre + name, m, name, "buffer"))
            stack.extend((f"{pre}{name}.", c) for name, c in reversed(m._modules.items()) if c is not None)
        return out

    def state_dict(self, copy: bool = True) -> dict:
        """Parameters and persistent buffers as an ordered ``{dotted_name: array}`` dict.

        With ``copy=True`` (the default) the arrays are copies, so a saved state dict does
        not change as training goes on (torch returns live references: ``copy=False``).
        A parameter shared by two modules appears under both names, as in torch.
        """
        sd = {}
        for key, m, name, kind in self._state_items():
            arr = m._parameters[name].data if kind == "parameter" else m._buffers[name]
            sd[key] = arr.copy() if copy else arr
        return sd

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy ``state_dict`` into this module's parameters and buffers **in place**
        (``p.data[...] = value``; arrays are never rebound, so optimizers holding views of
        the parameters stay valid).

        Values may be NumPy/CuPy arrays, Tensors, torch CPU tensors or numbers; they are
        cast to each target's dtype (float64 into float32 is allowed; a float into an
        integer buffer is not).  Nothing is written unless everything fits.

        Raises:
            StateDictError: listing every missing and unexpected key (when ``strict``) and
                every shape or dtype-kind mismatch (always).

        Returns:
            ``IncompatibleKeys(missing_keys, unexpected_keys)``.
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"load_state_dict expects a dict of arrays, got {type(state_dict).__name__}")
        items = self._state_items()
        own = {key: (m, name, kind) for key, m, name, kind in items}
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict.keys() if k not in own]
        mismatched = []
        writes = []
        for key, (m, name, kind) in own.items():
            if key not in state_dict:
                continue
            target = m._parameters[name].data if kind == "parameter" else m._buffers[name]
            try:
                value = _host_array(state_dict[key], key)
            except TypeError as e:
                mismatched.append((key, "type", "array", str(e)))
                continue
            if tuple(value.shape) != tuple(target.shape):
                mismatched.append((key, "shape", tuple(target.shape), tuple(value.shape)))
                continue
            if value.dtype.kind not in _COMPATIBLE_KINDS.get(target.dtype.kind, target.dtype.kind):
                mismatched.append((key, "dtype", str(target.dtype), str(value.dtype)))
                continue
            writes.append((target, value))
        if mismatched or (strict and (missing or unexpected)):
            lines = [f"Error(s) in loading state_dict for {type(self).__name__}:"]
            if strict and missing:
                lines.append("  missing keys (in the model, not in the state_dict): "
                             + ", ".join(repr(k) for k in missing))
            if strict and unexpected:
                lines.append("  unexpected keys (in the state_dict, not in the model): "
                             + ", ".join(repr(k) for k in unexpected))
            for key, what, expected, got in mismatched:
                if what == "type":
                    lines.append(f"  {key!r}: {got}")
                else:
                    lines.append(f"  {what} mismatch for {key!r}: the model has {expected}, the state_dict has {got}")
            if not strict and (missing or unexpected):
                lines.append(f"  (strict=False: {len(missing)} missing and {len(unexpected)} unexpected keys ignored)")
            raise StateDictError("\n".join(lines), missing, unexpected, mismatched)
        for target, value in writes:
            if get_array_module(target) is np:
                target[...] = to_device(value, "cpu") if is_cupy_array(value) else value
            else:
                target[...] = get_array_module(target).asarray(value)
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ device and dtype
    def to(self, device_or_dtype):
        """Move every parameter, gradient and buffer to ``'cpu'``/``'cuda'``, or cast the
        floating-point ones to a dtype (``module.to(np.float64)``).  Returns self.

        This rebinds ``p.data``: call it *before* building an optimizer (as in torch).
        """
        if isinstance(device_or_dtype, str):
            conv = lambda a: to_device(a, device_or_dtype)  # noqa: E731
            conv_buf = conv
        else:
            dt = np.dtype(device_or_dtype)
            if dt.kind != "f":
                raise ValueError(f"Module.to(dtype) casts floating-point state; {dt} is not a float dtype")
            conv = lambda a: a if a.dtype == dt else a.astype(dt)  # noqa: E731
            conv_buf = lambda a: conv(a) if a.dtype.kind == "f" else a  # noqa: E731
        seen = set()
        for m in self.modules():
            for p in m._parameters.values():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                p.data = conv(p.data)
                if p.grad is not None:
                    p.grad = conv(p.grad)
            for name, b in list(m._buffers.items()):
                if b is not None:
                    setattr(m, name, conv_buf(b))
        return self

    def double(self):
        """Cast floating-point parameters and buffers to float64 (for gradient checks)."""
        return self.to(np.float64)

    def float(self):
        """Cast floating-point parameters and buffers to float32."""
        return self.to(np.float32)

    def _first_array(self):
        for p in self.parameters():
            return p.data
        for b in self.buffers():
            return b
        return None

    # ------------------------------------------------------------------ display
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, m in self._modules.items():
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {sub}")
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n" + "\n".join(lines) + "\n)"

    def summary(self, input_shape, dtype=None, print_summary: bool = False) -> str:
        """A Keras-like table: each layer's name and type, output shape and parameter count.

        Runs one forward pass on a zero batch of shape ``(2, *input_shape)`` in eval mode
        under ``no_grad`` (no running statistics change, no random numbers are drawn),
        then restores the training mode.  Rows are the leaf modules (and any module owning
        parameters directly), so the parameter column adds up to the total.

        Args:
            input_shape: shape of one example, without the batch dimension.
            dtype: input dtype (default: the model's parameter dtype, else the default).
            print_summary: also print the table.

        Returns:
            The table as a string.
        """
        input_shape = (input_shape,) if isinstance(input_shape, int) else tuple(input_shape)
        ref = self._first_array()
        if dtype is None:
            dtype = ref.dtype if ref is not None and ref.dtype.kind == "f" else backend.get_default_dtype()
        xp = np if ref is None else get_array_module(ref)
        x = Tensor(xp.zeros((2,) + input_shape, dtype=dtype))

        names = {id(m): n for n, m in self.named_modules()}
        rows, handles = [], []

        def record(m, inputs, out):
            shape = getattr(out, "shape", None)
            shown = "?" if shape is None else "(N, " + ", ".join(str(s) for s in shape[1:]) + ")"
            if shape is not None and len(shape) == 1:
                shown = "(N,)"
            own = sum(p.data.size for p in m.parameters(recurse=not any(True for _ in m.children())))
            rows.append((f"{names[id(m)] or '(self)'} ({type(m).__name__})", shown, int(own)))

        for name, m in self.named_modules():
            has_children = any(True for _ in m.children())
            has_own = any(p is not None for p in m._parameters.values())
            if (name and not has_children) or has_own:
                handles.append(m.register_forward_hook(record))
        modes = {id(m): m.training for m in self.modules()}
        try:
            self.eval()
            with no_grad():
                out = self(x)
        finally:
            for h in handles:
                h.remove()
            for m in self.modules():
                m.__dict__["training"] = modes[id(m)]
        total = self.num_parameters()
        trainable = self.num_parameters(trainable_only=True)
        n_buf = int(sum(b.size for _, b in self.named_buffers()))
        w0 = max([len("Layer (type)")] + [len(r[0]) for r in rows]) + 2
        w1 = max([len("Output Shape")] + [len(r[1]) for r in rows]) + 2
        w2 = max([len("Param #")] + [len(f"{r[2]:,}") for r in rows])
        width = w0 + w1 + w2
        out_lines = [f'Model: "{type(self).__name__}"  input (N, {", ".join(map(str, input_shape))})',
                     "=" * width,
                     f"{'Layer (type)':<{w0}}{'Output Shape':<{w1}}{'Param #':>{w2}}",
                     "=" * width]
        for r in rows:
            out_lines.append(f"{r[0]:<{w0}}{r[1]:<{w1}}{r[2]:>{w2},}")
        out_shape = getattr(out, "shape", None)
        out_lines += ["=" * width,
                      f"Output shape: (N, {', '.join(map(str, out_shape[1:]))})" if out_shape is not None else "",
                      f"Total params: {total:,}",
                      f"Trainable params: {trainable:,}",
                      f"Non-trainable params: {total - trainable:,}",
                      f"Buffers (not trained, e.g. running statistics): {n_buf:,} values",
                      "=" * width]
        text = "\n".join(line for line in out_lines if line != "")
        if print_summary:
            print(text)
        return text
