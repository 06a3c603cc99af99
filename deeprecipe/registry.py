"""One registry per kind of component, and the string specs that name a component with its arguments.

Every consumer reads the same registry: ``fit(optimizer=...)``, ``optim.create``, the
``deeprecipe train`` CLI and its TOML files, ``nn.MLP``/``ConvNet``, the diagnostics and
the lab.  Registering a component from outside the package makes it known to all of them::

    from deeprecipe import nn, optim
    nn.ACTIVATIONS.register("swish", lambda width: Swish(), kind=None)
    optim.OPTIMIZERS.register("mysgd", MySGD)
    fit(nn.MLP([4, 8, 2], activation="swish"), data, optimizer="mysgd:lr=0.1")

The registries (each defined next to what it holds): ``optim.OPTIMIZERS``,
``train.SCHEDULES``, ``nn.ACTIVATIONS``, ``nn.NORMALIZATIONS``, ``nn.init.INITIALIZERS``,
``train.LOSSES``, ``data.DATASETS``.

Specs
-----
``name``, ``name:ARG[,ARG...]`` (positional arguments) or ``name:key=value[,key=value...]``
(both may be mixed, positional first).  Values are read as Python literals where they
are one (``0.1``, ``3``, ``true``/``false``, ``none``, ``(0.9,0.99)``), else kept as
strings.  Names are case-insensitive and ``-``/``_`` are ignored when looking up
(``adam_w`` finds ``adamw``, ``LeakyReLU`` finds ``leaky_relu``).  The arguments are
checked against the factory's signature before anything is built.
"""
from __future__ import annotations

import ast
import difflib
import inspect
from collections.abc import Mapping


def _key(name: str) -> str:
    return str(name).lower().replace("-", "").replace("_", "")


