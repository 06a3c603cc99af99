"""The sweep's figure: the score of every trial with the best so far, the validation curves
(pruned trials in orange, where they stopped), and the parameters' importances."""
from __future__ import annotations

import math
import os


def draw_sweep(study, objective: str, path: str) -> str:
    """Draw the figure of ``study`` into ``path`` (PNG, written atomically); returns the path."""
    from optuna.trial import TrialState

    from ..lab.plotting import color, figure_png, new_figure
    from ..lab.storage import atomic_write_bytes
    trials = study.get_trials(deepcopy=False)
    maximize = study.direction.name == "MAXIMIZE"
    fig = new_figure(15.0, 4.2)
    ax1, ax2, ax3 = (fig.add_subplot(1, 3, i) for i in (1, 2, 3))

    done = [t for t in trials if t.state == TrialState.COMPLETE]
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    ax1.scatter([t.number for t in done], [t.value for t in done], s=18, color=color(0), label="complete")
    last = [(t.number, t.intermediate_values[max(t.intermediate_values)]) for t in pruned if t.intermediate_values]
    if last:
        ax1.scatter(*zip(*last), s=22, marker="x", color=color(3), label="pruned (last reported)")
    best, xs, ys = None, [], []
    for t in sorted(done, key=lambda t: t.number):
        if math.isfinite(t.value) and (best is None or (t.value > best if maximize else t.value < best)):
            best = t.value
        if best is not None:
            xs.append(t.number)
            ys.append(best)
    if xs:
        ax1.step(xs, ys, where="post", color="black", lw=1.2, label="best so far")
    ax1.set_xlabel("trial")
    ax1.set_ylabel(objective)
    ax1.set_title(f"{len(done)} complete, {len(pruned)} pruned", fontsize=10)
    ax1.legend(fontsize=8)

    for t in done + pruned:
        if t.intermediate_values:
            steps = sorted(t.intermediate_values)
            ax2.plot([s + 1 for s in steps], [t.intermediate_values[s] for s in steps], lw=0.8,
                     color=color(0) if t.state == TrialState.COMPLETE else color(3), alpha=0.7)
    ax2.set_xlabel("epoch")
    ax2.set_ylabel(objective)
    ax2.set_title("validation curves (orange: pruned)", fontsize=10)

    try:
        import warnings

        import optuna
        with warnings.catch_warnings():  # "too few trials": said in the panel instead
            warnings.simplefilter("ignore")
            imp = optuna.importance.get_param_importances(study)
    except (RuntimeError, ValueError, ZeroDivisionError, ImportError) as e:  # too few trials, one value each
        imp = {}
        ax3.text(0.5, 0.5, f"importances need more complete trials\n({type(e).__name__})", ha="center",
                 va="center", fontsize=9, transform=ax3.transAxes)
    if imp:
        names = list(imp)[::-1]
        ax3.barh(names, [imp[n] for n in names], color=color(1))
        ax3.set_xlabel("importance (fANOVA, normalized)")
    ax3.set_title("parameter importances", fontsize=10)
    atomic_write_bytes(os.fspath(path), figure_png(fig))
    return os.fspath(path)
