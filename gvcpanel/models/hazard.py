"""Discrete-time hazard models of upgrading on the firm-period risk set.

:func:`upgrading_hazard` builds the risk set of one upgrading type (:func:`gvcpanel.gvc.upgrading.risk_set`),
adds the covariates (:func:`gvcpanel.formula.design.build_design`) and a full set of baseline-hazard dummies,
and fits

.. math::

    h_{it} = \\Pr(\\text{event}_{it} = 1 \\mid \\text{at risk}) = F(\\alpha_{\\tau(i,t)} + x_{it}' \\beta),

with :math:`F(\\eta) = 1 - \\exp(-e^{\\eta})` (complementary log-log, the grouped-time version of a
proportional-hazards model, so :math:`\\beta` are log hazard ratios) or the logistic function (log
odds ratios).  :math:`\\tau(i, t)` is the calendar year (``baseline="year"``) or the spell duration
(``baseline="duration"``).  There is no separate intercept: each baseline period has its own.
Covariates enter as measured in the year at risk.

The likelihood is maximized by the Newton-Raphson solver below, written in numpy because the model
also needs per-observation scores, the observed information and refits under linear restrictions
(the score bootstrap) on risk sets of millions of firm-periods.  Both log-likelihoods are concave
in the linear predictor (the Gumbel and logistic distribution functions and their complements are
log-concave), so Newton steps with step-halving reach the maximum from any start when it exists;
when it does not (separation) the iterations run off and :class:`~gvcpanel.errors.ConvergenceError`
names the coefficient that diverges.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from scipy import linalg

from gvcpanel.formula.design import build_design, columns_of, expand_terms
from gvcpanel.errors import ConvergenceError, IdentificationError, SpecificationError
from gvcpanel.inference.designs import LikelihoodDesign
from gvcpanel.inference.spec import InferenceSpec, parse_inference
from gvcpanel.options import check_bool, check_cluster, check_level, check_magnitudes, check_names
from gvcpanel.results import EstimationResult, ModelSpec, exclusion_table
from gvcpanel.gvc.upgrading import UPGRADES, network_strength, panel_frame, risk_set

LINKS = ("cloglog", "logit")
TOLERANCE = 1e-10
MAX_ITERATIONS = 100
MAX_HALVINGS = 40
# exp(eta) overflows beyond ~709; a hazard with eta > 700 is 1 to machine precision anyway
_ETA_CAP = 700.0


@dataclass(frozen=True)
class BinaryFit:
    """Estimates, log-likelihood at them and the number of Newton iterations used."""

    params: np.ndarray
    loglik: float
    n_iterations: int


def crossprod(X: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """:math:`X' W X` for a tall design, accumulated over row blocks.

    The blocks keep each BLAS call below OpenBLAS's multithreading threshold: for a tall, narrow
    X the product is memory-bound, and on a busy 2-core machine threaded calls spin-wait (measured:
    2,000,000 x 19, 8.2 s in one call against 0.28 s in blocks).  Blocks also avoid a weighted
    copy of the whole design.
    """
    n, k = X.shape
    rows = max(64, 2**18 // max(k * k, 1))
    out = np.zeros((k, k))
    root = None if weights is None else np.sqrt(weights)
    for start in range(0, n, rows):
        block = X[start : start + rows]
        if root is not None:
            block = block * root[start : start + rows, None]
        out += block.T @ block
    return out


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
    X: np.ndarray, y: np.ndarray, params: np.ndarray, link: str, offset: np.ndarray | None = None
) -> np.ndarray:
    """Per-observation scores, n x k: :math:`s_i = x_i \\ell'(\\eta_i)`."""
    eta = X @ params if offset is None else X @ params + offset
    d1 = derivatives(eta, y, link, order=1)[1]
    return X * d1[:, None]


def information_matrix(
    X: np.ndarray, y: np.ndarray, params: np.ndarray, link: str, offset: np.ndarray | None = None
) -> np.ndarray:
    """Observed information :math:`-\\sum_i \\ell''(\\eta_i) x_i x_i'` (Hessian of minus the log-likelihood)."""
    eta = X @ params if offset is None else X @ params + offset
    d2 = derivatives(eta, y, link, order=2)[2]
    return crossprod(X, np.maximum(-d2, 0.0))


def fit_binary(
    X: np.ndarray,
    y: np.ndarray,
    link: str,
    *,
    start: np.ndarray | None = None,
    offset: np.ndarray | None = None,
    names: Sequence[str] | None = None,
    tol: float = TOLERANCE,
    max_iter: int = MAX_ITERATIONS,
) -> BinaryFit:
    """Maximize the binary log-likelihood by Newton-Raphson with step-halving.

    Parameters
    ----------
    X : ndarray
        n x k design of full column rank.
    y : ndarray
        0/1 outcomes.
    link : {"cloglog", "logit"}
    start : ndarray, optional
        Starting values (zeros when omitted).
    offset : ndarray, optional
        Known part of the linear predictor (used to refit under restrictions).
    names : sequence of str, optional
        Column names, used in error messages.
    tol : float
        Convergence when the full Newton step satisfies
        :math:`\\max_j |\\Delta_j| / (1 + |b_j|) < tol`; that step is still applied, so with
        Newton's quadratic convergence the estimates are then accurate to about ``tol**2``.
    max_iter : int
        Newton iterations allowed.

    Returns
    -------
    BinaryFit
    """
    if link not in LINKS:
        raise SpecificationError(f"link={link!r} is not known; choose one of {', '.join(LINKS)}.")
    k = X.shape[1]
    names = list(names) if names is not None else [f"x{j}" for j in range(k)]
    beta = np.zeros(k) if start is None else np.asarray(start, dtype=float).copy()

    def predictor(b: np.ndarray) -> np.ndarray:
        return X @ b if offset is None else X @ b + offset

    eta = predictor(beta)
    ll = float(np.sum(derivatives(eta, y, link, order=0)[0]))
    for iteration in range(1, max_iter + 1):
        _, d1, d2 = derivatives(eta, y, link)
        gradient = X.T @ d1
        hessian = crossprod(X, np.maximum(-d2, 0.0))
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
            eta = predictor(beta)
            ll = float(np.sum(derivatives(eta, y, link, order=0)[0]))
            return BinaryFit(beta, ll, iteration)
        factor = 1.0
        for _ in range(MAX_HALVINGS):
            candidate = beta + factor * step
            eta_new = predictor(candidate)
            ll_new = float(np.sum(derivatives(eta_new, y, link, order=0)[0]))
            if np.isfinite(ll_new) and ll_new >= ll - 1e-12 * (1.0 + abs(ll)):
                break
            factor /= 2.0
        else:
            raise ConvergenceError(
                f"step-halving failed to raise the log-likelihood at Newton iteration {iteration} "
                f"({link} link, log-likelihood {ll:.6g}); the design may be nearly collinear."
            )
        beta, eta, ll = candidate, eta_new, ll_new
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
) -> np.ndarray:
    """Maximum likelihood subject to the linear restrictions :math:`R b = r`.

    Notes
    -----
    Reparametrization: every :math:`b` with :math:`R b = r` is :math:`b_0 + N \\theta`, where
    :math:`b_0` is the minimum-norm solution of :math:`R b = r` and the columns of :math:`N` span
    the null space of :math:`R`.  The free :math:`\\theta` is fitted with design :math:`X N` and
    offset :math:`X b_0`.
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
    fit = fit_binary(X @ null, y, link, start=theta0, offset=X @ b0, names=directions)
    return b0 + null @ fit.params


