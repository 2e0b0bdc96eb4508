"""The formula language: formulaic's term algebra and model matrices, panel syntax, pyfixest fits.

References: formulaic 1.2.2 ``model_matrix(formula, data)`` (designs, column names and order) and
pyfixest 0.60.0 ``feols(formula, data, vcov={"CRV1": "cluster_id"})`` (coefficients and standard
errors) on the same data.  pyfixest demeans to its own tolerance (1e-8), which bounds the
agreement of its standard errors with ours (rtol=1e-6, as in test_linear); coefficients agree to
rtol=1e-8.
"""

from __future__ import annotations

import warnings

import formulaic
import numpy as np
import pandas as pd
import pytest

from gvcpanel.errors import SpecificationError
from gvcpanel.formula.design import build_design
from gvcpanel.formula.evaluate import DerivedColumn, evaluate_formula
from gvcpanel.formula.parse import parse_formula
from gvcpanel.models.linear import fe_regression


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    """120 firms x 6 years, unbalanced; numeric, positive, text and Categorical columns."""
    rng = np.random.default_rng(20240611)
    n_firms, n_years = 120, 6
    firm = np.repeat(np.arange(n_firms), n_years)
    year = np.tile(np.arange(2010, 2010 + n_years), n_firms)
    keep = rng.random(firm.size) > 0.1
    firm, year = firm[keep], year[keep]
    n = firm.size
    frame = pd.DataFrame({
        "firm_id": firm,
        "year": year,
        "cluster_id": (firm % 24),
        "x1": rng.normal(size=n),
        "x2": rng.normal(size=n),
        "x3": rng.normal(size=n),
        "size": np.exp(rng.normal(2, 1, n)),
        "share": rng.uniform(0, 1, n),
        "sector": rng.choice(["textiles", "apparel", "footwear"], n),
        "tier": pd.Categorical(rng.choice(["low", "mid", "high"], n), categories=["mid", "low", "high"]),
    })
    effect = rng.normal(size=n_firms)[firm] + rng.normal(0, 0.3, n_years)[year - 2010]
    tier_effect = frame["tier"].map({"mid": 0.0, "low": -0.4, "high": 0.5}).to_numpy(float)
    frame["y"] = (0.5 * frame.x1 - 0.3 * frame.x2 + 0.2 * frame.x1 * frame.x2 + 0.3 * np.log(frame["size"])
                  + (frame.sector == "footwear") * 0.4 + tier_effect + effect + rng.normal(0, 1, n))
    return frame.set_index(["firm_id", "year"])


# --- term algebra ------------------------------------------------------------------------------
def test_a_times_b_times_c_gives_seven_terms():
    parsed = parse_formula("y ~ a*b*c")
    assert parsed.term_names == ("a", "b", "c", "a:b", "a:c", "b:c", "a:b:c")
    assert parsed.intercept and parsed.effects is None


@pytest.mark.parametrize("formula, terms, intercept", [
    ("y ~ (a + b + c)**2", ("a", "b", "c", "a:b", "a:c", "b:c"), True),
    ("y ~ a*b - a:b", ("a", "b"), True),
    ("y ~ x - 1", ("x",), False),
    ("y ~ 0 + x", ("x",), False),
    ("y ~ x:z + x", ("x", "x:z"), True),
    ("log(y) ~ log1p(x) + I(x**2) + C(g) + i(g, z, ref='a') + l(x, 2) + f(x) + d(log(x))",
     ("log1p(x)", "I(x ** 2)", "C(g)", "i(g, z, ref='a')", "l(x, 2)", "f(x)", "d(log(x))"), True),
])
def test_term_algebra_is_formulaics(formula, terms, intercept):
    parsed = parse_formula(formula)
    assert parsed.term_names == terms and parsed.intercept == intercept
    # the same terms as formulaic's own parser, intercept aside
    reference = [str(t) for t in formulaic.Formula(formula).rhs if str(t) != "1"]
    assert list(parsed.term_names) == reference


