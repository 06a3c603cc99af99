"""Safe, atomic checkpoints: ``deeprecipe.save(path, state)`` / ``deeprecipe.load(path)``.

Size: one file format (writer, validating reader, training checkpoints); the validation
is most of it and belongs next to the format it checks.

**Format.** A checkpoint is a NumPy ``.npz`` (a zip of ``.npy`` arrays) plus one JSON
member, ``__deeprecipe__.json``, holding the tree structure, user metadata and a SHA-256
checksum.  It is read with ``numpy.load(..., allow_pickle=False)`` and ``json``: there is
no pickle anywhere, so loading an untrusted file cannot execute code.  Any NumPy can
open it (``np.load(path)["model/0.weight"]``).

**What a state tree may hold**, and how each type round-trips:

==========================================  ============================================
saved                                       loaded back as
==========================================  ============================================
``dict`` with ``str`` or ``int`` keys       ``dict`` (same key types and order)
``list`` / ``tuple``                        ``list`` / ``tuple``
NumPy array, CuPy array, ``Tensor``         NumPy array (same dtype, shape and values;
                                            ``load(device='cuda')`` gives CuPy arrays)
NumPy scalar (``np.float32(1.5)``)          the same NumPy scalar type
``None``, ``bool``, ``int``, ``float``,     the same Python value (NaN and ±inf
``str``                                     included; ints of any size)
==========================================  ============================================

Anything else (sets, bytes, arbitrary objects, object arrays) raises ``TypeError``
naming its path in the tree.  ``OrderedDict`` comes back as ``dict``.

**Atomic writes.** The file is written to a temporary file in the same directory,
flushed, ``fsync`` ed, and renamed over the target (``os.replace``), then the directory
is synced: a crash mid-write leaves the previous checkpoint intact.

**Validation on load.** A truncated or corrupted file, missing or extra members, an
array whose dtype or shape differs from the recorded one, or a checksum mismatch raise
:class:`CheckpointError` naming the file and the problem.  The checksum detects
corruption and naive tampering; it is not a signature (whoever can write the file can
recompute it).

**Safetensors** (``format="safetensors"``, or a ``.safetensors`` suffix): a flat
``{name: array}`` mapping — a model's ``state_dict()`` — in the format PyTorch and the
Hugging Face tools read (:mod:`deeprecipe.safetensors_io`, written on NumPy, no pickle),
with the same atomic write, structural checks and checksum.  The names and layouts are
PyTorch's, so ``nn.MLP`` / ``nn.ConvNet`` weights load into the ``torch.nn.Sequential`` of
the same layers at the same indices: ``Linear.weight`` is ``(out, in)``, ``Conv2d.weight``
``(out_channels, in_channels, kH, kW)`` (OIHW), batch norm holds ``weight``, ``bias`` and the
buffers ``running_mean``, ``running_var``, ``num_batches_tracked`` (int64, 0-d).

Checkpoints of a training run (model, optimizer, scheduler, counters, RNG state and a
metadata block with the library version and the model's ``config``) are written and
restored by :func:`save_checkpoint` / :func:`load_checkpoint`.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import zipfile

import numpy as np

from . import backend
from .backend import is_cupy_array, to_device

__all__ = ["save", "load", "load_metadata", "save_checkpoint", "load_checkpoint", "CheckpointError",
           "CHECKPOINT_FORMAT", "FORMAT_VERSION", "FORMATS"]

FORMATS = ("npz", "safetensors")

FORMAT_NAME = "deeprecipe-checkpoint"
FORMAT_VERSION = 1
HEADER_NAME = "__deeprecipe__.json"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed member timestamps: the same state gives the same bytes
_NPY_HEADER_SLACK = 1 << 16         # an .npy member may exceed its data by at most its header


class CheckpointError(ValueError):
    """A checkpoint file is unreadable, truncated, tampered with, or does not fit."""


# ---------------------------------------------------------------------------- tree → JSON + arrays
def _path_str(path):
    return "state" + "".join(f"[{p!r}]" for p in path)


class _Encoder:
    def __init__(self):
        self.arrays = {}   # entry name -> host ndarray, in insertion order

    def _entry(self, path, arr):
        base = "/".join(str(p) for p in path) or "root"
        base = re.sub(r"[^A-Za-z0-9_.\-/]", "_", base)
        name, i = base, 1
        while name in self.arrays:
            name = f"{base}~{i}"
            i += 1
        self.arrays[name] = arr
        return name

    def encode(self, obj, path=()):
        from .engine.tensor import Tensor  # local: serialization loads lazily
        if obj is None or isinstance(obj, (bool, str)):
            return {"v": obj}
        if isinstance(obj, int) and not isinstance(obj, np.integer):
            return {"v": int(obj)}
        if isinstance(obj, float) and not isinstance(obj, np.floating):
            if math.isfinite(obj):
                return {"v": obj}
            return {"f": repr(obj)}  # 'nan', 'inf', '-inf'
        if isinstance(obj, np.generic):
            arr = np.asarray(obj)
            self._check_dtype(arr, path)
            return {"s": self._entry(path, arr)}
        if isinstance(obj, Tensor):
            obj = obj.data
        if isinstance(obj, np.ndarray) or is_cupy_array(obj):
            arr = to_device(obj, "cpu")
            self._check_dtype(arr, path)
            return {"a": self._entry(path, arr)}
        if isinstance(obj, dict):
            items = []
            for k, v in obj.items():
                if isinstance(k, bool) or not isinstance(k, (str, int)):
                    raise TypeError(
                        f"cannot save the key {k!r} ({type(k).__name__}) at {_path_str(path)}: "
                        "checkpoint dict keys must be str or int")
                items.append([int(k) if isinstance(k, int) else k, self.encode(v, path + (k,))])
            return {"d": items}
        if isinstance(obj, list):
            return {"l": [self.encode(v, path + (i,)) for i, v in enumerate(obj)]}
        if isinstance(obj, tuple):
            return {"t": [self.encode(v, path + (i,)) for i, v in enumerate(obj)]}
        raise TypeError(
            f"cannot save a {type(obj).__name__} at {_path_str(path)}: a checkpoint holds dicts, lists, tuples, "
            "arrays and JSON scalars (None, bool, int, float, str); convert it first")

    @staticmethod
    def _check_dtype(arr, path):
        if arr.dtype.kind not in "biufc" or arr.dtype.fields is not None:
            raise TypeError(
                f"cannot save the array at {_path_str(path)} with dtype {arr.dtype}: only bool, integer, "
                "float and complex arrays can be stored without pickle")


def _digest(structure_json: bytes, names, arrays) -> str:
    h = hashlib.sha256()
    h.update(structure_json)
    for name in names:
        a = arrays[name]
        h.update(f"\0{name}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(np.ascontiguousarray(a).reshape(-1).view(np.uint8))
    return h.hexdigest()


def _structure_json(tree_node, array_specs, meta) -> bytes:
    return json.dumps({"tree": tree_node, "arrays": array_specs, "meta": meta},
                      sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def _check_json(meta, what):
    try:
        json.dumps(meta, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{what} must be JSON-serializable (dicts, lists, str, finite numbers, bool, None): {e}") \
            from None


# ---------------------------------------------------------------------------- atomic file writing
_UMASK = None


def _file_mode():
    global _UMASK
    if _UMASK is None:
        _UMASK = os.umask(0)
        os.umask(_UMASK)
    return 0o666 & ~_UMASK


def _atomic_write(path, write):
    """Write via ``write(fileobj)`` into a temporary sibling, fsync, then rename over ``path``."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot write checkpoint {path!r}: directory {directory!r} does not exist")
    from .validation.tempfiles import make_temp
    fd, tmp = make_temp(path)  # also deletes what an earlier, killed write of this file left
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _file_mode())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename itself durable (POSIX); not available on every platform
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


