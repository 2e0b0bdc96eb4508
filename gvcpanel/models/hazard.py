"""Discrete-time hazard models on a prepared risk set.

:func:`discrete_hazard` fits, on the firm-periods at risk of an event,

.. math::

    h_{it} = \\Pr(\\text{event}_{it} = 1 \\mid \\text{at risk}) = F(\\alpha_{\\tau(i,t)} + x_{it}' \\beta),

with :math:`F(\\eta) = 1 - \\exp(-e^{\\eta})` (complementary log-log, the grouped-time version of a
proportional-hazards model, so :math:`\\beta` are log hazard ratios) or the logistic function (log
odds ratios).  :math:`\\tau(i, t)` is the calendar year (``baseline="year"``) or the spell duration
(``baseline="duration"``, read from a column).  There is no separate intercept: each baseline
period has its own.  Covariates enter as measured in the year at risk; lags (``l(x, 1)``) read
every row of the data, also those not at risk.

Which rows are at risk, and what the event is, is the caller's business (the value-chain layer
builds its risk sets in :mod:`gvcpanel.gvc`).  The likelihood, its derivatives and the Newton
solver live in :mod:`gvcpanel.models.binary`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from gvcpanel.errors import IdentificationError, SpecificationError
from gvcpanel.formula.evaluate import DerivedColumn, evaluate_formula
from gvcpanel.formula.frame import derived_of, panel_frame
from gvcpanel.formula.parse import parse_formula
from gvcpanel.inference.designs import LikelihoodDesign
from gvcpanel.inference.spec import InferenceSpec, parse_inference
from gvcpanel import kernels
from gvcpanel.models.binary import (  # noqa: F401 - BinaryFit, derivatives, fit_restricted: see below
    LINKS,
    BinaryDesign,
    BinaryFit,
    BinaryScores,
    crossprod,
    derivatives,
    fit_binary,
    fit_restricted,
    fit_under,
    information_at,
    information_matrix,
    link_function,
    score_matrix,
    scores_at,
)
from gvcpanel.models.weights import inference_columns, row_offset, row_weights
from gvcpanel.options import check_bool, check_cluster, check_level, check_magnitudes
from gvcpanel.results import EstimationResult, ModelSpec, exclusion_table

# The likelihood lived here before models/binary.py; its names stay importable from this module
# for code written against that layout (one implementation, two import paths).
__all__ = ["BASELINES", "check_options", "discrete_hazard", "hazard_ratios", "BinaryFit", "crossprod", "derivatives",
           "fit_binary", "fit_restricted", "information_matrix", "score_matrix"]

BASELINES = ("year", "duration")
ESTIMATOR = "discrete_hazard"
NO_EVENT_PERIODS = "baseline {baseline} without events or without non-events (hazard estimate 0 or 1)"


def discrete_hazard(
    panel: Any,
    formula: str,
    *,
    baseline: str = "year",
    link: str = "cloglog",
    cluster: str | Sequence[str] | None = "cluster_id",
    inference: str | Mapping[str, Any] | InferenceSpec = "cluster",
    at_risk: np.ndarray | pd.Series | str | None = None,
    duration: str = "duration",
    exclusions: Mapping[str, int] | None = None,
    derived: Mapping[str, DerivedColumn] | None = None,
    weights: str | None = None,
    offset: np.ndarray | pd.Series | str | None = None,
) -> EstimationResult:
    """Discrete-time binary hazard with cluster-robust inference.

    Parameters
    ----------
    panel : FirmPanel or pandas.DataFrame
        Firm-year data indexed by (firm_id, year).
    formula : str
        ``"event ~ x1 + log(x2) + l(x3, 1)"`` (see :mod:`gvcpanel.formula.parse`); the outcome
        is a 0/1 event column.  No ``|`` effects: the baseline dummies are the model's effects.
    baseline : {"year", "duration"}
        Baseline hazard by calendar year or by the values of the ``duration`` column, one dummy
        per period.
    link : {"cloglog", "logit"}
        Complementary log-log (coefficients are log hazard ratios) or logit (log odds ratios).
    cluster : str or sequence of str, optional
        Clustering variable(s) of the default covariance; rows where it is missing are excluded
        and counted.  ``None`` for none (then use ``inference="unadjusted"``).
    inference : str, mapping or InferenceSpec
        Covariance choice, see :func:`gvcpanel.inference.spec.parse_inference`.
    at_risk : bool array, Series or column name, optional
        The rows of the risk set (default: every row).  The other rows are not counted here
        (their builder counts them, see ``exclusions``) but lags and leads read them.
    duration : str
        Column holding the spell duration (``baseline="duration"``).
    exclusions : mapping, optional
        Rows already left out by whoever built the risk set, ``{reason: rows}``; they head the
        result's exclusion table.
    derived : mapping, optional
        Names computed from the data, see :class:`gvcpanel.formula.evaluate.DerivedColumn`.
    weights : str, optional
        Column of probability weights (:mod:`gvcpanel.models.weights` for the conventions);
        rows whose weight is missing or 0 are left out and counted.
    offset : array, Series or column name, optional
        Known part of the linear predictor per row of the data, such as the log interval length
        :math:`\\log L` of the grouped-duration hazard (:mod:`gvcpanel.gvc.intervals`): with
        the complementary log-log link the event probability is then
        :math:`1 - \\exp(-L e^{\\alpha + x'\\beta})`.

    Returns
    -------
    EstimationResult
        ``params`` holds the covariates' coefficients followed by the baseline terms
        (``year[2005]`` or ``duration[3]``), listed in ``spec.option("baseline_terms")`` so that
        tables can hide them.  ``nobs`` counts firm-periods at risk used; ``exclusions`` the rows
        left out (``exclusions=`` first, then missing or undefined covariates, then baseline
        periods whose hazard estimate is 0 or 1).

    Notes
    -----
    The log-likelihood of the risk set is :math:`\\sum_{it} y_{it}\\log h_{it} + (1-y_{it})\\log(1-h_{it})`.
    Baseline periods in which no firm (or every firm) at risk has the event have a hazard
    estimate of 0 (or 1): their dummy runs off to :math:`\\mp\\infty` and their rows then add
    nothing to the likelihood or the scores.  Dropping those rows (counted) gives the same
    estimates of the other coefficients as that limit, as Stata's ``logit`` does when a dummy
    predicts failure perfectly.

    Standard errors use the observed information :math:`I = -\\partial^2 \\ell / \\partial b \\partial b'`
    (as Stata's ``cloglog``; for the non-canonical complementary log-log it differs from the
    expected information that statsmodels' IRLS reports as its non-robust covariance) and, for
    ``inference="cluster"``, the sandwich :math:`\\frac{G}{G-1}\\frac{N-1}{N-K} I^{-1}(\\sum_g s_g s_g') I^{-1}`
    with cluster score sums :math:`s_g`, as ``statsmodels`` ``GLM.fit(cov_type="cluster")``.

    Convergence: Newton steps until :math:`\\max_j |\\Delta_j|/(1+|b_j|) < 10^{-10}` (that last step
    is applied), at most 100 iterations.

    Examples
    --------
    >>> res = discrete_hazard(risk_frame, "event ~ x1 + x2", at_risk="at_risk")  # doctest: +SKIP
    """
    # every option is checked before the data are touched
    clusters, spec_inference = check_options(link, baseline, cluster, inference)
    if not isinstance(formula, str):
        raise SpecificationError(f"formula={formula!r}; give the model as a string, e.g. 'event ~ x1 + x2'.")
    parsed = parse_formula(formula)
    frame, provenance = panel_frame(panel)
    derived = derived_of(panel, derived)
    if parsed.effects is not None:
        raise SpecificationError(
            f"formula {formula!r}: a hazard takes no '| effects'; its baseline dummies (baseline='year' or "
            "'duration') play that part."
        )
    rows = _at_risk(frame, at_risk)
    row_w, weight_exclusions, rows = row_weights(frame, weights, rows)
    row_off = row_offset(frame, offset)
    keep = [c for c in clusters if c not in frame.index.names]
    if baseline == "duration":
        keep.append(duration)
    # cluster_id is kept for later re-clustering whenever it is complete (it then drops no row)
    if "cluster_id" in frame.columns and "cluster_id" not in keep:
        observed = frame["cluster_id"].notna().to_numpy()
        if (observed if rows is None else observed[rows]).all():
            keep.append("cluster_id")
    keep += inference_columns(spec_inference, frame, keep)
    ev = evaluate_formula(frame, parsed, keep=keep, rows=rows, derived=derived, spans_intercept=True)
    dropped = dict(exclusions or {})
    for reason, count in [*weight_exclusions.items(), *ev.exclusions.items()]:
        dropped[reason] = dropped.get(reason, 0) + count
    y = ev.data[:, 0]
    outcome = parsed.dependent.expr
    if y.size and not np.isin(y, (0.0, 1.0)).all():
        raise SpecificationError(
            f"the outcome {outcome!r} must be 0/1 on the rows at risk; found values such as "
            f"{sorted(set(y[~np.isin(y, (0.0, 1.0))]))[:5]}."
        )
    kept = ev.kept  # over the frame's rows (a mask: an eighth of the memory of positions)
    if baseline == "year":
        period_codes, period_values = _level_codes(frame.index, "year", kept)
    else:
        period_codes, period_values = _value_codes(frame[duration].to_numpy()[kept])
    if y.sum() == 0:
        raise IdentificationError(
            f"the outcome {outcome!r} has no events among its {y.size} usable firm-periods at risk; the "
            f"hazard is not identified. Check the outcome column and the exclusions ({dropped})."
        )
    events = np.bincount(period_codes, weights=y, minlength=period_values.size)
    sizes = np.bincount(period_codes, minlength=period_values.size)
    degenerate = (events == 0) | (events == sizes)
    dropped_periods = tuple(v.item() for v in period_values[degenerate])
    if degenerate.any():
        uninformative = degenerate[period_codes]
        dropped[NO_EVENT_PERIODS.format(baseline=baseline)] = int(uninformative.sum())
        used = ~uninformative
        X_cov, y = _rows_of(ev.data, used), y[used]
        kept = kept.copy()
        kept[kept] = used
        renumber = np.cumsum(~degenerate) - 1
        period_codes, period_values = renumber[period_codes[used]], period_values[~degenerate]
    else:
        X_cov = ev.data[:, 1:]  # a view: the data stay in the evaluation's one array
    w = None if row_w is None else row_w[kept]
    off = None if row_off is None else row_off[kept]
    if off is not None and not np.isfinite(off).all():
        raise SpecificationError("offset: every row at risk needs a finite offset (a log interval length "
                                 "needs an interval of at least one period).")
    if y.size == 0:
        raise IdentificationError(f"no period at risk of {outcome!r} has both events and non-events.")
    covariates = ev.names
    check_magnitudes(X_cov, list(covariates), "the hazard")
    _check_variation(X_cov, covariates)

    baseline_terms = tuple(f"{baseline}[{p}]" for p in period_values)
    names = (*covariates, *baseline_terms)
    k = len(covariates)
    # the baseline dummies are codes summed by period in the kernels, never columns
    X = BinaryDesign(_fortran(X_cov), kernels.as_codes(period_codes), len(baseline_terms))
    _check_rank(X, names)

    rates = events[~degenerate] / sizes[~degenerate]
    start = np.zeros(len(names))
    start[k:] = link_function(rates, link)
    if off is not None:  # start each baseline period at its rate net of its mean offset
        start[k:] -= np.bincount(period_codes, weights=off) / np.bincount(period_codes)
    fit = fit_binary(X, y, link, start=start, offset=off, weights=w, names=names)

    group_names = [c for c in keep if c != duration]
    groups, labels = _groups(frame, kept, group_names, period_codes if baseline == "year" else None,
                             period_values if baseline == "year" else None)
    params = fit.params
    index = frame.index[kept]
    model = LikelihoodDesign(
        scores=BinaryScores(X, fit.derivative),
        information=fit.information,
        params=params,
        names=names,
        groups=groups,
        group_labels=labels,
        default_cluster=clusters or None,
        extra={
            "design": X,
            "y": y,
            "link": link,
            # partials of module-level functions, not closures: results are pickled with their model
            "fit_restricted": partial(fit_under, X, y, link, params, offset=off, weights=w),
            "score_fn": partial(scores_at, X, y, link, offset=off, weights=w),
            "information_fn": partial(information_at, X, y, link, offset=off, weights=w),
            "frame": pd.DataFrame(X.X, index=index, columns=list(covariates), copy=False),
            "rows": kept,
            "baseline_terms": baseline_terms,
            "offset": off,
        },
        weights=w,
    )
    spec = ModelSpec(
        estimator=ESTIMATOR,
        method=link,
        dependent=outcome,
        regressors=tuple(covariates),
        effects=(baseline,),
        cluster=clusters or None,
        formula=formula,
        options=(("link", link), ("baseline", baseline), ("baseline_terms", baseline_terms),
                 *((("weights", weights),) if weights is not None else ()),
                 *((("offset", offset if isinstance(offset, str) else "given"),) if offset is not None else ())),
    )
    return EstimationResult(
        spec=spec,
        params=pd.Series(params, index=list(names), name="estimate"),
        inference=model.inference(spec_inference),
        nobs=int(y.size),
        n_firms=int(labels["firm_id"].size),
        dep_mean=float(y.mean()) if w is None else float(np.average(y, weights=w)),
        exclusions=exclusion_table(dropped),
        fit_stats={
            "loglik": fit.loglik,
            "n_events": int(y.sum()),
            "link": link,
            "baseline": baseline,
            "n_iterations": fit.n_iterations,
            "baseline_periods_dropped": dropped_periods,
            **({"sum_weights": float(w.sum())} if w is not None else {}),
        },
        provenance=provenance,
        model=model,
    )


def check_options(
    link: Any, baseline: Any, cluster: Any, inference: Any
) -> tuple[tuple[str, ...], InferenceSpec]:
    """The hazard's options checked (clustering variables and inference in their normal form)."""
    if link not in LINKS:
        raise SpecificationError(f"link={link!r} is not known; choose one of {', '.join(LINKS)}.")
    if baseline not in BASELINES:
        raise SpecificationError(f"baseline={baseline!r} is not known; choose one of {', '.join(BASELINES)}.")
    return check_cluster(cluster) or (), parse_inference(inference)


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
    found = getattr(getattr(result, "spec", None), "estimator", type(result).__name__)
    if found != ESTIMATOR:
        raise SpecificationError(f"hazard_ratios needs a hazard result ({ESTIMATOR}), found one of {found}.")
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
def _at_risk(frame: pd.DataFrame, at_risk: np.ndarray | pd.Series | str | None) -> np.ndarray | None:
    if at_risk is None:
        return None
    if isinstance(at_risk, str):
        if at_risk not in frame.columns:
            raise SpecificationError(f"at_risk={at_risk!r} is not a column of the data.")
        at_risk = frame[at_risk]
    if isinstance(at_risk, pd.Series) and not at_risk.index.equals(frame.index):
        at_risk = at_risk.reindex(frame.index, fill_value=False)
    mask = np.asarray(at_risk)
    if mask.dtype != bool or mask.shape != (len(frame),):
        raise SpecificationError(
            f"at_risk must be a True/False value per row of the data ({len(frame)} rows); found "
            f"dtype {mask.dtype} and shape {mask.shape}."
        )
    return mask


def _check_variation(X: np.ndarray, names: Sequence[str]) -> None:
    for j, term in enumerate(names):
        values = X[:, j]
        if values.size and np.ptp(values) == 0:
            raise IdentificationError(
                f"covariate {term!r} takes the single value {values[0]:.6g} on every firm-period at risk, "
                "so its coefficient is not identified next to the baseline dummies; drop it from the "
                "formula or check its coding."
            )


def _check_rank(X: BinaryDesign, names: Sequence[str]) -> None:
    """Raise naming the collinear columns when [X, D] lacks full column rank.

    The cross-product is assembled from its blocks (covariates by covariates, covariates summed
    by period, the period counts on the diagonal) without forming the dummies.
    """
    p = X.X.shape[1]
    cross = np.zeros((len(names), len(names)))
    cross[:p, :p] = crossprod(X.X)
    sums = kernels.group_sums(X.X, X.codes, X.n_levels, kernels.NO_WEIGHTS)  # periods x covariates
    cross[p:, :p] = sums
    cross[:p, p:] = sums.T
    cross[p:, p:] = np.diag(np.bincount(X.codes, minlength=X.n_levels).astype(float))
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


def _fortran(X: np.ndarray) -> np.ndarray:
    return X if X.flags.f_contiguous else np.asfortranarray(X)


def _rows_of(data: np.ndarray, used: np.ndarray) -> np.ndarray:
    """The design columns (all but the first) of ``data`` on the rows ``used``, Fortran-ordered."""
    out = np.empty((int(used.sum()), data.shape[1] - 1), order="F")
    for j in range(out.shape[1]):
        out[:, j] = data[used, j + 1]
    return out


def _level_codes(index: pd.MultiIndex, level: str, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes 0..G-1 (in the order of the values) of an index level on ``rows``, and the values.

    Read from the index's own level codes, so no column of values is built and hashed.
    """
    position = index.names.index(level)
    codes = np.ascontiguousarray(index.codes[position])
    levels = index.levels[position]
    if (codes.size and codes.min() < 0) or not levels.is_monotonic_increasing:  # the general route
        return _value_codes(np.asarray(index.get_level_values(level))[rows])
    # the rows are selected inside the compiled pass: no copy of the codes of every row
    compact, used = kernels.compact_codes(codes, len(levels), np.ascontiguousarray(rows, dtype=bool))
    return compact, np.asarray(levels)[used]


def _value_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes 0..G-1 in the order of the values, and the sorted distinct values (as
    ``pandas.factorize(sort=True)``); integers of a small range by counting, without hashing."""
    values = np.asarray(values)
    if values.dtype.kind == "i" and values.size:
        low, high = int(values.min()), int(values.max())
        if high - low <= 4 * values.size + 1024:
            return kernels.integer_codes(values, low, high)
    codes, uniques = pd.factorize(values, sort=True)
    return codes.astype(np.int64), np.asarray(uniques)


def _groups(
    frame: pd.DataFrame, rows: np.ndarray, names: Sequence[str], year_codes: np.ndarray | None = None,
    year_values: np.ndarray | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Contiguous codes 0..G-1 for firm_id, year and the kept clustering variables on ``rows``
    (year's may be given: the baseline's own codes)."""
    groups: dict[str, np.ndarray] = {}
    labels: dict[str, np.ndarray] = {}
    groups["firm_id"], labels["firm_id"] = _level_codes(frame.index, "firm_id", rows)
    if year_codes is None:
        year_codes, year_values = _level_codes(frame.index, "year", rows)
    groups["year"], labels["year"] = year_codes, year_values
    for name in names:
        groups[name], labels[name] = _value_codes(frame[name].to_numpy()[rows])
    return groups, labels
