"""DataLoader: shuffled mini-batches of NumPy arrays, reproducible per epoch.

Each epoch visits every sample exactly once (a permutation, i.e. sampling *without*
replacement).  The permutation of epoch ``e`` is drawn from a generator seeded with
``(seed, e)`` alone, so it does not depend on what ran before: a run resumed at epoch
``e`` (``set_epoch(e)``, or ``load_state_dict``), even mid-epoch (``iter_from(b)``), sees
exactly the batches the uninterrupted run would have seen.
"""
from __future__ import annotations

import math

import numpy as np


class DataLoader:
    """Iterate ``(xb, yb)`` batches over arrays ``x`` ``(N, ...)`` and ``y`` ``(N, ...)``.

    Args:
        x: array ``(N, ...)``.
        y: array ``(N, ...)`` or None (then ``yb`` is None).
        batch_size: samples per batch; the last batch may be smaller unless ``drop_last``.
        shuffle: a new seeded permutation every epoch; otherwise the stored order.
        drop_last: drop the final incomplete batch (so every batch has ``batch_size`` rows).
        seed: seeds the permutations; None draws one seed from ``deeprecipe.backend``'s
            global generator at construction.
        curriculum: optional difficulty scores ``(N,)`` (lower = easier).  For the first
            ``curriculum_epochs`` epochs samples come easy-first (sorted by score, ties in
            the epoch's seeded random order); afterwards the normal order resumes
            (curriculum learning, Bengio et al. 2009, https://doi.org/10.1145/1553374.1553380).
        transform: optional function applied to each ``xb`` (e.g. :func:`scale01`), so a
            large uint8 dataset need not be converted to float all at once.

    Each batch is gathered with one fancy index per array (a copy, never a view into
    ``x``), so changing a batch cannot change the dataset.
    """

    def __init__(self, x, y=None, batch_size: int = 32, shuffle: bool = True,
                 drop_last: bool = False, seed: int | None = 0, curriculum=None,
                 curriculum_epochs: int = 1, transform=None):
        x = np.asarray(x)
        if x.ndim < 1:
            raise ValueError("x must have a sample axis (N, ...), got a scalar")
        n = x.shape[0]
        if n == 0:
            raise ValueError("x is empty: a DataLoader needs at least one sample")
        if y is not None:
            y = np.asarray(y)
            if y.ndim < 1 or y.shape[0] != n:
                raise ValueError(f"x has {n} samples but y has "
                                 f"{y.shape[0] if y.ndim else 'a scalar'}; they must match")
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) \
                or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if drop_last and batch_size > n:
            raise ValueError(f"drop_last=True with batch_size {batch_size} > {n} samples "
                             f"would give no batches")
        if curriculum is not None:
            curriculum = np.asarray(curriculum)
            if curriculum.shape != (n,):
                raise ValueError(f"curriculum scores must have shape ({n},), got {curriculum.shape}")
            if curriculum.dtype.kind not in "biuf" or (
                    curriculum.dtype.kind == "f" and not np.isfinite(curriculum).all()):
                raise ValueError("curriculum scores must be finite numbers")
        if curriculum_epochs < 0:
            raise ValueError(f"curriculum_epochs must be >= 0, got {curriculum_epochs}")
        if transform is not None and not callable(transform):
            raise TypeError("transform must be callable (xb -> xb) or None")
        if seed is None:
            from ..backend import get_rng
            seed = int(get_rng().integers(2**63 - 1))
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
        self.x, self.y = x, y
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = int(seed)
        self.curriculum = curriculum
        self.curriculum_epochs = int(curriculum_epochs)
        self.transform = transform
        self.epoch = 0

    @property
    def num_samples(self) -> int:
        return self.x.shape[0]

    def __len__(self) -> int:
        """Number of batches per epoch."""
        n, b = self.num_samples, self.batch_size
        return n // b if self.drop_last else math.ceil(n / b)

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration produce epoch ``epoch``'s order."""
        if not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ValueError(f"epoch must be a non-negative integer, got {epoch!r}")
        self.epoch = int(epoch)

    def order(self, epoch: int | None = None) -> np.ndarray:
        """The sample indices of ``epoch`` (default: the next one) in visiting order."""
        e = self.epoch if epoch is None else int(epoch)
        n = self.num_samples
        if self.shuffle:
            # SeedSequence((seed, e)): independent streams per epoch, no state carried over.
            order = np.random.default_rng([self.seed, e]).permutation(n)
        else:
            order = np.arange(n)
        if self.curriculum is not None and e < self.curriculum_epochs:
            # Stable sort by score: ties keep the epoch's (seeded) order.
            order = order[np.argsort(self.curriculum[order], kind="stable")]
        return order

    def __iter__(self):
        return self.iter_from(0)

    def iter_from(self, start_batch: int = 0, epoch: int | None = None):
        """Iterate the current (or the given) epoch from batch ``start_batch`` on.

        For resuming mid-epoch: batches ``start_batch, start_batch + 1, ...`` are exactly
        those an uninterrupted pass over that epoch would have produced.  Starting an
        iteration advances the loader to the following epoch.
        """
        e = self.epoch if epoch is None else int(epoch)
        if not isinstance(start_batch, (int, np.integer)) or not 0 <= start_batch <= len(self):
            raise ValueError(f"start_batch must be in [0, {len(self)}], got {start_batch!r}")
        order = self.order(e)
        self.epoch = e + 1  # advance now, so that breaking out early still moves on
        return self._batches(order, int(start_batch))

    def _batches(self, order, start_batch):
        b = self.batch_size
        x, y, transform = self.x, self.y, self.transform
        for i in range(start_batch, len(self)):
            idx = order[i * b:(i + 1) * b]
            xb = x[idx]
            if transform is not None:
                xb = transform(xb)
            yield xb, (None if y is None else y[idx])

    def state_dict(self) -> dict:
        """``{'epoch': next epoch, 'seed': seed}`` (JSON-able) for checkpoints."""
        return {"epoch": self.epoch, "seed": self.seed}

    def load_state_dict(self, state: dict) -> None:
        self.seed = int(state["seed"])
        self.set_epoch(int(state["epoch"]))

    def __repr__(self) -> str:
        return (f"DataLoader(num_samples={self.num_samples}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, seed={self.seed}, "
                f"epoch={self.epoch})")