# ---------------------------------------------------------------------------- public: save / load
def _format_of(path, format):
    if format is None:
        return "safetensors" if os.fspath(path).lower().endswith(".safetensors") else "npz"
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)} (or None: by the file suffix), got {format!r}")
    return format


def save(path, state, meta=None, compress: bool = False, format: str | None = None) -> None:
    """Write a state tree to ``path`` atomically (see the module docstring for the format).

    Args:
        path: destination file (``.npz`` is conventional; a ``.safetensors`` suffix picks
            that format when ``format`` is not given).
        state: nested dicts/lists/tuples of arrays and JSON scalars; for safetensors a flat
            ``{name: array}`` mapping such as ``model.state_dict()``.
        meta: optional JSON-able metadata, readable without the arrays by :func:`load_metadata`.
        compress: deflate the arrays (smaller, slower; npz only).
        format: ``"npz"`` (any tree) or ``"safetensors"`` (a flat state dict that PyTorch's
            ``safetensors.torch.load_file`` reads); ``None`` chooses by the suffix.
    """
    if _format_of(path, format) == "safetensors":
        _save_safetensors(path, state, meta, compress)
        return
    enc = _Encoder()
    tree = enc.encode(state)
    meta = {} if meta is None else meta
    _check_json(meta, "checkpoint metadata")
    names = list(enc.arrays)
    specs = {n: {"dtype": enc.arrays[n].dtype.str, "shape": list(enc.arrays[n].shape)} for n in names}
    structure = _structure_json(tree, specs, meta)
    from . import __version__
    header = {
        "format": FORMAT_NAME, "format_version": FORMAT_VERSION, "library_version": __version__,
        "tree": tree, "arrays": specs, "meta": meta,
        "sha256": _digest(structure, names, enc.arrays),
    }
    header_bytes = json.dumps(header, indent=1, allow_nan=False).encode()
    ctype = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED

    def write(f):
        with zipfile.ZipFile(f, mode="w", compression=ctype, allowZip64=True) as zf:
            info = zipfile.ZipInfo(HEADER_NAME, date_time=_ZIP_DATE)
            info.compress_type = ctype
            zf.writestr(info, header_bytes)
            for n in names:
                info = zipfile.ZipInfo(n + ".npy", date_time=_ZIP_DATE)
                info.compress_type = ctype
                with zf.open(info, "w", force_zip64=True) as fh:
                    np.lib.format.write_array(fh, enc.arrays[n], allow_pickle=False)

    _atomic_write(path, write)


