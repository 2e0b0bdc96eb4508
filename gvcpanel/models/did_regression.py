r"""Regression event studies on the fixed-effects engine: two-way fixed effects and Sun-Abraham.

Both are least-squares fits by :func:`gvcpanel.models.linear.fe_regression` (unit and period
effects absorbed, covariates as given); this module only builds the event-time columns and turns
the fit into unit-level influence functions.

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
last event time before treatment.  :math:`\hat\delta_{g,e}` is the cohort-specific effect
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

import numpy as np
import pandas as pd

from gvcpanel.errors import AbsorbedVariableWarning, SpecificationError
from gvcpanel.models.staggered import Cells, StaggeredData, fmt_number


class RegressionFit:
    """What the event-study result needs from a fixed-effects fit."""

    def __init__(self, result, data: StaggeredData, names: list[str]) -> None:
        design = result.model
        missing = [n for n in names if n not in design.names]
        if missing:
            raise SpecificationError(
                f"event-time terms {missing} are not identified in the regression (collinear with the "
                "fixed effects); narrow the window or check that cohorts have untreated observations."
            )
        X, resid = design.X, design.resid
        bread = np.linalg.inv(X.T @ X)
        idx = [design.names.index(n) for n in names]
        scores = X * resid[:, None]
        firm_codes = design.groups["firm_id"]
        n_firms = int(firm_codes.max()) + 1
        by_firm = np.column_stack([np.bincount(firm_codes, scores[:, j], n_firms) for j in range(X.shape[1])])
        psi_fit = by_firm @ bread[:, idx]
        # the fit's firm codes follow its own sorted labels; map them onto the data's units
        position = pd.Index(data.unit_labels).get_indexer(design.group_labels["firm_id"])
        self.psi = np.zeros((data.n_units, len(idx)))
        self.psi[position] = psi_fit
        self.params = design.params[idx]
        self.nobs = int(result.nobs)
        # CRV1 "stata": K = slopes + absorbed levels not nested in the firm (+1 for the intercept)
        k_absorbed = int(result.fit_stats["k_absorbed"])
        n_units_fit = len(design.group_labels["firm_id"])
        K = X.shape[1] + k_absorbed - n_units_fit + 1
        self.dof_ratio = (self.nobs - 1) / (self.nobs - K)
        self.result = result


def _fit(data: StaggeredData, frame: pd.DataFrame, columns: list[str], cluster: str | None) -> RegressionFit:
    from gvcpanel.models.linear import fe_regression

    covariates = [f"x{j}" for j in range(data.X.shape[1])]
    formula = "y ~ " + " + ".join(columns + covariates)
    cluster_name = cluster if cluster and cluster != "firm_id" else "firm_id"
    with warnings.catch_warnings():
        # absorbed covariates are reported by the fit itself; event-time terms are checked below
        warnings.simplefilter("ignore", AbsorbedVariableWarning)
        result = fe_regression(frame, formula, effects=("firm", "year"), cluster=cluster_name,
                               drop_singletons=False)
    return RegressionFit(result, data, columns)


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
    cluster: str | None = None,
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
    frame = data.frame()
    names = []
    for e in kept:
        name = f"event_{'m' if e < 0 else 'p'}{fmt_number(abs(e))}"
        frame[name] = (event == e).astype(float)
        names.append(name)
    fit = _fit(data, frame, names, cluster)
    terms = pd.DataFrame({
        "event_time": np.array(kept + left_out, dtype=float),
        "reference": [False] * len(kept) + [True] * len(left_out),
        "binned": [window is not None and (e in (window[0], window[1])) for e in kept + left_out],
    })
    return terms, fit


def sun_abraham(
    data: StaggeredData,
    window: tuple[float, float] | None = None,
    cluster: str | None = None,
) -> tuple[Cells, RegressionFit, dict[str, int]]:
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
    event = _binned(data.event_time, window)
    frame = data.frame()
    frame = frame[keep].copy()
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
            frame[name] = ((mine & (event == e))[keep]).astype(float)
            names.append(name)
            cells.append((g, g + e, False, int((mine & (event == e)).sum()), name))
    if not names:
        raise SpecificationError("no cohort has both pre-treatment and other event times; nothing to estimate.")
    fit = _fit(data, frame, names, cluster)
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