# --------------------------------------------------------------------------------------------
# the estimator
DEFAULT_COVARIATES = (
    "network",
    "quasi_hierarchy",
    "hierarchy",
    "log(employees)",
    "firm_age",
    "foreign_owned",
    "export_share",
)
BASELINES = ("year", "duration")
NETWORK_COLUMNS = ("network_strength", "network_strength_c")
NO_EVENT_PERIODS = "baseline {baseline} without events or without non-events (hazard estimate 0 or 1)"


def upgrading_hazard(
    panel: Any,
    upgrade: str = "process",
    covariates: Sequence[str] = DEFAULT_COVARIATES,
    cluster: str | Sequence[str] | None = "cluster_id",
    link: str = "cloglog",
    baseline: str = "year",
    inference: str | dict[str, Any] | InferenceSpec = "cluster",
) -> EstimationResult:
    """Discrete-time hazard of an upgrading event with cluster-robust inference.

    Parameters
    ----------
    panel : FirmPanel or pandas.DataFrame
        Firm-year panel indexed by (firm_id, year).
    upgrade : {"process", "product", "functional", "intersectoral"}
        Which upgrading event; the risk set of each is described in :mod:`gvcpanel.gvc.upgrading`.
    covariates : sequence of str
        Terms as in :mod:`gvcpanel.formula.design` (``log(employees)``, ``a:b``, ``a*b``, governance
        dummies).  ``network_strength`` and ``network_strength_c`` are computed by
        :func:`gvcpanel.gvc.upgrading.network_strength` on the whole panel unless the panel already
        has those columns.
    cluster : str or sequence of str, optional
        Clustering variable(s) for the default covariance; rows where it is missing are excluded
        and counted.  ``None`` for none (then use ``inference="unadjusted"``).
    link : {"cloglog", "logit"}
        Complementary log-log (coefficients are log hazard ratios) or logit (log odds ratios).
    baseline : {"year", "duration"}
        Baseline hazard by calendar year or by spell duration, one dummy per period.
    inference : str, mapping or InferenceSpec
        Covariance choice, see :func:`gvcpanel.inference.spec.parse_inference`.

    Returns
    -------
    EstimationResult
        ``params`` holds the covariates' coefficients followed by the baseline terms
        (``year[2005]`` or ``duration[3]``), whose names are listed in
        ``spec.option("baseline_terms")`` so that tables can hide them.  ``nobs`` counts
        firm-periods at risk used; ``exclusions`` every panel row left out (risk set first, then
        missing covariates, then baseline periods whose hazard estimate is 0 or 1).

    Notes
    -----
    The log-likelihood of the risk set is :math:`\\sum_{it} y_{it}\\log h_{it} + (1-y_{it})\\log(1-h_{it})`.
    Baseline periods in which no firm (or every firm) at risk upgrades have a hazard estimate of
    0 (or 1): their dummy runs off to :math:`\\mp\\infty` and their rows then add nothing to the
    likelihood or the scores.  Dropping those rows (counted) gives the same estimates of the other
    coefficients as that limit, as Stata's ``logit`` does when a dummy predicts failure perfectly.

    Standard errors use the observed information :math:`I = -\\partial^2 \\ell / \\partial b \\partial b'`
    (as Stata's ``cloglog``; for the non-canonical complementary log-log it differs from the
    expected information that statsmodels' IRLS reports as its non-robust covariance) and, for
    ``inference="cluster"``, the sandwich :math:`\\frac{G}{G-1}\\frac{N-1}{N-K} I^{-1}(\\sum_g s_g s_g') I^{-1}`
    with cluster score sums :math:`s_g`, as ``statsmodels`` ``GLM.fit(cov_type="cluster")``.

    Convergence: Newton steps until :math:`\\max_j |\\Delta_j|/(1+|b_j|) < 10^{-10}` (that last step
    is applied), at most 100 iterations.
    """
    if upgrade not in UPGRADES:
        raise SpecificationError(f"upgrade={upgrade!r} is not known; choose one of {', '.join(UPGRADES)}.")
    if link not in LINKS:
        raise SpecificationError(f"link={link!r} is not known; choose one of {', '.join(LINKS)}.")
    if baseline not in BASELINES:
        raise SpecificationError(f"baseline={baseline!r} is not known; choose one of {', '.join(BASELINES)}.")
    spec_inference = parse_inference(inference)
    covariates = check_names(covariates, "covariates", example="'quasi_hierarchy'")
    terms = expand_terms(covariates)
    clusters = check_cluster(cluster) or ()

    frame, provenance = panel_frame(panel)
    frame = _with_network_strength(frame, terms)
    risk = risk_set(frame, upgrade)
    keep = [c for c in clusters if c not in ("firm_id", "year")]
    # cluster_id is kept for later re-clustering whenever it is complete (it then drops no row)
    also = ["cluster_id"] if "cluster_id" in risk.frame.columns and risk.frame["cluster_id"].notna().all() else []
    design = build_design(risk.frame, "event", terms, keep=[*keep, *also, "duration"])
    exclusions = {**risk.exclusions, **design.exclusions}

    y = design.y.to_numpy(dtype=float)
    periods = (
        design.X.index.get_level_values("year").to_numpy()
        if baseline == "year"
        else design.frame["duration"].to_numpy()
    )
    if y.sum() == 0:
        raise IdentificationError(
            f"the {upgrade} risk set has no events among its {y.size} usable firm-periods; the hazard "
            "is not identified. Check the outcome column and the exclusions "
            f"({risk.exclusions | design.exclusions})."
        )
    uninformative, dropped_periods = _degenerate_periods(periods, y)
    if uninformative.any():
        exclusions[NO_EVENT_PERIODS.format(baseline=baseline)] = int(uninformative.sum())
    used = ~uninformative
    X_cov, used_frame = (design.X, design.frame) if used.all() else (design.X.loc[used], design.frame.loc[used])
    y = y[used]
    periods = periods[used]
    if y.size == 0:
        raise IdentificationError(f"no {upgrade} risk-set period has both events and non-events.")
    check_magnitudes(X_cov.to_numpy(dtype=float), list(X_cov.columns), "the hazard")
    _check_variation(X_cov)

    period_values, period_codes = np.unique(periods, return_inverse=True)
    baseline_terms = tuple(f"{baseline}[{p}]" for p in period_values)
    names = (*X_cov.columns, *baseline_terms)
    X = np.zeros((y.size, len(names)))
    X[:, : X_cov.shape[1]] = X_cov.to_numpy(dtype=float)
    X[np.arange(y.size), X_cov.shape[1] + period_codes] = 1.0
    _check_rank(X, names)

    rates = np.bincount(period_codes, weights=y) / np.bincount(period_codes)
    start = np.zeros(len(names))
    start[X_cov.shape[1] :] = _link_function(rates, link)
    fit = fit_binary(X, y, link, start=start, names=names)

    index = X_cov.index
    groups, labels = _groups(index, used_frame, [*keep, *also])
    params = fit.params
    model = LikelihoodDesign(
        scores=score_matrix(X, y, params, link),
        information=information_matrix(X, y, params, link),
        params=params,
        names=names,
        groups=groups,
        group_labels=labels,
        default_cluster=clusters or None,
        extra={
            "X": X,
            "y": y,
            "link": link,
            # partials of module-level functions, not closures: results are pickled with their model
            "fit_restricted": partial(_fit_under, X, y, link, params),
            "score_fn": partial(_scores_at, X, y, link),
            "information_fn": partial(_information_at, X, y, link),
            "frame": X_cov,
            "baseline_terms": baseline_terms,
        },
    )
    spec = ModelSpec(
        estimator="upgrading_hazard",
        method=link,
        dependent=f"{upgrade} upgrading event",
        regressors=tuple(X_cov.columns),
        effects=(baseline,),
        cluster=clusters or None,
        options=(
            ("upgrade", upgrade),
            ("link", link),
            ("baseline", baseline),
            ("baseline_terms", baseline_terms),
            ("outcome", risk.outcome),
        ),
    )
    return EstimationResult(
        spec=spec,
        params=pd.Series(params, index=list(names), name="estimate"),
        inference=model.inference(spec_inference),
        nobs=int(y.size),
        n_firms=int(pd.unique(index.get_level_values("firm_id")).size),
        dep_mean=float(y.mean()),
        exclusions=exclusion_table(exclusions),
        fit_stats={
            "loglik": fit.loglik,
            "n_events": int(y.sum()),
            "n_left_truncated": risk.n_left_truncated,
            "link": link,
            "baseline": baseline,
            "upgrade": upgrade,
            "n_iterations": fit.n_iterations,
            "baseline_periods_dropped": dropped_periods,
            "risk_set": risk.report,
        },
        provenance=provenance,
        model=model,
    )


