"""``fit`` leaves no reference cycle behind: once the caller drops the model and the
returned History, the optimizer (its state as large as the model, twice for Adam) and the
trainer are freed at once, not whenever Python's cycle collector happens to run."""
import gc
import weakref

import numpy as np

from deeprecipe import nn, optim
from deeprecipe.diagnostics import MonitorCallback
from deeprecipe.train import EarlyStopping, fit


def _fit_and_watch(callbacks=()):
    x = np.random.default_rng(0).random((64, 5), dtype=np.float32)
    y = np.arange(64) % 3
    model = nn.MLP([5, 8, 3], rng=0)
    opt = optim.Adam(model.parameters(), lr=1e-2)
    watch = weakref.ref(opt)
    hist = fit(model, (x, y), val=(x, y), optimizer=opt, epochs=2, batch_size=16, verbose=0, seed=0,
               callbacks=list(callbacks))
    del opt
    return model, hist, watch


def test_optimizer_freed_without_the_cycle_collector():
    was = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        model, hist, watch = _fit_and_watch([EarlyStopping(patience=5)])
        assert len(hist.history["loss"]) == 2
        assert watch() is not None      # the History keeps it (history.optimizer, as Keras keeps .model)
        del model, hist
        assert watch() is None          # freed by reference counting alone
    finally:
        if was:
            gc.enable()


def test_monitor_series_stay_readable_after_fit():
    mon = MonitorCallback(every=1)
    _, hist, _ = _fit_and_watch([mon])
    assert mon.trainer is None                     # released at the end of fit
    assert mon.history is hist                     # the run's History, not an empty one
    assert any(k.startswith("grad_norm") for k in hist.steps)
