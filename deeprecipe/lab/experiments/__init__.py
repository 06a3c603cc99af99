"""The experiments: one module per claim of ``CLAIMS.md``, found automatically.

How to add an experiment
========================

1. Create ``deeprecipe/lab/experiments/<id_with_underscores>.py`` defining
   ``EXPERIMENT = Experiment(...)`` (template below).  Nothing else to register:
   every module here that does not start with ``_`` is imported by the registry.
2. ``run(config, seed, ctx)`` trains/measures ONE seed and returns a dict of raw
   metrics (numbers, strings, lists, NumPy arrays; nested dicts allowed; keys without
   ``.``).  Save curves, not conclusions.  Use ``config`` for every setting, ``seed`` /
   ``ctx.rng`` for every random choice (the framework also seeds ``deeprecipe.backend``).
   Helpers: :func:`deeprecipe.lab.data.image_data` (seeded Fashion-MNIST subsets, or
   ``source='synthetic'``), :func:`deeprecipe.lab.training.train_classifier` (trains an
   ``nn.MLP`` — or your model — with ``deeprecipe.train.fit``, returns ``(metrics, model)``:
   per-step loss, eval-mode train/val/test accuracy and loss every few epochs),
   ``ctx.progress(total, desc)`` for a progress bar.
3. ``plot(results, fig)`` draws into the given matplotlib ``Figure`` from ``results``
   (the SAVED metrics: ``results.stack("curves.loss")`` → (n_seeds, T),
   ``results.values("final.test_acc")`` → (n_seeds,), ``results.first(...)``,
   ``results.config``).  :func:`deeprecipe.lab.plotting.plot_band` draws mean ± 95% CI.
4. ``verdict(results)`` returns a :class:`~deeprecipe.lab.Verdict` computed from
   ``results``: build :class:`~deeprecipe.lab.rules.Check` s with ``check_mean``
   (CI over seeds vs a threshold), ``check_diff`` (A − B, paired by seed),
   ``check_value`` / ``check_true`` (deterministic numbers), then ``combine(checks, rule)``.
   Thresholds come from the claim's words, fixed before looking at results; a claim that
   does not hold is a valid result — never tune until it "passes".  Every check must be
   able to come out "does not hold"; an identity that only a bug can break (maxout(z, 0) =
   relu(z), an update rule) is a sanity check: ``combine(checks, rule, sanity=[...])``
   shows it beside the verdict without letting it decide.  When the verdict depends on
   the end state, check convergence (:func:`~deeprecipe.lab.rules.check_converged`).
5. Presets: ``test`` (synthetic data, a few seconds: the test-suite runs it),
   ``quick`` (real data, < 1 minute on 2 CPU cores, still showing the effect),
   ``full`` (the source's settings as CLAIMS.md quotes them).  ``"seeds"`` in a preset is
   the default number of seeds.
6. Add ``tests/lab/test_<id>.py``: the ``test`` preset runs end to end (metrics, figure,
   verdict) and the verdict says "does not hold" for hand-made metrics that contradict
   the claim.  ``tests/lab/helpers.py`` has ``run_test_preset`` for the first part.

Template::

    '''<id>: <the claim in one line> (seed 00x).'''
    import numpy as np

    from ..experiment import Experiment
    from ..rules import check_diff, check_mean, combine
    from ..plotting import plot_band, color


    def run(config, seed, ctx):
        from ..data import image_data
        from ..training import train_classifier
        data = image_data(config["data"], n_train=config["n_train"], n_test=config["n_test"], seed=seed)
        out = {}
        for arm in ("a", "b"):
            out[arm], _model = train_classifier(data, hidden=config["hidden"], epochs=config["epochs"],
                                                seed=seed, progress=ctx.progress, **config[arm])
        return out                      # {"a": {"curves": {...}, "final": {...}}, "b": {...}}


    def plot(results, fig):
        ax = fig.add_subplot(1, 1, 1)
        for i, arm in enumerate(("a", "b")):
            plot_band(ax, None, results.stack(f"{arm}.curves.test_acc"), label=arm, color=color(i))
        ax.set_xlabel("epoch"); ax.set_ylabel("test accuracy"); ax.legend()


    def verdict(results):
        a, b = results.values("a.final.test_acc"), results.values("b.final.test_acc")
        return combine([check_diff("test acc a - b", a, b, ">", 0.0)],
                       rule="a reaches a higher test accuracy than b")


    EXPERIMENT = Experiment(
        id="<id>", title="<short title>", source=("003",),
        claim="<the claim, as the lecture states it>",
        presets={
            "test": dict(data="synthetic", n_train=100, n_test=100, hidden=[16], epochs=2, seeds=2, ...),
            "quick": dict(data="fashion-mnist", n_train=2000, n_test=2000, hidden=[100], epochs=5, seeds=3, ...),
            "full": dict(data="fashion-mnist", n_train=60000, n_test=10000, hidden=[100] * 4, epochs=20, seeds=5, ...),
        },
        run=run, plot=plot, verdict=verdict)
"""