def hazard_ratios(result: EstimationResult, level: float = 0.95, include_baseline: bool = False) -> pd.DataFrame:
    """Coefficients on the ratio scale: exp(estimate) with its interval.

    For the complementary log-log link these are hazard ratios, for the logit link odds ratios.
    The interval is the exponentiated interval of the coefficient (the result's own inference:
    t with its degrees of freedom, or a bootstrap's test-inversion interval).

    Returns
    -------
    pandas.DataFrame
        Index ``term``; columns ``estimate`` (the coefficient), ``ratio``, ``ci_low``, ``ci_high``,
        ``p_value``.
    """
    if getattr(getattr(result, "spec", None), "estimator", None) != "upgrading_hazard":
        found = getattr(getattr(result, "spec", None), "estimator", type(result).__name__)
        raise SpecificationError(f"hazard_ratios needs a result of upgrading_hazard, found one of {found}.")
    level = check_level(level)
    include_baseline = check_bool(include_baseline, "include_baseline")
    table = result.to_frame(level)
    if not include_baseline:
        hidden = set(result.spec.option("baseline_terms", ()))
        table = table.loc[[t for t in table.index if t not in hidden]]
    return pd.DataFrame(
        {
            "estimate": table["estimate"],
            "ratio": np.exp(table["estimate"]),
            "ci_low": np.exp(table["ci_low"]),
            "ci_high": np.exp(table["ci_high"]),
            "p_value": table["p_value"],
        }
    )


