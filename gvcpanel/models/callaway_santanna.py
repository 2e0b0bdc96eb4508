r"""Callaway and Sant'Anna (2021) group-time average treatment effects.

For each cohort :math:`g` (units first treated in period :math:`g`) and period :math:`t`,
:math:`ATT(g,t)` is a two-period, two-group difference in differences between the cohort and a
comparison group, from a base period :math:`b` to :math:`t`:

- base period: ``"varying"`` uses :math:`b = t-1` (the previous period of the panel) before
  treatment and the last period before :math:`g` after it; ``"universal"`` uses the last period
  before :math:`g` throughout (and reports :math:`ATT(g, b) = 0`);
- comparison group: ``"never"`` treated units, or ``"not_yet"`` treated ones (cohort later than
  both :math:`t` and :math:`b`, never-treated included);
- with covariates (values in the earlier of the two periods, plus an intercept):
  ``"reg"`` outcome regression (Heckman, Ichimura and Todd 1997), ``"ipw"`` normalised inverse
  probability weighting (Abadie 2005), ``"dr"`` doubly robust (Sant'Anna and Zhao 2020,
  the locally efficient "traditional" version with a logit propensity score by maximum
  likelihood; comparison units with a propensity score above 0.995 are trimmed).  Without
  covariates the three coincide with the difference of mean changes.

Unbalanced panels: each :math:`ATT(g,t)` uses the units observed in both :math:`b` and
:math:`t` (and with their covariates), which is valid when being observed is unrelated to
the trends in untreated outcomes; on a balanced panel this is the panel estimator of the
paper.

Notes
-----
Without covariates, with :math:`\Delta Y_i = Y_{it} - Y_{ib}`, :math:`D_i = 1[G_i = g]` and
:math:`C_i` the comparison indicator, among the :math:`n_{gt}` usable units:

.. math::

    \widehat{ATT}(g,t) = \frac{\sum_i D_i \Delta Y_i}{\sum_i D_i}
                       - \frac{\sum_i C_i \Delta Y_i}{\sum_i C_i}.

Each estimator's influence function :math:`\phi_i` (as in Sant'Anna and Zhao 2020, with
:math:`\widehat{ATT} - ATT \approx n_{gt}^{-1} \sum_i \phi_i`) is stored as
:math:`\psi_i = \phi_i / n_{gt}` for the units of the cell and 0 for the others, so that
aggregations and clustering across cells are sums over units.  With clustering by unit and no
small-sample factor, :math:`\sum_i \psi_i^2` is the variance of the R package ``did``
(``bstrap=FALSE``) and of moderndid.
"""

from __future__ import annotations

import warnings

import numpy as np

from gvcpanel.errors import GvcPanelWarning, SpecificationError
from gvcpanel.models.staggered import NEVER, Cells, StaggeredData, wide

CONTROLS = ("never", "not_yet")
BASE_PERIODS = ("varying", "universal")
METHODS = ("dr", "reg", "ipw")
TRIM_LEVEL = 0.995


class CellSkippedWarning(GvcPanelWarning):
    """A group-time cell could not be estimated (no comparison units, separation, ...)."""


