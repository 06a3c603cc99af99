"""The doctor's note: plain text for the terminal, and a self-contained HTML page with the
figure behind each finding (base64 PNG, like the lab report; it opens offline)."""
from __future__ import annotations

import base64
import html
import io
import math

import numpy as np

from . import rules as R


def _fmt(v) -> str:
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    v = float(v)
    if not math.isfinite(v):
        return "inf" if v > 0 else "-inf" if v < 0 else "n/a"
    if v == 0:
        return "0"
    if abs(v) >= 1e4 or abs(v) < 1e-3:
        return f"{v:.2e}"
    return f"{v:.4g}"


def _evidence(ev: dict) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {_fmt(v)}" for k, v in ev.items())


def text_note(d) -> str:
    """The note as text: the findings in order of severity, each with its numbers and the
    Recipe's advice; a healthy run says so with the numbers that make it healthy."""
    src = d.signals.source or "the run"
    lines = [f"Doctor's note for {src} ({d.signals.epochs} epochs, diagnosed in {d.seconds * 1e3:.0f} ms)", ""]
    main = [f for f in d.findings if f.severity != R.INFO]
    if not main:
        lines.append("Healthy: no finding of the Recipe applies.")
        lines.append("  Vitals: " + _evidence(d.vitals()))
    for i, f in enumerate(main, 1):
        when = f" from epoch {f.since_epoch}" if f.since_epoch is not None and f.id == "overfitting" else ""
        lines.append(f"{i}. [{f.severity.upper()}] {f.id}{when}: {f.summary}.")
        lines.append(f"   Evidence: {_evidence(f.evidence)}.")
        lines.append(f"   Recipe step: {f.step}.")
        lines.append(f"   Advice: {f.advice}")
    info = [f for f in d.findings if f.severity == R.INFO]
    if info:
        lines += ["", "Also seen (consequences, not to treat first):"]
        for f in info:
            lines.append(f"  - {f.id}: {f.summary}; {_evidence(f.evidence)}.")
    if d.probe:
        p = d.probe
        lines += ["", (f"Probe: a shallower control ({p.get('control_model', '?')}) reached training loss "
                       f"{_fmt(p.get('control_loss', math.nan))} vs this run's {_fmt(p.get('run_loss', math.nan))}.")]
    if not d.signals.has_monitors:
        lines += ["", ("Note: this run has no monitor series (trained with --no-monitor?): the gradient, "
                      "activation and update rules could not be checked.")]
    return "\n".join(lines)


# ---------------------------------------------------------------- figures
def _fig_png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _epochs(sig):
    return np.arange(sig.epochs)


