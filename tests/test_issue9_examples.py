"""Every example of issue #9 ("One contract for models and results"), reproduced as written.

One small test per example; each docstring quotes the example.  Examples covered one to one by
a test elsewhere are named here instead of being run twice:

- "`res.with_inference("wild", draws=999)` is a TypeError":
  tests/test_results_contract.py::test_with_inference_wild_with_draws_is_not_a_type_error
- "`with_inference("score")` changes p-values but keeps sandwich intervals without saying so":
  tests/test_results_contract.py::test_score_bootstrap_says_where_its_intervals_come_from
- "Tables have no R-squared row": tests/test_tables.py::test_r_squared_rows_equal_pyfixest;
  "no `stats=` choice": ::test_stats_choose_and_order_the_rows; "print sandwich SEs beside
  bootstrap stars": ::test_bootstrap_columns_show_bootstrap_uncertainty_not_sandwich
- "no progress on a 99,999-draw bootstrap (15 s of silence)":
  tests/test_progress.py::test_the_bootstraps_report_progress_per_term
- "the README's own `gvcpanel hypotheses firms.csv --inference wild --adjust romano_wolf` exits 2":
  tests/test_readme.py::test_shell_command (every README command, none expected to fail)
- "the inference layer is a circle": tests/test_architecture.py::test_the_import_graph_of_gvcpanel_has_no_cycle
  and ::test_covariances_and_bootstraps_meet_only_in_the_dispatcher; "value-chain names [...]
  live inside the generic formula, estimator and table code":
  ::test_generic_core_knows_no_value_chain_names
"""

from __future__ import annotations

import importlib
import inspect
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

import gvcpanel as gp
from gvcpanel.errors import SpecificationError

Y = "labour_productivity"