def group_time_effects(
    data: StaggeredData,
    control: str = "never",
    base_period: str = "varying",
    method: str = "dr",
    anticipation: float = 0.0,
) -> tuple[Cells, list[tuple[float, float, str]]]:
    """All :math:`ATT(g,t)` with their influence functions.

    Parameters
    ----------
    data : StaggeredData
    control : {"never", "not_yet"}
    base_period : {"varying", "universal"}
    method : {"dr", "reg", "ipw"}
        Ignored without covariates.
    anticipation : float
        Periods of anticipation: the base period is the last one before ``g - anticipation``
        and not-yet-treated comparison units must be untreated until ``t + anticipation``.

    Returns
    -------
    Cells, list
        The cells and the ones that could not be estimated as (cohort, period, reason).
    """
    if control not in CONTROLS:
        raise SpecificationError(f"control={control!r}; choose one of {CONTROLS}.")
    if base_period not in BASE_PERIODS:
        raise SpecificationError(f"base_period={base_period!r}; choose one of {BASE_PERIODS}.")
    if method not in METHODS:
        raise SpecificationError(f"method={method!r}; choose one of {METHODS}.")
    periods = data.periods
    n_units = data.n_units
    Y = wide(data, data.y)
    p = data.X.shape[1]
    Xw = wide(data, data.X) if p else None
    cohort = data.unit_cohort
    if control == "never" and not np.isinf(cohort).any():
        raise SpecificationError(
            "control='never' needs never-treated firms and this panel has none; use control='not_yet'."
        )
    rows: list[tuple[float, float, float, float, bool]] = []
    columns: list[np.ndarray] = []
    skipped: list[tuple[float, float, str]] = []
    first_t = 1 if base_period == "varying" else 0
    for g in data.cohorts():
        pre = np.flatnonzero(periods < g - anticipation)
        if pre.size == 0:
            skipped.append((g, np.nan, "no period before the cohort"))
            continue
        last_pre = int(pre[-1])
        treat = cohort == g
        for t_idx in range(first_t, periods.size):
            t = float(periods[t_idx])
            post = g <= t
            if base_period == "universal":
                b = last_pre
                if b == t_idx:
                    rows.append((g, t, 0.0, float(periods[b]), True))
                    columns.append(np.zeros(n_units))
                    continue
            else:
                b = last_pre if post else t_idx - 1
            if control == "never":
                comparison = np.isinf(cohort)
            else:
                comparison = (cohort > max(t, float(periods[b])) + anticipation) & ~treat
            usable = np.isfinite(Y[:, t_idx]) & np.isfinite(Y[:, b])
            early = min(b, t_idx)
            if p:
                usable &= np.isfinite(Xw[:, early, :]).all(axis=1)
            d1, d0 = treat & usable, comparison & usable
            if not d1.any() or not d0.any():
                skipped.append((g, t, "no treated units" if not d1.any() else "no comparison units"))
                continue
            sel = d1 | d0
            dy = Y[sel, t_idx] - Y[sel, b]
            d = d1[sel].astype(float)
            X = np.ones((int(sel.sum()), 1 + p))
            if p:
                X[:, 1:] = Xw[sel, early, :]
            try:
                att, phi = two_by_two(dy, d, X, method)
            except (np.linalg.LinAlgError, FloatingPointError, ValueError) as err:
                skipped.append((g, t, str(err)))
                continue
            psi = np.zeros(n_units)
            psi[sel] = phi / sel.sum()
            rows.append((g, t, att, float(periods[b]), False))
            columns.append(psi)
    if skipped:
        shown = "; ".join(f"(g={g:g}, t={t:g}): {why}" for g, t, why in skipped[:5])
        warnings.warn(
            f"{len(skipped)} group-time cells could not be estimated and are left out ({shown}).",
            CellSkippedWarning,
            stacklevel=3,
        )
    if not rows:
        raise SpecificationError("no group-time effect could be estimated; see the warnings for the reasons.")
    arr = np.array([r[:4] for r in rows], dtype=float)
    pg = np.array([np.mean(cohort == g) for g in arr[:, 0]])
    return (
        Cells(
            cohort=arr[:, 0],
            period=arr[:, 1],
            estimate=arr[:, 2],
            psi=np.column_stack(columns),
            reference=np.array([r[4] for r in rows]),
            weight=pg,
            base_period=arr[:, 3],
            unit_cohort=cohort,
        ),
        skipped,
    )


# --- the two-period, two-group estimators -------------------------------------------------------
def two_by_two(dy: np.ndarray, d: np.ndarray, X: np.ndarray, method: str) -> tuple[float, np.ndarray]:
    """ATT and influence function (per unit, mean-zero scale) of one 2x2 DiD."""
    if X.shape[1] == 1:  # intercept only: every method is the difference of mean changes
        return _difference_of_means(dy, d)
    if method == "reg":
        return _outcome_regression(dy, d, X)
    if method == "ipw":
        return _ipw(dy, d, X)
    return _doubly_robust(dy, d, X)


def _difference_of_means(dy: np.ndarray, d: np.ndarray) -> tuple[float, np.ndarray]:
    p1 = d.mean()
    m1 = (d * dy).sum() / d.sum()
    m0 = ((1 - d) * dy).sum() / (1 - d).sum()
    phi = d * (dy - m1) / p1 - (1 - d) * (dy - m0) / (1 - p1)
    return float(m1 - m0), phi


