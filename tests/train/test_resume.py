"""Resume: an interrupted run continued from its checkpoint ends bit-identical to an
uninterrupted one (data order, dropout masks, batch-norm buffers, optimizer, schedule and
callback states), also after the training process is killed with SIGKILL mid-epoch."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from deeprecipe import load
from deeprecipe.train import Callback, Trainer, fit

from ._problem import BATCH, EPOCHS, make_data, make_run, weights

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Interrupt(Exception):
    pass


class InterruptAt(Callback):
    def __init__(self, step):
        self.step = step

    def on_train_batch_end(self, batch, logs=None):
        if self.trainer.global_step == self.step:
            raise Interrupt


def reference_run():
    train, val = make_data()
    model, opt, cbs = make_run()
    h = fit(model, train, val=val, optimizer=opt, epochs=EPOCHS, batch_size=BATCH, seed=0, callbacks=cbs, verbose=0)
    return model, opt, h


def assert_same_run(model_a, opt_a, h_a, model_b, opt_b, h_b):
    wa, wb = weights(model_a), weights(model_b)
    assert wa.keys() == wb.keys()
    for k in wa:
        np.testing.assert_array_equal(wa[k], wb[k], err_msg=k)  # bit-identical, buffers included
    sa, sb = opt_a.state_dict()["state"], opt_b.state_dict()["state"]
    for k in sa:
        for name in sa[k]:
            np.testing.assert_array_equal(sa[k][name], sb[k][name])
    assert h_a.epoch == h_b.epoch
    for k in h_a.history:
        np.testing.assert_array_equal(h_a.history[k], h_b.history[k], err_msg=k)


@pytest.mark.parametrize("every,stop_at", [(4, 9), (6, 13)])
def test_resume_after_an_interruption_is_bit_identical(tmp_path, every, stop_at):
    # every=4, stop at 9: the last checkpoint is step 8, mid-epoch 1 (6 steps per epoch);
    # every=6, stop at 13: the last checkpoint is the end of epoch 1 (step 12).
    model_a, opt_a, h_a = reference_run()
    train, val = make_data()
    model, opt, cbs = make_run(tmp_path, every=every, extra=[InterruptAt(stop_at)])
    with pytest.raises(Interrupt):
        fit(model, train, val=val, optimizer=opt, epochs=EPOCHS, batch_size=BATCH, seed=0, callbacks=cbs, verbose=0)
    ck = load(tmp_path / "last.npz")
    assert ck["global_step"] == (stop_at // every) * every
    model_b, opt_b, cbs_b = make_run(tmp_path, every=every)
    h_b = fit(model_b, train, val=val, optimizer=opt_b, epochs=EPOCHS, batch_size=BATCH, seed=123, callbacks=cbs_b,
              verbose=0, resume_from=tmp_path / "last.npz")
    assert_same_run(model_a, opt_a, h_a, model_b, opt_b, h_b)


def test_resuming_a_finished_run_changes_nothing(tmp_path):
    train, val = make_data()
    model, opt, cbs = make_run(tmp_path)
    fit(model, train, val=val, optimizer=opt, epochs=EPOCHS, batch_size=BATCH, seed=0, callbacks=cbs, verbose=0)
    before = weights(model)
    model_b, opt_b, cbs_b = make_run(tmp_path)
    h = fit(model_b, train, val=val, optimizer=opt_b, epochs=EPOCHS, batch_size=BATCH, callbacks=cbs_b, verbose=0,
            resume_from=tmp_path / "last.npz")
    assert len(h.epoch) == EPOCHS
    for k, v in before.items():
        np.testing.assert_array_equal(v, weights(model_b)[k])


def test_resume_refuses_a_checkpoint_of_another_setup(tmp_path):
    train, val = make_data()
    model, opt, cbs = make_run(tmp_path)
    fit(model, train, val=val, optimizer=opt, epochs=1, batch_size=BATCH, seed=0, callbacks=cbs, verbose=0)
    model_b, opt_b, cbs_b = make_run(tmp_path)
    with pytest.raises(ValueError, match="batches per epoch"):
        fit(model_b, train, optimizer=opt_b, epochs=2, batch_size=BATCH * 2, callbacks=cbs_b, verbose=0,
            resume_from=tmp_path / "last.npz")
    from deeprecipe import nn
    other = nn.MLP([2, 5, 3], rng=0)
    with pytest.raises(ValueError, match="does not fit this model"):
        Trainer(other, optimizer="adam", verbose=0).fit(train, epochs=2, batch_size=BATCH,
                                                       resume_from=tmp_path / "last.npz")
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        fit(model_b, train, epochs=1, verbose=0, resume_from=tmp_path / "missing.npz")


CHILD = r"""
import os, sys, time
sys.path.insert(0, {root!r})
from deeprecipe.train import Callback, fit
from tests.train._problem import BATCH, EPOCHS, make_data, make_run

class HangAt(Callback):
    # Runs after the checkpoint of step {step} was written: tell the parent, then hang
    # mid-epoch until it kills us.
    def on_train_batch_begin(self, batch, logs=None):
        if self.trainer.global_step == {step}:
            open({marker!r}, "w").close()
            time.sleep(60)

train, val = make_data()
model, opt, cbs = make_run({ckpt!r}, every=1, extra=[HangAt()])
fit(model, train, val=val, optimizer=opt, epochs=EPOCHS, batch_size=BATCH, seed=0, callbacks=cbs, verbose=0)
print("finished without being killed")
"""


def test_a_run_killed_with_sigkill_mid_epoch_resumes_bit_identical(tmp_path):
    step = 10  # epoch 1, after its 4th batch (6 batches per epoch)
    marker = tmp_path / "hanging"
    ckpt = tmp_path / "ck"
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(root=ROOT, step=step, marker=str(marker), ckpt=str(ckpt)))
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            if proc.poll() is not None:
                out, err = proc.communicate()
                pytest.fail(f"child ended early (rc {proc.returncode}):\n{out.decode()}\n{err.decode()}")
            if time.monotonic() > deadline:
                pytest.fail("child did not reach the kill point")
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert [p.name for p in ckpt.iterdir() if p.name.startswith(".")] == []  # no temporary files left over
    ck = load(ckpt / "last.npz")
    assert (ck["epoch"], ck["batch"], ck["global_step"]) == (1, 4, step)

    train, val = make_data()
    model_b, opt_b, cbs_b = make_run(ckpt, every=1)
    h_b = fit(model_b, train, val=val, optimizer=opt_b, epochs=EPOCHS, batch_size=BATCH, callbacks=cbs_b, verbose=0,
              resume_from=ckpt / "last.npz")
    model_a, opt_a, h_a = reference_run()
    assert_same_run(model_a, opt_a, h_a, model_b, opt_b, h_b)
