"""fe_regression against published tables, linearmodels 7.1 and pyfixest 0.60."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from linearmodels import BetweenOLS, FirstDifferenceOLS, PanelOLS, PooledOLS, RandomEffects
from linearmodels.datasets import jobtraining
from statsmodels.datasets import grunfeld

from gvcpanel.errors import AbsorbedVariableWarning, PanelStructureError, SpecificationError
from gvcpanel.formula.design import build_design
from gvcpanel.formula.frame import evaluate
from gvcpanel.models.linear import fe_regression, hausman_test, mundlak_test

REGRESSORS = [f"x{j}" for j in range(1, 8)]


# --- published numbers ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def scrap() -> pd.DataFrame:
    return jobtraining.load().rename(columns={"fcode": "firm_id"}).set_index(["firm_id", "year"])


@pytest.fixture(scope="module")
def grunfeld10() -> pd.DataFrame:
    data = grunfeld.load_pandas().data
    data = data[data["firm"] != "American Steel"].rename(columns={"firm": "firm_id"})
    return data.assign(year=data["year"].astype(int)).set_index(["firm_id", "year"])


# Wooldridge, Introductory Econometrics, Example 14.1 (and 13.x FD): reported to 4 decimals
ATOL_4DP = 5e-5


def test_jobtraining_within(scrap):
    res = fe_regression(scrap, "lscrap ~ d88 + d89 + grant + grant_1", effects=("firm",), cluster=None,
                        inference="unadjusted")
    assert res.nobs == 162 and res.n_firms == 54
    np.testing.assert_allclose(res.params[["grant", "grant_1"]], [-0.2523, -0.4216], rtol=0, atol=ATOL_4DP)
    np.testing.assert_allclose(res.std_errors[["grant", "grant_1"]], [0.1506, 0.2102], rtol=0, atol=ATOL_4DP)
    assert dict(zip(res.exclusions["reason"], res.exclusions["n_rows"])) == {"missing lscrap": 309}


def test_jobtraining_first_differences(scrap):
    res = fe_regression(scrap, "lscrap ~ grant + grant_1", effects=("firm", "year"), cluster=None, method="fd",
                        inference="unadjusted")
    assert res.nobs == 108
    np.testing.assert_allclose(res.params[["grant", "grant_1"]], [-0.2228, -0.3512], rtol=0, atol=ATOL_4DP)
    np.testing.assert_allclose(res.std_errors[["grant", "grant_1"]], [0.1307, 0.2351], rtol=0, atol=ATOL_4DP)
    counts = dict(zip(res.exclusions["reason"], res.exclusions["n_rows"]))
    assert counts["first year of firm (no difference)"] == 54


def test_grunfeld_within_and_swamy_arora(grunfeld10):
    # Baltagi, Econometric Analysis of Panel Data, Table 2.1 (10 firms, 1935-1954)
    fe = fe_regression(grunfeld10, "invest ~ value + capital", effects=("firm",), cluster=None, inference="unadjusted")
    np.testing.assert_allclose(fe.params, [0.1101, 0.3101], rtol=0, atol=ATOL_4DP)
    np.testing.assert_allclose(fe.std_errors, [0.0119, 0.0174], rtol=0, atol=ATOL_4DP)
    re = fe_regression(grunfeld10, "invest ~ value + capital", effects=("firm",), cluster=None, method="re",
                       inference="unadjusted")
    np.testing.assert_allclose(re.params[["value", "capital"]], [0.1098, 0.3081], rtol=0, atol=ATOL_4DP)
    np.testing.assert_allclose(re.std_errors[["value", "capital"]], [0.0105, 0.0172], rtol=0, atol=ATOL_4DP)
    h = hausman_test(fe, re)
    # independent Hausman from linearmodels 7.1 fits: PanelOLS(entity_effects=True), RandomEffects
    exog = grunfeld10[["value", "capital"]].assign(const=1.0)
    b_fe = PanelOLS(grunfeld10["invest"], exog[["value", "capital"]], entity_effects=True).fit(cov_type="unadjusted",
                                                                                                debiased=True)
    b_re = RandomEffects(grunfeld10["invest"], exog).fit(cov_type="unadjusted", debiased=True)
    d = b_fe.params - b_re.params[["value", "capital"]]
    v = b_fe.cov - b_re.cov.loc[["value", "capital"], ["value", "capital"]]
    np.testing.assert_allclose(h.statistic, float(d @ np.linalg.solve(v, d)), rtol=1e-6)
    assert h.df == 2


# --- linearmodels 7.1 on an unbalanced two-way design -----------------------------------------
@pytest.fixture(scope="module")
def unbalanced(designs) -> pd.DataFrame:
    return designs.make_design("unbalanced", 400, n_clusters=40, seed=7)


def test_panelols_two_way_unbalanced(unbalanced, designs):
    res = fe_regression(unbalanced, designs.FORMULA, cluster="cluster_id", drop_singletons=False,
                        inference="linearmodels")
    ref = PanelOLS(unbalanced["y"], unbalanced[REGRESSORS], entity_effects=True, time_effects=True).fit(
        cov_type="clustered", clusters=unbalanced["cluster_id"])
    np.testing.assert_allclose(res.params, ref.params, rtol=1e-8)
    np.testing.assert_allclose(res.std_errors, ref.std_errors, rtol=1e-8)
    conv = res.with_inference("unadjusted")
    ref_conv = PanelOLS(unbalanced["y"], unbalanced[REGRESSORS], entity_effects=True, time_effects=True).fit(
        cov_type="unadjusted", debiased=True)
    np.testing.assert_allclose(conv.std_errors, ref_conv.std_errors, rtol=1e-8)


@pytest.mark.parametrize("method", ["re", "between", "pooled", "fd"])
def test_other_methods_equal_linearmodels(unbalanced, designs, method):
    exog = unbalanced[REGRESSORS].assign(const=1.0)
    y = unbalanced["y"]
    effects = ("firm",)
    if method == "re":
        ref = RandomEffects(y, exog).fit().params
    elif method == "between":
        ref = BetweenOLS(y, exog).fit().params
    elif method == "pooled":
        ref = PooledOLS(y, exog).fit().params
    else:
        ref = FirstDifferenceOLS(y, unbalanced[REGRESSORS]).fit().params
        effects = ("firm", "year")  # year effects as differenced dummies; linearmodels has none
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AbsorbedVariableWarning)
        res = fe_regression(unbalanced, designs.FORMULA, effects=effects, method=method, inference="robust")
    if method == "fd":
        # linearmodels differences across gaps; compare on a panel without gaps instead
        balanced = designs.make_design("balanced", 200, seed=8)
        res = fe_regression(balanced, designs.FORMULA, effects=("firm",), method="fd", inference="robust")
        ref = FirstDifferenceOLS(balanced["y"], balanced[REGRESSORS].assign(t=balanced.index.get_level_values(1)
                                                                              .astype(float))).fit().params
        np.testing.assert_allclose(res.params[REGRESSORS], ref[REGRESSORS], rtol=1e-8)
        np.testing.assert_allclose(res.params["Intercept"], ref["t"], rtol=1e-8)
        return
    np.testing.assert_allclose(res.params[REGRESSORS], ref[REGRESSORS], rtol=1e-8)
    np.testing.assert_allclose(res.params["Intercept"], ref["const"], rtol=1e-8)


# --- pyfixest 0.60 on small copies of every benchmark design -----------------------------------
@pytest.fixture(scope="module")
def pyfixest_fits(designs):
    import pyfixest as pf
    fits = {}
    for kind in ("balanced", "unbalanced", "threeway"):
        data = designs.make_design(kind, 500, n_clusters=30, seed=9)
        rhs = " + ".join(["firm_id", "year"] + (["cluster_id^year"] if kind == "threeway" else []))
        # pyfixest.feols("y ~ x1 + ... + x7 | firm_id + year [+ cluster_id^year]", vcov={"CRV1": "cluster_id"})
        model = pf.feols(f"{designs.FORMULA} | {rhs}", data=data.reset_index(), vcov={"CRV1": "cluster_id"})
        fits[kind] = (data, model.coef(), model.se(), int(model._N))
    return fits


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["balanced", "unbalanced", "threeway"])
def test_pyfixest_designs(pyfixest_fits, designs, kind):
    data, coef, se, n_obs = pyfixest_fits[kind]
    res = fe_regression(data, designs.FORMULA, effects=designs.effects_of(kind), cluster="cluster_id",
                        inference="fixest")
    assert res.nobs == n_obs
    np.testing.assert_allclose(res.params, coef[REGRESSORS], rtol=1e-8)
    if kind != "threeway":
        # pyfixest demeans to its own tolerance (1e-8), which bounds agreement of the SEs
        np.testing.assert_allclose(res.std_errors, se[REGRESSORS], rtol=1e-6)
    else:
        # year is redundant given cluster^year: the exact count absorbs nothing outside the
        # clusters (K = k + 1), pyfixest counts one reference per effect (K = k + T)
        k, T = len(REGRESSORS), 10
        ratio = np.sqrt((n_obs - k - T) / (n_obs - k - 1))
        np.testing.assert_allclose(res.std_errors, se[REGRESSORS] * ratio, rtol=1e-6)


# --- behaviour -----------------------------------------------------------------------------------
def test_frame_evaluation_matches_build_design(designs):
    rng = np.random.default_rng(4)
    data = designs.make_design("unbalanced", 60, seed=4)
    data["x1"] = data["x1"].abs().where(rng.random(len(data)) > 0.1)
    data["x2"] = data["x2"].where(rng.random(len(data)) > 0.1)
    formula = "y ~ log(x1) + x2 + x2:x3"
    expected = build_design(data, formula, keep=["cluster_id"])
    got = evaluate(data, formula, ["cluster_id"])
    assert got.exclusions == expected.exclusions
    np.testing.assert_allclose(got.data[:, 1:], expected.X.to_numpy(), rtol=0, atol=0)
    np.testing.assert_allclose(got.data[:, 0], expected.y.to_numpy(), rtol=0, atol=0)


def test_singletons_and_absorbed_regressor_are_reported(designs):
    data = designs.make_design("unbalanced", 80, seed=5)
    data["size_class"] = data.groupby(level="firm_id")["x1"].transform("mean")  # constant within firm
    lone = data.index[:1]
    data = pd.concat([data, pd.DataFrame(data.loc[lone].to_numpy(), columns=data.columns,
                                         index=pd.MultiIndex.from_tuples([(10_000, 2003)], names=["firm_id", "year"]))])
    with pytest.warns(AbsorbedVariableWarning, match="size_class"):
        res = fe_regression(data, "y ~ x1 + size_class", cluster="cluster_id")
    assert "size_class" not in res.params.index
    counts = dict(zip(res.exclusions["reason"], res.exclusions["n_rows"]))
    assert counts.get("singleton in firm effect", 0) >= 1
    kept = fe_regression(data, "y ~ x1", cluster="cluster_id", drop_singletons=False)
    assert kept.nobs == res.nobs + sum(v for k, v in counts.items() if k.startswith("singleton"))
    np.testing.assert_allclose(kept.params["x1"], res.params["x1"], rtol=1e-10)


def _singletons_by_hand(frame: pd.DataFrame, effects: dict[str, list[str]]) -> tuple[pd.Index, dict[str, int]]:
    """The sweep rule with pandas: in order of the effects, rows alone in their level go, until none."""
    rows = frame.reset_index()
    dropped = dict.fromkeys(effects, 0)
    changed = True
    while changed:
        changed = False
        for name, cols in effects.items():
            alone = rows.groupby(cols)["y"].transform("size") == 1
            if alone.any():
                dropped[name] += int(alone.sum())
                rows = rows[~alone]
                changed = True
    return pd.MultiIndex.from_frame(rows[["firm_id", "year"]]), {k: v for k, v in dropped.items() if v}


def test_singletons_left_by_missing_values_are_dropped_before_the_fit(designs):
    rng = np.random.default_rng(12)
    data = designs.make_design("unbalanced", 150, n_clusters=12, seed=12)
    data["x1"] = data["x1"].where(rng.random(len(data)) > 0.25)  # missing values make new singletons
    data["region"] = np.where(rng.random(len(data)) < 0.4, "north", "south")  # varies within firms
    lone = data.index[np.flatnonzero(data.groupby(level="firm_id")["y"].transform("size").to_numpy() == 1)[0]]
    data.loc[lone, ["region", "x1"]] = ["west", 1.0]  # a category seen only on a singleton row
    formula = "y ~ x1 + x2 + C(region)"
    effects = ("firm", "year", "cluster_id^year")
    complete = data[data["x1"].notna()]
    keep, dropped = _singletons_by_hand(complete, {"firm": ["firm_id"], "year": ["year"],
                                                   "cluster_id^year": ["cluster_id", "year"]})
    assert sum(dropped.values()) > 20 and len(dropped) >= 2
    with pytest.warns(AbsorbedVariableWarning, match="west"):
        res = fe_regression(data, formula, effects=effects, cluster="cluster_id")
    counts = dict(zip(res.exclusions["reason"], res.exclusions["n_rows"]))
    assert counts == {"missing x1": int(data["x1"].isna().sum()),
                      **{f"singleton in {k} effect": v for k, v in dropped.items()}}
    assert res.nobs == len(keep) and res.fit_stats["singletons"] == sum(dropped.values())
    # the design's columns are those of the rows before the singletons went (as before, and as
    # fixest): the category seen only on a dropped row is reported as a dropped column
    assert "C(region)[T.south]" in res.params.index and tuple(res.fit_stats["dropped_terms"]) == ("C(region)[T.west]",)
    by_hand = fe_regression(complete.loc[keep], formula, effects=effects, cluster="cluster_id", drop_singletons=False)
    np.testing.assert_allclose(res.params[by_hand.params.index], by_hand.params, rtol=1e-11)
    np.testing.assert_allclose(res.std_errors[by_hand.params.index], by_hand.std_errors, rtol=1e-11)


def test_an_empty_sample_names_the_reasons_and_the_fix(designs):
    data = designs.make_design("unbalanced", 60, seed=14)
    with pytest.raises(PanelStructureError, match=r"'singleton in firm effect': 60\}\); keep singletons with drop_singletons=False"):
        fe_regression(data.groupby(level="firm_id").head(1), "y ~ x1 | firm + year")
    with pytest.raises(PanelStructureError, match=r"'missing x1': \d+\}\); check those columns"):
        fe_regression(data.assign(x1=np.nan), "y ~ x1 | firm + year")


def test_cluster_id_kept_for_later_is_coded_when_asked(designs):
    import pickle

    data = designs.make_design("unbalanced", 90, n_clusters=31, seed=13)
    data["x1"] = data["x1"].where(np.random.default_rng(13).random(len(data)) > 0.1)  # rows left out
    by_firm = fe_regression(data, designs.FORMULA, cluster="firm_id")
    store = by_firm.model.groups.store
    assert "cluster_id" in by_firm.model.groups and "cluster_id" in store.pending  # not coded yet
    direct = fe_regression(data, designs.FORMULA, cluster="cluster_id")
    for res in (by_firm, pickle.loads(pickle.dumps(by_firm))):
        later = res.with_inference("cluster", cluster="cluster_id")
        np.testing.assert_allclose(later.std_errors, direct.std_errors, rtol=1e-12)
        assert later.n_clusters == direct.n_clusters > 20
        np.testing.assert_array_equal(res.model.groups["cluster_id"], direct.model.groups["cluster_id"])
        np.testing.assert_array_equal(res.model.group_labels["cluster_id"], direct.model.group_labels["cluster_id"])
    assert "cluster_id" not in store.pending


def test_groups_and_nesting_filled_for_inference(designs):
    data = designs.make_design("balanced", 80, n_years=5, n_clusters=32, seed=6)
    res = fe_regression(data, designs.FORMULA, cluster="cluster_id")
    design = res.model
    for name in ("firm_id", "year", "cluster_id"):
        codes = design.groups[name]
        assert codes.min() == 0 and np.array_equal(np.unique(codes), np.arange(codes.max() + 1))
        assert len(design.group_labels[name]) == codes.max() + 1
    assert design.k_absorbed == 80 + 5 - 1
    assert design.absorbed_nested["cluster_id"] == 80 and design.absorbed_nested["firm_id"] == 80
    # statsmodels OLS with firm and year dummies and cluster-robust covariance (its default
    # correction G/(G-1)(N-1)/(N-K) counts every dummy; the Stata preset does not count nested firms)
    dummies = pd.get_dummies(data.reset_index()[["firm_id", "year"]].astype(str), drop_first=True, dtype=float)
    X = np.column_stack([np.ones(len(data)), data[REGRESSORS].to_numpy(), dummies.to_numpy()])
    ols = sm.OLS(data["y"].to_numpy(), X).fit(cov_type="cluster", cov_kwds={"groups": data["cluster_id"].to_numpy()})
    np.testing.assert_allclose(res.params, ols.params[1:8], rtol=1e-8)
    n, k_sm = len(data), X.shape[1]
    k_stata = 7 + 5  # slopes + year dummies + intercept; firm effects nested in clusters
    ratio = np.sqrt((n - k_sm) / (n - k_stata))
    np.testing.assert_allclose(res.std_errors, ols.bse[1:8] * ratio, rtol=1e-8)


def test_mundlak_pooled_equals_statsmodels_wald(unbalanced):
    test = mundlak_test(unbalanced, "y ~ x1 + x2", method="pooled", effects=(), cluster="cluster_id")
    frame = unbalanced.reset_index()
    means = frame.groupby("firm_id")[["x1", "x2"]].transform("mean").add_prefix("m_")
    X = sm.add_constant(pd.concat([frame[["x1", "x2"]], means], axis=1))
    ols = sm.OLS(frame["y"], X).fit(cov_type="cluster", cov_kwds={"groups": frame["cluster_id"]})
    wald = ols.wald_test("m_x1 = 0, m_x2 = 0", use_f=False, scalar=True)
    np.testing.assert_allclose(test.statistic, float(wald.statistic), rtol=1e-8)
    assert test.df == 2 and test.pvalue < 0.05  # x is built correlated with the firm effect


def test_unknown_method_and_effect(designs):
    data = designs.make_design("balanced", 10, seed=1)
    with pytest.raises(SpecificationError, match="method"):
        fe_regression(data, designs.FORMULA, method="gmm")
    with pytest.raises(SpecificationError, match="only be absorbed"):
        fe_regression(data, designs.FORMULA, effects=("firm", "cluster_id^year"), method="re")


# --- effects nested in the clusters, for CR2/CR3 ----------------------------------------------------
def test_crossed_effects_are_those_not_nested_in_the_cluster_variable(cluster_panel):
    panel = cluster_panel.set_index(["firm_id", "year"])
    res = fe_regression(panel, "y ~ x1 + x2", effects=("firm", "year"), cluster=None, inference="unadjusted")
    by_cluster = res.model.crossed("cluster_id")
    assert (by_cluster.effects, by_cluster.nested, by_cluster.n_columns) == (("year",), ("firm",), 10)
    columns = by_cluster.build()
    firm = res.model.groups["firm_id"]
    # M_N C: every year dummy has mean zero within each firm, and the ten columns sum to zero
    sums = np.column_stack([np.bincount(firm, columns[:, j]) for j in range(10)])
    np.testing.assert_allclose(sums, 0.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(columns.sum(axis=1), 0.0, rtol=0, atol=1e-12)
    assert res.model.crossed("year").effects == ("firm",)
    assert res.model.crossed("year").n_columns == 60
    # firm effects and cluster-by-year effects both lie inside clusters; not inside firms
    nested = fe_regression(panel, "y ~ x1 + x2", effects=("firm", "cluster_id^year"), cluster=None,
                           inference="unadjusted")
    assert nested.model.crossed("cluster_id") is None
    assert nested.model.crossed("firm_id").effects == ("cluster_id^year",)