def _control_ols(dy: np.ndarray, d: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fitted change for every unit from OLS among comparison units, and the OLS influence."""
    n = d.size
    c = 1 - d
    gram = X.T @ (c[:, None] * X) / n
    _check_conditioning(gram, "outcome regression among comparison units")
    beta = np.linalg.solve(gram * n, X.T @ (c * dy))
    fitted = X @ beta
    influence = ((c * (dy - fitted))[:, None] * X) @ np.linalg.inv(gram)
    return fitted, influence


def _check_conditioning(matrix: np.ndarray, what: str) -> None:
    singular = np.linalg.svd(matrix, compute_uv=False)
    if singular[-1] <= 0 or singular[0] / singular[-1] > 1 / np.finfo(float).eps:
        raise ValueError(f"the {what} is singular (a covariate does not vary in this cell)")


def _logit(d: np.ndarray, X: np.ndarray, tol: float = 1e-11, maxiter: int = 100) -> np.ndarray:
    """Maximum-likelihood logit propensity score by Newton-Raphson."""
    beta = np.zeros(X.shape[1])
    for _ in range(maxiter):
        eta = np.clip(X @ beta, -35, 35)
        p = 1 / (1 + np.exp(-eta))
        w = p * (1 - p)
        step = np.linalg.solve(X.T @ (w[:, None] * X), X.T @ (d - p))
        beta += step
        if np.max(np.abs(step)) < tol * (1 + np.max(np.abs(beta))):
            break
    else:
        raise ValueError("the propensity-score logit did not converge (separation?)")
    return 1 / (1 + np.exp(-np.clip(X @ beta, -35, 35)))


def _propensity(d: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Clipped propensity score and the logit's influence function (n x k)."""
    n = d.size
    ps = np.clip(_logit(d, X), 1e-6, 1 - 1e-6)
    weight = ps * (1 - ps)
    hessian = np.linalg.inv(X.T @ (weight[:, None] * X)) * n
    return ps, ((d - ps)[:, None] * X) @ hessian


def _outcome_regression(dy: np.ndarray, d: np.ndarray, X: np.ndarray) -> tuple[float, np.ndarray]:
    fitted, ols_if = _control_ols(dy, d, X)
    mean_d = d.mean()
    eta_treat = (d * dy).mean() / mean_d
    eta_cont = (d * fitted).mean() / mean_d
    inf_treat = (d * dy - d * eta_treat) / mean_d
    inf_cont = (d * fitted - d * eta_cont + ols_if @ (d[:, None] * X).mean(axis=0)) / mean_d
    return float(eta_treat - eta_cont), inf_treat - inf_cont


def _ipw(dy: np.ndarray, d: np.ndarray, X: np.ndarray) -> tuple[float, np.ndarray]:
    ps, ps_if = _propensity(d, X)
    keep = np.where(d == 0, ps < TRIM_LEVEL, True)
    w_treat = d
    w_cont = keep * ps * (1 - d) / (1 - ps)
    mean_t, mean_c = w_treat.mean(), w_cont.mean()
    if mean_c == 0:
        raise ValueError("no comparison units left after trimming propensity scores above 0.995")
    eta_treat = w_treat * dy / mean_t
    eta_cont = w_cont * dy / mean_c
    att_treat, att_cont = eta_treat.mean(), eta_cont.mean()
    inf_treat = eta_treat - w_treat * att_treat / mean_t
    inf_cont = eta_cont - w_cont * att_cont / mean_c
    moment = ((w_cont * (dy - att_cont))[:, None] * X).mean(axis=0) / mean_c
    return float(att_treat - att_cont), inf_treat - (inf_cont + ps_if @ moment)


def _doubly_robust(dy: np.ndarray, d: np.ndarray, X: np.ndarray) -> tuple[float, np.ndarray]:
    ps, ps_if = _propensity(d, X)
    fitted, ols_if = _control_ols(dy, d, X)
    keep = np.where(d == 0, ps < TRIM_LEVEL, True)
    w_treat = keep * d
    w_cont = keep * ps * (1 - d) / (1 - ps)
    mean_t, mean_c = w_treat.mean(), w_cont.mean()
    if mean_c == 0:
        raise ValueError("no comparison units left after trimming propensity scores above 0.995")
    resid = dy - fitted
    dr_treat, dr_cont = w_treat * resid, w_cont * resid
    eta_treat, eta_cont = dr_treat.mean() / mean_t, dr_cont.mean() / mean_c
    inf_treat = (dr_treat - w_treat * eta_treat - ols_if @ (w_treat[:, None] * X).mean(axis=0)) / mean_t
    lead_cont = dr_cont - w_cont * eta_cont
    inf_cont = (
        lead_cont
        + ps_if @ (lead_cont[:, None] * X).mean(axis=0)
        - ols_if @ (w_cont[:, None] * X).mean(axis=0)
    ) / mean_c
    return float(eta_treat - eta_cont), inf_treat - inf_cont


__all__ = ["CONTROLS", "BASE_PERIODS", "METHODS", "NEVER", "group_time_effects", "two_by_two"]
