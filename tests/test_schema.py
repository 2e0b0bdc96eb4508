"""Schema reading and frame validation: every field has a valid and an invalid case."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from gvcpanel.errors import SchemaError, SpecificationError
from gvcpanel.data.schema import (CONSTRUCTS, SCHEMA_DIR, check_frame, problems_message, read_schema,
                             validate_frame)

SCHEMA = read_schema("firm_panel")

# One invalid value per field and the start of the problem it must produce. Adding a field to
# the schema without a case here fails test_every_field_has_an_invalid_case.
INVALID = {
    "firm_id": ("   ", "does not match pattern"),
    "year": (1850, "below minimum"),
    "cluster_id": ("\n", "does not match pattern"),
    "country": (" ", "does not match pattern"),
    "sector": ("\t", "does not match pattern"),
    "new_sector_entry": (2, "not one of 0/1"),
    "main_buyer_share": (1.2, "above maximum"),
    "n_buyers": (-1, "below minimum"),
    "buyer_sets_design": ("yes", "not a number"),
    "buyer_monitors_process": (0.5, "not a whole number"),
    "buyer_owned": (-1, "not one of 0/1"),
    "joint_development": (3, "not one of 0/1"),
    "global_buyer": (np.inf, "not a finite number"),
    "governance": ("Quasi-hierarchy", "unknown category"),
    "governance_ghs": ("quasi_hierarchy", "unknown category"),
    "transaction_complexity": (-0.1, "below minimum"),
    "codifiability": (1.01, "above maximum"),
    "supplier_capability": ("high", "not a number"),
    "iso_certified": (2, "not one of 0/1"),
    "labour_productivity": ("n/a", "not a number"),
    "defect_rate": (5.0, "above maximum"),
    "new_product": (-9, "not one of 0/1"),
    "unit_value": (-3.5, "below minimum"),
    "function_level": (4, "not one of 0/1/2/3"),
    "n_partners": (2.5, "not a whole number"),
    "alliance": ("y", "not a number"),
    "university_link": (10, "not one of 0/1"),
    "association_member": (-1, "not one of 0/1"),
    "employees": (-5, "below minimum"),
    "firm_age": (-2, "below minimum"),
    "foreign_owned": (25, "not one of 0/1"),
    "export_share": (40, "above maximum"),
    "weight": (-1.5, "below minimum"),
    "stratum": ("  ", "does not match pattern"),
    "capability_score": ("high", "not a number"),
    "new_buyer_or_market": (2, "not one of 0/1"),
}


def base_frame() -> pd.DataFrame:
    """Two valid firm-years of one firm, as object columns so any value can be put in."""
    return pd.DataFrame({"firm_id": ["F1", "F1"], "year": [2010, 2011],
                         "cluster_id": ["c1", "c1"]}).astype(object)


def test_read_schema_is_frozen_with_key_and_version():
    assert SCHEMA.primary_key == ("firm_id", "year")
    assert SCHEMA.version == json.loads((SCHEMA_DIR / "firm_panel.schema.json").read_text())["version"]
    assert SCHEMA.required == ("firm_id", "year", "cluster_id")
    with pytest.raises(dataclasses.FrozenInstanceError):
        SCHEMA.version = "x"  # type: ignore[misc]
    assert read_schema(SCHEMA.path) == SCHEMA


def test_schema_file_is_a_table_schema_with_custom_keys():
    raw = json.loads((SCHEMA_DIR / "firm_panel.schema.json").read_text())
    assert raw["primaryKey"] == ["firm_id", "year"]
    for field in raw["fields"]:
        assert {"name", "type", "title", "description", "constraints", "unit", "construct",
                "measure", "example"} <= set(field), field["name"]
        assert field["construct"] in CONSTRUCTS
        assert field["measure"], field["name"]
    # every construct of the theory is measured by at least one field
    assert {f.construct for f in SCHEMA.fields} == set(CONSTRUCTS)


def test_contract_fields_are_present():
    contract = ("firm_id year cluster_id country sector main_buyer_share n_buyers buyer_sets_design "
                "buyer_monitors_process buyer_owned joint_development governance governance_ghs "
                "transaction_complexity codifiability supplier_capability iso_certified "
                "labour_productivity defect_rate new_product unit_value function_level n_partners "
                "alliance university_link association_member employees firm_age foreign_owned "
                "export_share").split()
    assert set(contract) <= set(SCHEMA.field_names)
    assert SCHEMA.field("iso_certified").measure.count("b8") == 1
    assert "Humphrey" in SCHEMA.field("main_buyer_share").measure


def test_unknown_schema_and_field_names():
    with pytest.raises(SpecificationError, match="firm_panel"):
        read_schema("no_such_schema")
    with pytest.raises(KeyError, match="main_buyer_share"):
        SCHEMA.field("buyer_share")


def test_every_field_has_an_invalid_case():
    assert set(INVALID) == set(SCHEMA.field_names)


@pytest.mark.parametrize("name", SCHEMA.field_names)
def test_field_valid_case(name):
    spec = SCHEMA.field(name)
    frame = base_frame()
    value = spec.example
    if name == "year":
        frame[name] = [value, value + 1]
    else:
        frame[name] = [value, value]
    result = check_frame(frame, SCHEMA)
    assert result.ok, result.problems
    got = result.data[name].iloc[0]
    if spec.is_numeric:
        assert float(got) == float(value)
    else:
        assert str(got) == str(value)


@pytest.mark.parametrize("name", SCHEMA.field_names)
def test_field_invalid_case(name):
    value, expected = INVALID[name]
    frame = base_frame()
    first = frame.loc[0, name] if name in frame.columns else SCHEMA.field(name).example
    frame[name] = pd.Series([first, value], dtype=object)
    problems = check_frame(frame, SCHEMA).problems
    mine = problems[problems["column"] == name]
    assert len(mine) == 1, problems
    row = mine.iloc[0]
    assert row["problem"].startswith(expected)
    assert row["row"] == 1
    # the row key is reported where it is readable
    if name != "firm_id":
        assert row["firm_id"] == "F1"
    if name != "year":
        assert row["year"] == 2011


@pytest.mark.parametrize("name", SCHEMA.required)
def test_required_field_missing_value_and_column(name):
    frame = base_frame()
    frame.loc[0, name] = None
    problems = check_frame(frame, SCHEMA).problems
    assert (problems["problem"] == "missing value in required field").sum() == 1
    problems = check_frame(frame.drop(columns=name), SCHEMA).problems
    whole = problems[problems["problem"] == "missing required column"]
    assert whole["column"].tolist() == [name]


def test_all_problems_found_at_once_and_listed():
    frame = pd.DataFrame({
        "firm_id": ["A", "A", "B", "C"], "year": [2010, 2010, 2011, "twenty"],
        "main_buyer_share": [0.5, 0.5, -0.2, 0.1], "governance": ["market", "market", "mkt", None]})
    with pytest.raises(SchemaError) as info:
        validate_frame(frame, SCHEMA, source="survey.csv")
    problems = info.value.problems
    assert list(problems.columns) == ["firm_id", "year", "row", "column", "problem", "value",
                                      "source"]
    found = set(zip(problems["column"], problems["problem"].str.split(" ").str[:2].str.join(" ")))
    assert found == {("cluster_id", "missing required"), ("year", "not a"),
                     ("main_buyer_share", "below minimum"), ("governance", "unknown category"),
                     ("firm_id+year", "duplicate key")}
    message = str(info.value)
    assert "survey.csv" in message and "firm_id=B, year=2011" in message
    assert "main_buyer_share" in message and "How to fix" in message
    assert info.value.source == "survey.csv"
    assert isinstance(info.value, ValueError)


def test_message_lists_twenty_and_counts_the_rest():
    frame = base_frame().iloc[[0] * 30].reset_index(drop=True)
    frame["year"] = np.arange(2000, 2030)
    frame["export_share"] = 45.0
    problems = check_frame(frame, SCHEMA).problems
    assert len(problems) == 30
    text = problems_message(problems, "x.csv")
    assert text.count("above maximum") == 20 + 1  # 20 listed, plus the how-to-fix line
    assert "and 10 more problem(s)" in text


def test_extra_columns_kept_and_noted():
    frame = base_frame().assign(my_note=["a", "b"])
    result = check_frame(frame, SCHEMA)
    assert result.ok
    assert result.data["my_note"].tolist() == ["a", "b"]
    assert "my_note" in result.notes[0]


def test_coercions_are_type_conversions_only():
    frame = pd.DataFrame({"firm_id": ["007", "12"], "year": ["2010", "2011"],
                          "cluster_id": ["15", "16"], "iso_certified": ["1", "0"],
                          "n_buyers": pd.array([3, None], dtype="Int64"),
                          "sector": [15.0, np.nan], "governance": ["market", None]})
    data = check_frame(frame, SCHEMA).data
    assert data["firm_id"].tolist() == ["007", "12"]  # leading zero kept: stays text
    assert data["cluster_id"].dtype == np.int64 and data["cluster_id"].tolist() == [15, 16]
    assert data["year"].dtype == np.int64
    assert data["iso_certified"].tolist() == [1.0, 0.0]
    assert data["n_buyers"].dtype == np.float64 and np.isnan(data["n_buyers"].iloc[1])
    assert data["sector"].iloc[0] == "15" and pd.isna(data["sector"].iloc[1])
    assert isinstance(data["governance"].dtype, pd.CategoricalDtype)
    assert list(data["governance"].cat.categories) == list(SCHEMA.field("governance").enum)


def test_missing_values_in_optional_fields_are_fine():
    frame = base_frame().assign(export_share=[np.nan, 0.3], governance=[None, "network"])
    assert check_frame(frame, SCHEMA).ok