# --------------------------------------------------------------------------------------------
# helpers
def _with_network_strength(frame: pd.DataFrame, terms: Sequence[str]) -> pd.DataFrame:
    """Add the network-strength columns a term asks for (computed on the whole panel)."""
    wanted = {c for t in terms for c in columns_of(t) if c in NETWORK_COLUMNS and c not in frame.columns}
    if not wanted:
        return frame
    strength = network_strength(frame)
    out = frame.copy()
    out["network_strength"] = strength.values
    out["network_strength_c"] = strength.centred
    return out.drop(columns=[c for c in NETWORK_COLUMNS if c not in wanted and c not in frame.columns])


def _degenerate_periods(periods: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, tuple]:
    """Rows of baseline periods with no events or only events, and those periods."""
    values, codes = np.unique(periods, return_inverse=True)
    events = np.bincount(codes, weights=y)
    sizes = np.bincount(codes)
    degenerate = (events == 0) | (events == sizes)
    return degenerate[codes], tuple(v.item() for v in values[degenerate])


def _check_variation(X: pd.DataFrame) -> None:
    for term in X.columns:
        values = X[term].to_numpy()
        if values.size and np.ptp(values) == 0:
            raise IdentificationError(
                f"covariate {term!r} takes the single value {values[0]:.6g} on every firm-period at risk, "
                "so its coefficient is not identified next to the baseline dummies; drop it from "
                "covariates= or check its coding."
            )


