"""Concepts that had several owners now have one: the clipping rule, accuracy, the training
checkpoint format and its reader."""
import math

import numpy as np
import pytest

from deeprecipe import Parameter, data, nn, optim, serialization, train
from deeprecipe import functions as F


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # inf·0 in the clipped inf case
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_both_clipping_paths_treat_a_non_finite_norm_alike(bad):
    def grads():
        return [np.array([3.0, bad]), np.array([4.0])]

    a, b = Parameter(np.zeros(2)), Parameter(np.zeros(1))
    a.grad, b.grad = grads()
    total = optim.clip_grad_norm_([a, b], 1.0)
    clip = optim.ClipGradNorm(1.0)
    c, d = Parameter(np.zeros(2)), Parameter(np.zeros(1))
    opt = optim.SGD([c, d], lr=1.0, transforms=[clip])
    c.grad, d.grad = grads()
    opt.step()
    assert (math.isnan(total) and math.isnan(clip.last_norm)) or total == clip.last_norm == math.inf
    # the step taken by the optimizer is minus the clipped gradient: the same numbers
    np.testing.assert_array_equal(-c.data, a.grad)
    np.testing.assert_array_equal(-d.data, b.grad)
    with pytest.raises(RuntimeError, match="NaN or inf"):
        a.grad, b.grad = grads()
        optim.clip_grad_norm_([a, b], 1.0, error_if_nonfinite=True)


def test_accuracy_of_F_and_of_fit_are_the_same_count():
    model = nn.MLP([2, 8, 3], rng=0)
    x, y = data.spirals(n_per_class=30, classes=3, seed=1)
    logits = train.predict(model, x)
    logs = train.evaluate(model, x, y, batch_size=7)
    assert logs["accuracy"] == F.accuracy(logits, y)
    onehot = np.eye(3)[y]
    assert F.accuracy(logits, onehot) == F.accuracy(logits, y)


def test_one_checkpoint_format_and_one_reader(tmp_path):
    x, y = data.spirals(n_per_class=10, classes=3, seed=0)
    model = nn.MLP([2, 4, 3], rng=0)
    train.fit(model, (x, y), epochs=1, batch_size=10, seed=0, verbose=0,
              callbacks=[train.ModelCheckpoint(tmp_path, monitor="loss")])
    # what fit wrote, the general reader restores (model and optimizer), and vice versa
    tree = serialization.load_checkpoint(tmp_path / "last.npz", model=nn.MLP([2, 4, 3], rng=1))
    assert tree["format"] == serialization.CHECKPOINT_FORMAT and tree["global_step"] == tree["step"] == 3
    assert train.load_checkpoint is serialization.load_checkpoint
    hand = tmp_path / "hand.npz"
    serialization.save_checkpoint(hand, model=model, optimizer=optim.Adam(model.parameters()), epoch=1, step=3)
    with pytest.raises(ValueError, match="without fit's loop state"):
        train.fit(model, (x, y), epochs=2, batch_size=10, verbose=0, resume_from=hand)


def test_fit_resumes_from_a_checkpoint_in_the_previous_layout(tmp_path):
    """Format /1 (fit's own layout before the formats were unified) still resumes exactly."""
    import json

    from deeprecipe import load, save
    x, y = data.spirals(n_per_class=10, classes=3, seed=0)

    def run(resume_from=None, epochs=2, cbs=()):
        model = nn.MLP([2, 4, 3], dropout=0.2, rng=0)
        train.fit(model, (x, y), epochs=epochs, batch_size=10, seed=0, verbose=0, callbacks=list(cbs),
                  resume_from=resume_from)
        return model.state_dict()["0.weight"]

    full = run()
    run(epochs=1, cbs=[train.ModelCheckpoint(tmp_path, monitor="loss")])
    tree = load(tmp_path / "last.npz")
    cb = tree.pop("callbacks")
    tree.update(format="deeprecipe.train.checkpoint/1", callback_keys=cb["keys"], callback_states=cb["states"],
                rng=json.dumps(tree["rng"]))
    save(tmp_path / "old.npz", tree)
    np.testing.assert_array_equal(run(resume_from=tmp_path / "old.npz"), full)
