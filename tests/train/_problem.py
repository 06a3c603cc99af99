"""A tiny training problem shared by the training tests (and the SIGKILL child process)."""
import numpy as np

from deeprecipe import data, nn, optim
from deeprecipe.train import EarlyStopping, LearningRateScheduler, ModelCheckpoint, ReduceLROnPlateau

EPOCHS = 3
BATCH = 16


def make_data():
    x, y = data.spirals(n_per_class=40, classes=3, noise=0.1, seed=0)  # 120 samples, 2-D
    (xt, yt), (xv, yv) = data.train_val_split(x, y, 0.2, seed=0)
    return (xt, yt), (xv, yv)  # 96 train -> 6 batches of 16 per epoch


def make_model():
    # BatchNorm (buffers) and Dropout (random masks) so that resume must restore both.
    return nn.MLP([2, 32, 32, 3], norm="batch", dropout=0.2, init="he", rng=0)


def make_run(ckpt_dir=None, every=None, extra=()):
    """Model, optimizer and callbacks of the reference run (schedule, plateau, early stopping)."""
    model = make_model()
    opt = optim.Adam(model.parameters(), lr=5e-3)
    total = EPOCHS * 6
    cbs = [LearningRateScheduler(lambda o: optim.lr_scheduler.OneCycleLR(o, max_lr=2e-2, total_steps=total), "step"),
           ReduceLROnPlateau(patience=1, factor=0.5),
           EarlyStopping(patience=50, restore_best_weights=True), *extra]
    if ckpt_dir is not None:
        cbs.append(ModelCheckpoint(ckpt_dir, every_n_steps=every))
    return model, opt, cbs


def weights(model):
    return {k: np.array(v) for k, v in model.state_dict().items()}
