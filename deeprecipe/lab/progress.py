"""Progress bars: tqdm when installed, plain lines otherwise, nothing when disabled."""
from __future__ import annotations

import os
import sys
import time


class NullBar:
    """A bar that shows nothing (worker processes, tests, ``--no-progress``)."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, s: str) -> None:
        pass

    def write(self, msg: str) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class LineBar(NullBar):
    """Without tqdm: one line per ~10% of progress (and at the end), to stderr."""

    def __init__(self, total: int, desc: str = "", stream=None):
        self.total = max(int(total), 1)
        self.desc = desc
        self.n = 0
        self._next = 0.1
        self._start = time.perf_counter()
        self.stream = stream or sys.stderr

    def update(self, n: int = 1) -> None:
        self.n += n
        frac = self.n / self.total
        if frac >= self._next or self.n >= self.total:
            el = time.perf_counter() - self._start
            print(f"{self.desc}: {self.n}/{self.total} ({100 * frac:.0f}%, {el:.1f} s)",
                  file=self.stream, flush=True)
            while self._next <= frac:
                self._next += 0.1

    def write(self, msg: str) -> None:
        print(msg, file=self.stream, flush=True)


class TqdmBar(NullBar):
    def __init__(self, total: int, desc: str = "", position: int = 0, leave: bool = True):
        from tqdm.auto import tqdm
        self._tqdm = tqdm
        self.bar = tqdm(total=total, desc=desc, position=position, leave=leave,
                        dynamic_ncols=True, file=sys.stderr)

    def update(self, n: int = 1) -> None:
        self.bar.update(n)

    def set_postfix_str(self, s: str) -> None:
        self.bar.set_postfix_str(s)

    def write(self, msg: str) -> None:
        self._tqdm.write(msg, file=sys.stderr)

    def close(self) -> None:
        self.bar.close()


def _have_tqdm() -> bool:
    """tqdm is used on a terminal; piped output (logs, CI) gets plain lines instead."""
    if not getattr(sys.stderr, "isatty", lambda: False)():
        return False
    try:  # a terminal of width 0 (some pseudo-terminals): tqdm would draw nothing
        if os.get_terminal_size(sys.stderr.fileno()).columns == 0:
            return False
    except (OSError, ValueError):
        return False
    try:
        import tqdm  # noqa: F401
        return True
    except ImportError:
        return False


def make_bar(total: int, desc: str = "", enabled: bool = True, position: int = 0,
             leave: bool = True):
    """A progress bar for ``total`` steps: tqdm if installed, else plain lines."""
    if not enabled:
        return NullBar()
    if _have_tqdm():
        return TqdmBar(total, desc, position=position, leave=leave)
    return LineBar(total, desc)


def inner_bar_factory(enabled: bool):
    """Factory for the bars ``ctx.progress`` hands to an experiment running in the foreground.

    They sit under the overall bar and vanish when done; without tqdm they stay silent
    (the overall plain-line bar already reports each finished seed).
    """
    if not enabled or not _have_tqdm():
        return None

    def factory(total, desc=""):
        return TqdmBar(total, desc, position=1, leave=False)
    return factory
