"""The autodiff engine: ``Tensor``, ``Parameter``, ``Function`` and gradient checking."""
from .function import Function  # noqa: F401
from .gradcheck import gradcheck, numerical_grad  # noqa: F401
from .tensor import Parameter, Tensor, as_array, as_tensor, tensor  # noqa: F401
