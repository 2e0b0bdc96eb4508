"""Mapping operations on hand-made frames; every replacement is counted."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from gvcpanel.errors import SchemaError, SpecificationError
from gvcpanel.data.mapping import apply_mapping, read_mapping


def write(tmp_path, fields, **extra):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"name": "m", "version": "1", "fields": fields, **extra}))
    return path


def test_operations_by_hand(tmp_path):
    path = write(tmp_path, {
        "firm_age": {"op": "difference", "from": ["yr", "founded"]},
        "export_share": {"op": "sum", "from": ["ind", "dir"], "scale": 0.01},
        "foreign_owned": {"op": "threshold", "from": ["foreign_pct"], "at_least": 10},
        "cluster_id": {"op": "concat", "from": ["country", ["region", "town"]], "separator": "/"},
        "iso_certified": {"op": "recode", "from": ["cert"], "recode": {"1": 1, "2": 0}},
    }, missing_codes={"-9": "don't know"})
    frame = pd.DataFrame({"yr": [2010, 2010, 2011], "founded": [2000, -9, 1999],
                          "ind": [10, 0, np.nan], "dir": [15, 5, 20],
                          "foreign_pct": [10, 9.99, -9], "country": ["BR", "BR", "IN"],
                          "town": ["a", "b", "c"], "cert": [1, 2, 3]})
    data, report = apply_mapping(frame, path)
    assert data["firm_age"].tolist()[::2] == [10, 12] and np.isnan(data["firm_age"].iloc[1])
    np.testing.assert_allclose(data["export_share"].to_numpy(), [0.25, 0.05, np.nan],
                               rtol=1e-12, equal_nan=True)
    np.testing.assert_array_equal(data["foreign_owned"].to_numpy(), [1.0, 0.0, np.nan])
    assert data["cluster_id"].tolist() == ["BR/a", "BR/b", "IN/c"]
    # code 3 is not in the recode: it passes through for the schema check to report
    assert data["iso_certified"].tolist() == [1, 0, 3]
    counts = {(t, s, a): n for t, s, a, n in report.actions.itertuples(index=False)}
    assert counts[("firm_age", "founded", "code -9 (don't know) -> missing")] == 1
    assert counts[("foreign_owned", "foreign_pct", "code -9 (don't know) -> missing")] == 1
    assert counts[("iso_certified", "cert", "recode 2 -> 0")] == 1
    assert report.n_set_missing() == 2 and report.n_set_missing("firm_age") == 1
    assert report.dropped_columns == ()


def test_absent_sources_are_reported_not_guessed(tmp_path):
    path = write(tmp_path, {"employees": {"from": ["l1"]}, "firm_id": {"from": ["id"]}})
    data, report = apply_mapping(pd.DataFrame({"id": [1], "junk": [2]}), path)
    assert list(data.columns) == ["firm_id"]
    assert report.not_derived == ("employees: source column l1 absent",)
    assert report.dropped_columns == ("junk",)


def test_text_in_arithmetic_input_is_an_error(tmp_path):
    path = write(tmp_path, {"firm_age": {"op": "difference", "from": ["yr", "founded"]}})
    with pytest.raises(SchemaError, match="founded"):
        apply_mapping(pd.DataFrame({"yr": [2010], "founded": ["long ago"]}), path)


def test_bad_mapping_files(tmp_path):
    with pytest.raises(SpecificationError, match=r"fields\.x\.op: op must be one of .*divide"):
        read_mapping(write(tmp_path, {"x": {"op": "divide", "from": ["a"]}}))
    with pytest.raises(SpecificationError, match=r"fields\.x: missing key 'at_least'"):
        read_mapping(write(tmp_path, {"x": {"op": "threshold", "from": ["a"]}}))
    with pytest.raises(SpecificationError, match=r"fields\.x\.from: op difference takes exactly two"):
        read_mapping(write(tmp_path, {"x": {"op": "difference", "from": ["a"]}}))


def test_batch_reports_combine():
    mapping = read_mapping("wbes")
    frame = pd.DataFrame({"idstd": [1, 2], "year": [2009, 2009], "b8": [-9, -9]})
    _, first = apply_mapping(frame.iloc[:1], mapping)
    _, second = apply_mapping(frame.iloc[1:], mapping)
    assert first.combine(second).n_set_missing("iso_certified") == 2
