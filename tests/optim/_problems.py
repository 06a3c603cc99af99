"""Test problems shared by the optimizer tests: an ill-conditioned quadratic, Rosenbrock,
and a tiny MLP whose gradients come from torch autograd (for the oracle tests)."""
from __future__ import annotations

import numpy as np


class Quadratic:
    """f(x) = ½(x − x*)ᵀ A (x − x*), A = Q diag(λ) Qᵀ with eigenvalues 1..cond (20-D, cond 100)."""

    def __init__(self, dim: int = 20, cond: float = 100.0, seed: int = 0):
        rng = np.random.default_rng(seed)
        q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
        self.eigs = np.geomspace(1.0, cond, dim)
        self.A = (q * self.eigs) @ q.T
        self.A = (self.A + self.A.T) / 2
        self.x_star = rng.standard_normal(dim)
        self.x0 = self.x_star + 3.0 * rng.standard_normal(dim)

    def grad(self, x):
        A = self.A.astype(x.dtype, copy=False)
        return A @ (x - self.x_star.astype(x.dtype, copy=False))

    def value(self, x):
        d = np.asarray(x, dtype=np.float64) - self.x_star
        return 0.5 * d @ self.A @ d


def rosenbrock_grad(x):
    a, b = x[0], x[1]
    return np.array([-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)], dtype=x.dtype)


ROSENBROCK_START = np.array([-1.2, 1.0])


def mlp_data(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((16, 5))
    y = rng.integers(0, 3, size=16)
    shapes = {"W1": (8, 5), "b1": (8,), "W2": (3, 8), "b2": (3,)}
    init = {k: rng.standard_normal(s) * (0.5 if k.startswith("W") else 0.1) for k, s in shapes.items()}
    return x, y, init


def mlp_grads(params: dict, x, y):
    """Cross-entropy gradients of a 5-8-3 tanh MLP at ``params`` (NumPy arrays), by hand-written
    backprop in the parameters' dtype (checked against torch autograd in the oracle tests)."""
    dt = params["W1"].dtype
    x = x.astype(dt)
    h = np.tanh(x @ params["W1"].T + params["b1"])
    logits = h @ params["W2"].T + params["b2"]
    z = logits - logits.max(axis=1, keepdims=True)
    prob = np.exp(z)
    prob /= prob.sum(axis=1, keepdims=True)
    prob[np.arange(len(y)), y] -= 1
    d_logits = prob / len(y)
    d_pre = (d_logits @ params["W2"]) * (1 - h * h)
    return {"W1": d_pre.T @ x, "b1": d_pre.sum(0), "W2": d_logits.T @ h, "b2": d_logits.sum(0)}


def torch_mlp_grads(torch, params: dict, x, y):
    """Cross-entropy gradients of a 5-8-3 tanh MLP at ``params`` (torch tensors), by autograd."""
    for p in params.values():
        p.grad = None
    xt = torch.as_tensor(x, dtype=params["W1"].dtype)
    h = torch.tanh(xt @ params["W1"].T + params["b1"])
    logits = h @ params["W2"].T + params["b2"]
    loss = torch.nn.functional.cross_entropy(logits, torch.as_tensor(y))
    loss.backward()
    return {k: p.grad.detach().numpy().copy() for k, p in params.items()}
