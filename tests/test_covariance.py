"""Cluster-robust covariances against R (stored output), linearmodels and pyfixest.

Data: tests/reference/cluster_panel.csv (502 firm-years, 60 firms in 12 clusters, 2010-2019,
unbalanced; written by tests/reference/make_cluster_panel.py).  R numbers: cluster_reference.csv
from ``Rscript tests/reference/make_cluster_reference.R`` with R 4.2.2, sandwich 3.0.2,
clubSandwich 0.5.8, plm 2.6.2 (cluster_reference_versions.txt).  Required agreement 1e-6 relative.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gvcpanel.errors import FewClustersWarning, InexactCovarianceWarning, SpecificationError
from gvcpanel.models.linear import fe_regression
from gvcpanel.inference.biasreduced import bias_reduced_cov
from gvcpanel.inference.covariance import LinearDesign, crv1_scale, default_lags
from gvcpanel.inference.spec import InferenceSpec

REF = Path(__file__).parent / "reference"
TERMS = ["x1", "d", "x2", "x1:d"]  # R's coefficient names for y ~ x1 * d + x2


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return pd.read_csv(REF / "cluster_panel.csv")


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    ref = pd.read_csv(REF / "cluster_reference.csv", keep_default_na=False)
    ref["value"] = ref["value"].astype(float)
    return ref


def r_value(ref: pd.DataFrame, model: str, cluster: str, estimator: str) -> pd.DataFrame | pd.Series:
    rows = ref[(ref.model == model) & (ref.cluster == cluster) & (ref.estimator == estimator)]
    assert not rows.empty, (model, cluster, estimator)
    if (rows.term_col == "").all():
        return rows.set_index("term_row")["value"]
    return rows.pivot(index="term_row", columns="term_col", values="value")


def make_design(panel: pd.DataFrame, absorb: tuple[str, ...], year_dummies: bool, intercept: bool = False) -> LinearDesign:
    """Partial the absorbed effects out by least squares on their dummies (an exact within
    transformation for unbalanced panels), keeping year dummies as regressors when asked."""
    cols = {"x1": panel.x1, "d": panel.d, "x2": panel.x2, "x1:d": panel.x1 * panel.d}
    if intercept:
        cols = {"(Intercept)": np.ones(len(panel)), **cols}
    if year_dummies:
        for year in sorted(panel.year.unique())[1:]:
            cols[f"year_f{year}"] = (panel.year == year).astype(float)
    X = pd.DataFrame(cols)
    y = panel.y.to_numpy(float)
    Xa = X.to_numpy(float)
    dummies = []
    if "firm" in absorb:
        dummies.append(pd.get_dummies(panel.firm_id).to_numpy(float))
    if "year" in absorb:
        dummies.append(pd.get_dummies(panel.year, drop_first=True).to_numpy(float))
    k_absorbed = 0
    if dummies:
        D = np.hstack(dummies)
        k_absorbed = D.shape[1]
        Xa = Xa - D @ np.linalg.lstsq(D, Xa, rcond=None)[0]
        y = y - D @ np.linalg.lstsq(D, y, rcond=None)[0]
    params = np.linalg.lstsq(Xa, y, rcond=None)[0]
    codes = {c: pd.factorize(panel[c], sort=True)[0] for c in ("cluster_id", "firm_id", "year")}
    labels = {c: np.sort(panel[c].unique()) for c in codes}
    nested = {}
    if "firm" in absorb:
        nested = {"cluster_id": 60, "firm_id": 60}
    if "year" in absorb:
        nested["year"] = 10  # every level of a nested effect counts
    return LinearDesign(
        Xa, y, params, y - Xa @ params, tuple(X.columns), codes, labels,
        k_absorbed=k_absorbed, absorbed_nested=nested, default_cluster=("cluster_id",),
    )


def assert_rel(mine: np.ndarray, ref: np.ndarray, rtol: float = 1e-6) -> None:
    """Relative agreement of whole matrices (scaled by their largest entry)."""
    err = np.max(np.abs(np.asarray(mine) - np.asarray(ref))) / np.max(np.abs(np.asarray(ref)))
    assert err < rtol, err


def quiet(design: LinearDesign, **kw) -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewClustersWarning)
        return design.inference(InferenceSpec(**kw))


# --- CRV1 ------------------------------------------------------------------------------------
@pytest.mark.parametrize("model,absorb,dummies", [("twoway", ("firm",), True), ("oneway", ("firm",), False), ("pooled", (), True)])
@pytest.mark.parametrize("cluster", ["cluster_id", "firm_id"])
def test_crv1_without_nesting_equals_vcovCL_HC1(panel, reference, model, absorb, dummies, cluster):
    # sandwich::vcovCL(fit, cluster, type = "HC1", cadjust = TRUE): G/(G-1) (N-1)/(N-p) with p all
    # lm coefficients, i.e. the stata preset when no absorbed effect is declared nested
    design = make_design(panel, absorb, dummies, intercept=(model == "pooled"))
    design = replace(design, absorbed_nested={})
    ref = r_value(reference, model, cluster, "vcovCL_HC1")
    inf = quiet(design, kind="cluster", cluster=cluster)
    names = [n for n in design.names if n in ref.index]
    assert_rel(inf.cov.loc[names, names], ref.loc[names, names])


@pytest.mark.parametrize("preset", ["stata", "fixest"])
@pytest.mark.parametrize("cluster", ["cluster_id", "firm_id"])
def test_crv1_stata_fixest_nested_effects(panel, reference, preset, cluster):
    # R: vcovCL(fit, cluster, type = "HC0", cadjust = TRUE) times (N-1)/(N-K) with K as reghdfe
    # and fixest count it: 4 regressors + 9 year effects + 1 intercept kept from the nested firm
    # effects = 14 (N = 502)
    design = make_design(panel, ("firm", "year"), False)
    ref = r_value(reference, "twoway", cluster, "vcovCL_HC0_cadjust").loc[TERMS, TERMS] * (501 / (502 - 14))
    inf = quiet(design, kind="cluster", cluster=cluster, preset=preset)
    assert_rel(inf.cov.loc[TERMS, TERMS], ref)
    n_groups = 12 if cluster == "cluster_id" else 60
    assert inf.df == n_groups - 1


def test_crv1_fixest_preset_equals_pyfixest(panel):
    import pyfixest as pf
    # pyfixest 0.60: feols("y ~ x1 + d + x2 + x1:d | firm_id + year", vcov={"CRV1": "cluster_id"})
    fit = pf.feols("y ~ x1 + d + x2 + x1:d | firm_id + year", data=panel, vcov={"CRV1": "cluster_id"})
    design = make_design(panel, ("firm", "year"), False)
    inf = quiet(design, kind="cluster", preset="fixest")
    assert_rel(inf.cov.loc[TERMS, TERMS].to_numpy(), fit._vcov)
    assert inf.df == fit._df_t


@pytest.mark.parametrize("time_effects", [True, False])
def test_crv1_linearmodels_preset_equals_panelols(panel, time_effects):
    from linearmodels import PanelOLS

    data = panel.set_index(["firm_id", "year"]).assign(**{"x1:d": lambda f: f.x1 * f.d})
    clusters = pd.DataFrame({"c": pd.factorize(data.cluster_id)[0]}, index=data.index)
    # linearmodels 7.1, default debiased=True, group_debias=False, auto_df=True
    fit = PanelOLS(data.y, data[TERMS], entity_effects=True, time_effects=time_effects).fit(
        cov_type="clustered", clusters=clusters
    )
    design = make_design(panel, ("firm", "year") if time_effects else ("firm",), False)
    inf = quiet(design, kind="cluster", preset="linearmodels")
    assert_rel(inf.cov.loc[TERMS, TERMS].to_numpy(), fit.cov.loc[TERMS, TERMS].to_numpy())
    assert inf.df == fit.df_resid  # t with residual degrees of freedom, not G - 1


def test_crv1_scale_formulas():
    # N=502, k=4, G=12, firm (60) and year (9) effects absorbed, firms nested in clusters
    assert crv1_scale("stata", 502, 4, 12, 69, 60) == pytest.approx(12 / 11 * 501 / 488, rel=1e-14)
    assert crv1_scale("linearmodels", 502, 4, 12, 69, 60) == pytest.approx(502 / 429, rel=1e-14)
    assert crv1_scale("linearmodels", 502, 4, 12, 60, 60) == pytest.approx(502 / 498, rel=1e-14)
    assert crv1_scale("stata", 502, 4, 12, 69, 0) == pytest.approx(12 / 11 * 501 / 429, rel=1e-14)


# --- CR2 / CR3 -------------------------------------------------------------------------------
CR_CASES = [
    # (R model, absorbed effects, year dummies in X, intercept, clusters)
    ("twoway", ("firm",), True, False, "cluster_id"),
    ("twoway", ("firm",), True, False, "firm_id"),
    ("oneway", ("firm",), False, False, "cluster_id"),
    ("oneway", ("firm",), False, False, "firm_id"),
    ("pooled", (), True, True, "cluster_id"),
    ("pooled", (), True, True, "firm_id"),
    ("plm_individual", ("firm",), False, False, "cluster_id"),
]


@pytest.mark.parametrize("model,absorb,dummies,intercept,cluster", CR_CASES)
def test_cr2_equals_clubsandwich(panel, reference, model, absorb, dummies, intercept, cluster):
    # clubSandwich::vcovCR(fit, cluster, type = "CR2") and coef_test(..., test = "Satterthwaite")
    design = make_design(panel, absorb, dummies, intercept)
    inf = quiet(design, kind="cr2", cluster=cluster)
    ref = r_value(reference, model, cluster, "vcovCR_CR2")
    names = [n for n in design.names if n in ref.index]
    assert_rel(inf.cov.loc[names, names], ref.loc[names, names])
    df_ref = r_value(reference, model, cluster, "CR2_satterthwaite_df")
    np.testing.assert_allclose(inf.df_by_term[names].to_numpy(), df_ref[names].to_numpy(), rtol=1e-6)


@pytest.mark.parametrize(
    "model,absorb,dummies,intercept,cluster",
    [
        ("pooled", (), True, True, "cluster_id"),
        ("pooled", (), True, True, "firm_id"),
        ("plm_individual", ("firm",), False, False, "cluster_id"),
        ("plm_twoways", ("firm", "year"), False, False, "cluster_id"),
    ],
)
def test_cr3_equals_clubsandwich(panel, reference, model, absorb, dummies, intercept, cluster):
    # designs built here carry no crossed effects (LinearDesign.crossed is None), so plm_twoways is
    # the transformed-design CR3, which is what clubSandwich 0.5.8 computes for plm twoways (see
    # test_too_many_crossed_levels_fall_back_to_the_absorbed_design); fe_regression's default is
    # the exact jackknife (test_cr3_two_way_is_the_jackknife_of_the_dummy_regression)
    design = make_design(panel, absorb, dummies, intercept)
    inf = quiet(design, kind="cr3", cluster=cluster)
    ref = r_value(reference, model, cluster, "vcovCR_CR3")
    names = [n for n in design.names if n in ref.index]
    assert_rel(inf.cov.loc[names, names], ref.loc[names, names])


def test_cr3_is_the_leave_one_cluster_out_jackknife(panel):
    design = make_design(panel, (), True, True)
    inf = quiet(design, kind="cr3")
    codes = design.groups["cluster_id"]
    deltas = []
    for g in range(codes.max() + 1):
        keep = codes != g
        b = np.linalg.lstsq(design.X[keep], design.y[keep], rcond=None)[0]
        deltas.append(b - design.params)
    deltas = np.array(deltas)
    assert_rel(inf.cov.to_numpy(), deltas.T @ deltas, rtol=1e-9)


def fit_fe(panel: pd.DataFrame, effects: tuple[str, ...], cluster: str, kind: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewClustersWarning)
        return fe_regression(panel.set_index(["firm_id", "year"]), "y ~ x1*d + x2", effects=effects,
                             cluster=cluster, inference=kind)


@pytest.mark.parametrize("cluster", ["cluster_id", "firm_id"])
def test_cr2_with_absorbed_crossed_effects_equals_dummy_regression(panel, reference, cluster):
    # Issue 4: R 4.2.2, clubSandwich 0.5.8: vcovCR(lm(y ~ x1 * d + x2 + firm_id + year_f), cluster,
    # type = "CR2") and coef_test(..., test = "Satterthwaite") on the unbalanced panel.  Year effects
    # cut across both clustering variables, so fe_regression carries them as dummies.
    res = fit_fe(panel, ("firm", "year"), cluster, "cr2")
    ref = r_value(reference, "twoway", cluster, "vcovCR_CR2").loc[TERMS, TERMS]
    assert_rel(res.cov.loc[TERMS, TERMS], ref)
    df_ref = r_value(reference, "twoway", cluster, "CR2_satterthwaite_df")[TERMS]
    np.testing.assert_allclose(res.inference.df_by_term[TERMS].to_numpy(), df_ref.to_numpy(), rtol=1e-6)
    assert res.inference.details == {"crossed_effects": ("year",), "crossed_columns": 9, "dummy_regression": True}
    assert "year effects as dummies" in res.inference.label
    # the same numbers as clubSandwich on plm(effect = "twoways"), whose CR2 adds firm and year
    # dummies back into the hat matrix (augmented_model_matrix.plm)
    if cluster == "cluster_id":
        assert_rel(res.cov.loc[TERMS, TERMS], r_value(reference, "plm_twoways", cluster, "vcovCR_CR2").loc[TERMS, TERMS])


def test_cr2_cr3_without_nested_effects_equal_clubsandwich_with_intercept(panel, reference):
    # year effects only: nothing is nested in cluster_id, all 10 year dummies are carried (their sum
    # is the intercept); R: clubSandwich 0.5.8 vcovCR(lm(y ~ x1 * d + x2 + year_f), cluster_id, ...)
    for kind in ("cr2", "cr3"):
        res = fit_fe(panel, ("year",), "cluster_id", kind)
        ref = r_value(reference, "pooled", "cluster_id", f"vcovCR_{kind.upper()}").loc[TERMS, TERMS]
        assert_rel(res.cov.loc[TERMS, TERMS], ref)
        assert res.inference.details["crossed_columns"] == 10
    df_ref = r_value(reference, "pooled", "cluster_id", "CR2_satterthwaite_df")[TERMS]
    np.testing.assert_allclose(fit_fe(panel, ("year",), "cluster_id", "cr2").inference.df_by_term[TERMS].to_numpy(),
                               df_ref.to_numpy(), rtol=1e-6)


@pytest.mark.parametrize("cluster", ["cluster_id", "firm_id"])
def test_cr3_two_way_is_the_jackknife_of_the_dummy_regression(panel, cluster):
    # refit y on x, firm and year dummies without each cluster: the exact leave-one-cluster-out
    # jackknife of the two-way fixed-effects estimator (year effects re-estimated every time)
    res = fit_fe(panel, ("firm", "year"), cluster, "cr3")
    X = pd.DataFrame({"x1": panel.x1, "d": panel.d, "x2": panel.x2, "x1:d": panel.x1 * panel.d})
    deltas = []
    for label in panel[cluster].unique():
        keep = (panel[cluster] != label).to_numpy()
        dummies = pd.get_dummies(panel.loc[keep, ["firm_id", "year"]].astype(str), drop_first=True, dtype=float)
        full = np.column_stack([np.ones(keep.sum()), X[keep].to_numpy(), dummies.to_numpy()])
        # full column rank (one level of each effect dropped), well conditioned (0/1 dummies):
        # normal equations, as LAPACK's QR and SVD crawl here while a benchmark holds the cores
        b = np.linalg.solve(full.T @ full, full.T @ panel.y[keep].to_numpy())[1:5]
        deltas.append(b - res.params[list(X.columns)].to_numpy())
    deltas = np.array(deltas)
    assert_rel(res.cov.loc[list(X.columns), list(X.columns)].to_numpy(), deltas.T @ deltas, rtol=1e-9)


def test_cr2_cr3_with_only_nested_effects_use_the_absorbed_design(panel, reference):
    # firm effects only, nested in cluster_id: no dummies are added and the numbers are those of the
    # transformed design (Pustejovsky and Tipton 2018, Theorem 2), i.e. unchanged by the crossed path
    for kind in ("cr2", "cr3"):
        res = fit_fe(panel, ("firm",), "cluster_id", kind)
        design = res.model
        assert design.crossed("cluster_id") is None
        assert res.inference.details == {"crossed_effects": (), "crossed_columns": 0, "dummy_regression": True}
        names = list(design.names)
        cov, df = bias_reduced_cov(design.X, design.resid, design.groups["cluster_id"],
                                   np.linalg.inv(design.X.T @ design.X), kind)
        np.testing.assert_array_equal(res.cov.loc[names, names].to_numpy(), cov)
        if kind == "cr2":
            np.testing.assert_array_equal(res.inference.df_by_term[names].to_numpy(), df)
            assert_rel(res.cov.loc[TERMS, TERMS], r_value(reference, "oneway", "cluster_id", "vcovCR_CR2").loc[TERMS, TERMS])


def test_too_many_crossed_levels_fall_back_to_the_absorbed_design(panel, reference, monkeypatch):
    # with a limit below the 10 year levels the crossed effects stay absorbed; CR3 is then what
    # clubSandwich 0.5.8 reports for plm(..., effect = "twoways"): its CR3() builds I - H_gg from
    # the within-transformed design only (unlike its CR2), so it is not the exact jackknife
    import gvcpanel.inference.covariance as covariance

    monkeypatch.setattr(covariance, "MAX_CROSSED_COLUMNS", 5)
    with pytest.warns(InexactCovarianceWarning, match="not the CR2/CR3 of the dummy-variable regression"):
        res = fit_fe(panel, ("firm", "year"), "cluster_id", "cr3")
    assert res.inference.details == {"crossed_effects": ("year",), "crossed_columns": 0, "dummy_regression": False}
    assert "not the dummy-regression value" in res.inference.label
    assert_rel(res.cov.loc[TERMS, TERMS], r_value(reference, "plm_twoways", "cluster_id", "vcovCR_CR3").loc[TERMS, TERMS])
    with pytest.warns(InexactCovarianceWarning):
        cr2 = fit_fe(panel, ("firm", "year"), "cluster_id", "cr2")
    ref = r_value(reference, "twoway", "cluster_id", "vcovCR_CR2").loc[TERMS, TERMS]
    err = np.max(np.abs(cr2.cov.loc[TERMS, TERMS] - ref).to_numpy()) / np.max(np.abs(ref.to_numpy()))
    assert 1e-3 < err < 0.2  # the transformed-design CR2 misses the year effects' leverage


# --- two-way and Driscoll-Kraay --------------------------------------------------------------
def test_twoway_equals_pyfixest(panel):
    import pyfixest as pf
    # pyfixest 0.60: vcov={"CRV1": "cluster_id + year"}; its demeaning tolerance limits agreement
    fit = pf.feols("y ~ x1 + d + x2 + x1:d | firm_id + year", data=panel, vcov={"CRV1": "cluster_id + year"})
    design = make_design(panel, ("firm", "year"), False)
    inf = quiet(design, kind="twoway", cluster=("cluster_id", "year"), preset="fixest")
    assert_rel(inf.cov.loc[TERMS, TERMS].to_numpy(), fit._vcov)
    assert inf.df == fit._df_t == 9
    assert inf.details["n_negative_eigenvalues"] == 0


def test_twoway_linearmodels_preset_equals_panelols(panel):
    from linearmodels import PanelOLS

    data = panel.set_index(["firm_id", "year"]).assign(**{"x1:d": lambda f: f.x1 * f.d})
    clusters = pd.DataFrame({"c": pd.factorize(data.cluster_id)[0], "t": data.index.get_level_values(1)}, index=data.index)
    fit = PanelOLS(data.y, data[TERMS], entity_effects=True, time_effects=True).fit(cov_type="clustered", clusters=clusters)
    inf = quiet(make_design(panel, ("firm", "year"), False), kind="twoway", cluster=("cluster_id", "year"), preset="linearmodels")
    assert_rel(inf.cov.loc[TERMS, TERMS].to_numpy(), fit.cov.loc[TERMS, TERMS].to_numpy())


def test_twoway_clips_negative_eigenvalues():
    rng = np.random.default_rng(7)
    n = 40
    X = rng.normal(size=(n, 3))
    u = rng.normal(size=n)
    a = rng.integers(0, 3, n)
    b = rng.integers(0, 3, n)
    design = LinearDesign(X, X @ np.ones(3) + u, np.ones(3), u, ("a", "b", "c"), {"A": a, "B": b})
    inf = quiet(design, kind="twoway", cluster=("A", "B"))
    assert np.all(np.linalg.eigvalsh(inf.cov.to_numpy()) >= -1e-12)


@pytest.mark.parametrize("lags", [1, 2])
def test_driscoll_kraay_equals_pyfixest_and_linearmodels(panel, lags):
    import pyfixest as pf
    from linearmodels import PanelOLS

    design = make_design(panel, ("firm", "year"), False)
    # pyfixest 0.60: vcov="DK", vcov_kwargs={"lag": lags, "time_id": "year", "panel_id": ...}
    fit = pf.feols(
        "y ~ x1 + d + x2 + x1:d | firm_id + year",
        data=panel.assign(firm_code=pd.factorize(panel.firm_id)[0]),
        vcov="DK",
        vcov_kwargs={"lag": lags, "time_id": "year", "panel_id": "firm_code"},
    )
    inf = design.inference(InferenceSpec(kind="driscoll_kraay", lags=lags, preset="fixest"))
    assert_rel(inf.cov.loc[TERMS, TERMS].to_numpy(), fit._vcov)
    assert inf.df == fit._df_t
    # linearmodels 7.1: PanelOLS(...).fit(cov_type="kernel", kernel="bartlett", bandwidth=lags)
    data = panel.set_index(["firm_id", "year"]).assign(**{"x1:d": lambda f: f.x1 * f.d})
    lm = PanelOLS(data.y, data[TERMS], entity_effects=True, time_effects=True).fit(
        cov_type="kernel", kernel="bartlett", bandwidth=lags
    )
    inf = design.inference(InferenceSpec(kind="driscoll_kraay", lags=lags, preset="linearmodels"))
    assert_rel(inf.cov.loc[TERMS, TERMS].to_numpy(), lm.cov.loc[TERMS, TERMS].to_numpy())


def test_default_lags():
    assert default_lags(10) == 2  # floor(4 * 0.1^(2/9)) = floor(2.400)
    assert default_lags(100) == 4


# --- reporting -------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["cluster", "cr2", "cr3"])
def test_few_clusters_warn_and_name_the_bootstrap(panel, kind):
    design = make_design(panel, ("firm",), False)
    with pytest.warns(FewClustersWarning, match="wild"):
        inf = design.inference(InferenceSpec(kind=kind))
    assert inf.n_clusters == 12
    sizes = panel.groupby("cluster_id").size()
    assert inf.cluster_sizes == (sizes.min(), sizes.median(), sizes.max())


def test_many_clusters_do_not_warn(panel):
    design = make_design(panel, ("firm",), False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FewClustersWarning)
        inf = design.inference(InferenceSpec(kind="cluster", cluster="firm_id"))
    assert inf.n_clusters == 60


def test_twoway_needs_two_variables(panel):
    design = make_design(panel, ("firm",), False)
    with pytest.raises(SpecificationError, match="two clustering variables"):
        design.inference(InferenceSpec(kind="twoway"))


def test_firm_means_firm_id_in_inference_cluster_as_in_cluster_argument(panel):
    """``inference={"cluster": "firm"}`` clusters by firm_id, as ``cluster="firm"`` and ``| firm`` do."""
    formula = "y ~ x1 + x2 | firm + year"
    by_argument = fe_regression(panel, formula, cluster="firm_id")
    by_alias = by_argument.with_inference("cluster", cluster="firm")
    assert by_alias.n_clusters == panel.firm_id.nunique() == by_argument.n_clusters
    # the sizes that came with the scores (firms are runs of rows) equal a count of the rows
    sizes = panel.groupby("firm_id").size()
    assert by_argument.cluster_sizes == by_alias.cluster_sizes == (sizes.min(), sizes.median(), sizes.max())
    np.testing.assert_allclose(by_alias.std_errors, by_argument.std_errors, rtol=1e-12)
    other = by_argument.with_inference("cluster", cluster="cluster_id")
    assert other.n_clusters == 12 and not np.allclose(other.std_errors, by_argument.std_errors)


def test_scores_formed_with_the_residuals_give_the_crv1_of_a_fresh_design(panel):
    """CRV1 by firm from the score sums and sizes the fit kept equals the CRV1 of the same design
    with copies of its arrays (which does not use them), and the keeping needs the very arrays
    of the fit."""
    from gvcpanel.inference.clusters import cached_score_sums

    res = fe_regression(panel, "y ~ x1 + x2 | firm + year", cluster="firm_id")
    design = res.model
    assert cached_score_sums(design, "firm_id") is not None
    fresh = replace(design, X=design.X.copy(), resid=design.resid.copy())
    assert cached_score_sums(fresh, "firm_id") is None and cached_score_sums(design, "cluster_id") is None
    spec = InferenceSpec(kind="cluster", cluster="firm_id")
    kept, computed = design.inference(spec), fresh.inference(spec)
    np.testing.assert_allclose(kept.cov.to_numpy(), computed.cov.to_numpy(), rtol=1e-12, atol=0)
    assert kept.cluster_sizes == computed.cluster_sizes and kept.n_clusters == computed.n_clusters


def test_cluster_size_summary_equals_numpy_on_random_clusterings():
    """The median from the tally of sizes equals numpy's median of the sizes (odd and even G)."""
    from gvcpanel.inference.clusters import cluster_size_summary

    rng = np.random.default_rng(8)
    for G in (1, 2, 3, 4, 7, 10, 101):
        for _ in range(20):
            codes = np.unique(rng.integers(0, G, int(rng.integers(G, 10 * G + 5))), return_inverse=True)[1].ravel()
            sizes = np.bincount(codes)
            assert cluster_size_summary(codes) == (sizes.min(), float(np.median(sizes)), sizes.max())
