"""Event studies: Callaway-Sant'Anna against moderndid on mpdta, Sun-Abraham and TWFE against the
regressions they are defined by (fe_regression), the imputation estimator against pyfixest's did2s
and against its formula with explicit dummies, inference and recovery of the simulated truth."""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gvcpanel.errors import SpecificationError
from gvcpanel.gvc.cohorts import chain_cohorts
from gvcpanel.gvc.simulate import simulate_panel
from gvcpanel.models.event_study import event_study
from gvcpanel.models.linear import fe_regression
from gvcpanel.models.staggered import prepare

REFERENCE = Path(__file__).parent / "reference"


# --- Callaway-Sant'Anna against moderndid 0.2.0 on mpdta ------------------------------------------
@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    data = pytest.importorskip("moderndid.core.data").load_mpdta().to_pandas()
    return data.rename(columns={"countyreal": "firm_id", "first.treat": "first_treat"}).set_index(["firm_id", "year"])


@pytest.fixture(scope="module")
def moderndid_numbers() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "mpdta_moderndid.csv")


@pytest.mark.parametrize("spec", pd.read_csv(REFERENCE / "mpdta_moderndid.csv")["spec"].unique())
def test_callaway_santanna_matches_moderndid_on_mpdta(mpdta, moderndid_numbers, spec):
    """Source: tests/reference/make_event_study_reference.py (moderndid 0.2.0, analytic s.e.)."""
    xformla, method, control, base = spec.split("|")
    formula = "lemp ~ 1" if xformla == "~1" else "lemp ~ lpop"
    res = event_study(mpdta, formula, "first_treat", "cs", method=method, base_period=base,
                      control="never" if control == "nevertreated" else "not_yet", cluster=None,
                      inference={"draws": 199})["cs"]
    ref = moderndid_numbers[moderndid_numbers["spec"] == spec]
    mine = {
        "cells": res.cells(), "event_time": res.event_time(), "cohort": res.by_cohort(),
        "calendar": res.by_calendar(), "overall_simple": res.overall("simple"),
        "overall_event_time": res.overall("event_time"), "overall_cohort": res.overall("cohort"),
        "overall_calendar": res.overall("calendar"),
    }
    assert set(ref["aggregation"]) == set(mine)
    for aggregation, result in mine.items():
        expected = ref[ref["aggregation"] == aggregation].set_index("term")
        assert list(result.params.index) == list(expected.index), aggregation
        np.testing.assert_allclose(result.params.to_numpy(), expected["estimate"].to_numpy(), rtol=1e-6, atol=1e-10)
        has_se = expected["std_error"].notna().to_numpy()
        np.testing.assert_allclose(result.std_errors.to_numpy()[has_se], expected["std_error"].to_numpy()[has_se],
                                   rtol=1e-6, atol=1e-10)
        # moderndid reports NA exactly for the reference cells (universal base period)
        assert np.array_equal(~has_se, result.terms["reference"].to_numpy(dtype=bool)), aggregation


# --- a small simulated staggered panel ----------------------------------------------------------
@pytest.fixture(scope="module")
def staggered():
    sim = simulate_panel(n_firms=900, n_clusters=15, n_countries=3, years=(2005, 2016), seed=11)
    panel = chain_cohorts(sim.panel)
    return sim, panel


@pytest.fixture(scope="module")
def studies(staggered):
    _, panel = staggered
    return event_study(panel, "log(export_sales) ~ log(employees)", "qh_entry_year", window=(-4, 6))


def _prepared_frame(panel, formula="log(export_sales) ~ log(employees)"):
    data = prepare(panel, formula, "qh_entry_year", "cluster_id")
    frame = data.frame()
    frame["event"] = data.event_time
    return data, frame


