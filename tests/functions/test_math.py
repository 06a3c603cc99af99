"""Tests for deeprecipe.functions.math: every op against a NumPy reference, a float64
gradient check for every input, PyTorch as an oracle, and broadcasting properties."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import deeprecipe as dr
from deeprecipe import F, Tensor
from tests.conftest import requires_torch, torch


# ---------------------------------------------------------------------------- helpers
def make_array(spec, rng, dtype=np.float64):
    """An input array from ``(shape, kind)``: 'any' normal, 'pos' in [0.5, 2], 'nonzero'
    |x| in [0.5, 2] with random sign (kinks and poles stay far from finite differences)."""
    shape, kind = spec
    if kind == "any":
        a = rng.standard_normal(shape)
    elif kind == "pos":
        a = rng.uniform(0.5, 2.0, shape)
    elif kind == "nonzero":
        a = rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    else:
        raise ValueError(kind)
    return np.asarray(a, dtype=dtype)


class Case:
    """One row of an op table: ``fn`` on Tensors, ``ref`` on float64 NumPy arrays,
    ``tfn`` on torch tensors (None: torch has no such op)."""

    def __init__(self, fn, specs, ref, tfn=None):
        self.fn, self.specs, self.ref, self.tfn = fn, specs, ref, tfn

    def arrays(self, dtype=np.float64, seed=0):
        rng = np.random.default_rng(seed)
        return [make_array(s, rng, dtype) for s in self.specs]


def check_gradcheck(case):
    xs = [Tensor(a, requires_grad=True) for a in case.arrays()]
    err = dr.gradcheck(case.fn, xs)
    assert err < 1e-6
    # every input got a gradient of its own shape
    for x in xs:
        assert x.grad is not None and x.grad.shape == x.shape


def check_forward(case):
    arrays = case.arrays()
    y = case.fn(*[Tensor(a) for a in arrays])
    expected = np.asarray(case.ref(*[a.copy() for a in arrays]))
    assert isinstance(y, Tensor) and y.shape == expected.shape
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-12)


TOL = {np.float64: 1e-10, np.float32: 1e-5}


def check_torch(case, dtype):
    """Forward values and the gradients of every input agree with PyTorch on CPU."""
    arrays = case.arrays(dtype)
    xs = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    ts = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    y, ty = case.fn(*xs), case.tfn(*ts)
    assert y.dtype == dtype
    w = np.random.default_rng(1).standard_normal(y.shape).astype(dtype)
    y.backward(w)
    ty.backward(torch.tensor(w))
    tol = TOL[dtype]
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=tol, atol=tol)
    for i, (x, t) in enumerate(zip(xs, ts)):
        assert x.grad.dtype == dtype, f"input {i}"
        np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=tol, atol=tol, err_msg=f"input {i}")


# ---------------------------------------------------------------------------- the op table
A34, P34 = ((3, 4), "any"), ((3, 4), "pos")
COND = np.random.default_rng(7).random((3, 4)) > 0.5
MASK = np.array([True, False, True])

MATH_OPS = {
    # elementwise binary, with broadcasting
    "add": Case(F.add, [A34, ((4,), "any")], np.add, torch and torch.add),
    "add_col": Case(F.add, [((3, 1), "any"), ((1, 4), "any")], np.add, torch and torch.add),
    "sub": Case(F.sub, [A34, ((3, 1), "any")], np.subtract, torch and torch.sub),
    "mul": Case(F.mul, [((2, 1, 4), "any"), ((3, 1), "any")], np.multiply, torch and torch.mul),
    "div": Case(F.div, [A34, ((4,), "nonzero")], np.divide, torch and torch.div),
    "pow": Case(F.pow, [P34, ((4,), "any")], np.power, torch and torch.pow),
    # Tensor operators, Python scalars on either side
    "op_radd": Case(lambda a: 2.0 + a, [A34], lambda a: 2.0 + a, lambda a: 2.0 + a),
    "op_rsub": Case(lambda a: 1.5 - a, [A34], lambda a: 1.5 - a, lambda a: 1.5 - a),
    "op_rmul": Case(lambda a: 3.0 * a, [A34], lambda a: 3.0 * a, lambda a: 3.0 * a),
    "op_rdiv": Case(lambda a: 2.0 / a, [((3, 4), "nonzero")], lambda a: 2.0 / a, lambda a: 2.0 / a),
    "op_pow_scalar": Case(lambda a: a ** 3, [A34], lambda a: a ** 3, lambda a: a ** 3),
    "op_rpow": Case(lambda a: 2.0 ** a, [A34], lambda a: 2.0 ** a, lambda a: 2.0 ** a),
    "op_sub_div": Case(lambda a, b: (a - b) / b, [A34, ((3, 4), "nonzero")],
                       lambda a, b: (a - b) / b, lambda a, b: (a - b) / b),
    # elementwise unary
    "neg": Case(F.neg, [A34], np.negative, torch and torch.neg),
    "exp": Case(F.exp, [A34], np.exp, torch and torch.exp),
    "log": Case(F.log, [P34], np.log, torch and torch.log),
    "sqrt": Case(F.sqrt, [P34], np.sqrt, torch and torch.sqrt),
    "abs": Case(F.abs, [((3, 4), "nonzero")], np.abs, torch and torch.abs),
    "clip": Case(lambda a: F.clip(a, -0.5, 0.7), [A34], lambda a: np.clip(a, -0.5, 0.7),
                 lambda a: torch.clamp(a, -0.5, 0.7)),
    "clip_lo": Case(lambda a: F.clip(a, a_min=0.1), [A34], lambda a: np.maximum(a, 0.1),
                    lambda a: torch.clamp(a, min=0.1)),
    "astype": Case(lambda a: F.astype(a, np.float64) * 1.0, [A34], lambda a: a),  # dtypes: see below
    # matrix products, every promotion rule
    "matmul": Case(F.matmul, [((3, 4), "any"), ((4, 2), "any")], np.matmul, torch and torch.matmul),
    "matmul_vec_mat": Case(F.matmul, [((4,), "any"), ((4, 2), "any")], np.matmul, torch and torch.matmul),
    "matmul_mat_vec": Case(F.matmul, [((3, 4), "any"), ((4,), "any")], np.matmul, torch and torch.matmul),
    "matmul_vec_vec": Case(F.matmul, [((4,), "any"), ((4,), "any")], np.matmul, torch and torch.matmul),
    "matmul_batch": Case(F.matmul, [((2, 3, 4), "any"), ((4, 2), "any")], np.matmul, torch and torch.matmul),
    "matmul_bcast": Case(F.matmul, [((2, 1, 2, 3), "any"), ((3, 3, 2), "any")], np.matmul,
                         torch and torch.matmul),
    "op_matmul": Case(lambda a, b: a @ b, [((2, 3), "any"), ((3, 2), "any")], np.matmul,
                      lambda a, b: a @ b),
    # reductions
    "sum": Case(F.sum, [A34], np.sum, torch and torch.sum),
    "sum_axis": Case(lambda a: F.sum(a, dim=1), [A34], lambda a: a.sum(axis=1), lambda a: a.sum(dim=1)),
    "sum_axes_keep": Case(lambda a: F.sum(a, dim=(0, 2), keepdims=True), [((2, 3, 2), "any")],
                          lambda a: a.sum(axis=(0, 2), keepdims=True), lambda a: a.sum(dim=(0, 2), keepdim=True)),
    "sum_neg_axis": Case(lambda a: a.sum(dim=-1, keepdims=True), [A34],
                         lambda a: a.sum(axis=-1, keepdims=True), lambda a: a.sum(dim=-1, keepdim=True)),
    "mean": Case(F.mean, [A34], np.mean, torch and torch.mean),
    "mean_axis": Case(lambda a: F.mean(a, dim=0), [A34], lambda a: a.mean(axis=0), lambda a: a.mean(dim=0)),
    "mean_keep": Case(lambda a: a.mean(dim=(1, 2), keepdims=True), [((2, 3, 2), "any")],
                      lambda a: a.mean(axis=(1, 2), keepdims=True), lambda a: a.mean(dim=(1, 2), keepdim=True)),
    "max": Case(F.max, [A34], np.max, lambda a: a.amax(dim=(0, 1))),
    "max_axis": Case(lambda a: F.max(a, dim=1), [A34], lambda a: a.max(axis=1), lambda a: a.amax(dim=1)),
    "max_keep": Case(lambda a: a.max(dim=0, keepdims=True), [A34], lambda a: a.max(axis=0, keepdims=True),
                     lambda a: a.amax(dim=0, keepdim=True)),
    "min": Case(F.min, [A34], np.min, lambda a: a.amin(dim=(0, 1))),
    "min_axis": Case(lambda a: F.min(a, dim=-1), [A34], lambda a: a.min(axis=-1), lambda a: a.amin(dim=-1)),
    # shapes
    "reshape": Case(lambda a: F.reshape(a, (2, 6)), [A34], lambda a: a.reshape(2, 6), lambda a: a.reshape(2, 6)),
    "reshape_method": Case(lambda a: a.reshape(4, -1), [A34], lambda a: a.reshape(4, -1),
                           lambda a: a.reshape(4, -1)),
    "transpose": Case(F.transpose, [((2, 3, 4), "any")], np.transpose, lambda a: a.permute(2, 1, 0)),
    "transpose_axes": Case(lambda a: F.transpose(a, (1, 2, 0)), [((2, 3, 4), "any")],
                           lambda a: a.transpose(1, 2, 0), lambda a: a.permute(1, 2, 0)),
    "op_T": Case(lambda a: a.T, [A34], lambda a: a.T, lambda a: a.T),
    "permute": Case(lambda a: F.permute(a, 2, 0, 1), [((2, 3, 4), "any")],
                    lambda a: a.transpose(2, 0, 1), lambda a: a.permute(2, 0, 1)),
    "broadcast_to": Case(lambda a: F.broadcast_to(a, (2, 3, 4)), [((3, 1), "any")],
                         lambda a: np.broadcast_to(a, (2, 3, 4)), lambda a: a.expand(2, 3, 4)),
    "sum_to": Case(lambda a: F.sum_to(a, (3, 1)), [((2, 3, 4), "any")],
                   lambda a: a.sum(axis=(0, 2))[:, None], lambda a: a.sum_to_size(3, 1)),
    "getitem_slice": Case(lambda a: a[1:, ::2], [A34], lambda a: a[1:, ::2], lambda a: a[1:, ::2]),
    "getitem_int": Case(lambda a: a[1], [A34], lambda a: a[1], lambda a: a[1]),
    "getitem_none_ellipsis": Case(lambda a: a[None, ..., 2], [A34], lambda a: a[None, ..., 2],
                                  lambda a: a[None, ..., 2]),
    "getitem_repeat": Case(lambda a: a[[0, 0, 2]], [A34], lambda a: a[[0, 0, 2]], lambda a: a[[0, 0, 2]]),
    "getitem_mixed": Case(lambda a: a[:, [1, 1, 3]], [A34], lambda a: a[:, [1, 1, 3]], lambda a: a[:, [1, 1, 3]]),
    "getitem_mask": Case(lambda a: a[MASK], [A34], lambda a: a[MASK], lambda a: a[torch.from_numpy(MASK)]),
    "concat": Case(lambda a, b: F.concat([a, b], dim=1), [((3, 2), "any"), A34],
                   lambda a, b: np.concatenate([a, b], axis=1), lambda a, b: torch.cat([a, b], dim=1)),
    "stack": Case(lambda a, b: F.stack([a, b]), [A34, A34], lambda a, b: np.stack([a, b]),
                  lambda a, b: torch.stack([a, b])),
    "stack_last": Case(lambda a, b: F.stack([a, b], dim=-1), [A34, A34], lambda a, b: np.stack([a, b], -1),
                       lambda a, b: torch.stack([a, b], dim=-1)),
    "where": Case(lambda a, b: F.where(COND, a, b), [A34, ((4,), "any")], lambda a, b: np.where(COND, a, b),
                  lambda a, b: torch.where(torch.from_numpy(COND), a, b)),
}

CASES = [pytest.param(c, id=k) for k, c in MATH_OPS.items()]
TORCH_CASES = [pytest.param(c, id=k) for k, c in MATH_OPS.items() if c.tfn is not None]


@pytest.mark.parametrize("case", CASES)
def test_forward_matches_numpy_reference(case):
    check_forward(case)


@pytest.mark.parametrize("case", CASES)
def test_gradcheck_every_input(case):
    check_gradcheck(case)


@requires_torch
@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", TORCH_CASES)
def test_matches_torch(case, dtype):
    check_torch(case, dtype)


PUBLIC_MATH_OPS = ["abs", "add", "astype", "broadcast_to", "clip", "concat", "div", "exp", "getitem", "log",
                   "matmul", "max", "mean", "min", "mul", "neg", "permute", "pow", "reshape", "stack", "sqrt",
                   "sub", "sum", "sum_to", "transpose", "where"]


@pytest.mark.parametrize("name", PUBLIC_MATH_OPS)
def test_op_table_covers_every_public_math_op(name):
    assert callable(getattr(F, name))
    assert any(k == name or k.startswith(name + "_") for k in MATH_OPS)


# ---------------------------------------------------------------------------- specific semantics
def test_max_ties_share_the_gradient_equally():
    x = Tensor(np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]]), requires_grad=True)
    F.max(x, dim=1).backward(np.array([1.0, 4.0]))
    np.testing.assert_array_equal(x.grad, [[0, 0.5, 0.5], [2.0, 0, 2.0]])
    x.grad = None
    F.min(x).backward()
    np.testing.assert_array_equal(x.grad, [[0, 0, 0], [0, 1, 0]])


def test_reductions_keep_float32_gradients_float32():
    seen = []

    class Spy(dr.Function):  # records the dtype of the gradient flowing back into it
        def forward(self, a):
            return a.copy()

        def backward(self, gy):
            seen.append(gy.dtype)
            return gy

    x = Tensor(np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    for op in (lambda t: F.max(t, dim=1), lambda t: F.min(t), F.sum, lambda t: F.mean(t, dim=0)):
        op(Spy()(x)).backward(np.ones(op(x).shape, np.float32))
    assert seen == [np.float32] * 4
    assert x.grad.dtype == np.float32


def test_getitem_repeated_indices_accumulate():
    x = Tensor(np.arange(4.0), requires_grad=True)
    F.getitem(x, [0, 0, 3, 0]).sum().backward()
    np.testing.assert_array_equal(x.grad, [3, 0, 0, 1])


def test_getitem_basic_and_mask_gradients_are_zero_elsewhere():
    x = Tensor(np.zeros((3, 4)), requires_grad=True)
    x[1:, 2].sum().backward()
    expected = np.zeros((3, 4))
    expected[1:, 2] = 1
    np.testing.assert_array_equal(x.grad, expected)
    x.grad = None
    mask = np.array([[True, False, False, True]] * 3)
    (x[mask] * 2.0).sum().backward()
    np.testing.assert_array_equal(x.grad, 2.0 * mask)
    # indexing with a Tensor of integers
    x.grad = None
    x[Tensor(np.array([2, 2]))].sum().backward()
    np.testing.assert_array_equal(x.grad, [[0] * 4, [0] * 4, [2] * 4])


def test_getitem_out_of_range_raises_index_error_with_shape():
    with pytest.raises(IndexError, match=r"\(3, 4\)"):
        Tensor(np.zeros((3, 4)))[5]


def test_pow_gradient_at_zero_base():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = Tensor(np.array([0.0, 0.0, 2.0]), requires_grad=True)
        e = Tensor(np.array([0.0, 2.0, 0.0]), requires_grad=True)
        y = x ** e
        y.backward(np.ones(3))
    np.testing.assert_array_equal(y.data, [1.0, 0.0, 1.0])
    # d/dx x^0 = 0 (not 0 * inf), d/dx x^2 = 2x; d/de x^e = x^e log x, 0 at x = 0
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0])
    np.testing.assert_allclose(e.grad, [0.0, 0.0, np.log(2.0)])


def test_abs_and_clip_subgradients_match_torch_convention():
    x = Tensor(np.array([-1.0, 0.0, 2.0]), requires_grad=True)
    F.abs(x).sum().backward()
    np.testing.assert_array_equal(x.grad, [-1.0, 0.0, 1.0])
    x = Tensor(np.array([-1.0, -0.5, 0.0, 0.5, 1.0]), requires_grad=True)
    F.clip(x, -0.5, 0.5).sum().backward()  # gradient 1 on the bounds themselves
    np.testing.assert_array_equal(x.grad, [0, 1, 1, 1, 0])


def test_where_accepts_list_and_tensor_conditions():
    a, b = Tensor(np.ones(3), requires_grad=True), Tensor(np.zeros(3), requires_grad=True)
    y = F.where([True, False, True], a, b)
    np.testing.assert_array_equal(y.data, [1, 0, 1])
    y.sum().backward()
    np.testing.assert_array_equal(a.grad, [1, 0, 1])
    np.testing.assert_array_equal(b.grad, [0, 1, 0])
    y2 = F.where(Tensor(np.array([0, 1, 0])), a, 5.0)
    np.testing.assert_array_equal(y2.data, [5, 1, 5])


def test_astype_converts_the_gradient_back():
    x = Tensor(np.ones(3, np.float32), requires_grad=True)
    y = x.astype(np.float64)
    assert y.dtype == np.float64
    (y * 2.0).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [2, 2, 2])


@requires_torch
@pytest.mark.torch
@pytest.mark.parametrize("src, dst", [(np.float32, np.float64), (np.float64, np.float32)])
def test_astype_matches_torch(src, dst):
    """astype is torch's ``.to(dtype)``: the same values, and the gradient cast back."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4)).astype(src)
    x, t = Tensor(a.copy(), requires_grad=True), torch.tensor(a.copy(), requires_grad=True)
    y = F.astype(x, dst) * 3.0
    ty = t.to(torch.float64 if dst == np.float64 else torch.float32) * 3.0
    w = rng.standard_normal(y.shape).astype(dst)
    y.backward(w)
    ty.backward(torch.tensor(w))
    assert y.dtype == dst and x.grad.dtype == src
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())  # casts and *3 round identically
    np.testing.assert_array_equal(x.grad, t.grad.numpy())


