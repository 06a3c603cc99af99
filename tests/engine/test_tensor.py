"""Tests for the autodiff engine: Tensor, Function, backward and gradcheck."""
import gc

import numpy as np
import pytest

import deeprecipe as dr
from deeprecipe import F, Parameter, Tensor


def leaf(a, dtype=np.float64):
    return Tensor(np.asarray(a, dtype=dtype), requires_grad=True)


# ---------------------------------------------------------------------------- backward order
def test_chain_of_10000_ops_backpropagates_without_recursion():
    x = leaf([1.0, 2.0])
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    # retain_graph keeps the whole chain alive, so freeing it afterwards is tested too
    y.sum().backward(retain_graph=True)
    np.testing.assert_allclose(x.grad, [1.0001 ** 10_000] * 2, rtol=1e-9)
    del y  # a recursive free of 10,000 nested objects would overflow the C stack
    gc.collect()


def test_diamond_graph_visits_each_function_once_in_topological_order():
    x = leaf([3.0])
    a = x * x            # short branch
    b = F.exp(F.log(x * 2.0)) * 3.0  # long branch back to the same x
    y = a + b + x
    y.backward()
    np.testing.assert_allclose(x.grad, [2 * 3.0 + 6.0 + 1.0])


def test_shared_subexpression_accumulates_from_every_use():
    x = leaf([2.0])
    h = x * 3.0
    y = h * h + h  # h used three times
    y.backward()
    np.testing.assert_allclose(x.grad, [(2 * 6.0 + 1) * 3.0])


# ---------------------------------------------------------------------------- grad mode
def test_no_grad_records_no_graph_and_enable_grad_restores_it():
    x = leaf([1.0, 2.0])
    with dr.no_grad():
        y = x * 2.0 + 1.0
        assert not dr.is_grad_enabled()
        with dr.enable_grad():
            z = x * 2.0
    assert y.creator is None and not y.requires_grad
    assert z.creator is not None and z.requires_grad
    assert dr.is_grad_enabled()
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()


def test_inputs_without_requires_grad_record_no_graph():
    y = Tensor(np.ones(3)) * 2.0
    assert y.creator is None and not y.requires_grad


def test_detach_cuts_the_graph():
    x = leaf([1.0, 2.0])
    y = (x * 3.0).detach() * x
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [3.0, 6.0])


# ---------------------------------------------------------------------------- retain_graph
def test_retain_graph_allows_a_second_backward_and_accumulates():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    np.testing.assert_allclose(x.grad, [2.0, 4.0])
    y.backward()
    np.testing.assert_allclose(x.grad, [4.0, 8.0])


def test_second_backward_without_retain_graph_raises_clear_error():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_graph_is_freed_after_backward():
    x = leaf([1.0])
    h = x * 2.0
    y = h * 3.0
    y.backward()
    assert y.creator.inputs is None and h.creator.inputs is None


# ---------------------------------------------------------------------------- gradient arrays
def test_gradients_of_two_inputs_are_never_the_same_array():
    a, b = leaf(np.ones((2, 3))), leaf(np.ones((2, 3)))
    (a + b).backward(np.ones((2, 3)))
    assert a.grad is not b.grad and not np.shares_memory(a.grad, b.grad)
    a.grad += 1  # an in-place update (as optimizers do) must not leak into b
    np.testing.assert_array_equal(b.grad, np.ones((2, 3)))


def test_broadcast_view_gradients_are_writable_and_separate():
    # sum's backward hands out a broadcast view of one scalar: leaves must own their grad
    a, b = leaf(np.ones((2, 3))), leaf(np.ones((2, 3)))
    (a + b).sum().backward()
    for g in (a.grad, b.grad):
        assert g.flags.writeable and g.flags.c_contiguous and g.shape == (2, 3)
    assert not np.shares_memory(a.grad, b.grad)
    a.grad *= 5
    np.testing.assert_array_equal(b.grad, np.ones((2, 3)))


def test_split_gradients_of_concat_do_not_alias():
    a, b = leaf(np.ones(2)), leaf(np.ones(3))
    F.concat([a, b]).sum().backward()
    assert not np.shares_memory(a.grad, b.grad)


def test_same_tensor_twice_gets_the_sum():
    x = leaf([1.0, 2.0])
    (x + x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])


def test_gradients_accumulate_over_two_backward_calls_out_of_place():
    x = leaf([1.0, 2.0])
    (x * 3.0).sum().backward()
    first = x.grad
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [5.0, 7.0])
    np.testing.assert_array_equal(first, [3.0, 3.0])  # the earlier array was not mutated
    x.zero_grad()
    assert x.grad is None


def test_leaf_grad_takes_the_leaf_dtype():
    x = Tensor(np.ones(3, np.float32), requires_grad=True)
    (x.astype(np.float64) * 2.0).sum().backward()
    assert x.grad.dtype == np.float32


def test_user_gradient_is_copied_not_kept():
    x = leaf([1.0, 2.0])
    g = np.array([1.0, 1.0])
    (x * 1.0).backward(g)
    x.grad += 1
    np.testing.assert_array_equal(g, [1.0, 1.0])


# ---------------------------------------------------------------------------- backward errors
def test_backward_on_non_scalar_without_grad_raises():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"shape \(2,\)"):
        (x * 2.0).backward()


