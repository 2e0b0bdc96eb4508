"""The binomial likelihood with complementary log-log and logit links: one home for it.

Maximum likelihood by Newton-Raphson with step-halving (:func:`fit_binary`), refits under linear
restrictions (:func:`fit_restricted`, which the score bootstrap needs), per-observation scores
(:func:`score_matrix`) and the observed information (:func:`information_matrix`), all from the
derivatives written out in :func:`derivatives`.  Every function takes ``weights=`` (a weighted
log-likelihood :math:`\\sum_i w_i \\ell_i`: frequency weights, or probability weights with a
sandwich covariance).

Both log-likelihoods are concave in the linear predictor (the Gumbel and logistic distribution
functions and their complements are log-concave), so Newton steps with step-halving reach the
maximum from any start when it exists; when it does not (separation) the iterations run off and
:class:`~gvcpanel.errors.ConvergenceError` names the coefficient that diverges.  The passes over
the rows are compiled (:mod:`gvcpanel.kernels`: one pass per Newton iteration for the
predictor, derivatives, gradient and information together) because models on risk sets of
millions of rows need scores and restricted refits, not only estimates; :func:`derivatives`
is the same arithmetic in NumPy, kept as the readable reference the kernels are tested against.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import linalg

from gvcpanel import kernels
from gvcpanel.errors import ConvergenceError, SpecificationError

LINKS = ("cloglog", "logit")
TOLERANCE = 1e-10
MAX_ITERATIONS = 100
MAX_HALVINGS = 40
# exp(eta) overflows beyond ~709; a hazard with eta > 700 is 1 to machine precision anyway
_ETA_CAP = 700.0


@dataclass(frozen=True)
class BinaryFit:
    """Estimates, log-likelihood at them, the number of Newton iterations used, and from the
    same pass the observed information and the score factors :math:`w_i \\ell'(\\eta_i)` at the
    estimates (:class:`BinaryScores` of the fit are ``BinaryScores(design, derivative)``)."""

    params: np.ndarray
    loglik: float
    n_iterations: int
    information: np.ndarray | None = None
    derivative: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class BinaryDesign:
    """The design :math:`[X, D]` of a binary model: dense columns and indicators of level codes.

    ``D`` holds one 0/1 column per level of ``codes`` (baseline-period dummies) and is never
    formed: the kernels add ``beta[p + codes[i]]`` to the predictor and sum that block by level.
    Parameters are ordered as the columns, the dense ones first.

    Attributes
    ----------
    X : ndarray
        n x p dense columns, Fortran-ordered float64 (the kernels read column by column).
    codes : ndarray, optional
        Level per row, int64 ``0..n_levels-1`` (None: no indicator block).
    n_levels : int
        Indicator columns.
    """

    X: np.ndarray
    codes: np.ndarray | None = None
    n_levels: int = 0

    @property
    def shape(self) -> tuple[int, int]:
        return (self.X.shape[0], self.X.shape[1] + self.n_levels)

    def dense(self) -> np.ndarray:
        """The full n x (p + n_levels) design as a new Fortran-ordered array."""
        n, p = self.X.shape
        out = np.zeros((n, p + self.n_levels), order="F")
        out[:, :p] = self.X
        if self.n_levels:
            out[np.arange(n), p + self.codes] = 1.0
        return out

    def __matmul__(self, b: np.ndarray) -> np.ndarray:
        """:math:`[X, D] b` for a vector or matrix ``b`` without forming D."""
        b = np.asarray(b, dtype=np.float64)
        p = self.X.shape[1]
        out = self.X @ b[:p]
        if self.n_levels:
            out += b[p:][self.codes]
        return out


class BinaryScores:
    """Per-observation scores :math:`s_i = u_i [x_i, d_i]` held as their factors.

    ``u`` is the (weighted) derivative of the log-likelihood in the linear predictor and
    :math:`[x_i, d_i]` the row of a :class:`BinaryDesign`.  The n x k matrix is formed only when
    asked for (``numpy.asarray(scores)``); cluster sums, which every sandwich needs, are taken
    from the factors (:meth:`group_sums`), so a model on millions of rows keeps n + n x p
    numbers instead of n x (p + levels).
    """

    def __init__(self, design: BinaryDesign, u: np.ndarray) -> None:
        self.design = design
        self.u = u

    @property
    def shape(self) -> tuple[int, int]:
        return self.design.shape

    @property
    def ndim(self) -> int:
        return 2

    def __len__(self) -> int:
        return self.design.shape[0]

    def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
        out = self.design.dense()
        out *= self.u[:, None]
        return out if dtype is None else out.astype(dtype, copy=False)

    def sum(self, axis: int | None = None) -> np.ndarray:
        return np.asarray(self).sum(axis=axis)

    def group_sums(self, codes: np.ndarray, n_groups: int) -> np.ndarray:
        """:math:`\\sum_{i \\in g} s_i` for groups ``codes`` (0..G-1): G x k."""
        d = self.design
        codes = kernels.as_codes(codes)
        dense = kernels.score_sums(d.X, self.u, codes, n_groups)
        if not d.n_levels:
            return np.ascontiguousarray(dense)
        levels = np.bincount(codes * d.n_levels + d.codes, weights=self.u,
                             minlength=n_groups * d.n_levels).reshape(n_groups, d.n_levels)
        return np.hstack([dense, levels])


def crossprod(X: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """:math:`X' W X` for a tall design in one compiled pass (:func:`gvcpanel.kernels.crossprod`).

    Rows are summed in fixed chunks on every core; no BLAS call, so no threaded BLAS that
    spin-waits on a busy machine, and no weighted copy of the design.
    """
    return kernels.crossprod(_floats(X), kernels.as_weights(weights))


def _floats(X: np.ndarray) -> np.ndarray:
    """The design as a Fortran-ordered float64 array: the kernels read it column by column."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    return X if X.flags.f_contiguous else np.asfortranarray(X)


