"""Bad values: every cell that breaks the schema is a problem naming its firm, year and column.

Each case asserts SchemaError, that the message names the file, the column and the firm/year
of the bad cell, and that nothing was lost: exactly the bad cells are listed (no other row is
touched or dropped) and every other cell keeps its value. Values such as 1e308 or inf are
schema problems, not a LinAlgError in an estimator later. Missing-value markers apply to
numeric fields only; text fields keep them unless the schema says otherwise.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gvcpanel as gp
from gvcpanel.data.io import validate_file
from gvcpanel.data.schema import SCHEMA_DIR, check_frame, read_schema
from gvcpanel.errors import SchemaError

from .cases import VALUE_CASES, ValueCase, valid_frame

SCHEMA = read_schema("firm_panel")


@pytest.mark.parametrize("case", VALUE_CASES, ids=lambda c: c.id)
def test_bad_cell_is_named_with_firm_year_and_column(case: ValueCase, tmp_path):
    path, _ = case.make(tmp_path)
    with pytest.raises(SchemaError) as info:
        gp.load_panel(path)
    problems = info.value.problems
    mine = problems[(problems["column"] == case.column) | (problems["column"] == "firm_id+year")]
    at_row = mine[mine["row"] == case.row]
    assert len(at_row) == 1, problems
    row = at_row.iloc[0]
    assert row["problem"].startswith(case.problem), row["problem"]
    assert str(row["firm_id"]) == str(case.firm) and str(row["year"]) == str(case.year)
    message = str(info.value)
    assert path.name in message and row["column"] in message
    assert f"firm_id={case.firm}, year={case.year}" in message
    assert info.value.source == str(path)
    # nothing lost: the bad cell (and, for a repeated key, its first occurrence) is all that
    # is listed; no other cell of the file is reported
    expected = 2 if case.problem == "duplicate key" else 1
    assert len(problems) == expected, problems


@pytest.mark.parametrize("column,value,problem", [
    ("labour_productivity", np.inf, "not a finite number"),
    ("labour_productivity", -np.inf, "not a finite number"),
    ("labour_productivity", 1e308, "magnitude above"),
    ("labour_productivity", np.finfo(np.float64).max, "magnitude above"),
    ("unit_value", 2e15, "magnitude above"),
    ("employees", 1e308, "magnitude above"),
    ("main_buyer_share", np.inf, "not a finite number"),
    ("firm_age", 1918.0, "above maximum 1000"),
])
def test_extreme_numbers_in_a_frame_are_schema_problems(column, value, problem):
    frame = valid_frame()
    frame[column] = frame.get(column, pd.Series(1.0, index=frame.index)).astype(float)
    frame.loc[2, column] = value
    # before: the panel loaded and the estimator failed with a LinAlgError or overflow
    with pytest.raises(SchemaError) as info:
        gp.load_panel(frame)
    problems = info.value.problems
    assert problems[["firm_id", "year", "column"]].values.tolist() == [["F2", 2010, column]]
    assert problems["problem"].iloc[0].startswith(problem)
    assert "firm_id=F2, year=2010" in str(info.value)


def test_bounds_and_magnitude_are_one_problem_per_cell():
    frame = valid_frame()
    frame.loc[0, "export_share"] = 1e308
    problems = check_frame(frame).problems
    assert problems["problem"].tolist() == ["above maximum 1"]


def test_every_problem_is_listed_at_once(tmp_path):
    frame = valid_frame().astype(object)
    frame.loc[0, "employees"] = "many"
    frame.loc[2, "export_share"] = "40"
    frame.loc[3, "year"] = "1850"
    frame.loc[5, "labour_productivity"] = "1e300"
    path = tmp_path / "four.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(SchemaError) as info:
        gp.load_panel(path)
    got = set(zip(info.value.problems["row"], info.value.problems["column"]))
    assert got == {(0, "employees"), (2, "export_share"), (3, "year"), (5, "labour_productivity")}
    report = validate_file(path, batch_size=2)
    assert set(zip(report.problems["row"], report.problems["column"])) == got


# -- missing-value markers: numeric fields only ------------------------------------------------
@pytest.mark.parametrize("marker", ["NA", "N/A", ".", "NULL", "#N/A", "nan", "None"])
def test_markers_in_numeric_fields_are_missing_and_noted(marker, tmp_path):
    frame = valid_frame().astype(object)
    frame.loc[0, "employees"] = marker
    path = tmp_path / "m.csv"
    frame.to_csv(path, index=False)
    panel = gp.load_panel(path)
    data = panel.data
    assert np.isnan(data.loc[("F1", 2010), "employees"])
    # nothing else became missing, and the reading is said
    assert data["employees"].isna().sum() == 2
    assert any(repr(marker) in note and "employees" in note for note in panel.load_report.notes)


@pytest.mark.parametrize("column", ["country", "sector", "cluster_id", "firm_id"])
@pytest.mark.parametrize("marker", ["NA", "N/A", "null", "."])
def test_markers_in_text_fields_stay_text(column, marker, tmp_path):
    frame = valid_frame()
    # the firm called NA (rows 4 and 5) is renamed to the marker; other fields get it in row 2
    rows = [4, 5] if column == "firm_id" else [2]
    frame.loc[rows, column] = marker
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    data = gp.load_panel(path).data.reset_index()
    assert (data[column] == marker).sum() == (frame[column] == marker).sum() >= len(rows)
    pd.testing.assert_frame_equal(data, gp.load_panel(frame).data.reset_index())


def test_governance_lists_its_own_markers():
    frame = valid_frame()
    frame.loc[0, "governance"] = "NA"
    data = gp.load_panel(frame).data
    assert pd.isna(data.loc[("F1", 2010), "governance"])


def test_a_schema_can_make_na_missing_in_a_text_field(tmp_path):
    raw = json.loads((SCHEMA_DIR / "firm_panel.schema.json").read_text())
    for spec in raw["fields"]:
        if spec["name"] == "country":
            spec["missingValues"] = ["", "NA"]
    custom = tmp_path / "survey.schema.json"
    custom.write_text(json.dumps(raw))
    frame = valid_frame()
    data = gp.load_panel(frame, schema=custom).data
    assert data["country"].isna().sum() == 3
    assert gp.load_panel(frame).data["country"].isna().sum() == 1


def test_empty_text_is_missing_in_every_source(tmp_path):
    frame = valid_frame()
    frame.loc[0, "country"] = ""
    frame.to_parquet(tmp_path / "e.parquet")
    for source in (frame, tmp_path / "e.parquet"):
        assert pd.isna(gp.load_panel(source).data.loc[("F1", 2010), "country"])


# -- properties of the validators ---------------------------------------------------------------
_NUMERIC = [f for f in SCHEMA.fields if f.is_numeric and f.name != "year"]


def _bad_value(spec, draw):
    kinds = ["word", "inf", "huge"]
    if spec.maximum is not None:
        kinds.append("above")
    if spec.minimum is not None:
        kinds.append("below")
    if spec.type == "integer":
        kinds.append("fraction")
    kind = draw(st.sampled_from(kinds))
    if kind == "word":
        word = draw(st.text(st.characters(categories=("Ll", "Lu")), min_size=1, max_size=6))
        return kind, word if word.lower() not in {"inf", "nan", "infinity", "none", "null", "na"} \
            else "x" + word, "not a number"
    if kind == "inf":
        return kind, draw(st.sampled_from([np.inf, -np.inf])), "not a finite number"
    if kind == "huge":
        big = draw(st.floats(1.1e15, 1e308))
        value = big * draw(st.sampled_from([1, -1]))
        if spec.type == "integer" and value != np.trunc(value):
            return kind, value, "not a whole number"  # the first check that fails is reported
        if spec.maximum is not None and value > spec.maximum:
            return kind, value, "above maximum"
        if spec.minimum is not None and value < spec.minimum:
            return kind, value, "below minimum"
        if spec.enum is not None:
            return kind, value, "not one of"
        return kind, value, "magnitude above"
    if kind == "above":
        return kind, spec.maximum + draw(st.integers(1, 100)), "above maximum"
    if kind == "below":
        return kind, spec.minimum - draw(st.integers(1, 100)), "below minimum"
    return kind, draw(st.integers(0, 50)) + 0.5, "not a whole number"


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_any_bad_cell_is_found_exactly_where_it_is(data):
    frame = valid_frame()
    for spec in _NUMERIC:
        if spec.name not in frame.columns:
            frame[spec.name] = spec.example
    frame = frame.astype({s.name: object for s in _NUMERIC})
    spec = data.draw(st.sampled_from(_NUMERIC))
    row = data.draw(st.integers(0, len(frame) - 1))
    _, value, problem = _bad_value(spec, data.draw)
    frame.loc[row, spec.name] = value
    result = check_frame(frame)
    problems = result.problems
    assert len(problems) == 1, problems
    found = problems.iloc[0]
    assert found["row"] == row and found["column"] == spec.name
    assert found["problem"].startswith(problem), (found["problem"], problem)
    assert found["firm_id"] == frame.loc[row, "firm_id"] and found["year"] == frame.loc[row, "year"]
    # every other cell is kept as it was
    others = result.data.drop(index=row)
    assert len(others) == len(frame) - 1


_ANY = st.one_of(st.none(), st.booleans(), st.integers(-2**80, 2**80), st.floats(),
                 st.text(max_size=8), st.binary(max_size=4), st.dates())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(column=st.sampled_from(list(SCHEMA.field_names)), value=_ANY)
def test_any_python_value_in_any_field_is_accepted_or_a_problem(column, value):
    frame = valid_frame().astype(object)
    if column not in frame.columns:
        frame[column] = pd.Series([None] * len(frame), dtype=object)
    frame[column] = frame[column].astype(object)
    frame.at[1, column] = value
    # the validator never fails with a third-party error: it accepts the value or lists it
    result = check_frame(frame)
    unexpected = result.problems[result.problems["row"] != 1]
    if column in ("firm_id", "year"):
        unexpected = unexpected[~unexpected["problem"].str.startswith("duplicate key")]
    assert unexpected.empty, result.problems
    if not result.ok:
        assert (result.problems["column"].isin([column, "firm_id+year"])).all()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), batch=st.integers(1, 7))
def test_streaming_validation_finds_what_the_whole_check_finds(data, batch, tmp_path_factory):
    frame = valid_frame().astype(object)
    for _ in range(data.draw(st.integers(1, 4))):
        spec = data.draw(st.sampled_from([s for s in _NUMERIC if s.name in frame.columns]))
        row = data.draw(st.integers(0, len(frame) - 1))
        frame.loc[row, spec.name] = _bad_value(spec, data.draw)[1]
    path = tmp_path_factory.mktemp("stream") / "p.csv"
    frame.to_csv(path, index=False)
    whole = check_frame(pd.read_csv(path, dtype=object, keep_default_na=False,
                                    na_values=[""])).problems
    report = validate_file(path, batch_size=batch)
    cols = ["row", "column", "problem"]
    assert sorted(map(tuple, report.problems[cols].astype(str).to_numpy())) == \
        sorted(map(tuple, whole[cols].astype(str).to_numpy()))