def _check_rank(X: np.ndarray, names: Sequence[str]) -> None:
    """Raise naming the collinear columns when X lacks full column rank."""
    cross = crossprod(X)
    scale = np.sqrt(np.diag(cross))
    eigenvalues, eigenvectors = np.linalg.eigh(cross / np.outer(scale, scale))
    if eigenvalues[0] > 1e-10 * max(eigenvalues[-1], 1.0):
        return
    involved = [names[j] for j in np.flatnonzero(np.abs(eigenvectors[:, 0]) > 0.05)]
    raise IdentificationError(
        f"the covariates and baseline dummies are collinear on the risk set: {involved} are linearly "
        "dependent (a covariate may be constant within the estimation sample or a sum of others); "
        "drop one of them."
    )


def _link_function(rates: np.ndarray, link: str) -> np.ndarray:
    p = np.clip(rates, 1e-8, 1 - 1e-8)
    return np.log(-np.log1p(-p)) if link == "cloglog" else np.log(p / (1 - p))


def _codes(values: Any) -> tuple[np.ndarray, np.ndarray]:
    codes, uniques = pd.factorize(values, sort=True)
    return codes.astype(np.int64), np.asarray(uniques)


def _groups(
    index: pd.MultiIndex, used_frame: pd.DataFrame, keep: Sequence[str]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Contiguous codes 0..G-1 for firm_id, year and the kept clustering variables."""
    sources: dict[str, Any] = {
        "firm_id": index.get_level_values("firm_id"),
        "year": index.get_level_values("year"),
    }
    for name in keep:
        sources[name] = used_frame[name].to_numpy()
    groups: dict[str, np.ndarray] = {}
    labels: dict[str, np.ndarray] = {}
    for name, values in sources.items():
        groups[name], labels[name] = _codes(values)
    return groups, labels


def _fit_under(X: np.ndarray, y: np.ndarray, link: str, params: np.ndarray, R: np.ndarray,
               r: np.ndarray) -> np.ndarray:
    """Estimates under R b = r (the score bootstrap's null), started from the unrestricted fit."""
    return fit_restricted(X, y, link, R, r, start=params)


def _scores_at(X: np.ndarray, y: np.ndarray, link: str, b: np.ndarray) -> np.ndarray:
    return score_matrix(X, y, np.asarray(b, dtype=float), link)


def _information_at(X: np.ndarray, y: np.ndarray, link: str, b: np.ndarray) -> np.ndarray:
    return information_matrix(X, y, np.asarray(b, dtype=float), link)