def as_design(X: np.ndarray | BinaryDesign, indicators: np.ndarray | None = None) -> BinaryDesign:
    """A :class:`BinaryDesign` from one, or from a dense design whose last columns are the
    indicators of ``indicators`` (codes ``0..m-1``; the dense form of earlier versions)."""
    if isinstance(X, BinaryDesign):
        return X
    X = _floats(X)
    if indicators is None:
        return BinaryDesign(X)
    n_levels = int(indicators.max()) + 1 if indicators.size else 0
    return BinaryDesign(X[:, : X.shape[1] - n_levels], kernels.as_codes(indicators), n_levels)


def _pass(design: BinaryDesign, y: np.ndarray, offset: np.ndarray, beta: np.ndarray, code: int,
          weights: np.ndarray, order: int) -> tuple[float, np.ndarray, np.ndarray]:
    """One compiled pass: (log-likelihood, gradient, information) at ``beta``."""
    if design.n_levels:
        return kernels.binary_pass_indicators(design.X, design.codes, design.n_levels, y, offset, beta, code,
                                              weights, order)
    return kernels.binary_pass(design.X, y, offset, beta, code, weights, order)


def _link_code(link: str) -> int:
    if link not in LINKS:
        raise SpecificationError(f"link={link!r} is not known; choose one of {', '.join(LINKS)}.")
    return kernels.CLOGLOG if link == "cloglog" else kernels.LOGIT


def _vector(values: np.ndarray | None) -> np.ndarray:
    return kernels.NO_WEIGHTS if values is None else np.ascontiguousarray(values, dtype=np.float64)


