"""Neural-network modules (``deeprecipe.nn``), with PyTorch's names, arguments and shapes.

* :class:`Module` — parameters, buffers and submodules in ordered registries,
  ``state_dict``/``load_state_dict``, ``train``/``eval``, ``summary``, forward hooks.
* Layers — ``Linear``, ``Conv2d``, pooling, ``Flatten``, ``Dropout``, batch/layer/group/
  instance norm, ``WeightNorm``, activations (incl. ``PReLU`` and ``Maxout``),
  ``Sequential`` and ``Residual``.
* :mod:`deeprecipe.nn.init` — LeCun, Glorot/Xavier, He/Kaiming, orthogonal, ... in place.
* Builders for experiments — :class:`MLP`, :class:`ConvNet`, :class:`DeepNet` (plain vs residual).
"""
from ..engine.tensor import Parameter  # noqa: F401  (torch users look for nn.Parameter)
from . import init  # noqa: F401
from .layers import (  # noqa: F401
    ELU, AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d, Dropout, Flatten, GroupMax, GroupNorm, Identity,
    InstanceNorm2d, LayerNorm, LeakyReLU, Linear, LogSoftmax, Maxout, MaxPool2d, PReLU, ReLU, Residual,
    Sequential, Sigmoid, Softmax, Softplus, Tanh, WeightNorm,
)
from .catalog import ACTIVATIONS, NORMALIZATIONS  # noqa: F401
from .models import ConvNet, MLP, build_model, make_activation  # noqa: F401
from .deep import DeepNet  # noqa: F401  (after models: it registers itself with build_model)
from .module import IncompatibleKeys, Module, RemovableHandle, StateDictError  # noqa: F401
