r"""Regression event studies on the fixed-effects engine: two-way fixed effects and Sun-Abraham.

Both are least-squares fits with unit and period effects absorbed by the package's engine
(:class:`gvcpanel.models.absorb.Absorber`, prepared once per fit), covariates as given: the same
regression :func:`gvcpanel.models.linear.fe_regression` fits (the tests check that it gives the
same coefficients and covariance), without its term-by-term bookkeeping, which is slow with a
hundred cohort-by-event-time columns.  This module builds the event-time columns and turns the
fit into unit-level influence functions.

Two-way fixed effects (shown for contrast)
------------------------------------------
.. math::

    y_{it} = \alpha_i + \lambda_t + \sum_{e \ne r} \beta_e 1[t - G_i = e] + x_{it}'\gamma + u_{it}

with reference event time :math:`r` (-1 when observed, else the last observed pre-period) and,
with a ``window``, the event times beyond it binned into the end points.  Without never-treated
units the earliest event time is also left out (otherwise the event-time dummies and the period
effects are collinear).  With effects that differ across cohorts, :math:`\hat\beta_e` mixes
effects of other event times with weights that can be negative (Sun and Abraham 2021, Prop. 3).

Sun and Abraham (2021) interaction-weighted estimator
-----------------------------------------------------
The saturated regression

.. math::

    y_{it} = \alpha_i + \lambda_t + \sum_{g \notin C} \sum_{e \ne r_g} \delta_{g,e}
             1[G_i = g] 1[t - g = e] + x_{it}'\gamma + u_{it}

with comparison cohort :math:`C` the never-treated units (or, without them, the last-treated
cohort, dropping the periods from its treatment on) and each cohort's reference :math:`r_g` its
last event time before treatment; every other relative period has its own coefficient (no
binning; a ``window`` only limits what the aggregations report).  :math:`\hat\delta_{g,e}` is the cohort-specific effect
CATT(g, e); the interaction-weighted estimate at event time :math:`e` is
:math:`\sum_g \hat w_{g,e} \hat\delta_{g,e}` with :math:`\hat w_{g,e}` the share of cohort
:math:`g` among the firm-years at event time :math:`e` of the treated cohorts (as fixest's
``sunab``); the shares are treated as fixed in the variance.

Influence functions: for least squares,
:math:`\hat\beta - \beta = (\tilde X'\tilde X)^{-1} \sum_i \tilde X_i'u_i`, so unit :math:`i`'s
influence is :math:`(\tilde X'\tilde X)^{-1} \tilde X_i'\hat u_i` (rows of the transformed
design of unit :math:`i`).  The cluster covariance of these with the factor
:math:`\frac{G}{G-1}\frac{N-1}{N-K}` (:math:`K` the slopes plus the period effects, firm effects
nested in the clusters) is the package's CRV1 ``"stata"`` covariance of the regression.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.linalg import solve_triangular

from gvcpanel.errors import AbsorbedVariableWarning, SpecificationError
from gvcpanel.models.absorb import Absorber, FixedEffect, compress_codes
from gvcpanel.models.staggered import Cells, StaggeredData, fmt_number


@dataclass(frozen=True, eq=False)
class RegressionFit:
    """Least-squares event-time coefficients with unit-level influence functions."""

    names: tuple[str, ...]
    params: np.ndarray
    psi: np.ndarray  # units x len(names)
    nobs: int
    dof_ratio: float  # (N - 1) / (N - K) of the CRV1 "stata" factor
    r2_within: float


def fit_event_regression(data: StaggeredData, rows: np.ndarray, columns: dict[str, np.ndarray],
         drop_unidentified: bool = False) -> RegressionFit:
    """OLS of the outcome on ``columns`` and the covariates with unit and period effects absorbed.

    ``rows`` selects firm-years of ``data``; the column arrays are over those rows.  An event-time
    column collinear with the effects or with earlier columns is an error, or, with
    ``drop_unidentified``, left out (``RegressionFit.names`` lists the ones kept).
    """
    names = list(columns)
    unit, period = data.unit[rows], data.period[rows]
    unit_codes, units = compress_codes(unit, data.n_units)
    period_codes, periods = compress_codes(period, data.periods.size)
    absorber = Absorber([FixedEffect("firm", unit_codes, int(units.size)),
                         FixedEffect("year", period_codes, int(periods.size))])
    p = data.X.shape[1]
    block = np.empty((int(rows.sum()), 1 + len(names) + p), order="F")
    block[:, 0] = data.y[rows]
    for j, name in enumerate(names):
        block[:, 1 + j] = columns[name]
    block[:, 1 + len(names):] = data.X[rows]
    raw_norm = np.sqrt(np.einsum("ij,ij->j", block, block))
    info = absorber.demean(block)
    y, X = block[:, 0], block[:, 1:]
    all_names = names + list(data.covariates)
    full_gram = X.T @ X
    kept = _independent_columns(full_gram, raw_norm[1:])
    lost = [all_names[j] for j in range(X.shape[1]) if j not in kept]
    lost_events = [n for n in lost if n in names]
    if lost_events and drop_unidentified:
        names = [n for n in names if n not in lost_events]
        lost = [n for n in lost if n not in lost_events]
    elif lost_events:
        raise SpecificationError(
            f"event-time terms {lost_events} are not identified in the regression (collinear with the "
            "firm and period effects); narrow the window or check that cohorts have untreated observations."
        )
    if lost:
        warnings.warn(f"covariates {lost} are absorbed by the firm and period effects or collinear; dropped.",
                      AbsorbedVariableWarning, stacklevel=4)
    X = X[:, kept]
    bread = np.linalg.inv(full_gram[np.ix_(kept, kept)])
    beta = bread @ (X.T @ y)
    resid = y - X @ beta
    k = len(names)
    scores = X * resid[:, None]
    by_unit = np.column_stack([np.bincount(unit_codes, scores[:, j], units.size) for j in range(X.shape[1])])
    psi = np.zeros((data.n_units, k))
    psi[units] = by_unit @ bread[:, :k]
    n = int(rows.sum())
    # CRV1 "stata" with firm effects nested in the clusters: K = slopes + absorbed levels beyond
    # the firm effects + 1 (gvcpanel.inference.covariance.crv1_scale)
    K = X.shape[1] + info.k_absorbed - int(units.size) + 1
    tss = float(y @ y)
    return RegressionFit(tuple(names), beta[:k], psi, n, (n - 1) / (n - K),
                         1 - float(resid @ resid) / tss if tss > 0 else float("nan"))


def _independent_columns(gram: np.ndarray, raw_norm: np.ndarray) -> list[int]:
    """Columns kept, in order: not absorbed (norm after demeaning below 1e-7 of the raw norm) and
    not collinear with earlier kept ones (residual norm below 1e-6 of its own), the rules of
    fe_regression, by an incremental Cholesky factor of the Gram matrix ``X'X`` (O(k^3))."""
    kept: list[int] = []
    chol = np.zeros_like(gram)
    for j in range(gram.shape[0]):
        if gram[j, j] <= (1e-7 * raw_norm[j]) ** 2:
            continue
        m = len(kept)
        v = solve_triangular(chol[:m, :m], gram[kept, j], lower=True) if m else np.zeros(0)
        resid = gram[j, j] - v @ v
        if resid <= 1e-12 * gram[j, j]:
            continue
        chol[m, :m] = v
        chol[m, m] = np.sqrt(resid)
        kept.append(j)
    return kept


