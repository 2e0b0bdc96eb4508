r"""Multinomial logit: likelihood, scores, information and a Newton solver.

The engine behind :func:`gvcpanel.models.transition.transition_model`; it knows designs and
category codes, nothing about what the categories mean.

With categories :math:`0, \dots, K-1`, a base category :math:`b` and coefficients
:math:`\beta_j` (p-vectors) for every other category,

.. math::

    P(y_i = j \mid x_i) = \frac{\exp(x_i'\beta_j)}{\sum_{k} \exp(x_i'\beta_k)},
    \qquad \beta_b = 0 .

The parameter vector stacks the :math:`\beta_j` category by category (all terms of the first
non-base category, then the next), which is the order of R's ``coef(nnet::multinom(...))``
read row by row.  The log-likelihood is concave (the logit link is canonical), so Newton's
method with step-halving reaches its maximum from zero when the maximum exists; when it does not
(a category predicted perfectly, quasi-complete separation) the coefficients run off and
:class:`~gvcpanel.errors.ConvergenceError` names the largest.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import linalg
from scipy.special import logsumexp

from gvcpanel.errors import ConvergenceError, SpecificationError

TOLERANCE = 1e-10
MAX_ITERATIONS = 100
MAX_HALVINGS = 40


@dataclass(frozen=True)
class NewtonFit:
    """Maximizer, log-likelihood there and Newton iterations used."""

    params: np.ndarray
    loglik: float
    n_iterations: int


def _others(n_categories: int, base: int) -> list[int]:
    return [k for k in range(n_categories) if k != base]


def linear_predictors(X: np.ndarray, params: np.ndarray, n_categories: int, base: int) -> np.ndarray:
    """n x K matrix of :math:`x_i'\\beta_j` (zero in the base column)."""
    p = X.shape[1]
    B = np.asarray(params, dtype=float).reshape(n_categories - 1, p)
    eta = np.zeros((X.shape[0], n_categories))
    eta[:, _others(n_categories, base)] = X @ B.T
    return eta


def probabilities(X: np.ndarray, params: np.ndarray, n_categories: int, base: int) -> np.ndarray:
    """n x K fitted probabilities (a softmax that cannot overflow)."""
    eta = linear_predictors(X, params, n_categories, base)
    eta -= eta.max(axis=1, keepdims=True)
    weight = np.exp(eta)
    return weight / weight.sum(axis=1, keepdims=True)


def loglik(X: np.ndarray, y: np.ndarray, params: np.ndarray, n_categories: int, base: int) -> float:
    """:math:`\\sum_i x_i'\\beta_{y_i} - \\log\\sum_k \\exp(x_i'\\beta_k)`."""
    eta = linear_predictors(X, params, n_categories, base)
    return float(np.sum(eta[np.arange(y.size), y]) - np.sum(logsumexp(eta, axis=1)))


def scores(X: np.ndarray, y: np.ndarray, params: np.ndarray, n_categories: int, base: int) -> np.ndarray:
    """Per-observation scores, n x (K-1)p: :math:`(1[y_i = j] - p_{ij})\\,x_i` for each j != b."""
    prob = probabilities(X, params, n_categories, base)
    resid = -prob
    resid[np.arange(y.size), y] += 1.0
    others = _others(n_categories, base)
    return np.hstack([X * resid[:, [j]] for j in others])


def information(X: np.ndarray, params: np.ndarray, n_categories: int, base: int) -> np.ndarray:
    """Information :math:`\\sum_i (\\operatorname{diag}(p_i) - p_i p_i') \\otimes x_i x_i'` over j != b.

    For the canonical logit link the observed and the expected information are the same matrix.
    """
    prob = probabilities(X, params, n_categories, base)
    others = _others(n_categories, base)
    p = X.shape[1]
    m = len(others)
    out = np.zeros((m * p, m * p))
    for a, j in enumerate(others):
        for c, k in enumerate(others[a:], start=a):
            weight = prob[:, j] * ((1.0 if j == k else 0.0) - prob[:, k])
            block = X.T @ (X * weight[:, None])
            out[a * p:(a + 1) * p, c * p:(c + 1) * p] = block
            out[c * p:(c + 1) * p, a * p:(a + 1) * p] = block.T
    return out


def newton(
    objective: Callable[[np.ndarray], tuple[float, np.ndarray, np.ndarray]],
    value: Callable[[np.ndarray], float],
    start: np.ndarray,
    names: Sequence[str],
    *,
    tol: float = TOLERANCE,
    max_iter: int = MAX_ITERATIONS,
    what: str = "multinomial logit",
) -> NewtonFit:
    """Maximize a concave log-likelihood by Newton-Raphson with step-halving.

    ``objective(theta)`` returns the log-likelihood, its gradient and the information (minus the
    Hessian); ``value(theta)`` the log-likelihood alone.  Convergence when the full Newton step
    satisfies :math:`\\max_j |\\Delta_j| / (1 + |\\theta_j|) <` ``tol``; that step is applied, so
    the estimates are then accurate to about ``tol**2`` (quadratic convergence).
    """
    theta = np.asarray(start, dtype=float).copy()
    ll = value(theta)
    for iteration in range(1, max_iter + 1):
        _, gradient, info = objective(theta)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", linalg.LinAlgWarning)
                step = linalg.solve(info, gradient, assume_a="pos")
        except (linalg.LinAlgError, ValueError) as e:
            raise ConvergenceError(
                f"the information matrix of the {what} became singular at Newton iteration {iteration}; "
                "a regressor may be constant within the sample, collinear with others, or predict a "
                "category perfectly. Cross-tabulate the outcome against each regressor."
            ) from e
        if np.max(np.abs(step) / (1.0 + np.abs(theta)), initial=0.0) < tol:
            theta = theta + step
            return NewtonFit(theta, value(theta), iteration)
        factor = 1.0
        for _ in range(MAX_HALVINGS):
            candidate = theta + factor * step
            ll_new = value(candidate)
            if np.isfinite(ll_new) and ll_new >= ll - 1e-12 * (1.0 + abs(ll)):
                break
            factor /= 2.0
        else:
            raise ConvergenceError(
                f"step-halving failed to raise the log-likelihood of the {what} at Newton iteration "
                f"{iteration} (log-likelihood {ll:.6g}); the design may be nearly collinear."
            )
        theta, ll = candidate, ll_new
    worst = int(np.argmax(np.abs(theta)))
    raise ConvergenceError(
        f"Newton-Raphson for the {what} did not converge in {max_iter} iterations; the largest "
        f"coefficient is {names[worst]} = {theta[worst]:.3g}, which suggests that it (or a combination "
        "of regressors) predicts an outcome category perfectly (separation). Drop or recode that "
        "regressor, or merge rare categories."
    )


def fit_multinomial(
    X: np.ndarray,
    y: np.ndarray,
    n_categories: int,
    base: int = 0,
    *,
    start: np.ndarray | None = None,
    names: Sequence[str] | None = None,
    tol: float = TOLERANCE,
    max_iter: int = MAX_ITERATIONS,
) -> NewtonFit:
    """Maximum likelihood of the multinomial logit.

    Parameters
    ----------
    X : ndarray
        n x p design (include a column of ones for the intercepts), full column rank.
    y : ndarray
        Category codes 0..K-1; every category should occur (a category that never occurs has no
        finite estimate).
    n_categories : int
        K.
    base : int
        Code of the base category (its coefficients are fixed at zero).
    start : ndarray, optional
        Starting values, length (K-1)p (zeros when omitted).
    names : sequence of str, optional
        Parameter names for error messages.

    Returns
    -------
    NewtonFit
    """
    y = np.asarray(y, dtype=np.int64)
    if n_categories < 2 or not 0 <= base < n_categories:
        raise SpecificationError(f"need at least two categories and a base among them; found K={n_categories}, base={base}.")
    if y.size and (y.min() < 0 or y.max() >= n_categories):
        raise SpecificationError(f"category codes must lie in 0..{n_categories - 1}; found {y.min()}..{y.max()}.")
    k = (n_categories - 1) * X.shape[1]
    names = list(names) if names is not None else [f"theta{j}" for j in range(k)]
    theta0 = np.zeros(k) if start is None else np.asarray(start, dtype=float)

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        return (0.0, scores(X, y, theta, n_categories, base).sum(axis=0),
                information(X, theta, n_categories, base))

    return newton(objective, lambda th: loglik(X, y, th, n_categories, base), theta0, names)


def probability_gradient(x: np.ndarray, prob: np.ndarray, base: int) -> np.ndarray:
    """Jacobian of the K probabilities at one covariate vector x w.r.t. the (K-1)p parameters.

    :math:`\\partial p_j / \\partial \\beta_k = p_j (1[j = k] - p_k)\\, x` for k != b; returns a
    K x (K-1)p array.
    """
    K = prob.size
    others = _others(K, base)
    jac = np.zeros((K, len(others) * x.size))
    for c, k in enumerate(others):
        jac[:, c * x.size:(c + 1) * x.size] = (prob * ((np.arange(K) == k) - prob[k]))[:, None] * x[None, :]
    return jac
