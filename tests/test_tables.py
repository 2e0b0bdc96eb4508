"""Publication tables: cells from the results, one inference per column, the rows of issue #9
(R-squared, effects including interacted ones, inference), ``stats=``, and the maketables plug-in."""

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from benchmarks import designs
from gvcpanel.errors import SpecificationError
from gvcpanel.inference.covariance import LinearDesign
from gvcpanel.inference.spec import InferenceSpec
from gvcpanel.gvc.hazard import upgrading_hazard
from gvcpanel.models.linear import fe_regression
from gvcpanel.report.tables import DEFAULT_STATS, Table, fmt, fmt_p, frame_table, regression_table, stars
from gvcpanel.results import EstimationResult, ModelSpec, exclusion_table


def ols_result(seed: int, names=("quasi_hierarchy", "network")) -> EstimationResult:
    rng = np.random.default_rng(seed)
    n, k = 200, len(names)
    X = rng.normal(size=(n, k))
    y = X @ np.arange(1, k + 1) * 0.1 + rng.normal(size=n)
    params = np.linalg.lstsq(X, y, rcond=None)[0]
    clusters = np.repeat(np.arange(20), n // 20)
    design = LinearDesign(X=X, y=y, params=params, resid=y - X @ params, names=tuple(names),
                          groups={"cluster_id": clusters}, default_cluster=("cluster_id",))
    spec = ModelSpec("fe_regression", "fe", "labour_productivity", tuple(names), ("firm", "year"), ("cluster_id",))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inference = design.inference(InferenceSpec())
    return EstimationResult(spec=spec, params=pd.Series(params, index=list(names)),
                            inference=inference, nobs=n, n_firms=50,
                            dep_mean=float(y.mean()), exclusions=exclusion_table({}), model=design)


@pytest.fixture(scope="module")
def threeway():
    """A seeded panel with a cluster x year shock (benchmarks/designs.py, 300 firms, 30 clusters)."""
    return designs.make_design("threeway", 300, n_clusters=30, seed=5)


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def test_stars_and_format():
    assert [stars(p) for p in (0.001, 0.02, 0.07, 0.5)] == ["***", "**", "*", ""]
    assert fmt(-0.0001) == "0.000" and fmt(-0.25, 2) == "-0.25" and fmt(np.nan) == ""


def test_regression_table_cells_come_from_results():
    r1, r2 = ols_result(1), ols_result(2, names=("quasi_hierarchy",))
    table = regression_table({"(1)": r1, "(2)": r2})
    body = table.body
    assert body.iloc[0, 0] == fmt(r1.params["quasi_hierarchy"]) + stars(r1.pvalues["quasi_hierarchy"])
    assert body.iloc[1, 0] == f"({fmt(r1.std_errors['quasi_hierarchy'])})"
    assert body.iloc[2, 1] == ""  # network is not in model (2)
    assert body.loc["Observations"].tolist() == ["200", "200"]
    assert body.loc["Clusters"].tolist() == ["20", "20"]
    assert body.loc["Inference", "(1)"] == "CRV1 (stata) by cluster_id"
    assert body.loc["Firm effects"].tolist() == ["Yes", "Yes"] and body.loc["Year effects"].tolist() == ["Yes", "Yes"]
    assert "R-squared (within)" not in body.index  # empty in every column: left out by default
    assert table.midrules == (4,)
    assert table.notes.startswith("Standard errors in parentheses.")


def test_a_list_gives_numbered_columns_and_equals_the_mapping():
    r1, r2 = ols_result(1), ols_result(2)
    listed = regression_table([r1, r2])
    mapped = regression_table({"(1)": r1, "(2)": r2})
    assert list(listed.body.columns) == ["(1)", "(2)"]
    pd.testing.assert_frame_equal(listed.body, mapped.body)
    with pytest.raises(SpecificationError, match="list of results"):
        regression_table(r1)


def test_stats_choose_and_order_the_rows():
    r1 = ols_result(1)
    table = regression_table([r1], stats=["inference", "nobs", "r2_within"])
    assert list(table.body.index[-3:]) == ["Inference", "Observations", "R-squared (within)"]
    assert table.body.loc["R-squared (within)", "(1)"] == ""  # asked for: shown even when empty
    assert list(regression_table([r1], stats=[]).body.index) == list(table.body.index[:-3])
    with pytest.raises(SpecificationError, match="stats \\['adj_r2'\\] are not known"):
        regression_table([r1], stats=["adj_r2"])
    assert DEFAULT_STATS[0] == "nobs"


def test_r_squared_rows_equal_pyfixest(threeway):
    import pyfixest as pf

    res = quiet(fe_regression, threeway, designs.FORMULA, effects=("firm", "year"))
    # pyfixest 0.60: feols("y ~ x1 + ... + x7 | firm_id + year"); _r2 = 1 - SSR/sum((y - mean y)^2),
    # _r2_within = 1 - SSR/sum(demeaned y^2)
    fit = pf.feols(f"{designs.FORMULA} | firm_id + year", data=threeway.reset_index())
    table = regression_table([res], digits=6)
    assert res.fit_stats["r2_overall"] == pytest.approx(fit._r2, rel=1e-8)
    assert res.fit_stats["r2_within"] == pytest.approx(fit._r2_within, rel=1e-6)
    assert table.body.loc["R-squared (overall)", "(1)"] == fmt(fit._r2, 6)
    assert table.body.loc["R-squared (within)", "(1)"] == fmt(res.fit_stats["r2_within"], 6)


def test_interacted_effects_are_named_and_span_their_components(threeway):
    twoway = quiet(fe_regression, threeway, designs.FORMULA, effects=("firm", "year"))
    inter = quiet(fe_regression, threeway, designs.FORMULA, effects=("firm", "cluster_id^year"))
    body = regression_table({"two-way": twoway, "cluster x year": inter}).body
    assert body.loc["Firm effects"].tolist() == ["Yes", "Yes"]
    assert body.loc["Year effects"].tolist() == ["Yes", "in cluster_id^year"]  # never "No"
    assert body.loc["cluster_id^year effects"].tolist() == ["No", "Yes"]
    alone = regression_table([inter]).body
    assert "Year effects" not in alone.index and alone.loc["cluster_id^year effects", "(1)"] == "Yes"


def test_bootstrap_columns_show_bootstrap_uncertainty_not_sandwich(threeway):
    res = quiet(fe_regression, threeway, designs.FORMULA, effects=("firm", "year"))
    wild = quiet(res.with_inference, "wild", draws=199, seed=3)
    table = regression_table({"CRV1": res, "wild": wild}, terms=["x1", "x4"])
    body = table.body
    ci = wild.conf_int()
    assert body.loc[:, "wild"].iloc[0] == fmt(wild.params["x1"]) + stars(float(wild.pvalues["x1"]))
    assert body.loc[:, "wild"].iloc[1] == f"[{fmt(ci.loc['x1', 'lower'])}, {fmt(ci.loc['x1', 'upper'])}]"
    assert body.loc[:, "CRV1"].iloc[1] == f"({fmt(res.std_errors['x1'])})"
    assert body.loc["Inference", "wild"] == "wild bootstrap (199 draws) by cluster_id"
    assert "Bootstrap 95% confidence intervals (test inversion) in brackets." in table.notes
    # no analytic standard error anywhere in the bootstrap column
    assert not any(cell.startswith("(") for cell in body["wild"])


def test_score_bootstrap_columns_show_their_test_inversion_intervals():
    from gvcpanel.gvc.simulate import simulate_panel

    panel = simulate_panel(n_firms=400, n_clusters=12, seed=3).panel
    hazard = quiet(upgrading_hazard, panel, "process ~ network + quasi_hierarchy")
    score = quiet(hazard.with_inference, "score", draws=199)
    body = regression_table([hazard, score]).body
    ci = score.conf_int().loc["network"]
    assert body.loc[:, "(2)"].iloc[1] == f"[{fmt(ci['lower'], 3)}, {fmt(ci['upper'], 3)}]"
    # its own interval, not the sandwich one of the analytic column
    assert body.loc[:, "(2)"].iloc[1] != body.loc[:, "(1)"].iloc[1]
    assert body.loc["Inference", "(2)"] == "score bootstrap (199 draws) by cluster_id"
    assert body.loc["Year effects"].tolist() == ["baseline", "baseline"]
    assert body.loc["Estimator"].tolist() == ["cloglog hazard", "cloglog hazard"]


def test_every_format_is_written_and_deterministic(tmp_path):
    table = regression_table({"(1)": ols_result(3)}, title="Table 2: 50% & more")
    paths = table.write(tmp_path / "t2")
    assert sorted(p.suffix for p in paths) == [".csv", ".html", ".md", ".tex"]
    tex = (tmp_path / "t2.tex").read_text()
    assert r"\toprule" in tex and r"\midrule" in tex and r"50\% \& more" in tex and r"quasi\_hierarchy" in tex
    assert "<caption>Table 2: 50% &amp; more</caption>" in (tmp_path / "t2.html").read_text()
    first = (tmp_path / "t2.md").read_bytes()
    regression_table({"(1)": ols_result(3)}, title="Table 2: 50% & more").write(tmp_path / "t2")
    assert (tmp_path / "t2.md").read_bytes() == first


def test_markdown_rows_align():
    table = frame_table(pd.DataFrame({"firms": [3000, 12], "share": [0.5, 0.25]}, index=["a", "b"]))
    lines = table.to_markdown().strip().splitlines()
    assert len({len(line) for line in lines}) == 1
    assert "3,000" in lines[2] and "0.500" in lines[2]


def test_bad_arguments_raise():
    with pytest.raises(SpecificationError):
        regression_table({})
    with pytest.raises(SpecificationError, match="formats"):
        Table(pd.DataFrame({"a": ["1"]})).write("/tmp/x", formats=("docx",))


def test_pvalues_below_display_precision_are_not_shown_as_zero():
    assert [fmt_p(p) for p in (0.0, 0.0004, 0.001, 0.0234, np.nan)] == ["<0.001", "<0.001", "0.001", "0.023", ""]


# --- maketables (optional extra "tables") --------------------------------------------------------
def test_maketables_etable_shows_the_same_coefficients(threeway):
    maketables = pytest.importorskip("maketables")
    fe = quiet(fe_regression, threeway, designs.FORMULA, effects=("firm", "year"))
    inter = quiet(fe_regression, threeway, designs.FORMULA, effects=("firm", "cluster_id^year"))
    table = maketables.ETable([fe, inter], coef_fmt="b:.10f \n (se:.10f)", model_stats=["N", "n_clusters"])
    frame = table.df
    for j, res in enumerate((fe, inter)):
        column = frame.iloc[:, j]
        for term in res.params.index:
            cell = column.loc[("coef", term)]
            b, se = (float(v) for v in re.findall(r"-?\d+\.\d+", cell))
            assert b == pytest.approx(res.params[term], abs=1e-10)
            assert se == pytest.approx(res.std_errors[term], abs=1e-10)
    stats = frame.loc["stats"] if "stats" in frame.index.get_level_values(0) else frame
    assert str(fe.nobs) in "".join(map(str, np.ravel(stats.to_numpy()))).replace(",", "")
    assert fe.__maketables_depvar__ == "y" and fe.__maketables_fixef_string__ == "firm+year"
    assert inter.__maketables_fixef_string__ == "firm+cluster_id^year"
