"""Bad mapping files: every key is checked against data_schemas/mapping.schema.json.

Each case asserts MappingError (a SpecificationError), that the message names the mapping file
and the key path of the culprit (``fields.employees.scale``), and that nothing was lost: the
mapping is refused whole, so no panel is built from half a mapping. Derived values outside
the firm-panel schema fail validation naming firm, year, column and the source values.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest

import gvcpanel as gp
from gvcpanel.data.io import validate_file
from gvcpanel.data.mapping import MAPPING_DIR, MAPPING_SCHEMA, apply_mapping, read_mapping
from gvcpanel.errors import MappingError, SchemaError, SpecificationError

FIXTURES = Path(__file__).parent.parent / "fixtures"
WBES = (MAPPING_DIR / "wbes.json").read_text(encoding="utf-8")


def _good() -> dict:
    return {"name": "mine", "version": "1", "missing_codes": {"-9": "don't know"},
            "fields": {"firm_id": {"op": "copy", "from": ["id"]},
                       "year": {"from": ["yr"]},
                       "cluster_id": {"op": "concat", "from": ["ctry", "town"], "separator": "/"},
                       "employees": {"op": "copy", "from": ["staff"]},
                       "firm_age": {"op": "difference", "from": ["yr", "founded"]},
                       "foreign_owned": {"op": "threshold", "from": ["foreign"], "at_least": 10},
                       "iso_certified": {"op": "recode", "from": ["cert"],
                                         "recode": {"1": 1, "2": 0}},
                       "export_share": {"op": "sum", "from": ["ind", "dir"], "scale": 0.01}}}


def _source() -> pd.DataFrame:
    return pd.DataFrame({"id": [1, 1, 2], "yr": [2010, 2011, 2010], "ctry": ["NA", "NA", "BR"],
                         "town": ["w", "w", "s"], "staff": [5, 6, -9], "founded": [1990, 1990, 2001],
                         "foreign": [0, 50, 10], "cert": [1, 2, 1], "ind": [10, 0, 5],
                         "dir": [20, 0, 5]})


def _edit(change) -> dict:
    raw = _good()
    change(raw)
    return raw


# (id, mapping text or dict, key path that must be named, words that must be in the message)
CASES = [
    ("misspelt_missing_codes", _edit(lambda m: m.update(missing_code=m.pop("missing_codes"))),
     "missing_code", ("unknown key 'missing_code'", "did you mean 'missing_codes'")),
    ("misspelt_at_least", _edit(lambda m: m["fields"]["foreign_owned"].update(
        at_leat=m["fields"]["foreign_owned"].pop("at_least"))),
     "fields.foreign_owned", ("'at_leat'", "did you mean 'at_least'")),
    ("unknown_rule_key", _edit(lambda m: m["fields"]["employees"].update(unit="persons")),
     "fields.employees.unit", ("unknown key 'unit'",)),
    ("fields_missing", _edit(lambda m: m.pop("fields")), "(top level)", ("missing key 'fields'",)),
    ("fields_empty", _edit(lambda m: m.update(fields={})), "fields", ("one rule per",)),
    ("fields_a_list", _edit(lambda m: m.update(fields=[])), "fields", ("fields is an object",)),
    ("top_level_list", [1, 2], "(top level)", ("is not of type 'object'",)),
    ("version_number", _edit(lambda m: m.update(version=2)), "version", ("version is text",)),
    ("keep_unmapped_text", _edit(lambda m: m.update(keep_unmapped="yes")), "keep_unmapped",
     ("true or false",)),
    ("scale_text", _edit(lambda m: m["fields"]["export_share"].update(scale="0.01")),
     "fields.export_share.scale", ("scale is a number", '"0.01"')),
    ("at_least_text", _edit(lambda m: m["fields"]["foreign_owned"].update(at_least="10%")),
     "fields.foreign_owned.at_least", ("at_least is a number",)),
    ("from_a_string", _edit(lambda m: m["fields"]["employees"].update({"from": "staff"})),
     "fields.employees.from", ("from is a list of inputs",)),
    ("from_empty", _edit(lambda m: m["fields"]["employees"].update({"from": []})),
     "fields.employees.from", ("from is a list",)),
    ("from_number_inside", _edit(lambda m: m["fields"]["employees"].update({"from": [["staff", 3]]})),
     "fields.employees.from[0]", ("an input is a source column name",)),
    ("from_empty_name", _edit(lambda m: m["fields"]["employees"].update({"from": [""]})),
     "fields.employees.from[0]", ("an input is",)),
    ("recode_to_null", _edit(lambda m: m["fields"]["iso_certified"]["recode"].update({"3": None})),
     "fields.iso_certified.recode.3", ("list it in missing_codes",)),
    ("missing_code_meaning_number", _edit(lambda m: m["missing_codes"].update({"-8": 8})),
     "missing_codes.-8", ("meaning of a missing code is text",)),
    ("op_unknown", _edit(lambda m: m["fields"]["employees"].update(op="divide")),
     "fields.employees.op", ("op must be one of", '"divide"')),
    ("threshold_without_at_least", _edit(lambda m: m["fields"]["foreign_owned"].pop("at_least")),
     "fields.foreign_owned", ("missing key 'at_least'", "op threshold needs at_least")),
    ("at_least_on_copy", _edit(lambda m: m["fields"]["employees"].update(at_least=3)),
     "fields.employees", ("at_least belongs to op threshold",)),
    ("recode_without_map", _edit(lambda m: m["fields"]["iso_certified"].pop("recode")),
     "fields.iso_certified", ("missing key 'recode'",)),
    ("recode_on_copy", _edit(lambda m: m["fields"]["employees"].update(recode={"1": 1})),
     "fields.employees", ("recode belongs to op recode",)),
    ("separator_on_sum", _edit(lambda m: m["fields"]["export_share"].update(separator="+")),
     "fields.export_share", ("separator belongs to op concat",)),
    ("difference_of_one", _edit(lambda m: m["fields"]["firm_age"].update({"from": ["yr"]})),
     "fields.firm_age.from", ("exactly two inputs",)),
    ("difference_of_three", _edit(lambda m: m["fields"]["firm_age"].update(
        {"from": ["yr", "founded", "x"]})), "fields.firm_age.from", ("exactly two inputs",)),
    ("copy_of_two", _edit(lambda m: m["fields"]["employees"].update({"from": ["staff", "l1"]})),
     "fields.employees.from", ("take one input",)),
    ("sum_without_from", _edit(lambda m: m["fields"]["export_share"].pop("from")),
     "fields.export_share", ("missing key 'from'",)),
    ("extra_not_boolean", _edit(lambda m: m["fields"]["employees"].update(extra="no")),
     "fields.employees.extra", ("extra is true or false",)),
    # repeated keys: JSON parsers keep the last one silently
    ("target_twice", WBES.replace('"employees": {"op": "copy", "from": ["l1"]',
                                  '"employees": {"op": "copy", "from": ["b5"]}, '
                                  '"employees": {"op": "copy", "from": ["l1"]'),
     "fields.employees", ("'employees' is given 2 times in fields",)),
    ("from_twice_in_rule", WBES.replace('"employees": {"op": "copy", "from": ["l1"]',
                                        '"employees": {"op": "copy", "from": ["b5"], '
                                        '"from": ["l1"]'),
     "fields.employees.from", ("'from' is given 2 times in fields.employees",)),
    ("missing_codes_twice", WBES.replace('"keep_unmapped": false,',
                                         '"keep_unmapped": false, "missing_codes": {},'),
     "missing_codes", ("'missing_codes' is given 2 times in the top-level object",)),
    ("code_twice", WBES.replace('"-9": "don\'t know",', '"-9": "don\'t know", "-9": "refused",'),
     "missing_codes.-9", ("'-9' is given 2 times in missing_codes",)),
]


def _write(tmp_path: Path, content) -> Path:
    path = tmp_path / "mapping.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content),
                    encoding="utf-8")
    return path


@pytest.mark.parametrize("case_id,content,key,words", CASES, ids=[c[0] for c in CASES])
def test_bad_mapping_is_refused_naming_the_key(case_id, content, key, words, tmp_path):
    path = _write(tmp_path, content)
    assert case_id  # the id is the parametrize label
    with pytest.raises(MappingError) as info:
        gp.load_panel(_source(), mapping=path)
    error = info.value
    assert isinstance(error, SpecificationError) and isinstance(error, ValueError)
    message = str(error)
    assert str(path) in message and error.source == str(path)
    assert key in [k for k, _ in error.problems], error.problems
    assert f"  - {key}: " in message
    for word in words:
        assert word in message, (word, message)
    # refused whole: the same error from every entry point, before any data is read
    with pytest.raises(MappingError):
        read_mapping(path)
    with pytest.raises(MappingError):
        validate_file(FIXTURES / "wbes_panel.csv", mapping=path)


def test_all_problems_of_a_mapping_are_listed_at_once(tmp_path):
    raw = _good()
    raw["missing_code"] = raw.pop("missing_codes")
    raw["fields"]["export_share"]["scale"] = "0.01"
    raw["fields"]["foreign_owned"].pop("at_least")
    with pytest.raises(MappingError) as info:
        read_mapping(_write(tmp_path, raw))
    assert [k for k, _ in info.value.problems] == ["fields.export_share.scale",
                                                   "fields.foreign_owned", "missing_code"]
    assert "3 problem(s)" in str(info.value)


def test_invalid_json_names_line_and_column(tmp_path):
    path = _write(tmp_path, '{"fields": {"employees": {"from": ["l1"]},}}')
    with pytest.raises(MappingError, match=r"not valid JSON: .* line 1, column 43") as info:
        read_mapping(path)
    assert str(path) in str(info.value)


def test_mapping_that_is_not_utf8(tmp_path):
    path = tmp_path / "mapping.json"
    path.write_bytes('{"name": "São", "fields": {"employees": {}}}'.encode("latin-1"))
    with pytest.raises(MappingError, match="not UTF-8"):
        read_mapping(path)


def test_unknown_target_is_refused_unless_marked_extra(tmp_path):
    raw = _good()
    raw["fields"]["employes"] = raw["fields"].pop("employees")
    path = _write(tmp_path, raw)
    with pytest.raises(MappingError, match="did you mean 'employees'") as info:
        gp.load_panel(_source(), mapping=path)
    assert [k for k, _ in info.value.problems] == ["fields.employes"]
    raw["fields"]["employes"]["extra"] = True
    panel = gp.load_panel(_source(), mapping=_write(tmp_path, raw))
    assert "employes" in panel.data.columns and "employees" not in panel.data.columns


def test_the_shipped_schema_and_mapping_are_valid():
    schema = json.loads(MAPPING_SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    for path in MAPPING_DIR.glob("*.json"):
        jsonschema.Draft202012Validator(schema).validate(json.loads(path.read_text()))
        read_mapping(path)
    assert (Path(gp.__file__).parent.parent / "data_schemas" / "mapping.schema.json").exists()


def test_a_good_mapping_still_maps(tmp_path):
    panel = gp.load_panel(_source(), mapping=_write(tmp_path, _good()))
    data = panel.data
    assert data.loc[(1, 2010), "firm_age"] == 20 and data.loc[(1, 2011), "foreign_owned"] == 1
    assert data.loc[(1, 2010), "cluster_id"] == "NA/w"  # Namibia stays text through concat
    assert np.isnan(data.loc[(2, 2010), "employees"])
    assert panel.load_report.mapping.n_set_missing("employees") == 1


def test_an_edited_mapping_is_read_again(tmp_path):
    path = _write(tmp_path, _good())
    first = read_mapping(path)
    raw = _good()
    raw["fields"]["employees"]["scale"] = 1000
    path.write_text(json.dumps(raw))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    second = read_mapping(path)
    assert first.rules != second.rules
    assert {r.target: r.scale for r in second.rules}["employees"] == 1000


def test_mapping_can_make_a_text_na_missing(tmp_path):
    raw = _good()
    raw["fields"]["country"] = {"op": "copy", "from": ["ctry"], "missing_codes": {"NA": "not asked"}}
    panel = gp.load_panel(_source(), mapping=_write(tmp_path, raw))
    assert panel.data["country"].isna().tolist() == [True, True, False]
    assert panel.load_report.mapping.n_set_missing("country") == 2


# -- derived values outside the schema ------------------------------------------------------------
def _wbes_with(tmp_path: Path, row: int, **cells) -> Path:
    source = pd.read_csv(FIXTURES / "wbes_panel.csv")
    for column, value in cells.items():
        if isinstance(value, str):
            source[column] = source[column].astype(object)
        source.loc[row, column] = value
    path = tmp_path / "es.csv"
    source.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("row,cells,column,value,origin", [
    (5, {"b5": 95}, "firm_age", "1914", "year=2009, b5=95"),
    (2, {"b5": 2025}, "firm_age", "-6", "year=2019, b5=2025"),
    (0, {"d3b": 80, "d3c": 70}, "export_share", "1.5", "d3b=80, d3c=70"),
    (3, {"b8": 3}, "iso_certified", "3", "b8=3"),
    (4, {"l1": -5}, "employees", "-5", "l1=-5"),
])
def test_derived_value_outside_the_schema_names_firm_year_and_source(
        row, cells, column, value, origin, tmp_path):
    path = _wbes_with(tmp_path, row, **cells)
    source = pd.read_csv(path)
    firm, year = source.loc[row, "idstd"], source.loc[row, "year"]
    with pytest.raises(SchemaError) as info:
        gp.load_panel(path, mapping="wbes")
    problems = info.value.problems
    assert problems[["firm_id", "year", "column", "value", "source"]].values.tolist() == [
        [firm, year, column, value, origin]]
    message = str(info.value)
    assert f"firm_id={firm}, year={year}" in message and f"(from {origin})" in message
    report = validate_file(path, mapping="wbes", batch_size=4)
    assert report.problems[["firm_id", "year", "column", "source"]].values.tolist() == [
        [firm, year, column, origin]]


def test_text_in_an_arithmetic_input_names_the_column(tmp_path):
    path = _wbes_with(tmp_path, 2, b5="long ago")
    with pytest.raises(SchemaError, match=r"firm_age.*source column b5.*'long ago'.*rows 2"):
        gp.load_panel(path, mapping="wbes")


def test_markers_in_numeric_sources_are_counted(tmp_path):
    path = _wbes_with(tmp_path, 1, b5="NA")
    panel = gp.load_panel(path, mapping="wbes")
    assert np.isnan(panel.data.loc[(101, 2014), "firm_age"])
    actions = panel.load_report.mapping.actions
    assert ("firm_age", "b5", "marker 'NA' (schema missingValues) -> missing", 1) in \
        list(actions.itertuples(index=False, name=None))


def test_apply_mapping_refuses_unknown_targets_directly():
    mapping = read_mapping("wbes")
    data, _ = apply_mapping(pd.DataFrame({"idstd": [1], "year": [2010]}), mapping)
    assert list(data.columns) == ["firm_id", "year"]
