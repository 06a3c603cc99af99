r"""Logistic regression: the discriminative twin of the shared-covariance Gaussian classifier,
trained by gradient descent on the cross-entropy with the library's engine (seed 002,
"Logistic Regression").

Step 1, the function set: ``f_{w,b}(x) = σ(w·x + b)`` = P(C_1 | x).
Step 2, goodness of a function: the likelihood L(w, b) = Π_n f(x^n)^{ŷ^n} (1 − f(x^n))^{1−ŷ^n};
minimizing −(1/N) ln L is minimizing the mean cross-entropy between the Bernoulli
distributions (ŷ^n, 1 − ŷ^n) and (f(x^n), 1 − f(x^n))::

    L(w, b) = −(1/N) Σ_n [ŷ^n ln f(x^n) + (1 − ŷ^n) ln(1 − f(x^n))]   (+ λ/2 ‖w‖² if l2 = λ)

Step 3, the best function by gradient descent; the gradient is the seed's "neat" result::

    ∂L/∂w_i = −(1/N) Σ_n (ŷ^n − f(x^n)) x_i^n,    w_i ← w_i − η ∂L/∂w_i

With K > 2 classes the function set is ``softmax(W x + b)`` and the loss the categorical
cross-entropy.  Here the gradients come from the engine's backward pass (the fused
``binary_cross_entropy_with_logits`` / ``softmax_cross_entropy``, stable for large |z|),
and the step from ``deeprecipe.optim`` (``'sgd'`` is plain gradient descent).

scikit-learn's ``LogisticRegression(penalty=None)`` minimizes the same loss (times N);
its ``penalty='l2', C=c`` equals ``l2 = 1/(c·N)`` here.
"""
from __future__ import annotations

import numpy as np

from ._engine_fit import gradient_descent
from ._validation import accuracy, as_features, as_labels, check_fitted


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) without overflow for large |z|."""
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


class LogisticRegression:
    """Logistic (K = 2) or softmax (K > 2) regression by gradient descent on the cross-entropy.

    Args:
        l2: λ of the penalty λ/2 ‖W‖² on the weights (not the bias); 0 = none (the lecture).
        optimizer: a ``deeprecipe.optim`` name; ``'sgd'`` (default) is plain gradient descent.
        lr: learning rate η.  Features of very different scales need standardizing first
            (``deeprecipe.data.Standardizer``), or a tiny η.
        max_steps: at most this many updates.
        tol: full-batch training stops when every |∂L/∂θ| ≤ tol.
        batch_size: ``None`` (default) = full batch, as in the lecture; else mini-batches
            reshuffled each epoch with ``seed``.
        optimizer_kwargs: extra hyperparameters of the optimizer (``momentum=0.9``, ...).

    Fitted: ``classes_``, ``coef_`` (1, d) for two classes (the weight of
    ``P(classes_[1] | x) = σ(x·w + b)``) or (K, d), ``intercept_``, ``loss_curve_``
    (training loss per step), ``n_iter_``, ``converged_`` and ``grad_max_`` (largest
    |gradient| entry at the end).  Weights start at zero, so training is deterministic.
    """

    def __init__(self, l2: float = 0.0, optimizer: str = "sgd", lr: float = 0.5, max_steps: int = 1000,
                 tol: float = 1e-6, batch_size: int | None = None, seed: int = 0, optimizer_kwargs=None):
        if not l2 >= 0:
            raise ValueError(f"l2 must be >= 0, got {l2!r}")
        self.l2, self.optimizer, self.lr, self.max_steps = float(l2), optimizer, lr, max_steps
        self.tol, self.batch_size, self.seed = float(tol), batch_size, int(seed)
        self.optimizer_kwargs = dict(optimizer_kwargs or {})
        self.classes_ = None

    def fit(self, x, y) -> LogisticRegression:
        """Train on ``x`` (N, d) and labels ``y`` (N,); returns ``self``."""
        from .. import F, Parameter, Tensor
        x = as_features(x)
        self.classes_, idx = as_labels(y, len(x))
        k, d = len(self.classes_), x.shape[1]
        out = 1 if k == 2 else k
        w = Parameter(np.zeros((out, d)), name="weight")
        b = Parameter(np.zeros(out), name="bias")
        xt = Tensor(x)
        target = idx.astype(np.float64)[:, None] if k == 2 else idx

        def loss_fn(index):
            xb, tb = (xt, target) if index is None else (x[index], target[index])
            logits = F.linear(xb, w, b)
            if k == 2:
                loss = F.binary_cross_entropy_with_logits(logits, tb)
            else:
                loss = F.softmax_cross_entropy(logits, tb)
            if self.l2:
                loss = loss + (0.5 * self.l2) * F.sum(w * w)
            return loss

        r = gradient_descent([w, b], loss_fn, len(x), self.optimizer, self.lr, self.max_steps, self.tol,
                             self.batch_size, self.seed, self.optimizer_kwargs)
        self.coef_, self.intercept_ = np.array(w.data), np.array(b.data)
        self.loss_curve_, self.n_iter_ = r["loss_curve"], r["n_iter"]
        self.converged_, self.grad_max_ = r["converged"], r["grad_max"]
        self.n_features_in_ = d
        return self

    def decision_function(self, x) -> np.ndarray:
        """The linear scores ``x Wᵀ + b``: (N,) for two classes (the log-odds), else (N, K)."""
        check_fitted(self, "classes_")
        x = as_features(x, n_features=self.n_features_in_)
        z = x @ self.coef_.T + self.intercept_
        return z[:, 0] if z.shape[1] == 1 else z

    def predict_proba(self, x) -> np.ndarray:
        """``P(C_k | x)``, shape (N, K): ``[1 − σ(z), σ(z)]`` for two classes, else softmax."""
        z = self.decision_function(x)
        if z.ndim == 1:
            p = _sigmoid(z)
            return np.stack([1.0 - p, p], axis=1)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, x) -> np.ndarray:
        z = self.decision_function(x)
        if z.ndim == 1:
            return self.classes_[(z > 0).astype(np.int64)]
        return self.classes_[np.argmax(z, axis=1)]

    def score(self, x, y) -> float:
        """Mean accuracy on ``(x, y)``."""
        return accuracy(self, x, y)
