"""Designs as pandas objects, the value-chain names formulas can use, and projection columns."""

import numpy as np
import pandas as pd
import pytest

from gvcpanel.errors import SpecificationError
from gvcpanel.formula.design import build_design
from gvcpanel.formula.parse import parse_formula
from gvcpanel.gvc.columns import DOMAIN_COLUMNS, governance_dummies, model_columns


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
    # formulaic's term order: by degree, then as written (R, patsy and pyfixest agree)
    assert parse_formula("y ~ a*b + log(c) + 1").term_names == ("a", "b", "log(c)", "a:b")
    assert parse_formula("y ~ a + a + b").term_names == ("a", "b")


def test_parse_formula_without_tilde_says_how():
    with pytest.raises(SpecificationError, match="outcome ~ term"):
        parse_formula("y + x")


def test_build_design_counts_every_exclusion(frame):
    design = build_design(frame, "y ~ quasi_hierarchy*ns + log(employees)", keep=["cluster_id"],
                          derived=DOMAIN_COLUMNS)
    # row (1,2002): employees 0 -> log undefined; (2,2001): governance missing; (2,2002): y missing
    assert design.exclusions == {
        "missing y": 1,
        "missing governance": 1,
        "non-positive employees (log)": 1,
    }
    assert sum(design.exclusions.values()) + len(design.y) == len(frame)
    assert list(design.X.columns) == ["quasi_hierarchy", "ns", "log(employees)", "quasi_hierarchy:ns"]
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
    with pytest.raises(SpecificationError, match="relational"):
        build_design(bad, "y ~ network", derived=DOMAIN_COLUMNS)


def test_derived_names_need_the_domain_layer(frame):
    # the generic code knows no governance dummy: without the domain's names it is an unknown column
    with pytest.raises(SpecificationError, match="no column 'quasi_hierarchy'"):
        build_design(frame, "y ~ quasi_hierarchy")


def test_unknown_column_names_the_closest_ones(frame):
    with pytest.raises(SpecificationError, match=r"no column 'employes' in the data \(closest: employees\)"):
        build_design(frame, "y ~ log(employes)")
    with pytest.raises(SpecificationError, match="check the spelling"):
        build_design(frame, "y ~ no_such_column")


def test_model_columns_drive_parquet_projection(tmp_path, simulated):
    from gvcpanel.data.io import load_panel

    cols = model_columns("log(unit_value) ~ quasi_hierarchy*network_strength_c + log(employees)")
    assert cols == ["unit_value", "governance", "n_partners", "alliance", "university_link",
                    "association_member", "employees", "cluster_id"]
    assert model_columns(["network", "firm_age"], extra=()) == ["governance", "firm_age"]
    assert model_columns("y ~ x | firm + region^year", extra=()) == ["y", "x", "region"]
    frame = simulated(n_firms=200, seed=1).frame
    folder = tmp_path / "panel"
    frame.to_parquet(folder, partition_cols=["year"])
    panel = load_panel(folder, columns=cols, filters=[("year", ">=", 2010)])
    assert set(cols) <= set(panel.data.columns)
    assert "labour_productivity" not in panel.data.columns
    assert panel.years[0] == 2010


def test_estimators_offer_the_registered_names_on_any_frame(simulated):
    # the package root registers the value-chain names (gvcpanel.formula.providers): a FirmPanel
    # and its plain DataFrame give the same fit
    import warnings

    from gvcpanel.formula.frame import derived_of
    from gvcpanel.models.linear import fe_regression

    sim = simulated(n_firms=300, seed=4)
    assert {"quasi_hierarchy", "network_strength_c"} <= set(derived_of(sim.panel.data))
    formula = "labour_productivity ~ quasi_hierarchy + network + network_strength_c + log(employees)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from_panel = fe_regression(sim.panel, formula)
        from_frame = fe_regression(sim.panel.data, formula)
    np.testing.assert_allclose(from_frame.params, from_panel.params, rtol=1e-13)
    assert list(from_panel.params.index) == ["quasi_hierarchy", "network", "network_strength_c", "log(employees)"]
