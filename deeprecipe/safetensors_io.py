"""Read and write the safetensors format on NumPy alone (no pickle, no extra package).

The format (https://github.com/huggingface/safetensors#format) is::

    8 bytes   N, the header length, unsigned little-endian
    N bytes   a JSON object: {"name": {"dtype": "F32", "shape": [out, in],
                                       "data_offsets": [begin, end]}, ...,
                              "__metadata__": {"key": "string value", ...}}  (optional)
    the rest  one byte buffer; each tensor is C-ordered little-endian bytes at
              [begin, end) relative to the start of the buffer

This module writes files that ``safetensors.torch.load_file`` reads and reads the files
it writes.  What it refuses (:class:`~deeprecipe.serialization.CheckpointError` naming
the file and the problem): a file shorter than its header says, a header that is not a
JSON object of the shape above, an unknown dtype, a shape whose byte size disagrees
with its offsets, tensors that overlap, leave gaps or do not cover the buffer exactly
(the spec requires all three), and — in files written here — a SHA-256 of names, dtypes,
shapes and bytes that does not match (``__metadata__["deeprecipe.sha256"]``; files from
other writers have none, and are checked structurally only).

``BF16`` tensors (which NumPy has no dtype for) load as ``float32`` — exactly, since a
bfloat16 is the top half of a float32.  FP8 types are refused.
"""
from __future__ import annotations

import hashlib
import json
import os

import numpy as np

# safetensors dtype code -> little-endian NumPy dtype
DTYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2",
    "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "|i1",
    "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "|u1",
    "BOOL": "|b1",
}
_CODE = {np.dtype(v): k for k, v in DTYPES.items()}
MAX_HEADER = 100 * 1024 * 1024          # the reference implementation's limit
SHA_KEY = "deeprecipe.sha256"
META_KEY = "deeprecipe.meta"


def _error(path, msg):
    from .serialization import CheckpointError  # one error type for every checkpoint format
    return CheckpointError(f"{path!r}: {msg}")


def _digest(items) -> str:
    """SHA-256 over (name, dtype code, shape, bytes) of each tensor, in file order."""
    h = hashlib.sha256()
    for name, code, shape, data in items:
        h.update(f"\0{name}\0{code}\0{list(shape)}\0".encode())
        h.update(data)
    return h.hexdigest()


def encode(tensors: dict, meta: dict | None = None, strings: dict | None = None) -> bytes:
    """The bytes of a safetensors file holding ``tensors`` (name -> host ndarray).

    ``meta`` (JSON-able) is stored as a JSON string under ``__metadata__["deeprecipe.meta"]``
    (safetensors metadata values must be strings); ``strings`` are added to ``__metadata__``
    as they are.  Tensors are laid out in the given order.
    """
    header, chunks, offset, items = {}, [], 0, []
    for name, arr in tensors.items():
        if not isinstance(name, str) or not name or name == "__metadata__":
            raise TypeError(f"safetensors tensor names must be non-empty strings other than "
                            f"'__metadata__', got {name!r}")
        dt = arr.dtype.newbyteorder("<") if arr.dtype.byteorder == ">" else arr.dtype
        code = _CODE.get(np.dtype(dt))
        if code is None:
            raise TypeError(f"cannot save {name!r} with dtype {arr.dtype} as safetensors: it holds "
                            "bool, (u)int8/16/32/64 and float16/32/64 arrays (complex is not in the format)")
        data = np.ascontiguousarray(arr, dtype=DTYPES[code]).tobytes()
        header[name] = {"dtype": code, "shape": [int(s) for s in arr.shape],
                        "data_offsets": [offset, offset + len(data)]}
        items.append((name, code, arr.shape, data))
        chunks.append(data)
        offset += len(data)
    metadata = {**(strings or {}), SHA_KEY: _digest(items)}
    if meta:
        metadata[META_KEY] = json.dumps(meta, sort_keys=True, allow_nan=False)
    header = {"__metadata__": metadata, **header}
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-(8 + len(raw)) % 8)  # pad so the buffer starts 8-byte aligned (as the reference does)
    return len(raw).to_bytes(8, "little") + raw + b"".join(chunks)


