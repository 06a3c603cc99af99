"""The classic models the lectures build deep learning on (seeds 002 and 004), with a
scikit-learn-like interface (``fit``, ``predict``, ``predict_proba``, ``score``):

* :class:`GaussianGenerative` — Gaussian class conditionals by maximum likelihood, with one
  covariance per class or one shared (then the posterior is exactly σ(w·x + b));
* :class:`GaussianNB` — the naive Bayes version (diagonal covariance);
* :class:`LogisticRegression` — σ(w·x + b) trained on the cross-entropy by gradient descent
  with the library's engine and optimizers;
* :class:`LinearRegression` — least squares in closed form, or gradient descent on MSE/MAE;
* :func:`lagged` — the design matrix "the last k days → tomorrow".

NumPy only; scikit-learn serves as the tests' oracle.
"""
from .generative import GaussianGenerative, GaussianNB  # noqa: F401
from .lagged import lagged  # noqa: F401
from .linear import LinearRegression  # noqa: F401
from .logistic import LogisticRegression  # noqa: F401

__all__ = ["GaussianGenerative", "GaussianNB", "LinearRegression", "LogisticRegression", "lagged"]
