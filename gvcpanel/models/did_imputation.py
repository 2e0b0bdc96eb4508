r"""The imputation estimator of Borusyak, Jaravel and Spiess (2024).

1. Fit untreated outcomes on the untreated firm-years :math:`\Omega_0` (never treated, and the
   treated before their cohort): :math:`y_{it} = \alpha_i + \lambda_t + x_{it}'\gamma +
   \varepsilon_{it}`, on the package's absorption engine.
2. Impute :math:`\hat y_{it}(0) = \hat\alpha_i + \hat\lambda_t + x_{it}'\hat\gamma` for each
   treated firm-year and take :math:`\hat\tau_{it} = y_{it} - \hat y_{it}(0)`.
3. Average: a cohort-by-period cell is the mean of its :math:`\hat\tau_{it}`; event-time,
   cohort, calendar and overall estimates average the treated firm-years they cover, each with
   the same weight (so aggregations weight cells by their number of firm-years).

A treated firm-year is imputed only if its firm and its period appear among the untreated
firm-years (and lie in the same connected set of firms and periods); the others are excluded and
counted.

Notes
-----
Every estimate is linear in the outcomes, :math:`\hat\tau_w = \sum_{it} v_{it} y_{it}`, with
:math:`v_{it} = w_{it}` on treated firm-years and, with :math:`Z = [D, X]` the dummies and
covariates, :math:`v_0 = -Z_0 (Z_0'Z_0)^{+} Z_1'w_1` on untreated ones (BJS, Theorem 1).  Here
:math:`v_0 = -(h + \tilde X_0 \delta)` with :math:`h = D_0 (D_0'D_0)^{+} D_1'w_1` (the dummy
coefficients solved by :meth:`gvcpanel.models.absorb.Absorber.solve_dummies`),
:math:`\tilde X_0 = M_{D_0} X_0` and :math:`\delta = (\tilde X_0'\tilde X_0)^{-1}(X_1'w_1 - X_0'h)`.

Variance (BJS, Theorem 3 and the leave-out refinement of their Appendix A.6): with clusters
:math:`c`, :math:`\hat\sigma^2_w = \sum_c (\sum_{it \in c} v_{it} \tilde\varepsilon_{it})^2`,
:math:`\tilde\varepsilon_{it}` the first-step residual on untreated firm-years and
:math:`\hat\tau_{it} - \bar\tau_{it}` on treated ones, where :math:`\bar\tau_{it}` is the mean of
:math:`\hat\tau` in the firm-year's cohort-by-period cell, leaving out the firm-year's own
cluster when ``leave_out`` (when the cell has no other cluster the full mean is used).  Within a
cell every estimate here gives the firm-years equal weight, so :math:`v^2`-weighted means are
plain means and the unit-level influences of the cells add up to those of any aggregate.

Pre-trends (BJS, Test 1): OLS on the untreated firm-years of
:math:`y_{it} = \alpha_i + \lambda_t + x_{it}'\gamma + \sum_{e} \beta_e 1[t - G_i = e]` over
pre-treatment event times :math:`e` in the window (the earliest one left out when the window
leaves none out: within a treated firm the leads add up to the firm effect), tested jointly; the :math:`\hat\beta_e` are the pre-period points of the event plot.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from gvcpanel.errors import IdentificationError, SpecificationError
from gvcpanel.models.absorb import Absorber, FixedEffect, compress_codes
from gvcpanel.models.did_regression import RegressionFit, fit_event_regression
from gvcpanel.models.staggered import Cells, StaggeredData, fmt_number

#: cells of influence columns computed together (bounds the n0 x chunk work arrays)
CHUNK = 64


def imputation_effects(
    data: StaggeredData,
    leave_out: bool = True,
) -> tuple[Cells, dict[str, np.ndarray], dict[str, int], dict[str, float]]:
    """Cohort-by-period imputation estimates.

    Returns
    -------
    Cells, dict, dict, dict
        The cells; their unit-level influence functions for each clustering variable (the
        leave-out means depend on the clusters); excluded treated firm-years by reason; and
        first-step statistics.
    """
    treated = data.treated
    untreated = ~treated
    if not untreated.any():
        raise IdentificationError("no untreated firm-year: the imputation estimator has nothing to fit.")
    u0_codes, firms0 = compress_codes(data.unit[untreated], data.n_units)
    p0_codes, periods0 = compress_codes(data.period[untreated], data.periods.size)
    firm_fe = FixedEffect("firm", u0_codes, int(firms0.size))
    year_fe = FixedEffect("year", p0_codes, int(periods0.size))
    absorber = Absorber([firm_fe, year_fe])
    y0 = data.y[untreated]
    X0 = data.X[untreated]
    p = X0.shape[1]
    block = np.asfortranarray(np.column_stack([y0, X0]))
    absorber.demean(block)
    y0_t, X0_t = block[:, 0], block[:, 1:]
    if p:
        gram = X0_t.T @ X0_t
        if np.linalg.matrix_rank(gram) < p:
            raise IdentificationError(
                f"the covariates {list(data.covariates)} are collinear with the firm and period effects "
                "among untreated firm-years; drop the ones that do not vary within firms over time."
            )
        gram_inv = np.linalg.inv(gram)
        gamma = gram_inv @ (X0_t.T @ y0_t)
    else:
        gram_inv, gamma = np.zeros((0, 0)), np.zeros(0)
    resid0 = y0_t - X0_t @ gamma
    z0 = y0 - X0 @ gamma
    alpha, lam = absorber.solve_dummies([
        np.bincount(u0_codes, z0, firms0.size), np.bincount(p0_codes, z0, periods0.size)
    ])
    alpha, lam = alpha[:, 0], lam[:, 0]

    # which treated firm-years can be imputed
    firm_pos = np.full(data.n_units, -1)
    firm_pos[firms0] = np.arange(firms0.size)
    period_pos = np.full(data.periods.size, -1)
    period_pos[periods0] = np.arange(periods0.size)
    rows1 = np.flatnonzero(treated)
    f1, t1 = firm_pos[data.unit[rows1]], period_pos[data.period[rows1]]
    exclusions: dict[str, int] = {}
    no_firm, no_period = f1 < 0, (f1 >= 0) & (t1 < 0)
    if no_firm.any():
        exclusions["treated firm-year whose firm has no untreated firm-year (imputation)"] = int(no_firm.sum())
    if no_period.any():
        exclusions["treated firm-year in a period with no untreated firm-year (imputation)"] = int(no_period.sum())
    ok = (f1 >= 0) & (t1 >= 0)
    n_comp, comp = _components(firm_fe, year_fe)
    if n_comp > 1:
        same = np.zeros(ok.size, dtype=bool)
        same[ok] = comp[f1[ok]] == comp[firm_fe.n_levels + t1[ok]]
        if (ok & ~same).any():
            exclusions["treated firm-year not connected to its period through untreated firm-years (imputation)"] = int(
                (ok & ~same).sum())
        ok &= same
    rows1, f1, t1 = rows1[ok], f1[ok], t1[ok]
    if rows1.size == 0:
        raise IdentificationError("no treated firm-year can be imputed; see the exclusions.")
    X1 = data.X[rows1]
    tau = data.y[rows1] - (alpha[f1] + lam[t1] + X1 @ gamma)

    # cells: cohort x period
    cohort1, period1 = data.cohort[rows1], data.year[rows1]
    keys = pd.MultiIndex.from_arrays([cohort1, period1])
    cell_of, cell_keys = pd.factorize(keys, sort=True)
    n_cells = len(cell_keys)
    n_in_cell = np.bincount(cell_of, minlength=n_cells).astype(float)
    tau_sum = np.bincount(cell_of, tau, n_cells)
    tau_bar = tau_sum / n_in_cell
    w1 = 1.0 / n_in_cell[cell_of]  # each treated firm-year's weight in its own cell

    # untreated part of the influence: v0 * first-step residual, summed by unit
    psi_untreated = np.zeros((data.n_units, n_cells))
    unit0 = data.unit[untreated]
    for lo in range(0, n_cells, CHUNK):
        cols = np.arange(lo, min(lo + CHUNK, n_cells))
        in_chunk = (cell_of >= lo) & (cell_of < lo + cols.size)
        W = np.zeros((rows1.size, cols.size))
        W[np.flatnonzero(in_chunk), cell_of[in_chunk] - lo] = w1[in_chunk]
        c_firm = _sum_rows(W, f1, firms0.size)
        c_year = _sum_rows(W, t1, periods0.size)
        a_w, l_w = absorber.solve_dummies([c_firm, c_year])
        h = a_w[u0_codes] + l_w[p0_codes]
        if p:
            delta = gram_inv @ (X1.T @ W - X0.T @ h)
            h += X0_t @ delta
        psi_untreated[:, cols] = _sum_rows(-h * resid0[:, None], unit0, data.n_units)

    # treated part: w * (tau - cell mean), the mean leaving out the own cluster if asked
    psi_by_cluster: dict[str, np.ndarray] = {}
    unit1 = data.unit[rows1]
    for name, unit_codes in data.unit_clusters.items():
        cl = unit_codes[unit1]
        if leave_out:
            pair, pair_codes = np.unique(cell_of * (int(cl.max()) + 1) + cl, return_inverse=True)
            s_pair = np.bincount(pair_codes, tau)
            n_pair = np.bincount(pair_codes).astype(float)
            rest_n = n_in_cell[cell_of] - n_pair[pair_codes]
            rest_s = tau_sum[cell_of] - s_pair[pair_codes]
            reference = np.where(rest_n > 0, rest_s / np.where(rest_n > 0, rest_n, 1.0), tau_bar[cell_of])
        else:
            reference = tau_bar[cell_of]
        contrib = w1 * (tau - reference)
        psi_t = np.zeros((data.n_units, n_cells))
        np.add.at(psi_t, (unit1, cell_of), contrib)
        psi_by_cluster[name] = psi_untreated + psi_t
    cells = Cells(
        cohort=np.asarray(cell_keys.get_level_values(0), dtype=float),
        period=np.asarray(cell_keys.get_level_values(1), dtype=float),
        estimate=tau_bar,
        psi=psi_by_cluster["firm_id"],
        reference=np.zeros(n_cells, dtype=bool),
        weight=n_in_cell,
    )
    stats = {"n_untreated": int(untreated.sum()), "n_imputed": int(rows1.size),
             "first_step_rss": float(resid0 @ resid0)}
    return cells, psi_by_cluster, exclusions, stats


def _sum_rows(values: np.ndarray, codes: np.ndarray, size: int) -> np.ndarray:
    out = np.empty((size, values.shape[1]))
    for j in range(values.shape[1]):
        out[:, j] = np.bincount(codes, values[:, j], size)
    return out


def _components(a: FixedEffect, b: FixedEffect) -> tuple[int, np.ndarray]:
    """Connected sets of the bipartite graph of levels of ``a`` and ``b`` (labels: a's, then b's)."""
    cross = sparse.csr_matrix((np.ones(a.codes.size), (a.codes, b.codes)), shape=(a.n_levels, b.n_levels))
    graph = sparse.bmat([[None, cross], [cross.T, None]], format="csr")
    return connected_components(graph, directed=False)


def pretrend_regression(
    data: StaggeredData,
    window: tuple[float, float] | None = None,
) -> tuple[pd.DataFrame, RegressionFit]:
    """BJS Test 1: leads of treatment on the untreated firm-years (terms table and fit)."""
    untreated = ~data.treated
    event = data.event_time
    all_leads = np.unique(event[untreated & np.isfinite(event)])
    lead_times = all_leads if window is None else all_leads[all_leads >= window[0]]
    # within a treated firm the leads add up to one on its untreated years (absorbed by the firm
    # effect): some pre-period must be left out, the earliest when the window leaves none out
    if lead_times.size and lead_times.size == all_leads.size:
        lead_times = lead_times[1:]
    if lead_times.size == 0:
        raise SpecificationError("no pre-treatment event time to test; the panel has no untreated cohort years.")
    # nearest leads first: when cohorts' pre-periods do not overlap enough (survey waves, no
    # never-treated firms) the distant leads are the ones found collinear and left out
    columns = {f"lead_m{fmt_number(abs(e))}": (event[untreated] == e).astype(float) for e in lead_times[::-1]}
    fit = fit_event_regression(data, untreated, columns, drop_unidentified=True)
    kept = [float(e) for e in lead_times if f"lead_m{fmt_number(abs(e))}" in fit.names]
    order = np.argsort(kept)
    fit = RegressionFit(tuple(fit.names[::-1]), fit.params[::-1], fit.psi[:, ::-1], fit.nobs, fit.dof_ratio,
                        fit.r2_within)
    terms = pd.DataFrame({"event_time": np.asarray(kept)[order], "reference": False, "binned": False})
    # the pre-periods that serve as reference: left out by the window, to break the collinearity
    # with the firm effects, or found collinear
    terms.attrs["left_out"] = [float(e) for e in all_leads if e not in kept]
    return terms, fit