@pytest.mark.filterwarnings("ignore::gvcpanel.errors.FewClustersWarning")
def test_sun_abraham_equals_the_saturated_regression(staggered, studies):
    """SA's cohort effects are the coefficients of the cohort x event-time regression fitted by
    fe_regression; its event-time estimates are their cohort-share averages with the delta-method
    covariance of fe_regression's CRV1 ("stata") covariance."""
    _, panel = staggered
    data, frame = _prepared_frame(panel)
    event = frame["event"].to_numpy()  # all relative periods (the window only limits reporting)
    cohorts = frame["cohort"].to_numpy()
    names, cells, columns = [], [], {}
    for g in np.unique(cohorts[np.isfinite(cohorts)]):
        times = np.unique(event[cohorts == g])
        ref = times[times < 0].max()
        for e in times:
            if e == ref:
                continue
            name = f"d_{int(g)}_{int(e + 100)}"
            columns[name] = ((cohorts == g) & (event == e)).astype(float)
            names.append(name)
            cells.append((g, e, int(((cohorts == g) & (event == e)).sum())))
    frame = pd.concat([frame, pd.DataFrame(columns, index=frame.index)], axis=1)
    fit = fe_regression(frame, "y ~ " + " + ".join(names + ["x0"]), effects=("firm", "year"),
                        cluster="cluster_id", drop_singletons=False)
    sa = studies["sa"]
    sa_cells = sa.cells()
    nonref = sa_cells.params[~sa_cells.terms["reference"].to_numpy(dtype=bool)]
    expected = {f"g={int(g)},t={int(g + e)}": fit.params[n] for n, (g, e, _) in zip(names, cells)}
    np.testing.assert_allclose(nonref.to_numpy(), [expected[t] for t in nonref.index], rtol=1e-9, atol=1e-12)
    # interaction weights: share of each cohort's firm-years at each event time
    by_event = sa.event_time()
    table = pd.DataFrame(cells, columns=["g", "e", "n"])
    table["name"] = names
    for e in (-3, 0, 2, 6):
        rows = table[table["e"] == e]
        w = rows["n"].to_numpy() / rows["n"].sum()
        coef = fit.params[rows["name"]].to_numpy()
        cov = fit.cov.loc[rows["name"], rows["name"]].to_numpy()
        term = f"e={e}"
        np.testing.assert_allclose(by_event.params[term], w @ coef, rtol=1e-9)
        np.testing.assert_allclose(by_event.std_errors[term], np.sqrt(w @ cov @ w), rtol=1e-8)


