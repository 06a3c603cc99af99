"""Plotting helpers for experiments: Agg figures, mean ± CI bands, PNG bytes.

Figures are ``matplotlib.figure.Figure`` objects created without pyplot, so nothing
global (no GUI backend, no current figure) is touched and worker processes can draw
safely.  Import matplotlib only here, inside functions: ``import deeprecipe.lab`` must
not need it.
"""
from __future__ import annotations

import io

import numpy as np

from .stats import curve_band

# A colour per condition that stays the same across an experiment's panels.
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
           "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def new_figure(width: float = 10.0, height: float = 4.0, dpi: int = 100):
    """A blank Agg ``Figure`` (no pyplot state)."""
    try:
        from matplotlib.figure import Figure
    except ImportError as e:  # pragma: no cover - matplotlib is in the dev/plot extras
        raise ImportError("the lab draws figures with matplotlib: pip install 'deeprecipe[plot]'") from e
    return Figure(figsize=(width, height), dpi=dpi, layout="constrained")


def figure_png(fig) -> bytes:
    """Render ``fig`` to PNG bytes with the Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def plot_band(ax, x, curves, label: str | None = None, color: str | None = None,
              alpha: float = 0.2, **line_kw):
    """Draw the mean of ``curves`` (n_seeds, T) with its 95% CI as a shaded band."""
    curves = np.asarray(curves, dtype=np.float64)
    mean, half = curve_band(curves)
    x = np.arange(mean.shape[0]) if x is None else np.asarray(x)
    (line,) = ax.plot(x, mean, label=label, color=color, **line_kw)
    if curves.ndim == 2 and curves.shape[0] > 1:
        ax.fill_between(x, mean - half, mean + half, color=line.get_color(), alpha=alpha, linewidth=0)
    return line

