"""Files read from disk: what may be trusted about them before it is used.

Rules (each used by every reader of that kind of file):

* **sizes come from the file, not its header** — a header (IDX dimensions, an ``.npy``
  member's shape) may only ask for as many bytes as the file can hold
  (:func:`check_payload_fits`); a gzip stream holds at most
  :data:`MAX_DEFLATE_RATIO` times its compressed size.  Checked before allocating.
* **an ``.npz`` data file** is read with ``allow_pickle=False``, every member's
  declared size is compared with its size in the zip directory, and any zip/CRC/
  decompression/format failure becomes a :class:`DataFileError` naming the file and
  the member (:func:`read_npz_arrays`).
* **a file inside a directory we own** (the lab's results) is read only when it is a
  regular file, not a symbolic link, and every folder on the way to it is a real
  folder inside the root (:func:`regular_file_inside`): nothing outside the directory
  can be pulled into what we write (an HTML report, for instance).
"""
from __future__ import annotations

import os
import stat
import zipfile
import zlib

import numpy as np

#: Deflate cannot compress better than about 1032:1 (RFC 1951 block limits); a gzip
#: stream claiming more uncompressed bytes than this ratio allows is truncated or forged.
MAX_DEFLATE_RATIO = 1032
_NPY_HEADER_SLACK = 1 << 16  # an .npy member holds its data plus a header of at most this


class DataFileError(ValueError):
    """A data file that is damaged, truncated, forged or of the wrong kind."""


class UnsafePathError(ValueError):
    """A path that leaves the directory it must stay in, or is not a regular file."""


def check_payload_fits(path, need: int, available: int, what: str, compressed: bool = False) -> None:
    """Refuse a header that asks for ``need`` bytes when the file has only ``available``
    (after its header; times :data:`MAX_DEFLATE_RATIO` when ``compressed``)."""
    limit = available * MAX_DEFLATE_RATIO if compressed else available
    if need > limit:
        how = (f"a gzip stream of {available:,} bytes can hold at most {limit:,}" if compressed
               else f"the file holds {available:,}")
        raise DataFileError(f"{os.fspath(path)!r} is truncated or its header is wrong: {what} needs {need:,} bytes "
                            f"but {how}; download or write the file again")


_DAMAGE = (zipfile.BadZipFile, zlib.error, EOFError)
_NPZ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError, NotImplementedError,
               RuntimeError)


def read_npz_arrays(path, names=None, what: str = "data file") -> dict:
    """Read the arrays ``names`` (default: all) of an ``.npz`` file, checked (see module doc).

    Returns ``{name: ndarray}``.  Raises ``FileNotFoundError`` when there is no file and
    :class:`DataFileError` for anything wrong inside it.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{what} {path!r} does not exist")
    if os.path.isdir(path):
        raise DataFileError(f"{what} {path!r} is a directory; give an .npz file")
    if not zipfile.is_zipfile(path):
        raise DataFileError(f"{what} {path!r} is not an .npz file (not a complete zip archive: truncated, "
                            "or another format); write it with np.savez(path, x_train=..., y_train=...)")
    try:
        z = np.load(path, allow_pickle=False)
    except _NPZ_ERRORS as e:
        raise DataFileError(f"{what} {path!r} cannot be opened as .npz: {type(e).__name__}: {e}") from None
    out = {}
    try:
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise DataFileError(f"{what} {path!r} is a single .npy array, not an .npz archive of named arrays")
        members = {i.filename: i for i in z.zip.infolist()}
        for name in (z.files if names is None else names):
            info = members.get(name + ".npy")
            if info is None:
                continue
            try:
                with z.zip.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    shape, _, dtype = (np.lib.format.read_array_header_1_0(f) if version == (1, 0)
                                       else np.lib.format.read_array_header_2_0(f))
            except _DAMAGE as e:
                raise DataFileError(f"{what} {path!r} is damaged: array {name!r} fails its zip check "
                                    f"({type(e).__name__}: {e}); write the file again") from None
            except _NPZ_ERRORS as e:
                raise DataFileError(f"{what} {path!r}: array {name!r} has no valid .npy header "
                                    f"({type(e).__name__}: {e})") from None
            if dtype.hasobject:
                raise DataFileError(f"{what} {path!r}: array {name!r} holds Python objects (dtype {dtype}); "
                                    "only numeric arrays are read (objects would need pickle, which can run code)")
            need = dtype.itemsize * int(np.prod(shape, dtype=np.float64))
            check_payload_fits(path, need, info.file_size + _NPY_HEADER_SLACK, f"array {name!r} of shape {shape}")
            try:
                out[name] = z[name]
            except _NPZ_ERRORS as e:
                raise DataFileError(f"{what} {path!r}: array {name!r} cannot be read ({type(e).__name__}: {e}); "
                                    "the file is damaged: write it again") from None
    except zipfile.BadZipFile as e:
        raise DataFileError(f"{what} {path!r} is a damaged zip archive: {e}") from None
    finally:
        z.close()
    return out


def regular_file_inside(root, *parts) -> str:
    """The path ``root/parts...`` when it is a regular file reached without following any
    symbolic link and without leaving ``root``; :class:`UnsafePathError` otherwise (and
    ``FileNotFoundError`` when it does not exist)."""
    root = os.fspath(root)
    for p in parts:
        if not p or p in (".", "..") or "/" in p or (os.sep in p) or (os.altsep and os.altsep in p):
            raise UnsafePathError(f"{os.path.join(root, *parts)!r}: the name {p!r} is not a plain file name")
    path = root
    for i, p in enumerate(parts):
        path = os.path.join(path, p)
        st = os.lstat(path)  # FileNotFoundError when absent
        if stat.S_ISLNK(st.st_mode):
            raise UnsafePathError(f"{path!r} is a symbolic link; only regular files inside {root!r} are read "
                                  "(a link could pull any file of the machine into the output)")
        last = i == len(parts) - 1
        if last and not stat.S_ISREG(st.st_mode):
            raise UnsafePathError(f"{path!r} is not a regular file")
        if not last and not stat.S_ISDIR(st.st_mode):
            raise UnsafePathError(f"{path!r} is not a directory")
    return path