@pytest.mark.filterwarnings("ignore::gvcpanel.errors.FewClustersWarning")
def test_twfe_event_study_equals_fe_regression(staggered, studies):
    _, panel = staggered
    _, frame = _prepared_frame(panel)
    event = np.clip(frame["event"].to_numpy(), -4, 6)
    names = []
    for e in range(-4, 7):
        if e == -1:
            continue
        names.append(f"ev_{e + 100}")
        frame[names[-1]] = (event == e).astype(float)
    fit = fe_regression(frame.copy(), "y ~ " + " + ".join(names + ["x0"]), effects=("firm", "year"),
                        cluster="cluster_id", drop_singletons=False)
    twfe = studies["twfe"]
    terms = [f"e={e}" for e in range(-4, 7) if e != -1]
    np.testing.assert_allclose(twfe.params[terms].to_numpy(), fit.params[names].to_numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(twfe.cov.loc[terms, terms].to_numpy(), fit.cov.loc[names, names].to_numpy(),
                               rtol=1e-8, atol=1e-14)
    assert twfe.params["e=-1"] == 0 and bool(twfe.terms.loc["e=-1", "reference"])


def test_imputation_equals_pyfixest_did2s(staggered):
    """Gardner's two-stage estimator with event-time dummies in the second stage gives the same
    post-treatment averages as the imputation estimator (pyfixest 0.60 did2s).  Firms with a single
    untreated year are left out of both: pyfixest's first stage drops them as singletons and its
    variance step then fails on the unequal samples."""
    pf = pytest.importorskip("pyfixest")
    _, panel = staggered
    _, frame = _prepared_frame(panel, "log(export_sales) ~ 1")
    untreated_years = (frame["event"] < 0).groupby(level="firm_id").sum()
    frame = frame[untreated_years.reindex(frame.index.get_level_values("firm_id")).to_numpy() >= 2]
    imputation = event_study(frame, "y ~ 1", "cohort", "imputation", inference={"draws": 199})["imputation"]
    df = frame.reset_index()
    df["treat"] = (df["event"] >= 0).astype(int)
    post_times = np.unique(df.loc[df["event"] >= 0, "event"])
    for e in post_times:
        df[f"d{int(e)}"] = (df["event"] == e).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.did2s(df, yname="y", first_stage="~ 0 | firm_id + year",
                       second_stage="~ 0 + " + " + ".join(f"d{int(e)}" for e in post_times),
                       treatment="treat", cluster="cluster_id")
    theirs = fit.coef()
    post = imputation.params[imputation.terms["event_time"].to_numpy() >= 0]
    assert len(post) == len(post_times) > 5
    # pyfixest demeans by alternating projections that stop at fixef_tol=1e-6 (its default, not an
    # argument of did2s); gvcpanel's two-way absorption is a direct solve (exact to 1e-10, see the
    # explicit-dummy test below), so the two agree to the order of pyfixest's tolerance
    np.testing.assert_allclose(post.to_numpy(), [theirs[f"d{int(float(t[2:]))}"] for t in post.index],
                               rtol=0, atol=1e-5)


def test_imputation_weights_and_variance_by_explicit_dummies():
    """BJS Theorem 1 and 3 computed with explicit firm and year dummies on a tiny panel."""
    sim = simulate_panel(n_firms=150, n_clusters=6, n_countries=2, years=(2005, 2012), seed=3)
    panel = chain_cohorts(sim.panel)
    formula = "log(export_sales) ~ log(employees)"
    res = event_study(panel, formula, "qh_entry_year", "imputation", inference={"draws": 199},
                      leave_out=False)["imputation"]
    data = prepare(panel, formula, "qh_entry_year", "cluster_id")
    treated = data.treated
    Z = np.column_stack([np.eye(data.n_units)[data.unit], np.eye(data.periods.size)[data.period][:, 1:], data.X])
    Z0, Z1 = Z[~treated], Z[treated]
    beta = np.linalg.lstsq(Z0, data.y[~treated], rcond=None)[0]
    tau = data.y[treated] - Z1 @ beta
    resid0 = data.y[~treated] - Z0 @ beta
    event1 = data.event_time[treated]
    cells1 = pd.MultiIndex.from_arrays([data.cohort[treated], data.year[treated]])
    for e in (0, 2):
        w1 = (event1 == e) / (event1 == e).sum()
        v0 = -Z0 @ np.linalg.pinv(Z0.T @ Z0) @ (Z1.T @ w1)
        cell_mean = pd.Series(tau).groupby(cells1).transform("mean").to_numpy()
        eps = np.zeros(data.nobs)
        eps[~treated] = v0 * resid0
        eps[treated] = w1 * (tau - cell_mean)
        cluster = data.unit_clusters["cluster_id"][data.unit]
        sigma2 = np.sum(np.bincount(cluster, eps) ** 2)
        n_g = cluster.max() + 1
        np.testing.assert_allclose(res.params[f"e={e}"], w1 @ tau, rtol=1e-9)
        np.testing.assert_allclose(res.std_errors[f"e={e}"], np.sqrt(sigma2 * n_g / (n_g - 1)), rtol=1e-7)


# --- recovery of the simulated truth on one seeded panel ---------------------------------------------
def test_robust_estimators_recover_the_simulated_effects(staggered, studies):
    """Each robust estimate lies within 4 of its standard errors of the true effect its own weights
    average (one seeded panel; `make montecarlo` checks coverage over 200 panels)."""
    sim, _ = staggered
    for name in ("cs", "sa", "imputation"):
        res = studies[name]
        truth = sim.entry.att_by_event_time(res.weights)
        post = res.terms.index[res.terms["event_time"] >= 0]
        z = (res.params[post] - truth[post]) / res.std_errors[post]
        assert np.all(np.abs(z) < 4), (name, z.round(2).to_dict())
        pre = res.terms.index[(res.terms["event_time"] < 0) & ~res.terms["reference"].astype(bool)]
        assert np.all(np.abs(res.params[pre] / res.std_errors[pre]) < 4), name
        assert res.pretrend_test().pvalue > 0.001
        overall = res.overall()
        true_overall = sim.entry.att_by_event_time(overall.weights)["ATT"]
        assert abs(overall.params["ATT"] - true_overall) < 4 * overall.std_errors["ATT"]


def test_cohort_and_calendar_aggregations_are_weighted_cell_means(studies):
    res = studies["cs"]
    cells = res.cells()
    by_cohort = res.by_cohort()
    frame = cells.to_frame()
    post = frame[(frame["event_time"] >= 0) & (frame["event_time"] <= 6)]
    for g, rows in post.groupby("cohort"):
        np.testing.assert_allclose(by_cohort.params[f"g={int(g)}"], rows["estimate"].mean(), rtol=1e-12)
    weights = res.by_calendar().weights
    assert np.allclose(weights.groupby("term")["weight"].sum(), 1.0)


# --- inference --------------------------------------------------------------------------------------
def test_with_inference_returns_a_new_result(studies):
    cs = studies["cs"]
    by_firm = cs.with_inference("cluster", cluster="firm_id")
    assert cs.inference.spec.cluster == ("cluster_id",) and by_firm.inference.spec.cluster == ("firm_id",)
    assert by_firm.n_clusters == cs.n_firms and by_firm.inference.df is None  # unit clusters: normal, no factor
    assert not np.allclose(by_firm.std_errors.dropna(), cs.std_errors.dropna())
    pd.testing.assert_series_equal(by_firm.params, cs.params)


def test_multiplier_bootstrap_matches_the_analytic_variance_and_gives_its_own_intervals(studies):
    """Multiplier draws have E[w w'] = I, so their spread estimates the analytic standard error
    (same small-sample factor); with 4,999 draws a standard deviation is off by about 1%."""
    res = studies["imputation"]
    wild = res.with_inference("wild", draws=4999, seed=7)
    ratio = wild.inference.details["bootstrap_se"] / res.std_errors.to_numpy()
    assert np.all(np.abs(ratio - 1) < 0.06), ratio.round(3)
    assert wild.is_bootstrap and wild.inference.spec.kind == "wild"
    ci, analytic = wild.conf_int(), res.conf_int()
    np.testing.assert_allclose((ci["upper"] - ci["lower"]) / (analytic["upper"] - analytic["lower"]), 1, atol=0.2)
    assert wild.pvalues.between(0, 1).all() and (wild.pvalues[res.pvalues < 1e-6] < 0.01).all()
    with pytest.raises(SpecificationError, match="not available"):
        res.with_inference("cr2")


def test_sup_t_band_lies_between_pointwise_and_bonferroni(studies):
    res = studies["sa"]
    crit = res.inference.details["band_critical"]
    k = int((~res.terms["reference"].astype(bool)).sum())
    from scipy import stats

    pointwise = stats.norm.ppf(0.975)
    bonferroni = stats.t.ppf(1 - 0.025 / k, res.inference.df) * 1.05
    assert pointwise < crit < bonferroni
    band = res.bands()
    ci = res.conf_int()
    inner = ~res.terms["reference"].astype(bool)
    assert np.all((band["lower"] <= ci["lower"])[inner]) and np.all((band["upper"] >= ci["upper"])[inner])
    again = res.with_inference("cluster")  # same seed and draws: the same band
    assert again.inference.details["band_critical"] == crit


def test_results_pickle_and_describe_themselves(studies):
    res = studies["cs"]
    back = pickle.loads(pickle.dumps(res))
    pd.testing.assert_frame_equal(back.to_frame(), res.to_frame())
    assert back.by_cohort().params.equals(res.by_cohort().params)
    assert "Callaway-Sant'Anna" in str(res.summary()) and "<table" in res._repr_html_()
    frame = studies.to_frame()
    assert set(frame["estimator"]) == {"twfe", "cs", "sa", "imputation"}
    assert {"band_low", "band_high", "ci_low", "ci_high", "event_time"} <= set(frame.columns)
    tests = studies.pretrend_tests()
    assert list(tests.index) == ["twfe", "cs", "sa", "imputation"] and tests["p_value"].between(0, 1).all()
    assert (res.exclusions["n_rows"] > 0).all() and res.nobs + 0 > 0
    # the set's summary is every estimator's, as text
    text = studies.summary()
    assert isinstance(text, str) and all(name in text for name in
                                         ("Callaway-Sant'Anna", "Sun-Abraham", "Imputation"))


def test_survey_waves_use_actual_years(staggered):
    """Waves three years apart: event times are multiples of 3 and CS compares with the previous wave."""
    _, panel = staggered
    frame = panel.data
    waves = frame[frame.index.get_level_values("year").isin([2005, 2008, 2011, 2014])]
    es = event_study(waves, "log(export_sales) ~ 1", "qh_entry_year", ("cs", "imputation", "sa"),
                     inference={"draws": 199})
    cells = es["cs"].cells()
    assert set(cells.terms["period"]) <= {2008.0, 2011.0, 2014.0}
    event_times = set(es["cs"].terms["event_time"])
    assert all(e % 1 == 0 for e in event_times) and {-3.0, 0.0} <= event_times
    assert np.isfinite(es["imputation"].params).all() and np.isfinite(es["sa"].params).all()


# --- bad input ----------------------------------------------------------------------------------------
def test_bad_input_is_refused_with_the_package_error(staggered, studies):
    _, panel = staggered
    frame = panel.data
    with pytest.raises(SpecificationError, match="cohort column 'nope' is not in the panel"):
        event_study(panel, "log(export_sales) ~ 1", "nope")
    changing = frame.copy()
    changing["qh_entry_year"] = changing["qh_entry_year"].where(
        changing.index.get_level_values("year") != 2010, 2011.0)
    with pytest.raises(SpecificationError, match="changes within firm_id"):
        event_study(changing, "log(export_sales) ~ 1", "qh_entry_year")
    with pytest.raises(SpecificationError, match="estimator"):
        event_study(panel, "log(export_sales) ~ 1", "qh_entry_year", "did")
    with pytest.raises(SpecificationError, match="window"):
        event_study(panel, "log(export_sales) ~ 1", "qh_entry_year", "cs", window=(2, 5))
    with pytest.raises(SpecificationError, match="inference"):
        event_study(panel, "log(export_sales) ~ 1", "qh_entry_year", "cs", inference="cr2")
    no_never = frame[frame["qh_entry_year"] > 0]
    with pytest.raises(SpecificationError, match="control='not_yet'"):
        event_study(no_never, "log(export_sales) ~ 1", "qh_entry_year", "cs")
    moving = frame.copy()
    moving["cluster_id"] = np.where(moving.index.get_level_values("year") == 2010, "cluster_01",
                                    moving["cluster_id"].astype(str))
    with pytest.raises(SpecificationError, match="changes within firm_id"):
        event_study(moving, "log(export_sales) ~ 1", "qh_entry_year", "cs")
    with pytest.raises(SpecificationError, match="was not kept"):
        studies["cs"].with_inference("cluster", cluster="country")
    with pytest.raises(SpecificationError, match="no 'cohort' aggregation"):
        studies["twfe"].by_cohort()
    with pytest.raises(SpecificationError, match="missing_cohort"):
        event_study(panel, "log(export_sales) ~ 1", "qh_entry_year", "cs", missing_cohort="zero")


def test_missing_cohorts_are_excluded_and_counted_unless_they_mean_never(staggered):
    _, panel = staggered
    frame = panel.data
    nan_never = frame.assign(qh_entry_year=frame["qh_entry_year"].replace(0.0, np.nan))
    excluded = event_study(nan_never, "log(export_sales) ~ 1", "qh_entry_year", "imputation",
                           inference={"draws": 199})["imputation"]
    reasons = dict(zip(excluded.exclusions["reason"], excluded.exclusions["n_rows"]))
    assert any(r.startswith("missing qh_entry_year") for r in reasons)
    as_never = event_study(nan_never, "log(export_sales) ~ 1", "qh_entry_year", "imputation",
                           missing_cohort="never", inference={"draws": 199})["imputation"]
    reference = event_study(panel, "log(export_sales) ~ 1", "qh_entry_year", "imputation",
                            inference={"draws": 199})["imputation"]
    pd.testing.assert_series_equal(as_never.params, reference.params)


# --- the simulator's chain-entry block ----------------------------------------------------------------
def test_chain_entry_block_has_its_own_stream_and_truth():
    base = simulate_panel(n_firms=300, n_clusters=6, n_countries=2, years=(2005, 2012), seed=9)
    flat = simulate_panel(n_firms=300, n_clusters=6, n_countries=2, years=(2005, 2012), seed=9,
                          params={"entry_effect_level": 0.0, "entry_effect_slope": 0.0})
    others = [c for c in base.frame.columns if c != "export_sales"]
    pd.testing.assert_frame_equal(base.frame[others], flat.frame[others])
    log_gap = np.log(base.frame["export_sales"]) - np.log(flat.frame["export_sales"])
    cohort = pd.Series(base.entry.cohort, index=np.arange(1, 301))
    start = cohort.reindex(base.frame["firm_id"]).to_numpy()
    event = base.frame["year"].to_numpy() - start
    entered = np.isfinite(start) & np.isfinite(log_gap.to_numpy())
    np.testing.assert_allclose(log_gap.to_numpy()[entered], base.entry.effect(start[entered], event[entered]),
                               atol=1e-12)
    effects = base.entry.effects
    assert set(effects.columns) == {"cohort", "event_time", "effect", "n_firms", "n_firm_years"}
    # earlier cohorts gain more at the same event time (so that TWFE is biased)
    at_zero = effects[effects["event_time"] == 0].set_index("cohort")["effect"]
    assert at_zero.is_monotonic_decreasing and at_zero.iloc[0] > at_zero.iloc[-1]
    keys = set(base.truth.to_frame()["key"])
    assert {"entry_effect_level", "entry_effect_slope", "entry_effect_cohort_gradient"} <= keys


def test_the_event_study_plot_overlays_estimators_with_their_bands(studies):
    import matplotlib

    matplotlib.use("Agg")
    import gvcpanel as gp
    from gvcpanel.report.plots import event_study_frame

    frame = event_study_frame(studies)
    assert {"band_low", "band_high"} <= set(frame.columns)
    assert set(frame["estimator"]) == {"twfe", "cs", "sa", "imputation"}
    fig = gp.event_study_plot(studies)
    labels = sorted(line.get_label() for line in fig.axes[0].lines if not line.get_label().startswith("_"))
    assert labels == ["cs", "imputation", "sa", "twfe"]
    # per estimator: one band collection and one interval collection
    assert len(fig.axes[0].collections) == 8