@pytest.mark.parametrize("make, message", [
    (lambda: F.matmul(Tensor(np.ones((2, 3))), Tensor(np.ones((4, 2)))), r"matmul.*\(2, 3\).*\(4, 2\)"),
    (lambda: F.matmul(Tensor(np.ones(3)), Tensor(np.float64(2.0))), "matmul"),
    (lambda: F.reshape(Tensor(np.ones((2, 3))), (4, 2)), r"reshape.*\(2, 3\).*\(4, 2\)"),
    (lambda: F.transpose(Tensor(np.ones((2, 3))), (0, 0)), "transpose"),
    (lambda: F.broadcast_to(Tensor(np.ones((2, 3))), (3, 3)), r"broadcast_to.*\(2, 3\).*\(3, 3\)"),
    (lambda: F.sum_to(Tensor(np.ones((2, 3))), (4,)), r"sum_to.*\(2, 3\).*\(4,\)"),
    (lambda: F.concat([Tensor(np.ones((2, 3))), Tensor(np.ones((3, 2)))]), "concat"),
    (lambda: F.stack([Tensor(np.ones(2)), Tensor(np.ones(3))]), "stack"),
    (lambda: F.concat([]), "concat"),
    (lambda: F.clip(Tensor(np.ones(2))), "clip"),
    (lambda: F.max(Tensor(np.ones((0, 3)))), "empty"),
    (lambda: F.sum(Tensor(np.ones((2, 3))), dim=2), "axis"),
])
def test_bad_arguments_raise_value_error_naming_the_problem(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_float32_stays_float32_through_math_ops():
    x = Tensor(np.ones((2, 3), np.float32) * 2, requires_grad=True)
    outs = [x * 2.0, 2.0 * x, x + 1, 1 - x, x / 3.0, 3.0 / x, x ** 2, 2.0 ** x, -x, F.exp(x), F.log(x),
            F.sqrt(x), F.mean(x), F.sum(x, dim=0), F.max(x), F.clip(x, 0.0, 1.0), x @ x.T,
            F.where(np.ones((2, 3), bool), x, 0.0)]
    assert [o.dtype for o in outs] == [np.float32] * len(outs)


# ---------------------------------------------------------------------------- broadcasting properties
def COND_OF(shape):
    return np.random.default_rng(3).random(shape) > 0.5


BINARY = {
    "add": (F.add, np.add),
    "sub": (F.sub, np.subtract),
    "mul": (F.mul, np.multiply),
    "div": (F.div, np.divide),
    "pow": (F.pow, np.power),
    # the condition has the first operand's shape, so that both operands get gradient
    "where": (lambda a, b: F.where(COND_OF(a.shape), a, b), lambda a, b: np.where(COND_OF(a.shape), a, b)),
}


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(sorted(BINARY)), shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4,
                                                                                        max_side=3))
def test_binary_ops_broadcast_like_numpy(name, shapes):
    fn, ref = BINARY[name]
    s0, s1 = shapes.input_shapes
    rng = np.random.default_rng(0)
    a = Tensor(rng.uniform(1, 2, s0), requires_grad=True)
    b = Tensor(rng.uniform(1, 2, s1), requires_grad=True)
    y = fn(a, b)
    assert y.shape == np.broadcast_shapes(s0, s1) == shapes.result_shape
    np.testing.assert_allclose(y.data, ref(a.data, b.data))
    y.backward(np.ones(y.shape))
    assert a.grad.shape == s0 and b.grad.shape == s1
    # d(sum y)/da counts how many outputs each element of a reaches (for add)
    if name == "add":
        n = int(np.prod(y.shape)) // int(np.prod(s0))
        np.testing.assert_allclose(a.grad, np.full(s0, float(n)))


def _incompatible(shapes):
    try:
        np.broadcast_shapes(*shapes)
        return False
    except ValueError:
        return True


@settings(max_examples=30, deadline=None)
@given(name=st.sampled_from(sorted(BINARY)),
       shapes=st.tuples(hnp.array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=4),
                        hnp.array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=4)).filter(_incompatible))
def test_incompatible_shapes_raise_value_error_naming_op_and_shapes(name, shapes):
    s0, s1 = shapes
    a, b = Tensor(np.ones(s0)), Tensor(np.ones(s1))
    fn = F.where if name == "where" else BINARY[name][0]
    with pytest.raises(ValueError) as info:
        fn(True, a, b) if name == "where" else fn(a, b)
    msg = str(info.value)
    assert name in msg and str(s0) in msg and str(s1) in msg


# ---------------------------------------------------------------------------- matmul properties
@settings(max_examples=30, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=2, max_side=3))
def test_matmul_broadcasts_and_differentiates_like_numpy(shapes):
    """Every promotion rule (1-D operands) and batch broadcast NumPy allows, with gradients
    checked by finite differences."""
    s0, s1 = shapes.input_shapes
    rng = np.random.default_rng(0)
    a = Tensor(rng.standard_normal(s0), requires_grad=True)
    b = Tensor(rng.standard_normal(s1), requires_grad=True)
    y = F.matmul(a, b)
    expected = np.matmul(a.data, b.data)
    assert y.shape == expected.shape == shapes.result_shape
    np.testing.assert_allclose(y.data, expected, rtol=1e-12, atol=1e-12)
    assert dr.gradcheck(F.matmul, [a, b]) < 1e-6
    assert a.grad.shape == s0 and b.grad.shape == s1


@settings(max_examples=30, deadline=None)
@given(batch=hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=3), m=st.integers(1, 3),
       n=st.integers(1, 4), k=st.integers(1, 4), p=st.integers(1, 3))
def test_matmul_misaligned_shapes_raise_value_error_naming_both(batch, m, n, k, p):
    s0, s1 = batch + (m, n), (k, p) if n != k else (k + 1, p)
    with pytest.raises(ValueError) as info:
        F.matmul(Tensor(np.ones(s0)), Tensor(np.ones(s1)))
    msg = str(info.value)
    assert "matmul" in msg and str(s0) in msg and str(s1) in msg


@settings(max_examples=30, deadline=None)
@given(shapes=st.tuples(hnp.array_shapes(min_dims=1, max_dims=2, min_side=2, max_side=4),
                        hnp.array_shapes(min_dims=1, max_dims=2, min_side=2, max_side=4)).filter(_incompatible))
def test_matmul_incompatible_batch_shapes_raise_value_error_naming_both(shapes):
    s0, s1 = shapes[0] + (2, 3), shapes[1] + (3, 2)
    with pytest.raises(ValueError) as info:
        F.matmul(Tensor(np.ones(s0)), Tensor(np.ones(s1)))
    msg = str(info.value)
    assert "matmul" in msg and str(s0) in msg and str(s1) in msg


@pytest.mark.parametrize("op, args, kw", [
    (F.sum, (), {"axis": 1}), (F.mean, (), {"axis": 0}), (F.max, (), {"axis": 1}), (F.min, (), {"axis": -1}),
    (F.softmax, (), {"axis": 0}), (F.log_softmax, (), {"axis": 1}), (F.maxout, (2,), {"axis": 0}),
])
def test_axis_is_a_deprecated_alias_of_dim(op, args, kw):
    """Code written against the old name keeps working (same numbers) while it migrates."""
    x = Tensor(np.arange(12.0).reshape(4, 3))
    with pytest.warns(DeprecationWarning, match="use dim="):
        old = op(x, *args, **kw)
    new = op(x, *args, dim=kw["axis"])
    np.testing.assert_array_equal(old.data, new.data)
    with pytest.raises(TypeError, match="both dim"), pytest.warns(DeprecationWarning):
        op(x, *args, dim=5, axis=kw["axis"])
    with pytest.warns(DeprecationWarning):
        np.testing.assert_array_equal(F.concat([x, x], axis=1).data, F.concat([x, x], dim=1).data)
        np.testing.assert_array_equal(x.sum(axis=0).data, x.sum(dim=0).data)
