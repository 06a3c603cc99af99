"""What an experiment declares: :class:`Experiment`, and what its parts exchange.

An experiment is one claim of the lecture notes turned into a measurement.  It
declares its id, the claim, the seed file(s) it comes from, presets of settings, and
three functions:

``run(config, seed, ctx) -> dict``
    Trains/measures for ONE seed and returns raw metrics: a (nested) dict of numbers,
    strings, lists and NumPy arrays.  The framework saves them atomically next to the
    config, the seed and the environment; it seeds ``deeprecipe.backend`` and NumPy's
    legacy generator with ``seed`` first, and ``ctx.rng`` is a fresh
    ``numpy.random.Generator(seed)``.
``plot(results, fig) -> None``
    Draws into a matplotlib ``Figure`` (Agg backend) from the SAVED metrics only
    (``results`` is a :class:`Results` loaded from disk), so a figure can be redrawn
    without re-training (``deeprecipe lab plot DIR``).
``verdict(results) -> Verdict``
    Decides from the saved metrics whether the claim holds, with the deciding numbers
    and the rule in words.  Never hard-coded: hand it metrics that contradict the claim
    and it must answer ``"does not hold"``.

Presets: ``test`` (tiny synthetic data, seconds — used by the test-suite), ``quick``
(real data, under a minute on 2 CPU cores, still showing the effect) and ``full``
(the source's own settings).  Each preset is a dict of settings passed to ``run`` as
``config``; the key ``seeds`` (default 1) is the number of seeds, not a setting.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable

import numpy as np

HOLDS = "holds"
DOES_NOT_HOLD = "does not hold"
INCONCLUSIVE = "inconclusive"
VERDICTS = (HOLDS, DOES_NOT_HOLD, INCONCLUSIVE)

PRESETS = ("test", "quick", "full")

# The lecture notes the claims come from (../shared/seeds/, listed in CLAIMS.md).
SEED_FILES = {
    "000": "000_c1a9e605c7f71537.txt",  # Hung-yi Lee, Tips for Training DNN (notes, Keras demo)
    "001": "001_01e2b52696f5cb58.txt",  # Hung-yi Lee, Deep Learning / Tips (notes)
    "002": "002_01739be8f94fd656.txt",  # Hung-yi Lee, Optimization for Deep Learning
    "003": "003_4f8e21df2077fbbd.txt",  # Saito, Deep Learning from Scratch ch. 6 (slides)
    "004": "004_d62ca6db8ba15f06.txt",  # Hung-yi Lee, ML 2021 (critical points, batch, ...)
}

_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Verdict:
    """The outcome of a claim: ``verdict`` is ``"holds"``, ``"does not hold"`` or
    ``"inconclusive"``; ``numbers`` the measured values that decided it (name → number
    or short string such as ``"0.953 ± 0.01 (n=3)"``); ``rule`` the decision rule in words.

    ``sanity``: identities that can only fail on a bug (maxout(z, 0) = relu(z), an SGD step
    with weight decay = (1 − ηλ)w − ηg, ...), checked on the same run and shown *beside* the
    verdict, never part of the empirical decision.  A list of dicts ``{"text": str,
    "ok": bool, "numbers": dict}``; a failed one means the measurement itself is suspect,
    and the report flags it."""
    verdict: str
    numbers: dict = field(default_factory=dict)
    rule: str = ""
    sanity: list = field(default_factory=list)

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")
        if not isinstance(self.numbers, dict):
            raise TypeError(f"Verdict.numbers must be a dict, got {type(self.numbers).__name__}")
        if not self.rule:
            raise ValueError("a Verdict needs its rule in words (rule='...')")
        if not isinstance(self.sanity, list) or not all(
                isinstance(c, dict) and {"text", "ok"} <= set(c) for c in self.sanity):
            raise TypeError("Verdict.sanity must be a list of {'text': ..., 'ok': ..., 'numbers': ...} dicts")

    @property
    def sanity_ok(self) -> bool:
        """True when every sanity check passed (vacuously when there is none)."""
        return all(bool(c["ok"]) for c in self.sanity)

    def to_dict(self) -> dict:
        d = {"verdict": self.verdict, "numbers": _jsonable_numbers(self.numbers), "rule": self.rule}
        if self.sanity:
            d["sanity"] = [{"text": str(c["text"]), "ok": bool(c["ok"]),
                            "numbers": _jsonable_numbers(dict(c.get("numbers", {})))} for c in self.sanity]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Verdict:
        return cls(d["verdict"], dict(d.get("numbers", {})), d.get("rule", ""),
                   [dict(c) for c in d.get("sanity", [])])


def _jsonable_numbers(numbers: dict) -> dict:
    out = {}
    for k, v in numbers.items():
        if isinstance(v, (np.generic,)):
            v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            v = str(v)
        if not isinstance(v, (int, float, str, bool)) and v is not None:
            v = str(v)
        out[str(k)] = v
    return out


@dataclass(frozen=True, eq=False)
class Experiment:
    """The declaration of one lab experiment (see the module docstring and
    :mod:`deeprecipe.lab.experiments` for a template).

    id:      the claim's id from CLAIMS.md, lowercase-with-dashes (``"init-histograms"``).
    claim:   the claim in one or two sentences, as the source states it.
    source:  seed file ids the claim comes from, e.g. ``("003",)``.
    presets: ``{"test": {...}, "quick": {...}, "full": {...}}``; ``"seeds"`` in a preset
             is the default number of seeds.
    run, plot, verdict: the three parts (module docstring).
    title:   a short human title for the report (defaults to the id).
    """
    id: str
    claim: str
    source: tuple
    presets: dict
    run: Callable[..., dict]
    plot: Callable[..., None]
    verdict: Callable[..., Verdict]
    title: str = ""

    def __post_init__(self):
        if not isinstance(self.id, str) or not _ID_RE.match(self.id):
            raise ValueError(f"experiment id must be lowercase words joined by '-', got {self.id!r}")
        if not self.claim or not isinstance(self.claim, str):
            raise ValueError(f"experiment {self.id!r} needs its claim as a non-empty string")
        src = (self.source,) if isinstance(self.source, str) else tuple(self.source)
        unknown = [s for s in src if s not in SEED_FILES]
        if not src or unknown:
            raise ValueError(f"experiment {self.id!r}: source must name seed files among "
                             f"{sorted(SEED_FILES)}, got {self.source!r}")
        object.__setattr__(self, "source", src)
        missing = [p for p in PRESETS if p not in self.presets]
        if missing:
            raise ValueError(f"experiment {self.id!r} lacks presets {missing}; "
                             f"every experiment declares {list(PRESETS)}")
        for name, preset in self.presets.items():
            if not isinstance(preset, dict):
                raise TypeError(f"experiment {self.id!r}: preset {name!r} must be a dict")
            n = preset.get("seeds", 1)
            if not isinstance(n, int) or n < 1:
                raise ValueError(f"experiment {self.id!r}: preset {name!r} has seeds={n!r}; "
                                 "use a positive integer")
        for part in ("run", "plot", "verdict"):
            if not callable(getattr(self, part)):
                raise TypeError(f"experiment {self.id!r}: {part} must be callable")
        if not self.title:
            object.__setattr__(self, "title", self.id)

    @property
    def module(self) -> str:
        """The module defining ``run`` (where a worker process finds this experiment)."""
        return self.run.__module__

    @property
    def source_files(self) -> list:
        return [SEED_FILES[s] for s in self.source]

    def config(self, preset: str) -> dict:
        """The settings of ``preset`` passed to ``run`` (without the ``seeds`` count)."""
        if preset not in self.presets:
            raise ValueError(f"experiment {self.id!r} has no preset {preset!r}; "
                             f"choose one of {sorted(self.presets)}")
        return {k: v for k, v in self.presets[preset].items() if k != "seeds"}

    def n_seeds(self, preset: str) -> int:
        self.config(preset)  # validates the name
        return int(self.presets[preset].get("seeds", 1))

    def __repr__(self) -> str:
        return f"Experiment({self.id!r})"


class RunContext:
    """What ``run`` gets besides config and seed.

    ``rng``: ``numpy.random.Generator`` seeded with the seed; ``seed``; ``preset``;
    ``progress(total, desc)``: a bar to ``update(n)`` (shown when the experiment runs in
    the foreground process, silent in worker processes); ``log(msg)``.
    """

    def __init__(self, seed: int, preset: str, progress_factory=None, logger=None):
        self.seed = int(seed)
        self.preset = preset
        self.rng = np.random.default_rng(self.seed)
        self._progress_factory = progress_factory
        self._logger = logger

    def progress(self, total: int, desc: str = ""):
        from .progress import NullBar
        if self._progress_factory is None:
            return NullBar()
        return self._progress_factory(total, desc)

    def log(self, msg: str) -> None:
        if self._logger is not None:
            self._logger(msg)


class Results:
    """The saved outcome of one experiment, loaded from disk, as ``plot`` and ``verdict`` see it.

    ``runs``: per-seed metric dicts in seed order (NumPy arrays restored);
    ``seeds``; ``config``; ``preset``; ``environment`` (of the first seed);
    ``durations`` (seconds per seed).  Metric names may be dotted paths into nested
    dicts: ``results.values("final.test_acc")``.
    """

    def __init__(self, experiment_id: str, preset: str, config: dict, seeds: list, runs: list,
                 durations: list | None = None, environment: dict | None = None):
        if len(seeds) != len(runs):
            raise ValueError("one metrics dict per seed is needed")
        self.experiment_id = experiment_id
        self.preset = preset
        self.config = dict(config)
        self.seeds = list(seeds)
        self.runs = list(runs)
        self.durations = list(durations) if durations is not None else [math.nan] * len(runs)
        self.environment = environment or {}

    @classmethod
    def from_metrics(cls, runs: list, config: dict | None = None, experiment_id: str = "manual",
                     preset: str = "manual") -> Results:
        """Build results by hand (tests of verdict rules with made-up metrics)."""
        return cls(experiment_id, preset, config or {}, list(range(len(runs))), runs)

    @property
    def n(self) -> int:
        return len(self.runs)

    def get(self, run: dict, key: str) -> Any:
        node = run
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                raise KeyError(f"metric {key!r} not found in the saved results of "
                               f"{self.experiment_id!r} (have: {sorted(run)})")
            node = node[part]
        return node

    def values(self, key: str) -> np.ndarray:
        """A scalar metric across seeds, shape (n_seeds,), float64."""
        return np.array([float(self.get(r, key)) for r in self.runs], dtype=np.float64)

    def stack(self, key: str) -> np.ndarray:
        """An array metric across seeds, shape (n_seeds, ...); all seeds must agree in shape."""
        arrays = [np.asarray(self.get(r, key)) for r in self.runs]
        shapes = {a.shape for a in arrays}
        if len(shapes) > 1:
            raise ValueError(f"metric {key!r} has different shapes across seeds: {sorted(shapes)}")
        return np.stack(arrays)

    def first(self, key: str) -> Any:
        """The metric of the first seed (for deterministic experiments and labels)."""
        return self.get(self.runs[0], key)