def _split_top(text: str) -> list[str]:
    """Split at commas outside parentheses/brackets."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts]


def parse_value(text: str):
    """A spec value: a Python literal when it is one (numbers, tuples), booleans and None
    spelled in any case, else the string itself."""
    t = text.strip()
    low = t.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    try:
        return ast.literal_eval(t)
    except (ValueError, SyntaxError):
        return t


def parse_spec(spec: str) -> tuple[str, tuple, dict]:
    """``'name:a,b,k=v'`` -> ``('name', (a, b), {'k': v})`` (see the module docstring)."""
    if not isinstance(spec, str):
        raise TypeError(f"a component spec must be a string, got {type(spec).__name__}")
    name, sep, rest = spec.strip().partition(":")
    name = name.strip()
    if not name:
        raise ValueError(f"spec {spec!r} has no name before ':'")
    args, kwargs = [], {}
    if sep and rest.strip():
        for part in _split_top(rest):
            if not part:
                raise ValueError(f"spec {spec!r} has an empty argument")
            key, eq, value = part.partition("=")
            if eq:
                key = key.strip()
                if not key.isidentifier():
                    raise ValueError(f"spec {spec!r}: {key!r} is not an argument name")
                if key in kwargs:
                    raise ValueError(f"spec {spec!r} gives {key!r} twice")
                kwargs[key] = parse_value(value)
            else:
                if kwargs:
                    raise ValueError(f"spec {spec!r}: positional argument {part!r} after keyword arguments")
                args.append(parse_value(part))
    return name, tuple(args), kwargs


def format_spec(name: str, args=(), kwargs=None) -> str:
    """The inverse of :func:`parse_spec` for simple values."""
    parts = [repr(a) if isinstance(a, str) and ("," in a or "=" in a) else str(a) for a in args]
    parts += [f"{k}={v}" for k, v in (kwargs or {}).items()]
    return name + (":" + ",".join(parts) if parts else "")


class Entry:
    """A registered component: its canonical ``name``, the ``factory`` and free-form ``info``."""

    __slots__ = ("name", "factory", "info")

    def __init__(self, name, factory, info):
        self.name, self.factory, self.info = name, factory, info

    def __repr__(self):
        return f"Entry({self.name!r}, {getattr(self.factory, '__name__', self.factory)!r})"


class Registry(Mapping):
    """Name -> factory for one kind of component (a read-only mapping from canonical names
    to factories, plus ``register``, ``entry``, ``build`` and ``parse``).

    Args:
        kind: what it holds, for messages ("optimizer", "activation", ...).
        skip: leading parameters of every factory that a spec cannot set (an optimizer's
            ``params``); they are passed by the caller of :meth:`build`.
    """

    def __init__(self, kind: str, skip: tuple = ()):
        self.kind = kind
        self.skip = tuple(skip)
        self._entries: dict[str, Entry] = {}     # canonical name -> entry
        self._index: dict[str, str] = {}         # normalized name or alias -> canonical name

    # ------------------------------------------------------------------ registering
    def register(self, name: str, factory=None, *, aliases=(), replace: bool = False, **info):
        """Register ``factory`` under ``name`` (and ``aliases``); usable as a decorator
        (``@REG.register('name')``).  ``info`` holds what consumers need to know about the
        component (an activation's diagnostic ``kind``, a loss's target ``kind``, ...).
        A name already taken raises unless ``replace=True``."""
        if factory is None:
            def deco(f):
                self.register(name, f, aliases=aliases, replace=replace, **info)
                return f
            return deco
        if not isinstance(name, str) or not name or ":" in name:
            raise ValueError(f"a {self.kind} name must be a non-empty string without ':', got {name!r}")
        if not callable(factory):
            raise TypeError(f"{self.kind} {name!r}: the factory must be callable, got {type(factory).__name__}")
        keys = [_key(name)] + [_key(a) for a in aliases]
        if not replace:
            taken = [k for k in keys if k in self._index]
            if taken:
                raise ValueError(f"{self.kind} {name!r} is already registered (as {self._index[taken[0]]!r}); "
                                 "pass replace=True to replace it")
        else:
            self.unregister(name, missing_ok=True)
        self._entries[name] = Entry(name, factory, dict(info))
        for k in keys:
            self._index[k] = name
        return factory

    def unregister(self, name: str, missing_ok: bool = False) -> None:
        canonical = self._index.get(_key(name))
        if canonical is None:
            if missing_ok:
                return
            raise KeyError(f"no {self.kind} named {name!r}")
        del self._entries[canonical]
        for k in [k for k, v in self._index.items() if v == canonical]:
            del self._index[k]

    # ------------------------------------------------------------------ lookup
    def canonical(self, name: str) -> str:
        """The registered name for ``name`` (any case, ``-``/``_`` ignored, aliases), or a
        ``ValueError`` listing the names with the closest match."""
        canonical = self._index.get(_key(name))
        if canonical is None:
            near = difflib.get_close_matches(_key(name), list(self._index), n=1)
            hint = f" (did you mean {self._index[near[0]]!r}?)" if near else ""
            raise ValueError(f"unknown {self.kind} {name!r}{hint}; choose one of {', '.join(self.names())}")
        return canonical

    def entry(self, name: str) -> Entry:
        return self._entries[self.canonical(name)]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __getitem__(self, name):
        try:
            return self._entries[self.canonical(name)].factory
        except ValueError as e:
            raise KeyError(str(e)) from None

    def __contains__(self, name) -> bool:
        return isinstance(name, str) and _key(name) in self._index

    def __iter__(self):
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    # ------------------------------------------------------------------ specs
    def parse(self, spec: str) -> tuple[Entry, tuple, dict]:
        """``spec`` -> (entry, args, kwargs), the arguments checked against the factory's
        signature (a clear ``ValueError`` naming the spec and what it accepts)."""
        name, args, kwargs = parse_spec(spec)
        e = self.entry(name)
        self.check_arguments(e, args, kwargs, spec)
        return e, args, kwargs

    def parameters(self, name: str) -> list[str]:
        """The arguments a spec of ``name`` may set (the factory's parameters after ``skip``)."""
        sig = _signature(self.entry(name).factory)
        if sig is None:
            return []
        return [p.name for p in list(sig.parameters.values())[len(self.skip):]
                if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]

    def check_arguments(self, e: Entry, args: tuple, kwargs: dict, spec=None) -> None:
        sig = _signature(e.factory)
        if sig is None:
            return
        dummies = [None] * len(self.skip)
        try:
            sig.bind(*dummies, *args, **kwargs)
        except TypeError as err:
            accepted = ", ".join(self.parameters(e.name)) or "no arguments"
            what = f"spec {spec!r}" if spec is not None else f"{self.kind} {e.name!r}"
            raise ValueError(f"{what}: {err}; {self.kind} {e.name!r} accepts {accepted}") from None

    def build(self, spec: str, *leading, context: dict | None = None, **kwargs):
        """Call the factory named by ``spec`` with ``leading`` (the ``skip`` arguments), the
        spec's arguments and ``kwargs`` (which the spec's keywords override).  ``context``
        holds values a consumer offers to whichever factory takes them (a training job's
        ``seed``, ``lr``, ``total_steps``): each is passed only if the factory has a
        parameter of that name and the spec does not set it."""
        e, args, spec_kwargs = self.parse(spec)
        merged = {**kwargs, **spec_kwargs}
        if context:
            taken = set(self.parameters(e.name)[:len(args)])
            accepted = set(self.parameters(e.name))
            for k, v in context.items():
                if k in accepted and k not in merged and k not in taken:
                    merged[k] = v
        self.check_arguments(e, args, merged, spec)
        return e.factory(*leading, *args, **merged)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self.names())})"


def _signature(factory):
    try:
        return inspect.signature(factory)
    except (TypeError, ValueError):
        return None
