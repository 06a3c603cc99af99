"""Training: ``fit`` / ``evaluate`` / ``predict``, Keras-named callbacks, exact resume, the CLI.

    from deeprecipe import nn, train
    model = nn.MLP([784, 512, 256, 10], init="he")
    history = train.fit(model, (x_train, y_train), val=(x_val, y_val), optimizer="adam", lr=1e-3,
                        epochs=10, batch_size=128, seed=0,
                        callbacks=[train.EarlyStopping(patience=3, restore_best_weights=True),
                                   train.ModelCheckpoint("runs/mlp/checkpoints", every_n_steps=200)])
    history.history["val_accuracy"]                 # one value per epoch
    train.evaluate(model, x_test, y_test)            # {'loss': ..., 'accuracy': ...}
    train.fit(model, ..., resume_from="runs/mlp/checkpoints/last.npz")   # continue exactly
"""
from .callbacks import (  # noqa: F401
    Callback, CallbackList, CSVLogger, EarlyStopping, LearningRateScheduler, LRScheduler, ModelCheckpoint, ProgressBar,
    ReduceLROnPlateau, TensorBoard, TerminateOnDivergence, TerminateOnNaN,
)
from .history import History  # noqa: F401
from .losses import LOSS_NAMES, LOSSES, get_loss  # noqa: F401
from .schedules import SCHEDULES  # noqa: F401
from .checkpoint import load_checkpoint  # noqa: F401
from .evaluation import evaluate, predict  # noqa: F401
from .loop import Trainer, fit  # noqa: F401
from .cuda_graph import CudaGraphError, CudaGraphStep  # noqa: F401
from .config import TrainConfig  # noqa: F401

__all__ = [
    "fit", "evaluate", "predict", "Trainer", "CudaGraphStep", "CudaGraphError", "History", "load_checkpoint",
    "get_loss", "LOSS_NAMES", "LOSSES", "SCHEDULES",
    "TrainConfig", "Callback", "CallbackList", "ProgressBar", "EarlyStopping", "LearningRateScheduler", "LRScheduler",
    "ReduceLROnPlateau", "ModelCheckpoint", "CSVLogger", "TerminateOnNaN", "TerminateOnDivergence", "TensorBoard",
]
