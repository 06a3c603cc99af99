"""Reading and writing IDX files, the format MNIST and Fashion-MNIST ship in.

Format (http://yann.lecun.com/exdb/mnist/, "FILE FORMATS"): a 4-byte magic number
``0x00 0x00 TYPE NDIM``, then ``NDIM`` big-endian uint32 dimension sizes, then the
values in C order, big-endian.  TYPE codes: 0x08 uint8, 0x09 int8, 0x0B int16,
0x0C int32, 0x0D float32, 0x0E float64.

Files may be gzip-compressed; compression is detected from the gzip magic bytes
(``1f 8b``), not from the file name, so a renamed file still reads.  Every check
(magic, type code, dimensions, exact payload length, gzip integrity) raises a
``ValueError`` that names the file and what is wrong with it.
"""
from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from ..validation.files import check_payload_fits

# IDX type code -> big-endian NumPy dtype
IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
# native dtype -> IDX type code (for writing)
_CODES = {dt.newbyteorder("=").str if dt.itemsize > 1 else dt.str: code
          for code, dt in IDX_DTYPES.items()}

_GZIP_MAGIC = b"\x1f\x8b"
_MAX_NDIM = 32  # far above anything real; guards against reading garbage as a header


def _is_gzip(path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == _GZIP_MAGIC


def _open(path):
    """Open ``path`` for binary reading, transparently un-gzipping it."""
    return gzip.open(path, "rb") if _is_gzip(path) else open(path, "rb")


def _read_exact(f, n: int, path, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise ValueError(f"IDX file {str(path)!r} is truncated: expected {n} bytes of {what}, "
                         f"got {len(data)}")
    return data


def _parse_header(f, path):
    magic = _read_exact(f, 4, path, "magic number")
    if magic[0] != 0 or magic[1] != 0:
        raise ValueError(f"{str(path)!r} is not an IDX file: magic number starts with "
                         f"{magic[:2].hex()} instead of 0000")
    code, ndim = magic[2], magic[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise ValueError(f"IDX file {str(path)!r} has unknown data type code 0x{code:02X} "
                         f"(known: {known})")
    if ndim == 0 or ndim > _MAX_NDIM:
        raise ValueError(f"IDX file {str(path)!r} declares {ndim} dimensions; "
                         f"expected 1..{_MAX_NDIM}")
    dims = np.frombuffer(_read_exact(f, 4 * ndim, path, "dimension sizes"), dtype=">u4")
    return IDX_DTYPES[code], tuple(int(d) for d in dims)


def read_idx_header(path) -> tuple[np.dtype, tuple[int, ...]]:
    """Return ``(dtype, shape)`` of an IDX file, reading only its header (cheap, even gzipped).

    The dtype is the native-byte-order dtype that :func:`read_idx` returns.
    """
    path = Path(path)
    try:
        with _open(path) as f:
            dtype, shape = _parse_header(f, path)
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise ValueError(f"IDX file {str(path)!r}: corrupt or truncated gzip data ({e})") from e
    return dtype.newbyteorder("="), shape


def read_idx(path) -> np.ndarray:
    """Read an IDX file (plain or gzip) into a writable NumPy array in native byte order.

    Raises ``ValueError`` naming the file when the magic number, type code or number of
    dimensions is invalid, when the payload is shorter or longer than the dimensions
    say, or when the gzip stream is corrupt.
    """
    path = Path(path)
    try:
        compressed = _is_gzip(path)
        with _open(path) as f:
            dtype, shape = _parse_header(f, path)
            count = int(np.prod(shape, dtype=object))  # exact: a forged header may overflow int64
            nbytes = count * dtype.itemsize
            # The header is not trusted for the allocation: it may only ask for what the file can hold.
            available = os.path.getsize(path) - (0 if compressed else 4 + 4 * len(shape))
            check_payload_fits(path, nbytes, available, f"IDX file of shape {shape} ({dtype.name})",
                               compressed=compressed)
            # Read straight into the array's memory: one copy of the data, no temporaries.
            out = np.empty(count, dtype=dtype)
            view = memoryview(out.view(np.uint8))
            got = 0
            while got < nbytes:
                n = f.readinto(view[got:])
                if not n:
                    break
                got += n
            if got != nbytes:
                raise ValueError(
                    f"IDX file {str(path)!r} is truncated: shape {shape} of {dtype.name} needs "
                    f"{nbytes} payload bytes, found {got}")
            extra = f.read(1)  # for gzip this also runs the CRC check at end of stream
            if extra:
                rest = 1 + len(f.read())
                raise ValueError(
                    f"IDX file {str(path)!r} is longer than its header says: shape {shape} of "
                    f"{dtype.name} needs {nbytes} payload bytes, found {rest} extra")
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise ValueError(f"IDX file {str(path)!r}: corrupt or truncated gzip data ({e})") from e
    if dtype.byteorder == ">":
        out = out.byteswap(inplace=True).view(dtype.newbyteorder("="))  # big-endian -> native, in place
    return out.reshape(shape)


def write_idx(path, array, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file; gzip it when ``compress`` (default: name ends in .gz).

    Supported dtypes: uint8, int8, int16, int32, float32, float64 (the IDX types).
    The file is written to a temporary name and renamed, so readers never see half a file.
    """
    path = Path(path)
    a = np.asarray(array)
    if a.ndim == 0 or a.ndim > _MAX_NDIM:
        raise ValueError(f"IDX needs an array with 1..{_MAX_NDIM} dimensions, got shape {a.shape}")
    key = a.dtype.newbyteorder("=").str if a.dtype.itemsize > 1 else a.dtype.str
    if key not in _CODES:
        raise TypeError(f"IDX cannot store dtype {a.dtype}; use one of uint8, int8, int16, "
                        f"int32, float32, float64")
    code = _CODES[key]
    if any(d >= 2**32 for d in a.shape):
        raise ValueError(f"IDX dimension sizes must fit in uint32, got shape {a.shape}")
    header = bytes([0, 0, code, a.ndim]) + np.asarray(a.shape, dtype=">u4").tobytes()
    payload = np.ascontiguousarray(a, dtype=IDX_DTYPES[code]).tobytes()
    if compress is None:
        compress = path.name.endswith(".gz")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if compress:
            # mtime=0: the same array always gives the same bytes (stable checksums)
            with open(tmp, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as f:
                f.write(header)
                f.write(payload)
        else:
            with open(tmp, "wb") as f:
                f.write(header)
                f.write(payload)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
