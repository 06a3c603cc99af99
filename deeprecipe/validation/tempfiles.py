"""Temporary files of atomic writes: one naming rule, and the clean-up of orphans.

Every atomic write in deeprecipe writes ``<dir>/.<name>.<pid>.<random>.tmp`` and renames
it over ``<dir>/<name>``.  A process killed between the two (``kill -9``, power loss)
leaves that temporary file behind; the next atomic write of the same ``<name>`` deletes
the orphans of *dead* processes (:func:`clean_orphans`).  A temporary file of a process
that is still alive is left alone (it may be writing right now), and so is any file
that does not match the pattern exactly: nothing a user wrote is ever removed.
"""
from __future__ import annotations

import os
import re
import tempfile

_PATTERN = r"^\.{name}\.(\d+)\.[A-Za-z0-9_]+\.tmp$"


def make_temp(path, mode: int = 0o600):
    """Create the temporary sibling of ``path`` (after cleaning orphans); returns ``(fd, tmp)``."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    clean_orphans(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.{os.getpid()}.", suffix=".tmp", dir=directory)
    return fd, tmp


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # this process: another thread may be writing it (our failures clean up themselves)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, owned by someone else: leave its files alone
    return True


def orphans(path) -> list[str]:
    """Temporary files of interrupted writes of ``path`` whose writer no longer runs."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    rx = re.compile(_PATTERN.format(name=re.escape(os.path.basename(path))))
    found = []
    try:
        names = os.listdir(directory)
    except OSError:
        return found
    for n in names:
        m = rx.match(n)
        if m and not _alive(int(m.group(1))):
            p = os.path.join(directory, n)
            if os.path.isfile(p) and not os.path.islink(p):
                found.append(p)
    return sorted(found)


def clean_orphans(path) -> list[str]:
    """Delete the orphans of ``path`` (see :func:`orphans`); returns what was deleted."""
    gone = []
    for p in orphans(path):
        try:
            os.unlink(p)
            gone.append(p)
        except FileNotFoundError:
            pass
    return gone
