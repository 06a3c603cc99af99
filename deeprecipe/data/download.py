"""Downloading a file with checksum verification, atomically, with a progress bar.

Uses only the standard library (``urllib``), so ``file://`` URLs work too (tests use them).
The file is streamed into a temporary file next to the destination while its hash is
computed; only when the checksum matches is it renamed into place (``os.replace`` is
atomic on one file system), so a cache never holds a partial or corrupt file.
"""
from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path

_CHUNK = 1 << 16


def urlopen(url, timeout=60.0):
    """``urllib.request.urlopen`` (imported on first use: it costs ~25 ms at import time).

    A module attribute so that tests can replace it and never touch the network.
    """
    import urllib.request
    return urllib.request.urlopen(url, timeout=timeout)


class ChecksumError(ValueError):
    """The downloaded bytes do not have the published checksum."""


class _Progress:
    """tqdm when installed, else a line on stderr every 10%: ``name: 40% (4.2/10.5 MB)``."""

    def __init__(self, name: str, total: int | None, enabled: bool):
        self.name, self.total, self.enabled = name, total, enabled
        self.done = 0
        self._bar = None
        self._next_pct = 10
        if not enabled:
            return
        try:
            from tqdm.auto import tqdm  # optional dependency
        except ImportError:
            size = f" ({total / 1e6:.1f} MB)" if total else ""
            print(f"downloading {name}{size}", file=sys.stderr, flush=True)
        else:
            self._bar = tqdm(total=total, unit="B", unit_scale=True, desc=name, leave=False)

    def update(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(n)
        elif self.total:
            pct = 100 * self.done // self.total
            if pct >= self._next_pct:
                print(f"{self.name}: {pct}% ({self.done / 1e6:.1f}/{self.total / 1e6:.1f} MB)",
                      file=sys.stderr, flush=True)
                self._next_pct = (pct // 10 + 1) * 10

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self.enabled and not self.total:
            print(f"{self.name}: {self.done / 1e6:.1f} MB", file=sys.stderr, flush=True)


def download_file(url: str, dest, md5: str | None = None, sha256: str | None = None,
                  progress: bool = True, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest``, verifying ``md5`` and/or ``sha256`` (hex) when given.

    Raises :class:`ChecksumError` (a ``ValueError``) on a mismatch, leaving no file behind,
    and lets ``urllib.error.URLError``/``OSError`` through when the URL cannot be read.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    hashes = {}
    if md5:
        hashes["md5"] = (hashlib.md5(), md5.lower())
    if sha256:
        hashes["sha256"] = (hashlib.sha256(), sha256.lower())
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out, urlopen(url, timeout=timeout) as response:
            length = response.headers.get("Content-Length") if hasattr(response, "headers") else None
            bar = _Progress(dest.name, int(length) if length else None, progress)
            try:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    out.write(chunk)
                    for h, _ in hashes.values():
                        h.update(chunk)
                    bar.update(len(chunk))
            finally:
                bar.close()
        for algo, (h, expected) in hashes.items():
            got = h.hexdigest()
            if got != expected:
                raise ChecksumError(
                    f"checksum mismatch for {url}: {algo} is {got}, expected {expected}; "
                    f"the download is corrupt or the file changed upstream (nothing was saved)")
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest
