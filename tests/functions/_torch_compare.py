"""Helpers for the op tests: PyTorch as an oracle, and float64 gradient checks."""
import numpy as np

from deeprecipe.engine import Parameter, Tensor, gradcheck


def _leaves(arrays, dtype):
    """deeprecipe leaves: float arrays become Parameters of ``dtype``, others constants."""
    out = []
    for a in arrays:
        a = np.asarray(a)
        out.append(Parameter(a.astype(dtype)) if a.dtype.kind == "f" else Tensor(a))
    return out


def compare_with_torch(torch, fn, tfn, arrays, dtype=np.float64, tol=1e-10, seed=0):
    """Run ``fn`` on deeprecipe leaves and ``tfn`` on torch leaves built from the same
    arrays; assert that outputs and every float input's gradient agree within ``tol``
    (relative and absolute).  The backward seed is a random array, so every output
    element matters."""
    ours = _leaves(arrays, dtype)
    theirs = []
    for a in arrays:
        a = np.asarray(a)
        if a.dtype.kind == "f":
            theirs.append(torch.tensor(a.astype(dtype), requires_grad=True))
        else:
            theirs.append(torch.tensor(a))
    y = fn(*ours)
    ty = tfn(*theirs)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=tol, atol=tol, err_msg="forward")
    assert y.dtype == np.dtype(dtype)
    gy = np.random.default_rng(seed).standard_normal(y.shape).astype(dtype)
    y.backward(gy)
    ty.backward(torch.tensor(gy))
    for k, (p, tp) in enumerate(zip(ours, theirs)):
        if isinstance(p, Parameter):
            assert p.grad is not None, f"no gradient for input {k}"
            np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=tol, atol=tol,
                                       err_msg=f"gradient of input {k}")


def check_grads(fn, arrays, seed=0, eps=1e-5):
    """Float64 finite-difference check of ``fn`` for every float input (rel err < 1e-6).

    ``eps=1e-5`` balances the central difference's O(eps**2) truncation error against
    its O(1e-16/eps) rounding error, so that tiny gradients are checked meaningfully."""
    leaves = _leaves(arrays, np.float64)
    err = gradcheck(fn, leaves, eps=eps, rtol=1e-6, seed=seed)
    assert err < 1e-6
    return err
