import numpy as np
import pandas as pd
import pytest

from gvcpanel.formula.design import build_design, expand_terms, governance_dummies, parse_formula
from gvcpanel.errors import SpecificationError


@pytest.fixture()
def frame() -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "firm_id": [1, 1, 2, 2, 3, 3],
            "year": [2001, 2002, 2001, 2002, 2001, 2002],
            "y": [1.0, 2.0, 3.0, np.nan, 5.0, 6.0],
            "employees": [10, 0, 5, 6, 7, 8],
            "governance": ["market", "quasi_hierarchy", None, "network", "market", "hierarchy"],
            "ns": [0.1, 0.2, 0.3, 0.4, 0.5, -0.6],
            "cluster_id": ["a", "a", "b", "b", "c", "c"],
        }
    )
    return df.set_index(["firm_id", "year"])


def test_parse_formula_expands_products():
    assert parse_formula("y ~ a*b + log(c) + 1") == ("y", ["a", "b", "a:b", "log(c)"])
    assert expand_terms(["a", "a", "b"]) == ["a", "b"]


def test_parse_formula_without_tilde_says_how():
    with pytest.raises(SpecificationError, match="outcome ~ term"):
        parse_formula("y + x")


def test_build_design_counts_every_exclusion(frame):
    design = build_design(frame, "y", ["quasi_hierarchy*ns", "log(employees)"], keep=["cluster_id"])
    # row (1,2002): employees 0 -> log undefined; (2,2001): governance missing; (2,2002): y missing
    assert design.exclusions == {
        "missing y": 1,
        "missing governance": 1,
        "non-positive employees (log)": 1,
    }
    assert sum(design.exclusions.values()) + len(design.y) == len(frame)
    assert list(design.X.columns) == ["quasi_hierarchy", "ns", "quasi_hierarchy:ns", "log(employees)"]
    np.testing.assert_allclose(design.X.loc[(3, 2002), "log(employees)"], np.log(8), rtol=1e-15)
    np.testing.assert_allclose(design.X["quasi_hierarchy:ns"], design.X["quasi_hierarchy"] * design.X["ns"], rtol=0, atol=0)
    assert list(design.frame["cluster_id"]) == ["a", "c", "c"]


def test_governance_dummies_keep_missing_and_reject_unknown(frame):
    out = governance_dummies(frame)
    assert np.isnan(out.loc[(2, 2001), "quasi_hierarchy"])
    assert out.loc[(1, 2002), "quasi_hierarchy"] == 1.0
    assert (out[["market", "network", "quasi_hierarchy", "hierarchy"]].sum(axis=1, min_count=4).dropna() == 1).all()
    bad = frame.assign(governance=frame["governance"].replace("network", "relational"))
    with pytest.raises(SpecificationError, match="relational"):
        governance_dummies(bad)


def test_unknown_column_names_what_exists(frame):
    with pytest.raises(SpecificationError, match="not in the panel"):
        build_design(frame, "y", ["no_such_column"])


def test_model_columns_drive_parquet_projection(tmp_path):
    from gvcpanel.formula.design import model_columns
    from gvcpanel.data.io import load_panel
    from gvcpanel.gvc.simulate import simulate_panel

    cols = model_columns("log(unit_value) ~ quasi_hierarchy*network_strength_c + log(employees)")
    assert cols == ["unit_value", "governance", "n_partners", "alliance", "university_link",
                    "association_member", "employees", "cluster_id"]
    assert model_columns(["network", "firm_age"], extra=()) == ["governance", "firm_age"]
    frame = simulate_panel(n_firms=200, seed=1).frame
    folder = tmp_path / "panel"
    frame.to_parquet(folder, partition_cols=["year"])
    panel = load_panel(folder, columns=cols, filters=[("year", ">=", 2010)])
    assert set(cols) <= set(panel.data.columns)
    assert "labour_productivity" not in panel.data.columns
    assert panel.years[0] == 2010