def _open(path):
    """Open and validate the zip and header; returns ``(npz, header)``."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint {path!r} does not exist")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(
            f"{path!r} is not a deeprecipe checkpoint: it is not a complete zip/.npz file "
            "(truncated by an interrupted copy or write, or a different format)")
    try:
        npz = np.load(path, allow_pickle=False)
    except Exception as e:  # noqa: BLE001 - any parse failure is a bad file
        raise CheckpointError(f"{path!r} cannot be read as a checkpoint: {type(e).__name__}: {e}") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise CheckpointError(f"{path!r} is a single .npy array, not a deeprecipe checkpoint")
    try:
        raw = npz.zip.read(HEADER_NAME)
    except KeyError:
        npz.close()
        raise CheckpointError(f"{path!r} is an .npz file without a deeprecipe header ({HEADER_NAME}): "
                              "not written by deeprecipe.save") from None
    except Exception as e:  # noqa: BLE001 - CRC errors, truncated members
        npz.close()
        raise CheckpointError(f"{path!r}: the header is corrupted ({type(e).__name__}: {e})") from None
    try:
        header = json.loads(raw.decode("utf-8"))
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
    except (UnicodeDecodeError, ValueError) as e:
        npz.close()
        raise CheckpointError(f"{path!r}: the header is not valid JSON ({e})") from None
    if header.get("format") != FORMAT_NAME:
        npz.close()
        raise CheckpointError(f"{path!r}: unknown format {header.get('format')!r} (expected {FORMAT_NAME!r})")
    version = header.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        npz.close()
        raise CheckpointError(f"{path!r}: format version {version!r} is not supported by this deeprecipe "
                              f"(reads versions 1..{FORMAT_VERSION}); upgrade deeprecipe")
    for key in ("tree", "arrays", "meta", "sha256"):
        if key not in header:
            npz.close()
            raise CheckpointError(f"{path!r}: the header lacks {key!r}")
    return npz, header


def load_metadata(path, format: str | None = None) -> dict:
    """The header of a checkpoint without reading its arrays: ``format_version``,
    ``library_version`` and the ``meta`` block given to :func:`save`."""
    if _format_of(path, format) == "safetensors":
        from . import safetensors_io
        _exists(path)
        md = safetensors_io.metadata(path)
        return {"format_version": None, "library_version": md["metadata"].get(_ST_VERSION),
                "meta": md["meta"]}
    npz, header = _open(path)
    npz.close()
    return {"format_version": header["format_version"], "library_version": header.get("library_version"),
            "meta": header["meta"]}


def load(path, device=None, format: str | None = None):
    """Read a state tree written by :func:`save`, checking it fully first.

    Args:
        path: checkpoint file.
        device: ``None``/``'cpu'`` for NumPy arrays, ``'cuda'`` for CuPy arrays.
        format: ``"npz"`` or ``"safetensors"``; ``None`` chooses by the suffix.  A
            safetensors file (from here or from PyTorch) loads as a flat ``{name: array}`` dict.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: truncated, corrupted or tampered file (the message says which part).
    """
    if _format_of(path, format) == "safetensors":
        return _load_safetensors(path, device)
    return _load(path, device)[0]


# ---------------------------------------------------------------------------- safetensors
_ST_VERSION = "deeprecipe.library_version"


def _exists(path):
    if not os.path.exists(os.fspath(path)):
        raise FileNotFoundError(f"checkpoint {os.fspath(path)!r} does not exist")


def _save_safetensors(path, state, meta, compress):
    """A flat state dict as safetensors (see :mod:`deeprecipe.safetensors_io`), written atomically."""
    from . import __version__, safetensors_io
    from .engine.tensor import Tensor
    if compress:
        raise ValueError("compress=True is for npz checkpoints; safetensors files are never compressed")
    if not isinstance(state, dict):
        raise TypeError(f"a safetensors file holds a flat {{name: array}} mapping (e.g. model.state_dict()), "
                        f"got a {type(state).__name__}; save nested trees (optimizer state, counters) as .npz")
    tensors = {}
    for k, v in state.items():
        if not isinstance(k, str):
            raise TypeError(f"safetensors tensor names must be strings, got the key {k!r}")
        if isinstance(v, Tensor):
            v = v.data
        if isinstance(v, np.generic):
            v = np.asarray(v)
        if not (isinstance(v, np.ndarray) or is_cupy_array(v)):
            raise TypeError(f"state[{k!r}] is a {type(v).__name__}: a safetensors file holds arrays only "
                            "(put scalars and settings in meta=, or save a nested tree as .npz)")
        tensors[k] = to_device(v, "cpu")
    meta = {} if meta is None else meta
    _check_json(meta, "checkpoint metadata")
    data = safetensors_io.encode(tensors, meta, {_ST_VERSION: __version__})
    _atomic_write(path, lambda f: f.write(data))


def _load_safetensors(path, device):
    from . import safetensors_io
    _exists(path)
    arrays, _ = safetensors_io.decode(path)
    if device not in (None, "cpu"):
        arrays = {k: to_device(v, device) for k, v in arrays.items()}
    return arrays


def _load(path, device=None):
    spath = os.fspath(path)
    npz, header = _open(spath)
    try:
        specs = header["arrays"]
        if not isinstance(specs, dict):
            raise CheckpointError(f"{spath!r}: malformed array table in the header")
        members = {i.filename: i for i in npz.zip.infolist()}
        expected = {n + ".npy" for n in specs} | {HEADER_NAME}
        missing = sorted(n for n in specs if n + ".npy" not in members)
        extra = sorted(m for m in members if m not in expected)
        if missing or extra:
            parts = []
            if missing:
                parts.append("missing arrays: " + ", ".join(missing))
            if extra:
                parts.append("unexpected members: " + ", ".join(extra))
            raise CheckpointError(f"{spath!r} does not match its header ({'; '.join(parts)}): "
                                  "the file was modified or is incomplete")
        arrays = {}
        problems = []
        for name, spec in specs.items():
            try:
                dt = np.dtype(spec["dtype"])
                shape = tuple(int(s) for s in spec["shape"])
            except (KeyError, TypeError, ValueError):
                raise CheckpointError(f"{spath!r}: malformed header entry for array {name!r}") from None
            if dt.kind not in "biufc":
                raise CheckpointError(f"{spath!r}: array {name!r} has a disallowed dtype {dt}")
            nbytes = dt.itemsize * int(np.prod(shape, dtype=np.int64))
            if members[name + ".npy"].file_size > nbytes + _NPY_HEADER_SLACK:
                raise CheckpointError(f"{spath!r}: member {name!r} is larger than its recorded shape {shape} "
                                      f"and dtype {dt} allow: the file was modified")
            try:
                arr = npz[name]
            except Exception as e:  # noqa: BLE001 - BadZipFile (CRC), ValueError (pickled/object data), EOF
                raise CheckpointError(f"{spath!r}: array {name!r} cannot be read ({type(e).__name__}: {e}); "
                                      "the file is corrupted or was tampered with") from None
            if not isinstance(arr, np.ndarray):
                raise CheckpointError(f"{spath!r}: member {name!r} is not a .npy array: the file was modified")
            if arr.dtype != dt or arr.shape != shape:
                problems.append(f"{name}: header says {dt} {shape}, file holds {arr.dtype} {arr.shape}")
            arrays[name] = arr
        if problems:
            raise CheckpointError(f"{spath!r}: arrays differ from the header: " + "; ".join(problems))
        structure = _structure_json(header["tree"], specs, header["meta"])
        if _digest(structure, list(specs), arrays) != header["sha256"]:
            raise CheckpointError(f"{spath!r}: checksum mismatch: the contents were modified after saving "
                                  "(or the file is corrupted)")
        return _decode(header["tree"], arrays, spath, device), header
    finally:
        npz.close()


def _decode(node, arrays, path, device, where="state"):
    if not isinstance(node, dict) or len(node) != 1:
        raise CheckpointError(f"{path!r}: malformed tree node at {where}")
    (kind, val), = node.items()
    if kind == "v":
        if val is not None and not isinstance(val, (bool, int, float, str)):
            raise CheckpointError(f"{path!r}: malformed scalar at {where}")
        return val
    if kind == "f":
        if val not in ("nan", "inf", "-inf"):
            raise CheckpointError(f"{path!r}: malformed float at {where}")
        return float(val)
    if kind in ("a", "s"):
        if not isinstance(val, str) or val not in arrays:
            raise CheckpointError(f"{path!r}: the tree refers to a missing array {val!r} at {where}")
        arr = arrays[val]
        if kind == "s":
            return arr[()]
        return arr if device in (None, "cpu") else to_device(arr, device)
    if kind == "d":
        out = {}
        for item in val:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], (str, int))
                    and not isinstance(item[0], bool)):
                raise CheckpointError(f"{path!r}: malformed dict entry at {where}")
            out[item[0]] = _decode(item[1], arrays, path, device, f"{where}[{item[0]!r}]")
        return out
    if kind in ("l", "t"):
        if not isinstance(val, list):
            raise CheckpointError(f"{path!r}: malformed sequence at {where}")
        seq = [_decode(v, arrays, path, device, f"{where}[{i}]") for i, v in enumerate(val)]
        return seq if kind == "l" else tuple(seq)
    raise CheckpointError(f"{path!r}: unknown tree node type {kind!r} at {where}")


# ---------------------------------------------------------------------------- training checkpoints
#: The one training-checkpoint format, written by ``save_checkpoint`` (by hand or by
#: ``fit``'s ``ModelCheckpoint``) and read by ``load_checkpoint``.
CHECKPOINT_FORMAT = "deeprecipe.train.checkpoint/2"
#: earlier layouts still read: /1 was fit's own format (callback states in two lists, the RNG
#: state as JSON text); files without a ``format`` entry came from this module's old writer
_READABLE_FORMATS = (CHECKPOINT_FORMAT, "deeprecipe.train.checkpoint/1")


def save_checkpoint(path, model=None, optimizer=None, scheduler=None, epoch=None, step=None, meta=None,
                    save_rng: bool = True, compress: bool = False, extra: dict | None = None, **counters) -> None:
    """Save everything needed to resume training, in one atomic file.

    The tree holds ``format`` (:data:`CHECKPOINT_FORMAT`), ``model`` (its ``state_dict``:
    parameters and buffers), ``optimizer`` and ``scheduler`` (their ``state_dict()``),
    ``epoch``, ``step``, any extra ``counters`` (JSON scalars or arrays, e.g.
    ``best_val_loss=0.31``), ``rng`` (the library's global generator state,
    :func:`deeprecipe.backend.get_rng_state`) and the entries of ``extra`` (``fit`` keeps
    its loop position, epoch sums and callback states there; see ``train/checkpoint.py``).
    The metadata block records the library version, the model class and its
    ``config`` (``nn.MLP``/``nn.ConvNet`` keep one) and ``meta``.

    Dropout layers built with their own ``rng=`` keep private generators that are not
    saved; use the global generator (the default) for bit-identical resumption.
    """
    from . import __version__
    tree = {"format": CHECKPOINT_FORMAT}
    if model is not None:
        tree["model"] = model.state_dict()
    if optimizer is not None:
        tree["optimizer"] = optimizer.state_dict()
    if scheduler is not None:
        tree["scheduler"] = scheduler.state_dict()
    tree["epoch"] = epoch
    tree["step"] = step
    tree["counters"] = dict(counters)
    if save_rng:
        tree["rng"] = backend.get_rng_state()
    for k, v in (extra or {}).items():
        if k in tree:
            raise ValueError(f"save_checkpoint: extra entry {k!r} would overwrite the checkpoint's own {k!r}")
        tree[k] = v
    info = {"kind": "training-checkpoint", "library_version": __version__}
    if model is not None:
        info["model_class"] = type(model).__name__
        config = getattr(model, "config", None)
        if config is not None:
            _check_json(config, "model.config")
            info["model_config"] = config
    if meta is not None:
        _check_json(meta, "meta")
        info["user"] = meta
    save(path, tree, meta=info, compress=compress)


def load_checkpoint(path, model=None, optimizer=None, scheduler=None, strict: bool = True,
                    restore_rng: bool = True, device=None) -> dict:
    """Restore a checkpoint written by :func:`save_checkpoint` into ``model``, ``optimizer``
    and ``scheduler`` (each optional; parameters are written in place) and the global RNG.

    Returns the whole tree (``epoch``, ``step``, ``counters``, ...) plus ``"meta"``, the
    metadata block.  Raises :class:`CheckpointError` when the file is bad or lacks a part
    that was asked for, and :class:`deeprecipe.nn.StateDictError` (prefixed with the file
    name) when the model's keys, shapes or dtypes do not match.
    """
    spath = os.fspath(path)
    tree, header = _load(spath, device=device)
    if not isinstance(tree, dict) or tree.get("format", CHECKPOINT_FORMAT) not in _READABLE_FORMATS:
        what = type(tree).__name__ if not isinstance(tree, dict) else f"format {tree.get('format')!r}"
        raise CheckpointError(f"{spath!r} holds a {what}, not a training checkpoint ({CHECKPOINT_FORMAT}); "
                              "a weights-only file loads with model.load_state_dict(deeprecipe.load(path))")
    for name, obj in (("model", model), ("optimizer", optimizer), ("scheduler", scheduler)):
        if obj is not None and name not in tree:
            raise CheckpointError(f"{spath!r} has no {name} state (it holds: {', '.join(map(str, tree))})")
    if model is not None:
        from .nn.module import StateDictError
        try:
            model.load_state_dict(tree["model"], strict=strict)
        except StateDictError as e:
            raise StateDictError(f"checkpoint {spath!r}: {e}", e.missing_keys, e.unexpected_keys,
                                 e.mismatched) from None
    if optimizer is not None:
        optimizer.load_state_dict(tree["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(tree["scheduler"])
    if isinstance(tree.get("rng"), str):   # format /1 kept it as JSON text
        tree["rng"] = json.loads(tree["rng"])
    if restore_rng and "rng" in tree:
        backend.set_rng_state(tree["rng"])
    tree["meta"] = header["meta"]
    return tree