def derivatives(eta: np.ndarray, y: np.ndarray, link: str, order: int = 2) -> tuple[np.ndarray, ...]:
    """Per-observation log-likelihood and its first (and second) derivatives in ``eta``.

    Notes
    -----
    Complementary log-log, with :math:`e = \\exp(\\eta)`, survival :math:`q = \\exp(-e)` and hazard
    :math:`p = 1 - q` computed as ``-expm1(-e)`` so that small hazards keep full precision:

    .. math::

        \\ell = y \\log p - (1 - y) e, \\qquad
        \\ell' = y \\frac{e q}{p} - (1 - y) e, \\qquad
        \\ell'' = y \\frac{e q (p - e)}{p^2} - (1 - y) e .

    :math:`p - e = -(e^2/2 - e^3/6 + e^4/24 - \\dots)` cancels for small :math:`e` and is then taken
    from its series.  Logit: :math:`\\ell = y\\eta - \\log(1 + e^{\\eta})`, :math:`\\ell' = y - \\mu`,
    :math:`\\ell'' = -\\mu(1 - \\mu)`.
    """
    eta = np.minimum(eta, _ETA_CAP)
    if link == "logit":
        mu = 0.5 * (1.0 + np.tanh(0.5 * eta))  # the logistic function without overflow
        ll = y * eta - np.logaddexp(0.0, eta)
        if order == 0:
            return (ll,)
        d1 = y - mu
        return (ll, d1) if order == 1 else (ll, d1, -mu * (1.0 - mu))
    # non-events contribute -e to all three; the event formulas run on the (usually few) events
    e = np.exp(eta)
    event = np.flatnonzero(y > 0.5)
    e_ev = e[event]
    p = -np.expm1(-e_ev)
    ll = -e
    with np.errstate(divide="ignore"):
        ll[event] = np.log(p)
    if order == 0:
        return (ll,)
    positive = p > 0
    p_safe = np.where(positive, p, 1.0)
    ratio = np.where(positive, e_ev * np.exp(-e_ev) / p_safe, 1.0)  # e q / p -> 1 as e -> 0
    d1 = -e
    d1[event] = ratio
    if order == 1:
        return ll, d1
    series = -(e_ev * e_ev) * (0.5 - e_ev / 6.0 + e_ev * e_ev / 24.0 - e_ev**3 / 120.0)
    p_minus_e = np.where(e_ev < 1e-3, series, p - e_ev)
    d2 = -e
    d2[event] = np.where(positive, ratio * p_minus_e / p_safe, 0.0)
    return ll, d1, d2