def test_backward_with_wrong_grad_shape_raises():
    x = leaf([1.0, 2.0])
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        (x * 2.0).backward(np.ones(3))


def test_backward_on_leaf_accumulates_directly():
    x = leaf([1.0, 2.0])
    x.backward(np.array([3.0, 4.0]))
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])


def test_function_returning_a_wrong_gradient_shape_is_reported():
    class Bad(dr.Function):
        def forward(self, a):
            return a * 2

        def backward(self, gy):
            return gy[:1]

    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="Bad.backward"):
        Bad()(x).sum().backward()


def test_multi_output_function_with_one_output_used_gets_zeros_for_the_other():
    class Split(dr.Function):
        def forward(self, a):
            return a[:1] * 2, a[1:] * 3

        def backward(self, g0, g1):
            return np.concatenate([g0 * 2, g1 * 3])

    x = leaf([1.0, 1.0, 1.0])
    first, _ = Split()(x)
    first.sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 0.0, 0.0])
    x.grad = None
    _, second = Split()(x)  # the other output dropped entirely
    second.sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 3.0, 3.0])


# ---------------------------------------------------------------------------- dtypes and data
def test_integer_tensor_cannot_require_grad():
    with pytest.raises(TypeError, match="floating-point"):
        Tensor(np.arange(3), requires_grad=True)
    t = Tensor(np.arange(3))
    with pytest.raises(TypeError, match="floating-point"):
        t.requires_grad = True


def test_parameter_is_float_and_requires_grad():
    p = Parameter([1, 2, 3])
    assert p.requires_grad and p.dtype == dr.get_default_dtype()


@pytest.mark.parametrize("data", [np.array(["a", "b"]), np.array([object(), 1], dtype=object),
                                  "text", [1 + 2j], {"a": 1}])
def test_non_numeric_data_raises_type_error(data):
    with pytest.raises(TypeError, match="numeric|convert"):
        Tensor(data)


def test_float32_stays_float32_with_python_scalars():
    x = Tensor(np.ones(3, np.float32))
    for y in (x * 2.0, 2.0 * x, x + 1, 1.0 - x, x / 2.0, 2.0 / x, x ** 2.0, np.float64(2.0) * x, x * np.float64(2)):
        assert y.dtype == np.float32


def test_python_scalars_follow_the_tensor_kind():
    i = Tensor(np.array([1, 2], np.int32))
    assert (i * 2).dtype == np.int32
    assert (i * 2.5).dtype.kind == "f"
    b = Tensor(np.array([True, False]))
    np.testing.assert_array_equal((b * 2).data, [2, 0])  # not True * True
    assert Tensor(1.5).dtype == dr.get_default_dtype()


def test_full_reductions_give_arrays_not_numpy_scalars():
    x = leaf(np.ones((2, 3)))
    for y in (x.sum(), x.mean(), x.max(), F.exp(x.sum()), x.reshape(6)[0]):
        assert isinstance(y.data, np.ndarray) and y.shape == ()


def test_tensor_creation_copies_and_as_tensor_does_not():
    a = np.ones(3)
    t = dr.tensor(a)
    a[0] = 5
    assert t.data[0] == 1
    from deeprecipe.engine import as_tensor
    assert as_tensor(a).data is a


def test_comparisons_give_boolean_arrays_and_tensors_hash_by_identity():
    x = Tensor(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(x > 1.5, [False, True])
    np.testing.assert_array_equal(x == Tensor(np.array([1.0, 0.0])), [True, False])
    assert len({x, Tensor(np.array([1.0, 2.0]))}) == 2


def test_ndarray_on_the_left_defers_to_tensor():
    x = leaf([1.0, 2.0])
    y = np.array([3.0, 4.0]) * x
    assert isinstance(y, Tensor)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])


def test_item_numpy_and_repr():
    x = Tensor(np.array([2.5]))
    assert x.item() == 2.5 and isinstance(x.numpy(), np.ndarray)
    with pytest.raises(ValueError, match="one element"):
        Tensor(np.ones(2)).item()
    assert "requires_grad=True" in repr(leaf([1.0]))


# ---------------------------------------------------------------------------- gradcheck
def test_gradcheck_catches_a_wrong_backward():
    class WrongSquare(dr.Function):
        def forward(self, a):
            self.a = a
            return a * a

        def backward(self, gy):
            return gy * self.a  # should be 2 * a

    x = leaf([1.0, 2.0, 3.0])
    with pytest.raises(AssertionError, match="input 0"):
        dr.gradcheck(lambda t: WrongSquare()(t), [x])
    assert dr.gradcheck(lambda t: t * t, [x]) < 1e-6


def test_gradcheck_needs_float64():
    x = Tensor(np.ones(3, np.float32), requires_grad=True)
    with pytest.raises(TypeError, match="float64"):
        dr.gradcheck(lambda t: t * t, [x])


def test_gradcheck_skips_inputs_without_grad_and_leaves_inputs_unchanged():
    a = leaf([1.0, 2.0])
    c = Tensor(np.array([3.0, 4.0]))
    before = a.data.copy()
    assert dr.gradcheck(lambda u, v: u * v, [a, c]) < 1e-6
    np.testing.assert_array_equal(a.data, before)
    assert c.grad is None