def _binned(event: np.ndarray, window: tuple[float, float] | None) -> np.ndarray:
    if window is None:
        return event
    return np.clip(event, window[0], window[1])


def _reference(pre: np.ndarray, reference: float) -> float:
    if reference in pre:
        return float(reference)
    return float(pre.max())


def twfe_event_study(
    data: StaggeredData,
    window: tuple[float, float] | None = None,
    reference: float = -1.0,
) -> tuple[pd.DataFrame, RegressionFit]:
    """Dynamic two-way fixed-effects regression; returns the terms table and the fit."""
    event = _binned(data.event_time, window)
    finite = np.isfinite(event)
    times = np.unique(event[finite])
    pre = times[times < 0]
    if pre.size == 0:
        raise SpecificationError("no firm is observed before its cohort year; an event study needs pre-periods.")
    ref = _reference(pre, reference)
    left_out = [ref]
    if np.isinf(data.unit_cohort).sum() == 0 and times.size > 1:
        left_out.append(float(times.min()))
    kept = [e for e in times if e not in left_out]
    columns = {}
    for e in kept:
        columns[f"event_{'m' if e < 0 else 'p'}{fmt_number(abs(e))}"] = (event == e).astype(float)
    fit = fit_event_regression(data, np.ones(data.nobs, dtype=bool), columns)
    terms = pd.DataFrame({
        "event_time": np.array(kept + left_out, dtype=float),
        "reference": [False] * len(kept) + [True] * len(left_out),
        "binned": [window is not None and (e in (window[0], window[1])) for e in kept + left_out],
    })
    return terms, fit


def sun_abraham(data: StaggeredData) -> tuple[Cells, RegressionFit, dict[str, int]]:
    """Saturated cohort x event-time regression; returns cohort-specific effects as cells."""
    cohort = data.cohort
    exclusions: dict[str, int] = {}
    keep = np.ones(data.nobs, dtype=bool)
    if np.isinf(data.unit_cohort).any():
        control = np.inf
    else:
        control = float(data.cohorts().max())
        keep = data.year < control
        exclusions["period at or after the last cohort's (no comparison group, Sun-Abraham)"] = int((~keep).sum())
        if control == data.cohorts().min():
            raise SpecificationError("Sun-Abraham needs never-treated firms or at least two cohorts.")
    # every relative period gets its own coefficient: binning would make the end points averages
    # of different effects (the window only limits what the aggregations report)
    event = data.event_time
    columns: dict[str, np.ndarray] = {}
    names, cells = [], []
    for g in data.cohorts():
        if g == control:
            continue
        mine = (cohort == g) & keep
        times = np.unique(event[mine])
        pre = times[times < 0]
        if pre.size == 0:
            continue
        ref = float(pre.max())
        for e in times:
            if e == ref:
                cells.append((g, g + e, True, int((mine & (event == e)).sum()), ""))
                continue
            name = f"cohort_{fmt_number(g)}_event_{'m' if e < 0 else 'p'}{fmt_number(abs(e))}"
            columns[name] = ((mine & (event == e))[keep]).astype(float)
            names.append(name)
            cells.append((g, g + e, False, int((mine & (event == e)).sum()), name))
    if not names:
        raise SpecificationError("no cohort has both pre-treatment and other event times; nothing to estimate.")
    fit = fit_event_regression(data, keep, columns)
    estimate = np.zeros(len(cells))
    psi = np.zeros((data.n_units, len(cells)))
    for j, (_, _, ref, _, name) in enumerate(cells):
        if not ref:
            k = names.index(name)
            estimate[j] = fit.params[k]
            psi[:, j] = fit.psi[:, k]
    arr = np.array([(g, t) for g, t, *_ in cells], dtype=float)
    return (
        Cells(
            cohort=arr[:, 0],
            period=arr[:, 1],
            estimate=estimate,
            psi=psi,
            reference=np.array([c[2] for c in cells]),
            weight=np.array([c[3] for c in cells], dtype=float),
        ),
        fit,
        exclusions,
    )