def score_matrix(
    X: np.ndarray | BinaryDesign,
    y: np.ndarray,
    params: np.ndarray,
    link: str,
    offset: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Per-observation scores, n x k: :math:`s_i = w_i x_i \\ell'(\\eta_i)` (:math:`w_i = 1` unweighted)."""
    if isinstance(X, BinaryDesign):
        return np.asarray(factored_scores(X, y, params, link, offset, weights))
    X = _floats(X)
    out = np.empty(X.shape, order="F")
    kernels.binary_scores(X, _vector(y), _vector(offset), _vector(params), _link_code(link), _vector(weights), out)
    return out


def factored_scores(
    design: BinaryDesign,
    y: np.ndarray,
    params: np.ndarray,
    link: str,
    offset: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> BinaryScores:
    """:func:`score_matrix` as :class:`BinaryScores`: the derivatives :math:`w_i \\ell'(\\eta_i)`
    (one compiled pass) beside the design, the n x k matrix not formed."""
    u = kernels.binary_derivative(design.X, design.codes if design.n_levels else kernels.NO_CODES, _vector(y),
                                  _vector(offset), _vector(params), _link_code(link), _vector(weights))
    return BinaryScores(design, u)


def information_matrix(
    X: np.ndarray | BinaryDesign,
    y: np.ndarray,
    params: np.ndarray,
    link: str,
    offset: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    indicators: np.ndarray | None = None,
) -> np.ndarray:
    """Observed information :math:`-\\sum_i w_i \\ell''(\\eta_i) x_i x_i'` (Hessian of minus the log-likelihood).

    ``indicators``: as in :func:`fit_binary`.
    """
    return _pass(as_design(X, indicators), _vector(y), _vector(offset), _vector(params), _link_code(link),
                 _vector(weights), 2)[2]


def log_likelihood(
    X: np.ndarray | BinaryDesign,
    y: np.ndarray,
    params: np.ndarray,
    link: str,
    offset: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> float:
    """:math:`\\sum_i w_i \\ell(\\eta_i)` at ``params``."""
    return float(_pass(as_design(X), _vector(y), _vector(offset), _vector(params), _link_code(link),
                       _vector(weights), 0)[0])


def fit_binary(
    X: np.ndarray | BinaryDesign,
    y: np.ndarray,
    link: str,
    *,
    start: np.ndarray | None = None,
    offset: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    names: Sequence[str] | None = None,
    tol: float = TOLERANCE,
    max_iter: int = MAX_ITERATIONS,
    indicators: np.ndarray | None = None,
) -> BinaryFit:
    """Maximize the (weighted) binary log-likelihood by Newton-Raphson with step-halving.

    Parameters
    ----------
    X : ndarray or BinaryDesign
        n x k design of full column rank (a :class:`BinaryDesign` keeps indicator columns as
        codes).
    y : ndarray
        0/1 outcomes.
    link : {"cloglog", "logit"}
    start : ndarray, optional
        Starting values (zeros when omitted).
    offset : ndarray, optional
        Known part of the linear predictor (the log interval length of a grouped-duration
        hazard; refits under restrictions).
    weights : ndarray, optional
        Non-negative weight per row: the weighted log-likelihood :math:`\\sum_i w_i \\ell_i` is
        maximized (frequency weights: the same as replicating row i :math:`w_i` times; probability
        weights with a sandwich covariance).
    names : sequence of str, optional
        Column names, used in error messages.
    tol : float
        Convergence when the full Newton step satisfies
        :math:`\\max_j |\\Delta_j| / (1 + |b_j|) < tol`; that step is still applied, so with
        Newton's quadratic convergence the estimates are then accurate to about ``tol**2``.
    max_iter : int
        Newton iterations allowed.
    indicators : ndarray, optional
        Codes ``0..m-1`` per row when the last m columns of ``X`` are their indicators (baseline
        dummies): the same fit, with that block summed by level instead of read.

    Returns
    -------
    BinaryFit

    Notes
    -----
    Each Newton iteration is one compiled pass over the rows (:func:`gvcpanel.kernels.binary_pass`:
    predictor, log-likelihood, gradient and information together) at the trial point; a
    rejected trial (step-halving) costs one more pass.  The last pass, at the estimates, also
    writes the score factors (:attr:`BinaryFit.derivative`), so the scores need no pass of
    their own.
    """
    code = _link_code(link)
    design = as_design(X, indicators)
    k = design.shape[1]
    names = list(names) if names is not None else [f"x{j}" for j in range(k)]
    beta = np.zeros(k) if start is None else np.asarray(start, dtype=float).copy()
    y_vec, offset_vec, weight_vec = _vector(y), _vector(offset), _vector(weights)

    def evaluate(b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        return _pass(design, y_vec, offset_vec, b, code, weight_vec, 2)

    # every trial point is evaluated with its gradient and information: an accepted step (the
    # rule) then needs no second pass for the next Newton step, and the converged one gives the
    # information the covariance uses
    ll, gradient, hessian = evaluate(beta)
    ll = float(ll)
    for iteration in range(1, max_iter + 1):
        try:
            with warnings.catch_warnings():
                # near separation the information is ill-conditioned; the iteration limit below
                # turns a run-off into a ConvergenceError naming the coefficient
                warnings.simplefilter("ignore", linalg.LinAlgWarning)
                step = linalg.solve(hessian, gradient, assume_a="pos")
        except (linalg.LinAlgError, ValueError) as e:
            raise ConvergenceError(
                f"the information matrix became singular at Newton iteration {iteration} ({link} link); "
                "a regressor may perfectly predict the events or non-events. Check the "
                "cross-tabulation of events against each regressor."
            ) from e
        if np.max(np.abs(step) / (1.0 + np.abs(beta))) < tol:
            beta = beta + step
            derivative = np.empty(design.shape[0])
            ll, _, hessian = kernels.binary_pass_with_derivative(
                design.X, design.codes if design.n_levels else kernels.NO_CODES, design.n_levels, y_vec,
                offset_vec, beta, code, weight_vec, derivative)
            return BinaryFit(beta, float(ll), iteration, hessian, derivative)
        factor = 1.0
        for _ in range(MAX_HALVINGS):
            candidate = beta + factor * step
            ll_new, gradient_new, hessian_new = evaluate(candidate)
            ll_new = float(ll_new)
            if np.isfinite(ll_new) and ll_new >= ll - 1e-12 * (1.0 + abs(ll)):
                break
            factor /= 2.0
        else:
            raise ConvergenceError(
                f"step-halving failed to raise the log-likelihood at Newton iteration {iteration} "
                f"({link} link, log-likelihood {ll:.6g}); the design may be nearly collinear."
            )
        beta, ll, gradient, hessian = candidate, ll_new, gradient_new, hessian_new
    worst = int(np.argmax(np.abs(beta)))
    raise ConvergenceError(
        f"Newton-Raphson did not converge in {max_iter} iterations ({link} link); the largest "
        f"coefficient is {names[worst]} = {beta[worst]:.3g}, which suggests that {names[worst]} (or a "
        "combination of regressors) perfectly separates events from non-events. Drop or recode "
        "that regressor, or merge sparse baseline periods."
    )


def fit_restricted(
    X: np.ndarray,
    y: np.ndarray,
    link: str,
    R: np.ndarray,
    r: np.ndarray | float,
    *,
    start: np.ndarray | None = None,
    offset: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Maximum likelihood subject to the linear restrictions :math:`R b = r` (weighted with ``weights``).

    Notes
    -----
    Reparametrization: every :math:`b` with :math:`R b = r` is :math:`b_0 + N \\theta`, where
    :math:`b_0` is the minimum-norm solution of :math:`R b = r` and the columns of :math:`N` span
    the null space of :math:`R`.  The free :math:`\\theta` is fitted with design :math:`X N` and
    offset :math:`X b_0` (plus the model's own ``offset``), with the model's ``weights``.
    """
    R = np.atleast_2d(np.asarray(R, dtype=float))
    r = np.atleast_1d(np.asarray(r, dtype=float))
    k = X.shape[1]
    if R.shape[1] != k or R.shape[0] != r.size:
        raise SpecificationError(
            f"restrictions R b = r need R with {k} columns and one r per row; found R {R.shape} and r {r.shape}."
        )
    b0 = np.linalg.lstsq(R, r, rcond=None)[0]
    if not np.allclose(R @ b0, r, rtol=1e-10, atol=1e-10):
        raise SpecificationError("the restrictions R b = r are inconsistent (no b satisfies them).")
    null = linalg.null_space(R)
    if null.shape[1] == 0:
        return b0
    theta0 = None if start is None else null.T @ (np.asarray(start, dtype=float) - b0)
    directions = [f"restricted direction {j}" for j in range(null.shape[1])]
    known = X @ b0 if offset is None else X @ b0 + offset
    fit = fit_binary(X @ null, y, link, start=theta0, offset=known, weights=weights, names=directions)
    return b0 + null @ fit.params


def link_function(rates: np.ndarray, link: str) -> np.ndarray:
    """The linear predictor that gives probabilities ``rates`` (clipped to (1e-8, 1 - 1e-8))."""
    p = np.clip(rates, 1e-8, 1 - 1e-8)
    return np.log(-np.log1p(-p)) if link == "cloglog" else np.log(p / (1 - p))


# Callables of a fitted model, as module-level functions so that ``functools.partial`` of them
# pickles (results keep their model, and results are pickled).
def fit_under(X: np.ndarray, y: np.ndarray, link: str, params: np.ndarray, R: np.ndarray,
              r: np.ndarray, *, offset: np.ndarray | None = None,
              weights: np.ndarray | None = None, start: np.ndarray | None = None) -> np.ndarray:
    """Estimates under R b = r (the score bootstrap's null), started from the unrestricted fit
    (or from ``start``, e.g. the estimate under a nearby null)."""
    return fit_restricted(X, y, link, R, r, start=params if start is None else start, offset=offset,
                          weights=weights)


def scores_at(X: np.ndarray, y: np.ndarray, link: str, b: np.ndarray, *,
              offset: np.ndarray | None = None, weights: np.ndarray | None = None) -> np.ndarray:
    """:func:`score_matrix` at the parameters ``b``."""
    return score_matrix(X, y, np.asarray(b, dtype=float), link, offset, weights)


def information_at(X: np.ndarray, y: np.ndarray, link: str, b: np.ndarray, *,
                   offset: np.ndarray | None = None, weights: np.ndarray | None = None,
                   indicators: np.ndarray | None = None) -> np.ndarray:
    """:func:`information_matrix` at the parameters ``b``."""
    return information_matrix(X, y, np.asarray(b, dtype=float), link, offset, weights, indicators)