def quiet(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


@pytest.fixture(scope="module")
def panel(simulated):
    return simulated(n_firms=160, n_clusters=12, seed=9).panel


@pytest.fixture(scope="module")
def frame(panel) -> pd.DataFrame:
    """The panel as a user's own DataFrame: keys in the index, governance plain text."""
    data = panel.data.copy()
    data["governance"] = data["governance"].astype(object)
    return data.assign(x1=np.random.default_rng(1).normal(size=len(data)),
                       x2=np.random.default_rng(2).normal(size=len(data)))


# --- formulas -----------------------------------------------------------------------------------
def test_a_times_b_times_c_has_every_lower_order_term(frame):
    """"`a*b*c` silently expands to a, b, c and a:b:c without the two-way terms"."""
    res = quiet(gp.fe_regression, frame, f"{Y} ~ x1*x2*export_share")
    assert list(res.params.index) == ["x1", "x2", "export_share", "x1:x2", "x1:export_share",
                                      "x2:export_share", "x1:x2:export_share"]


def test_absorbed_effects_after_a_bar(frame):
    """"`y ~ x | firm + year` [fails] with "columns ['log(employees)|firm_id', 'year'] are not in
    the panel" and a dump of 30 names"."""
    bar = quiet(gp.fe_regression, frame, f"{Y} ~ log(employees) | firm + year")
    default = quiet(gp.fe_regression, frame, f"{Y} ~ log(employees)", effects=("firm", "year"))
    pd.testing.assert_series_equal(bar.params, default.params)
    assert bar.nobs == default.nobs


@pytest.mark.parametrize("formula, terms", [
    (f"{Y} ~ x1 + C(sector)", None),
    # plain text: the other levels in sorted order (a FirmPanel's Categorical keeps its own order)
    (f"{Y} ~ i(governance, ref='market')", ["governance::hierarchy", "governance::network",
                                            "governance::quasi_hierarchy"]),
    (f"{Y} ~ I(x1**2) + x1", ["I(x1 ** 2)", "x1"]),
    (f"{Y} ~ x1 + l(x1, 1) + f(x1, 1)", ["x1", "l(x1, 1)", "f(x1, 1)"]),
    (f"{Y} ~ d(log(employees))", ["d(log(employees))"]),
])
def test_C_i_I_lags_and_leads_work(frame, formula, terms):
    """"`C()`, `i()`, `I()`, `-1`, lags and leads all fail"."""
    res = quiet(gp.fe_regression, frame, formula, effects=("firm", "year"))
    if terms is None:  # C(sector): sector is constant within firm, absorbed by the firm effect
        res = quiet(gp.fe_regression, frame, formula, effects=("year",))
        levels = sorted(frame["sector"].unique())
        terms = ["x1"] + [f"C(sector)[T.{s}]" for s in levels[1:]]
    assert list(res.params.index) == terms
    assert np.isfinite(res.params).all()


def test_minus_one_removes_the_intercept(frame):
    """"`-1` [...] fail[s]" (a pooled model: with the intercept, without it)."""
    with_one = quiet(gp.fe_regression, frame, f"{Y} ~ x1", effects=(), method="pooled")
    without = quiet(gp.fe_regression, frame, f"{Y} ~ x1 - 1", effects=(), method="pooled")
    assert "Intercept" in with_one.params.index and list(without.params.index) == ["x1"]
    # through the origin: b = sum(xy) / sum(x^2) on the rows used
    rows = frame[[Y, "x1"]].dropna()
    assert without.params["x1"] == pytest.approx((rows["x1"] @ rows[Y]) / (rows["x1"] @ rows["x1"]), rel=1e-10)


def test_lags_across_a_gap_are_missing_and_counted(frame):
    """Lags "fail" (item 1: missing across a gap, counted in the exclusions)."""
    gappy = frame.drop(index=frame.index[::7])
    res = quiet(gp.fe_regression, gappy, f"{Y} ~ l(x1, 1)")
    reasons = dict(zip(res.exclusions["reason"], res.exclusions["n_rows"]))
    assert reasons["l(x1, 1): previous year not observed"] > gappy.index.get_level_values("firm_id").nunique()


@pytest.mark.parametrize("column", ["governance", "country"])
def test_text_regressor_gives_dummies_not_a_pandas_error(frame, column):
    """"A text or categorical regressor (governance, country) raises pandas' "Unable to parse
    string"."""
    res = quiet(gp.fe_regression, frame, f"{Y} ~ x1 + {column}", effects=("year",))
    levels = sorted(frame[column].dropna().unique())
    assert [t for t in res.params.index if t.startswith(column)] == [f"{column}[T.{v}]" for v in levels[1:]]


def test_governance_of_a_firm_panel_has_market_as_base(panel):
    """Item 1: "automatic dummies for text or categorical columns (governance with `market` as the
    base)"."""
    res = quiet(gp.fe_regression, panel, f"{Y} ~ governance + log(employees)")
    assert [t for t in res.params.index if t.startswith("governance")] == [
        "governance[T.network]", "governance[T.quasi_hierarchy]", "governance[T.hierarchy]"]


def test_upgrading_hazard_takes_a_formula_as_fe_regression_does(panel):
    """"`upgrading_hazard` takes a list of covariates while `fe_regression` takes a formula"."""
    res = quiet(gp.upgrading_hazard, panel, "process ~ network + quasi_hierarchy + log(employees)")
    assert list(res.params.index[:3]) == ["network", "quasi_hierarchy", "log(employees)"]
    with pytest.raises(SpecificationError):
        gp.upgrading_hazard(panel, ["network", "quasi_hierarchy"])


def test_bad_term_gets_one_line_naming_it(panel):
    """"fail, with "columns [...] are not in the panel" and a dump of 30 names"."""
    with pytest.raises(SpecificationError) as info:
        gp.fe_regression(panel, f"{Y} ~ log(employes) | firm + year")
    message = str(info.value)
    assert "'employes'" in message and "closest: employees" in message and "\n" not in message


# --- results ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def results(panel):
    fe = quiet(gp.fe_regression, panel, f"{Y} ~ quasi_hierarchy + network + log(employees)")
    hazard = quiet(gp.upgrading_hazard, panel, "process ~ network + quasi_hierarchy + log(employees)")
    report = quiet(gp.test_hypotheses, panel, hypotheses=["H1", "H5"])
    return {"regression": fe, "hazard": hazard, "report": report}


@pytest.mark.parametrize("kind", ["regression", "hazard", "report"])
def test_summary_html_and_pickle(results, kind):
    """"Results: no `summary()`, no notebook display (the dataclass repr is dumped), pickling fails
    ("Can't pickle local object") for regressions, hazards and reports"."""
    res = results[kind]
    text = str(res.summary())
    assert res.inference.label in text and all(str(t) in text for t in res.params.index)
    assert res._repr_html_().startswith("<div>") and len(repr(res)) < 400
    again = pickle.loads(pickle.dumps(res))
    pd.testing.assert_frame_equal(again.to_frame(), res.to_frame())


def test_one_shape_for_every_result(results):
    """"five result shapes (EstimationResult, TestResult, BootstrapTest, ModerationResult with a
    `.table` attribute, HypothesisReport with a `.table()` method)"."""
    from gvcpanel.results import ResultBase

    fe = results["regression"]
    shapes = {"regression": fe, "test": fe.wald_test("quasi_hierarchy = network"),
              "report": results["report"], "bootstrap": quiet(fe.with_inference, "wild", draws=99)}
    for name, res in shapes.items():
        assert isinstance(res, ResultBase), name
        frame = res.to_frame()
        assert {"estimate", "std_error", "ci_low", "ci_high"} <= set(frame.columns), name
        assert len(res.pvalues) == len(res.params) == len(frame), name
        assert list(res.conf_int(0.9).columns) == ["lower", "upper"], name


def test_level_is_confidence_and_alpha_is_significance(results, panel):
    """"`level` is a significance level in test_hypotheses and a confidence level elsewhere"."""
    fe = results["regression"]
    assert (fe.conf_int(0.99)["upper"] > fe.conf_int(0.90)["upper"]).all()
    assert "alpha" in inspect.signature(gp.test_hypotheses).parameters
    with pytest.raises(SpecificationError, match="confidence level"):
        fe.conf_int(0.05 * 100)


# --- tables and plots ---------------------------------------------------------------------------
def test_interacted_effect_is_named_not_year_effects_no(panel):
    """"show "Year effects: No" for a cluster_id^year model"."""
    res = quiet(gp.fe_regression, panel, f"{Y} ~ log(employees) | firm + cluster_id^year")
    body = gp.regression_table([res]).body
    assert body.loc["cluster_id^year effects", "(1)"] == "Yes"
    assert "Year effects" not in body.index or body.loc["Year effects", "(1)"] != "No"


def test_figure_one_is_drawn_by_the_library():
    """"No plots in the library (figure 1 is drawn inside replication/)"."""
    pytest.importorskip("matplotlib")
    tables = importlib.import_module("replication.tables")
    source = inspect.getsource(tables)
    assert "moderation_plot(" in source and ".fill_between(" not in source and ".plot(" not in source
    assert callable(gp.coefplot) and callable(gp.moderation_plot) and callable(gp.event_study_plot)
