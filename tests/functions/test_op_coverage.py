"""The inventory of the op library: every public op of ``deeprecipe.functions`` is listed
here with the tests that check it (forward reference, float64 gradient check of every
differentiable input, PyTorch in float64 and float32).  A new op fails this test until
it is given those tests and added to the inventory."""
import inspect

import deeprecipe.functions as F
from tests.functions.test_activation import ACTIVATIONS
from tests.functions.test_math import MATH_OPS

# op -> the test module (in tests/functions) holding its forward, gradcheck and torch tests
NN_OPS = {
    "linear": "test_linear_conv_pool",            # linear_forward_matches_formula / _gradcheck / _vs_torch
    "conv2d": "test_linear_conv_pool",            # conv2d_matches_naive_loops / _gradcheck / _vs_torch
    "max_pool2d": "test_linear_conv_pool",        # pool_matches_naive_loops / pool_gradcheck / pool_vs_torch
    "avg_pool2d": "test_linear_conv_pool",
    "batch_norm": "test_normalization",           # train/eval formulas, gradchecks, vs torch over steps
    "layer_norm": "test_normalization",
    "group_norm": "test_normalization",
    "instance_norm": "test_normalization",
    "dropout": "test_dropout",                    # expectation and scaling; gradcheck with a fixed mask
    "softmax_cross_entropy": "test_loss",         # reference, gradcheck (logits and soft targets), torch
    "cross_entropy": "test_loss",                 # the same function
    "nll_loss": "test_loss",
    "binary_cross_entropy_with_logits": "test_loss",
    "mse_loss": "test_loss",
    "l1_loss": "test_loss",
    "huber_loss": "test_loss",
    "accuracy": "test_loss",                      # no gradient: value checks only
}


def test_every_public_op_is_in_the_inventory():
    public = {n for n, v in vars(F).items()
              if not n.startswith("_") and callable(v) and not inspect.isclass(v) and not inspect.ismodule(v)}
    covered = set(NN_OPS)
    covered |= {name for name in public if any(k == name or k.startswith(name + "_") for k in MATH_OPS)}
    covered |= {name for name in public if any(k == name or k.startswith(name + "_") for k in ACTIVATIONS)}
    assert public - covered == set(), "ops without tests in the inventory"
    assert covered - public == set(), "inventory lists ops that F does not have"
    assert F.cross_entropy is F.softmax_cross_entropy
