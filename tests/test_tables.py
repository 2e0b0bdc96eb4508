import numpy as np
import pandas as pd
import pytest

from gvcpanel.errors import SpecificationError
from gvcpanel.inference.covariance import LinearDesign
from gvcpanel.inference.spec import InferenceSpec
from gvcpanel.results import EstimationResult, ModelSpec, exclusion_table
from gvcpanel.report.tables import Table, fmt, frame_table, regression_table, stars


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
    return EstimationResult(spec=spec, params=pd.Series(params, index=list(names)),
                            inference=design.inference(InferenceSpec()), nobs=n, n_firms=50,
                            dep_mean=float(y.mean()), exclusions=exclusion_table({}), model=design)


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
    assert body.loc["Standard errors", "(1)"] == "CRV1 (stata) by cluster_id"
    assert table.midrules == (4,)


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
    from gvcpanel.report.tables import fmt_p

    assert [fmt_p(p) for p in (0.0, 0.0004, 0.001, 0.0234, np.nan)] == ["<0.001", "<0.001", "0.001", "0.023", ""]
