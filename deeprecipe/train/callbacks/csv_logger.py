"""``CSVLogger``: one row of metrics per epoch in a CSV file (Keras semantics)."""
from __future__ import annotations

import csv
import io
import math
import os

from .._io import atomic_write_text
from .base import Callback


def _fmt(v) -> str:
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))
    return str(v)


class CSVLogger(Callback):
    """Write ``epoch`` and every scalar in the epoch logs to ``filename``.

    The file is rewritten atomically at each epoch end, so it is always a complete
    CSV (also when the process is killed).  Columns are ``epoch`` then the log keys in
    sorted order; a key that appears in a later epoch adds a column (earlier rows get
    an empty cell).  With ``append=True`` the rows of an existing file are kept.  On a
    resumed run the rows of epochs at or after the resumed epoch are dropped (they are
    recomputed), so the file matches the History.
    """

    run_last = True  # after callbacks that add keys (e.g. lr) to the logs

    def __init__(self, filename, separator: str = ",", append: bool = False):
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = bool(append)
        self.rows: list[dict] = []
        self.keys: list[str] = []

    def _read_existing(self) -> list[dict]:
        if not os.path.exists(self.filename):
            return []
        with open(self.filename, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f, delimiter=self.sep))

    def on_train_begin(self, logs=None):
        self.rows, self.keys = [], []
        t = self.trainer
        resuming = bool(getattr(t, "resuming", False))
        if self.append or resuming:
            rows = self._read_existing()
            if resuming:
                start = int(getattr(t, "initial_epoch", 0))
                rows = [r for r in rows if r.get("epoch", "") != "" and int(r["epoch"]) < start]
            self.rows = rows
            for r in rows:
                for k in r:
                    if k != "epoch" and k not in self.keys:
                        self.keys.append(k)

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": str(int(epoch))}
        for k, v in (logs or {}).items():
            if isinstance(v, (int, float)) or (hasattr(v, "ndim") and v.ndim == 0):
                row[k] = _fmt(float(v))
                if k not in self.keys:
                    self.keys.append(k)
        self.rows.append(row)
        self.write()

    def write(self) -> None:
        header = ["epoch"] + sorted(self.keys)
        buf = io.StringIO()
        w = csv.writer(buf, delimiter=self.sep, lineterminator="\n")
        w.writerow(header)
        for r in self.rows:
            w.writerow([r.get(k, "") for k in header])
        atomic_write_text(self.filename, buf.getvalue())
