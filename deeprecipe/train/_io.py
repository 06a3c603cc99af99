"""Small file helpers: atomic text writes (a reader, or a process killed mid-write, never
sees a half-written file)."""
from __future__ import annotations

import os

from ..validation.tempfiles import make_temp


def atomic_write_text(path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and
    ``os.replace`` (atomic on POSIX and Windows)."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = make_temp(path)  # also deletes what an earlier, killed write of this file left
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
