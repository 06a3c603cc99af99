"""Keras-named training callbacks (see :mod:`.base` for the hook protocol)."""
from .base import Callback, CallbackList  # noqa: F401
from .checkpoint import ModelCheckpoint  # noqa: F401
from .csv_logger import CSVLogger  # noqa: F401
from .divergence import TerminateOnDivergence  # noqa: F401
from .early_stopping import EarlyStopping  # noqa: F401
from .lr import LearningRateScheduler, LRScheduler, ReduceLROnPlateau  # noqa: F401
from .progress import ProgressBar  # noqa: F401
from .terminate import TerminateOnNaN  # noqa: F401
from .tensorboard import TensorBoard  # noqa: F401
from ..history import History  # noqa: F401

__all__ = ["Callback", "CallbackList", "History", "ProgressBar", "EarlyStopping", "LearningRateScheduler",
           "LRScheduler", "ReduceLROnPlateau", "ModelCheckpoint", "CSVLogger", "TerminateOnNaN",
           "TerminateOnDivergence", "TensorBoard"]
