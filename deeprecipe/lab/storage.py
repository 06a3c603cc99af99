"""The results directory: its layout, format version and atomic writes.

Layout of ``OUT`` (``--out``, default ``lab-results``)::

    OUT/<experiment-id>/experiment.json    id, claim, preset, config, format version
    OUT/<experiment-id>/seed-<n>/unit.json  one seed: status, metrics (JSON part), config,
                                            seed, environment, duration, error if it failed
    OUT/<experiment-id>/seed-<n>/arrays.npz the metrics' NumPy arrays (allow_pickle=False)
    OUT/<experiment-id>/figure.png         drawn from the saved metrics only
    OUT/<experiment-id>/verdict.json       computed from the saved metrics only
    OUT/report.html, OUT/report.md         ``deeprecipe lab report OUT``

Nothing is ever half-written: a seed is written into a temporary directory which is
then renamed to ``seed-<n>`` (a rename is atomic on POSIX), files are written to a
temporary name and ``os.replace``-d.  A directory named ``seed-<n>`` therefore always
holds a complete unit; an interrupted run leaves at most a ``.tmp-*`` directory, which
the next run deletes.
"""
from __future__ import annotations

import json
import os
import shutil
import time
import uuid

import numpy as np

from ..validation.files import UnsafePathError, read_npz_arrays, regular_file_inside
from ..validation.tempfiles import make_temp

FORMAT_VERSION = 1
EXPERIMENT_KIND = "deeprecipe-lab-experiment"
UNIT_KIND = "deeprecipe-lab-unit"
_ARRAY_MARK = "__array__"


class ResultsError(ValueError):
    """A results directory that cannot be used: missing, another format, another experiment."""


# --------------------------------------------------------------------------- atomic writes
def _file_mode() -> int:
    """The mode ``open()`` would give a new file (0o666 minus the umask); mkstemp uses 0o600."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same directory and a rename."""
    path = os.fspath(path)
    d = os.path.dirname(path) or "."
    os.makedirs(d, exist_ok=True)
    fd, tmp = make_temp(path)  # also deletes what an earlier, killed write of this file left
    try:
        os.fchmod(fd, _file_mode())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=1, sort_keys=False, default=_json_default) + "\n")


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    raise TypeError(f"cannot save a {type(o).__name__} in lab metrics; use numbers, strings, "
                    "lists, dicts or NumPy arrays")


def read_json(path) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def read_result_json(root, *parts) -> dict:
    """A JSON object saved under the results directory ``root`` (``parts`` relative to it),
    read only if it is a regular file inside ``root`` (no symbolic link on the way); every
    problem is a :class:`ResultsError` naming the file."""
    path = os.path.join(os.fspath(root), *parts)
    try:
        path = regular_file_inside(root, *parts)
        doc = read_json(path)
    except UnsafePathError as e:
        raise ResultsError(str(e)) from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ResultsError(f"{path} cannot be read ({type(e).__name__}: {e}); delete it or re-run with "
                           "--rerun") from None
    if not isinstance(doc, dict):
        raise ResultsError(f"{path} holds a JSON {type(doc).__name__}, not an object; delete it or re-run "
                           "with --rerun")
    return doc


# --------------------------------------------------------------------------- metrics split
def split_arrays(metrics: dict, prefix: str = ""):
    """Separate a nested metrics dict into a JSON-able tree and a flat dict of arrays.

    NumPy arrays (ndim ≥ 1) go to the ``.npz`` under their dotted path and are replaced
    in the tree by ``{"__array__": path}``; NumPy scalars become Python numbers.
    """
    if not isinstance(metrics, dict):
        raise TypeError(f"run() must return a dict of metrics, got {type(metrics).__name__}")
    tree, arrays = {}, {}
    for k, v in metrics.items():
        if not isinstance(k, str) or not k or "." in k or "/" in k:
            raise ValueError(f"metric names must be non-empty strings without '.' or '/', got {k!r}")
        path = f"{prefix}{k}"
        if isinstance(v, dict):
            sub, sub_arrays = split_arrays(v, path + ".")
            tree[k] = sub
            arrays.update(sub_arrays)
        elif isinstance(v, np.ndarray) and v.ndim >= 1:
            if v.dtype == object:
                raise TypeError(f"metric {path!r} is an object array; save numbers only")
            arrays[path] = v
            tree[k] = {_ARRAY_MARK: path}
        elif hasattr(v, "__array__") and not isinstance(v, (np.generic, np.ndarray)):
            # e.g. a CuPy array or a Tensor: store its host copy
            arr = np.asarray(v.get() if hasattr(v, "get") else v)
            arrays[path] = arr
            tree[k] = {_ARRAY_MARK: path}
        elif isinstance(v, np.generic) or (isinstance(v, np.ndarray) and v.ndim == 0):
            tree[k] = v.item()
        else:
            tree[k] = _plain(v, path)
    return tree, arrays