def _read_header(path, f, size):
    if size < 8:
        raise _error(path, f"is {size} bytes long: too short for a safetensors file (8-byte header length "
                           "first); it is truncated or in another format")
    n = int.from_bytes(f.read(8), "little")
    if n > MAX_HEADER or n > size - 8:
        raise _error(path, f"the header length field says {n} bytes but the file has {size - 8} after it: "
                           "truncated, or not a safetensors file")
    raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise _error(path, f"the safetensors header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise _error(path, "the safetensors header is not a JSON object")
    return 8 + n, header


def read_header(path) -> tuple[int, dict]:
    """``(buffer start, header dict)`` of a safetensors file, checked only for being JSON."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        return _read_header(path, f, os.fstat(f.fileno()).st_size)


def metadata(path) -> dict:
    """``__metadata__`` of a safetensors file, with ``deeprecipe.meta`` decoded (``{}`` if absent)."""
    _, header = read_header(path)
    md = header.get("__metadata__") or {}
    if not isinstance(md, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in md.items()):
        raise _error(os.fspath(path), "__metadata__ must map strings to strings")
    out = {"metadata": dict(md), "meta": {}}
    if META_KEY in md:
        try:
            out["meta"] = json.loads(md[META_KEY])
        except ValueError:
            raise _error(os.fspath(path), f"__metadata__[{META_KEY!r}] is not valid JSON") from None
    return out


def decode(path) -> tuple[dict, dict]:
    """Read and check a safetensors file: ``({name: ndarray}, metadata dict)``."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        start, header = _read_header(path, f, size)
        buffer = f.read()
    md = header.pop("__metadata__", None) or {}
    if not isinstance(md, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in md.items()):
        raise _error(path, "__metadata__ must map strings to strings")
    entries = []
    for name, spec in header.items():
        if not (isinstance(spec, dict) and set(spec) == {"dtype", "shape", "data_offsets"}):
            raise _error(path, f"entry {name!r} must hold exactly dtype, shape and data_offsets")
        code, shape, offs = spec["dtype"], spec["shape"], spec["data_offsets"]
        if code == "BF16":
            dt = np.dtype("<u2")
        elif code in DTYPES:
            dt = np.dtype(DTYPES[code])
        else:
            raise _error(path, f"tensor {name!r} has dtype {code!r}, which deeprecipe cannot hold "
                               f"(it reads {', '.join(DTYPES)}, BF16); convert it (e.g. .float()) before saving")
        if not (isinstance(shape, list) and all(type(s) is int and s >= 0 for s in shape)):
            raise _error(path, f"tensor {name!r} has a malformed shape {shape!r}")
        if not (isinstance(offs, list) and len(offs) == 2 and all(type(o) is int for o in offs)
                and 0 <= offs[0] <= offs[1]):
            raise _error(path, f"tensor {name!r} has malformed data_offsets {offs!r}")
        nbytes = dt.itemsize * int(np.prod(shape, dtype=np.int64))
        if offs[1] - offs[0] != nbytes:
            raise _error(path, f"tensor {name!r}: shape {shape} of {code} needs {nbytes} bytes but its "
                               f"offsets span {offs[1] - offs[0]}: the file was modified")
        entries.append((offs[0], offs[1], name, code, dt, tuple(shape)))
    entries.sort()
    pos = 0
    for begin, end, name, *_ in entries:
        if begin != pos:
            raise _error(path, f"tensor {name!r} starts at byte {begin} of the buffer, expected {pos}: "
                               "tensors overlap or leave a gap (not a valid safetensors file)")
        pos = end
    if pos != len(buffer):
        raise _error(path, f"the tensors cover {pos} bytes but the buffer holds {len(buffer)}: "
                           "the file is truncated or has bytes appended")
    arrays, items = {}, []
    by_name = {e[2]: e for e in entries}
    for begin, end, name, code, dt, shape in (by_name[n] for n in header):  # the file's order
        data = buffer[begin:end]
        items.append((name, code, shape, data))
        arr = np.frombuffer(data, dtype=dt).reshape(shape)
        if code == "BF16":  # bfloat16 is the high half of a float32
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        arrays[name] = arr.astype(dt.newbyteorder("=")) if code != "BF16" else arr
    if SHA_KEY in md and _digest(items) != md[SHA_KEY]:
        raise _error(path, "checksum mismatch: the tensors were modified after saving (or the file is corrupted)")
    return arrays, md