def test_factor_kinds_and_panel_syntax():
    parsed = parse_formula("log(y) ~ log1p(x) + C(g) + i(g, z, ref=a) + l(log(x), 2) + d(x) | firm + cluster_id^year")
    kinds = {f.expr: (f.kind, f.column, f.order, f.by, f.ref) for f in parsed.factors()}
    assert kinds["log(y)"][:2] == ("log", "y")
    assert kinds["C(g)"][:2] == ("categorical", "g")
    assert kinds["i(g, z, ref=a)"] == ("i", "g", 0, "z", ("a",))
    assert (kinds["l(log(x), 2)"][0], kinds["l(log(x), 2)"][2]) == ("lag", 2)
    assert (kinds["d(x)"][0], kinds["d(x)"][2]) == ("diff", 1)
    assert parsed.effects == ("firm", "cluster_id^year")
    assert parse_formula("y ~ x | firm_id + cluster_id#year").effects == ("firm", "cluster_id^year")
    assert parsed.columns() == ("y", "x", "g", "z", "firm_id", "cluster_id", "year")


# --- designs equal formulaic's model matrices -------------------------------------------------
@pytest.mark.parametrize("formula", [
    "y ~ x1*x2*x3",
    "y ~ x1 + log(size) + I(x1**2) + I(x2 / 10)",
    "y ~ sector + x1",                       # text column: dummies against the sorted first level
    "y ~ tier + x1",                         # Categorical: against its first category ('mid')
    "y ~ C(cluster_id) + x1",
    "y ~ sector:x1 + x1",
    "y ~ sector:x1",                         # no x1 main effect: all sector levels times x1
    "y ~ sector*tier",
    "y ~ sector:tier",
    "y ~ 0 + sector + tier",                 # no intercept: the first categorical keeps every level
    "y ~ sector - 1",
    "y ~ poly(x1, 2) + center(x2)",
])
def test_design_equals_formulaic_model_matrix(data, formula):
    parsed = parse_formula(formula)
    design = build_design(data, formula)
    matrix = formulaic.model_matrix(formula, data.reset_index())
    reference = matrix.rhs.drop(columns="Intercept", errors="ignore")
    assert list(design.X.columns) == list(reference.columns)
    np.testing.assert_allclose(design.X.to_numpy(), reference.to_numpy(dtype=float), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(design.y.to_numpy(), matrix.lhs.to_numpy(dtype=float).ravel(), rtol=0, atol=0)
    assert parsed.intercept == ("Intercept" in matrix.rhs.columns)


def test_log1p_equals_numpys(data):
    # formulaic has no log1p() of its own; numpy's is the reference
    ours = build_design(data, "y ~ log1p(share) + log(size)")
    theirs = formulaic.model_matrix("y ~ np.log1p(share) + np.log(size)", data.reset_index()).rhs
    np.testing.assert_allclose(ours.X.to_numpy(), theirs.drop(columns="Intercept").to_numpy(float), rtol=1e-15, atol=0)


def test_missing_and_undefined_rows_are_those_formulaic_drops(data):
    holes = data.copy()
    holes.iloc[::7, holes.columns.get_loc("x1")] = np.nan
    holes.iloc[::11, holes.columns.get_loc("sector")] = None
    holes.iloc[::13, holes.columns.get_loc("size")] = -1.0
    design = build_design(holes, "y ~ x1 + sector + log(size)")
    assert set(design.exclusions) == {"missing x1", "missing sector", "non-positive size (log)"}
    assert sum(design.exclusions.values()) + len(design.y) == len(holes)
    # formulaic drops missing rows itself; log(-1) is NaN there, so drop those rows first
    with np.errstate(invalid="ignore"):
        matrix = formulaic.model_matrix("y ~ x1 + sector + log(size)", holes[holes["size"] > 0])
    assert matrix.rhs.shape[0] == len(design.y)
    np.testing.assert_allclose(design.X.to_numpy(), matrix.rhs.drop(columns="Intercept").to_numpy(float),
                               rtol=1e-14, atol=0)


def test_i_gives_pyfixest_dummies(data):
    design = build_design(data, "y ~ i(sector, ref='apparel') + i(tier, x1, ref=mid)")
    assert list(design.X.columns) == ["sector::footwear", "sector::textiles", "tier::low:x1", "tier::high:x1"]
    sector = data.loc[design.y.index, "sector"]
    np.testing.assert_array_equal(design.X["sector::footwear"], (sector == "footwear").astype(float))
    tier, x1 = data.loc[design.y.index, "tier"], data.loc[design.y.index, "x1"]
    np.testing.assert_array_equal(design.X["tier::high:x1"], (tier == "high") * x1)
    every = build_design(data, "y ~ i(year)")  # no ref: every level (the index level year)
    assert list(every.X.columns) == [f"year::{y}" for y in range(2010, 2016)]


# --- fits equal pyfixest's --------------------------------------------------------------------
def _pyfixest(formula: str, frame: pd.DataFrame):
    pf = pytest.importorskip("pyfixest")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pf.feols(formula, data=frame.reset_index(), vcov={"CRV1": "cluster_id"})


@pytest.mark.parametrize("ours, theirs", [
    ("y ~ x1*x2 + log(size) | firm + year", "y ~ x1*x2 + log(size) | firm_id + year"),
    ("y ~ x1 + C(sector) + tier | firm_id + year", "y ~ x1 + C(sector) + tier | firm_id + year"),
    ("y ~ x1 + i(sector, x2, ref='apparel') + i(tier, ref='mid') | firm + year",
     "y ~ x1 + i(sector, x2, ref='apparel') + i(tier, ref='mid') | firm_id + year"),
    ("y ~ x1 + x2 + x1:x2:x3 | firm + cluster_id^year", "y ~ x1 + x2 + x1:x2:x3 | firm_id + cluster_id^year"),
    ("y ~ x1*sector | year", "y ~ x1*sector | year"),
])
def test_fixed_effects_fits_equal_pyfixest(data, ours, theirs):
    model = _pyfixest(theirs, data)
    res = fe_regression(data, ours, cluster="cluster_id", inference="fixest")
    coef, se = model.coef(), model.se()
    assert list(res.params.index) == list(coef.index)
    assert res.nobs == int(model._N)
    np.testing.assert_allclose(res.params, coef, rtol=1e-8, atol=1e-12)
    if "cluster_id^year" not in ours:  # there fixest counts a redundant year reference (test_linear)
        np.testing.assert_allclose(res.std_errors, se, rtol=1e-6)


@pytest.mark.parametrize("formula", ["y ~ x1 + x2 - 1", "y ~ C(sector) + x1 - 1", "y ~ x1 + sector + tier"])
def test_pooled_fits_with_and_without_intercept_equal_pyfixest(data, formula):
    model = _pyfixest(formula, data)
    res = fe_regression(data, formula, effects=(), method="pooled", cluster="cluster_id", inference="fixest")
    coef = model.coef()
    assert list(res.params.index) == list(coef.index)
    np.testing.assert_allclose(res.params, coef, rtol=1e-8)
    np.testing.assert_allclose(res.std_errors, model.se(), rtol=1e-8)


def test_effects_in_the_formula_or_the_argument_not_both(data):
    a = fe_regression(data, "y ~ x1 | firm + year", cluster="cluster_id")
    b = fe_regression(data, "y ~ x1", effects=("firm_id", "year"), cluster="cluster_id")
    c = fe_regression(data, "y ~ x1", cluster="cluster_id")
    assert a.spec.effects == b.spec.effects == c.spec.effects == ("firm", "year")
    np.testing.assert_allclose(a.params, c.params, rtol=1e-13)
    with pytest.raises(SpecificationError, match="keep one of the two"):
        fe_regression(data, "y ~ x1 | firm", effects=("firm", "year"))


# --- panel operators -----------------------------------------------------------------------------
@pytest.fixture()
def gappy() -> pd.DataFrame:
    """Firm 1 observed 2000, 2001, 2003 (a gap); firm 2 every year, x missing in 2001."""
    rows = [(1, 2000, 1.0, 10.0), (1, 2001, 2.0, 20.0), (1, 2003, 3.0, 30.0),
            (2, 2000, 4.0, 40.0), (2, 2001, 5.0, np.nan), (2, 2002, 6.0, 60.0), (2, 2003, 7.0, 70.0)]
    return pd.DataFrame(rows, columns=["firm_id", "year", "y", "x"]).set_index(["firm_id", "year"])


def test_lag_lead_and_difference_within_firm_by_calendar_year(gappy):
    lag = build_design(gappy, "y ~ l(x)")
    # (1, 2000), (2, 2000): first years; (1, 2003): 2002 not observed; (2, 2002): x of 2001 missing
    assert lag.y.index.tolist() == [(1, 2001), (2, 2001), (2, 2003)]
    np.testing.assert_array_equal(lag.X["l(x)"], [10.0, 40.0, 60.0])
    assert lag.exclusions == {"l(x): previous year not observed": 3, "l(x): previous year's x missing": 1}
    lead = build_design(gappy, "y ~ f(x, 2)")
    assert lead.y.index.tolist() == [(1, 2001), (2, 2000), (2, 2001)]
    assert lead.X["f(x, 2)"].tolist() == [30.0, 60.0, 70.0]
    assert lead.exclusions == {"f(x, 2): year t+2 not observed": 4}
    two_back = build_design(gappy, "y ~ l(x, 2)")
    assert two_back.X["l(x, 2)"].tolist() == [20.0, 40.0]  # (1, 2003) and (2, 2002)
    assert two_back.exclusions == {"l(x, 2): year t-2 not observed": 4, "l(x, 2): x in year t-2 missing": 1}
    diff = build_design(gappy, "y ~ d(x)")
    assert diff.X["d(x)"].tolist() == [10.0, 10.0]
    assert diff.exclusions == {"missing x": 1, "d(x): previous year not observed": 3,
                               "d(x): previous year's x missing": 1}
    # the reasons cover every row, and an unsorted frame gives the same answer
    for design in (lag, lead, diff):
        assert sum(design.exclusions.values()) + len(design.y) == len(gappy)
    shuffled = build_design(gappy.iloc[::-1], "y ~ d(x)")
    assert shuffled.X.sort_index()["d(x)"].tolist() == [10.0, 10.0]


def test_lags_read_rows_outside_the_estimation_sample(gappy):
    rows = np.array([False, True, True, False, False, False, True])
    ev = evaluate_formula(gappy, "y ~ l(x) + d(log(x))", rows=rows)
    assert ev.kept.tolist() == [False, True, False, False, False, False, True]
    np.testing.assert_allclose(ev.data[:, 1], [10.0, 60.0], rtol=0)
    np.testing.assert_allclose(ev.data[:, 2], [np.log(2.0), np.log(70 / 60)], rtol=1e-13)
    # only eligible rows are counted
    assert ev.exclusions == {"l(x): previous year not observed": 1}


def test_lagged_regressor_fit_equals_a_hand_made_lag_column(data):
    frame = data.copy()
    by_year = frame["x1"].copy()
    by_year.index = pd.MultiIndex.from_arrays([frame.index.get_level_values(0),
                                               frame.index.get_level_values(1) + 1], names=frame.index.names)
    frame["x1_lag"] = by_year.reindex(frame.index)
    ours = fe_regression(frame, "y ~ l(x1, 1) + x2 | firm + year", cluster="cluster_id")
    hand = fe_regression(frame, "y ~ x1_lag + x2 | firm + year", cluster="cluster_id")
    np.testing.assert_allclose(ours.params.to_numpy(), hand.params.to_numpy(), rtol=1e-12)
    assert ours.nobs == hand.nobs
    lag_rows = ours.exclusions.set_index("reason")["n_rows"]
    assert lag_rows.sum() == hand.exclusions["n_rows"].sum()
    assert lag_rows["l(x1, 1): previous year not observed"] == frame["x1_lag"].isna().sum() - (
        hand.exclusions.set_index("reason")["n_rows"].get("singleton in firm effect", 0)
        - lag_rows.get("singleton in firm effect", 0))


# --- names that are not columns -------------------------------------------------------------------
def test_derived_names_are_computed_on_the_whole_frame(gappy):
    demeaned = DerivedColumn(lambda f: f["x"] - f["x"].mean(), reads=("x",))
    design = build_design(gappy, "y ~ x_c", derived={"x_c": demeaned})
    np.testing.assert_allclose(design.X["x_c"], gappy["x"].dropna() - gappy["x"].mean(), rtol=1e-15)
    assert design.exclusions == {"missing x_c": 1}
    # a column of the data wins over a derived name
    own = gappy.assign(x_c=1.0 + np.arange(len(gappy)))
    assert build_design(own, "y ~ x_c", derived={"x_c": demeaned}).X["x_c"].tolist() == list(own["x_c"])


def test_numbers_mixed_with_text_are_refused_not_made_dummies(gappy):
    dirty = gappy.assign(x=pd.Series([1.0, 2.0, "n/a", 4.0, 5.0, 6.0, 7.0], index=gappy.index, dtype=object))
    with pytest.raises(SpecificationError, match="column 'x' mixes numbers and text \\(such as 'n/a'\\)"):
        build_design(dirty, "y ~ x")
    assert build_design(dirty, "y ~ C(x)").X.shape == (7, 6)  # asked for: categories
    numbers = gappy.assign(x=gappy["x"].astype(object))  # numbers stored as objects are numbers
    np.testing.assert_array_equal(build_design(numbers, "y ~ x").X["x"], gappy["x"].dropna())


def test_categorical_base_must_be_on_the_rows_used(data):
    no_mid = data[data["tier"] != "mid"]
    with pytest.raises(SpecificationError, match=r"base level 'mid' \(the first category\) does not occur"):
        build_design(no_mid, "y ~ tier")
    assert list(build_design(no_mid, "y ~ i(tier, ref=low)").X.columns) == ["tier::high"]


# --- errors: one line, naming the term -----------------------------------------------------------
@pytest.mark.parametrize("formula, message", [
    ("y ~ x1 +", r"cannot be read: Operator `\+`"),
    ("y ~ x1 | firm | year", "has 2 '|'"),
    ("y ~ x1 | firm + log(year)", r"effect 'log\(year\)' is not a column name"),
    ("y + x1", "needs one '~'"),
    ("y ~ log(x1, 2)", "cannot be evaluated"),
    ("y ~ l(x1, 0)", r"term 'l\(x1, 0\)' is not understood; write l\(column, k\)"),
    ("y ~ l(x1:x2)", r"cannot be read: invalid syntax"),
    ("y ~ C(sector, Treatment('x'))", r"write C\(column\)"),
    ("y ~ i(sector, ref=shoes)", r"ref='shoes' is not a level of 'sector' \(levels: 'apparel', 'footwear', 'textiles'\)"),
    ("y ~ log(sector)", "needs numbers, but 'sector' is text"),
    ("sector ~ x1", "outcome 'sector' is text or categorical"),
    ("y ~ x1 + sizes", r"no column 'sizes' in the data \(closest: size"),
    ("y ~ I(sector + 'x')", "gives text or categories"),
])
def test_bad_formulas_get_one_line_errors(data, formula, message):
    with pytest.raises(SpecificationError, match=message) as info:
        build_design(data, formula)
    text = str(info.value)
    assert "\n" not in text and len(text) < 300
    assert "share" not in text  # no dump of the data's columns