def _plain(v, path):
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (list, tuple)):
        return [_plain(x, path) for x in v]
    if isinstance(v, np.ndarray):
        return v.tolist()
    raise TypeError(f"metric {path!r} has type {type(v).__name__}; save numbers, strings, "
                    "lists, dicts or NumPy arrays")


def join_arrays(tree, arrays):
    """Inverse of :func:`split_arrays`."""
    if isinstance(tree, dict):
        if set(tree) == {_ARRAY_MARK}:
            return arrays[tree[_ARRAY_MARK]]
        return {k: join_arrays(v, arrays) for k, v in tree.items()}
    return tree


# --------------------------------------------------------------------------- layout
def experiment_dir(out, experiment_id: str) -> str:
    return os.path.join(os.fspath(out), experiment_id)


def unit_dir(out, experiment_id: str, seed: int) -> str:
    return os.path.join(experiment_dir(out, experiment_id), f"seed-{int(seed)}")


def is_experiment_dir(path) -> bool:
    """``path`` has an ``experiment.json`` entry (of any kind: a damaged one is reported, not skipped)."""
    return os.path.isdir(path) and os.path.lexists(os.path.join(os.fspath(path), "experiment.json"))


def check_results_dir(out) -> None:
    """``out`` is a folder or does not exist yet (it may be a link to a folder: the user's choice)."""
    out = os.fspath(out)
    if os.path.lexists(out) and not os.path.isdir(out):
        raise ResultsError(f"results directory {out!r} exists but is not a folder; give a folder for --out")


def list_experiment_dirs(out) -> list:
    """Sub-directories of ``out`` that hold an experiment's results, sorted by name."""
    out = os.fspath(out)
    check_results_dir(out)
    if not os.path.isdir(out):
        raise ResultsError(f"results directory {out!r} does not exist; run "
                           f"`deeprecipe lab run ... --out {out}` first")
    return sorted(os.path.join(out, d) for d in os.listdir(out)
                  if not d.startswith(".") and ".old-" not in d and is_experiment_dir(os.path.join(out, d)))


def _check_header(header: dict, path: str, kind: str, expected_id: str | None):
    if header.get("kind") != kind:
        raise ResultsError(f"{path} is not a deeprecipe lab file (kind {header.get('kind')!r}, "
                           f"expected {kind!r})")
    fmt = header.get("format")
    if fmt != FORMAT_VERSION:
        raise ResultsError(
            f"{path} was written in lab results format {fmt!r}; this deeprecipe reads format "
            f"{FORMAT_VERSION}. Re-run the experiment with --rerun (or use another --out) to "
            "regenerate it.")
    if expected_id is not None and header.get("id") != expected_id:
        raise ResultsError(
            f"{path} holds results of experiment {header.get('id')!r}, not {expected_id!r}; "
            "point the command at the right directory or use another --out.")


def read_experiment_header(exp_dir, expected_id: str | None = None) -> dict:
    exp_dir = os.fspath(exp_dir)
    path = os.path.join(exp_dir, "experiment.json")
    if not os.path.lexists(path):
        raise ResultsError(f"{exp_dir} holds no lab results (no experiment.json); "
                           "run `deeprecipe lab run ID --out DIR` first")
    parent, name = os.path.split(os.path.abspath(exp_dir))
    header = read_result_json(parent, name, "experiment.json")
    _check_header(header, path, EXPERIMENT_KIND, expected_id)
    return header


def write_experiment_header(exp_dir, experiment, preset: str, config: dict) -> dict:
    header = {
        "kind": EXPERIMENT_KIND, "format": FORMAT_VERSION, "id": experiment.id,
        "title": experiment.title, "claim": experiment.claim, "source": list(experiment.source_files),
        "preset": preset, "config": config, "created": _now(),
    }
    atomic_write_json(os.path.join(exp_dir, "experiment.json"), header)
    return header