def figure_for(finding_id: str, sig):
    """A matplotlib figure showing the signal behind a finding (``None`` when no series)."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    e = _epochs(sig)
    if finding_id in ("vanishing-gradient", "exploding-gradient"):
        for name, v in sig.layers("grad_norm").items():
            ax.semilogy(e, np.where(v > 0, v, np.nan), marker="o", label=f"layer {name}")
        ax.set_ylabel("gradient norm (log)")
        ax.set_title("per-layer gradient norms (input side first in the legend)")
    elif finding_id in ("dead-units", "saturated-units"):
        q = "act_dead" if finding_id == "dead-units" else "act_saturated"
        for name, v in sig.layers(q).items():
            ax.plot(e, v, marker="o", label=name)
        ax.axhline(R.DEAD_FRACTION if q == "act_dead" else R.SATURATED_FRACTION, color="grey", ls="--")
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel("fraction dead" if q == "act_dead" else "fraction saturated")
        ax.set_title("per-layer " + ("dead units (no gradient) on the probe batch" if q == "act_dead"
                                     else "saturated outputs on the probe batch"))
    elif finding_id in ("overfitting", "underfitting"):
        ax.plot(e, sig.get("loss"), marker="o", label="train loss")
        ax.plot(e, sig.get("val_loss"), marker="o", label="validation loss")
        ax.axhline(sig.chance_loss, color="grey", ls=":", label="chance (ln C)")
        ax.set_ylabel("loss")
        ax.set_title("training vs validation loss")
    elif finding_id == "unnormalized-input":
        inp = sig.inputs
        keys = ["abs_feature_mean_max", "feature_std_max", "max"]
        ax.bar(keys, [float(inp.get(k, 0)) for k in keys])
        ax.axhline(R.INPUT_SCALE, color="grey", ls="--", label="threshold")
        ax.set_yscale("symlog")
        ax.set_title("scale of the training inputs")
    elif finding_id in ("lr-too-high", "lr-too-low"):
        steps, bl = sig.step_series("batch_loss")
        if bl.size:
            ax.plot(steps, bl, lw=0.7, label="mini-batch loss")
            ax.set_xlabel("step")
        else:
            ax.plot(e, sig.get("loss"), marker="o", label="train loss")
        ax.set_ylabel("loss")
        ax2 = ax.twinx()
        for v in sig.layers("update_ratio").values():
            ax2.semilogy(np.linspace(0, steps.max() if bl.size else e[-1], len(v)), v, ls="--", alpha=0.6)
        ax2.set_ylabel("update/weight ratio (dashed, log)")
        ax.set_title("loss and update/weight ratios")
    else:  # divergence, plateau, saddle: the loss with the gradient norm
        ax.plot(e, sig.get("loss"), marker="o", color="C0", label="train loss")
        ax.set_ylabel("training loss", color="C0")
        ax2 = ax.twinx()
        g = sig.get("grad_norm")
        ax2.semilogy(e, np.where(g > 0, g, np.nan), marker="s", color="C3", label="gradient norm")
        ax2.set_ylabel("gradient norm (log)", color="C3")
        ax.set_title("training loss and gradient norm")
    if finding_id not in ("divergence", "plateau-large-gradient", "saddle-point", "unnormalized-input"):
        ax.legend(fontsize=7)
    if ax.get_xlabel() == "":
        ax.set_xlabel("epoch")
    return fig


_CSS = ("body{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}"
        ".error{border-left:6px solid #c0392b}.warning{border-left:6px solid #e67e22}"
        ".info{border-left:6px solid #95a5a6}.healthy{border-left:6px solid #27ae60}"
        "section{padding:0.3em 1em;margin:1em 0;background:#fafafa}td,th{padding:2px 8px;text-align:left}"
        "img{max-width:100%}")


def _table(d: dict) -> str:
    return "<table>" + "".join(f"<tr><th>{html.escape(k.replace('_', ' '))}</th><td>{_fmt(v)}</td></tr>"
                               for k, v in d.items()) + "</table>"


def html_page(d) -> str:
    """A self-contained HTML page: the note, and under each finding the figure behind it."""
    sig = d.signals
    parts = [(f"<!doctype html><html><head><meta charset='utf-8'><title>Doctor's note</title>"
             f"<style>{_CSS}</style></head><body>"),
             f"<h1>Doctor's note</h1><p>{html.escape(str(sig.source))}: {sig.epochs} epochs.</p>"]
    if d.healthy:
        parts.append(f"<section class='healthy'><h2>Healthy</h2><p>No finding of the Recipe applies.</p>"
                     f"{_table(d.vitals())}<img src='data:image/png;base64,{_fig_png(figure_for('overfitting', sig))}'"
                     f" alt='training and validation loss'></section>")
    for f in d.findings:
        fig = _fig_png(figure_for(f.id, sig))
        parts.append(f"<section class='{f.severity}'><h2>{html.escape(f.id)} <small>({f.severity})</small></h2>"
                     f"<p>{html.escape(f.summary)}.</p>{_table(f.evidence)}"
                     f"<p><b>Recipe step:</b> {html.escape(f.step)}<br><b>Advice:</b> {html.escape(f.advice)}</p>"
                     f"<img src='data:image/png;base64,{fig}' alt='figure for {html.escape(f.id)}'></section>")
    parts.append("</body></html>")
    return "\n".join(parts)