def configs_equal(a: dict, b: dict) -> bool:
    """Compare two configs as they are saved (JSON round trip: tuples == lists)."""
    return json.loads(json.dumps(a, default=_json_default)) == json.loads(json.dumps(b, default=_json_default))


# --------------------------------------------------------------------------- units
def save_unit(out, experiment_id: str, seed: int, record: dict, metrics: dict | None) -> str:
    """Atomically write one seed's record (and metrics) to ``OUT/<id>/seed-<seed>``.

    ``record`` holds status, config, environment, timings; ``metrics`` what ``run``
    returned (None for a failed seed).  An existing unit is replaced only after the new
    one is complete.
    """
    final = unit_dir(out, experiment_id, seed)
    parent = os.path.dirname(final)
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".tmp-seed-{int(seed)}-{uuid.uuid4().hex[:8]}")
    os.makedirs(tmp)
    try:
        unit = {"kind": UNIT_KIND, "format": FORMAT_VERSION, "id": experiment_id, "seed": int(seed)}
        unit.update(record)
        if metrics is not None:
            tree, arrays = split_arrays(metrics)
            unit["metrics"] = tree
            if arrays:
                with open(os.path.join(tmp, "arrays.npz"), "wb") as f:
                    np.savez(f, **arrays)
        with open(os.path.join(tmp, "unit.json"), "w", encoding="utf-8") as f:
            json.dump(unit, f, indent=1, default=_json_default)
            f.write("\n")
        if os.path.exists(final):
            trash = final + f".old-{uuid.uuid4().hex[:8]}"
            os.rename(final, trash)
            os.rename(tmp, final)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def load_unit(out, experiment_id: str, seed: int) -> dict | None:
    """The saved record of one seed with its metrics (arrays restored), or None if absent."""
    d = unit_dir(out, experiment_id, seed)
    path = os.path.join(d, "unit.json")
    if not os.path.lexists(path):
        return None
    parts = (experiment_id, f"seed-{int(seed)}")
    unit = read_result_json(out, *parts, "unit.json")
    _check_header(unit, path, UNIT_KIND, experiment_id)
    if "metrics" in unit:
        arrays = {}
        npz = os.path.join(d, "arrays.npz")
        if os.path.lexists(npz):
            try:
                arrays = read_npz_arrays(regular_file_inside(out, *parts, "arrays.npz"), what="lab metrics file")
            except (ValueError, OSError) as e:
                raise ResultsError(f"{npz}: {e}") from None
        try:
            unit["metrics"] = join_arrays(unit["metrics"], arrays)
        except (KeyError, TypeError) as e:
            raise ResultsError(f"{path} refers to an array {e} that {npz} does not hold; re-run with --rerun") \
                from None
    return unit


def saved_seeds(out, experiment_id: str) -> list:
    """Seeds with a unit directory, sorted."""
    d = experiment_dir(out, experiment_id)
    if not os.path.isdir(d):
        return []
    seeds = []
    for name in os.listdir(d):
        if name.startswith("seed-") and os.path.isfile(os.path.join(d, name, "unit.json")):
            try:
                seeds.append(int(name[5:]))
            except ValueError:
                continue
    return sorted(seeds)


def clean_temporaries(exp_dir) -> None:
    """Delete what an interrupted run left behind (``.tmp-*`` and ``*.old-*`` entries)."""
    if not os.path.isdir(exp_dir):
        return
    for name in os.listdir(exp_dir):
        if name.startswith(".tmp-") or ".old-" in name:
            p = os.path.join(exp_dir, name)
            if os.path.isdir(p):
                shutil.rmtree(p, ignore_errors=True)
            else:
                try:
                    os.unlink(p)
                except FileNotFoundError:
                    pass


def remove_experiment_dir(exp_dir) -> None:
    """Delete an experiment's results (``--rerun``): renamed away first, then removed."""
    if os.path.isdir(exp_dir):
        trash = exp_dir.rstrip(os.sep) + f".old-{uuid.uuid4().hex[:8]}"
        os.rename(exp_dir, trash)
        shutil.rmtree(trash, ignore_errors=True)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def now() -> str:
    return _now()
