"""Joining a governance module to a survey panel, and classify naming every missing input at once."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import gvcpanel as gp
from gvcpanel.cli import main
from gvcpanel.data.mapping import read_mapping
from gvcpanel.data.modules import (MISSING_KEY, NOT_OBSERVED, UNKNOWN_FIRM, UNKNOWN_WAVE,
                                   join_module)
from gvcpanel.errors import SchemaError, SpecificationError
from gvcpanel.gvc.governance import HS_RULES, classify_frame
from gvcpanel.gvc.survey_fixture import simulate_survey


@pytest.fixture()
def survey() -> gp.FirmPanel:
    """Three firms observed in 2009 and 2015, firm 3 only in 2015; no governance items."""
    frame = pd.DataFrame({"firm_id": [1, 1, 2, 2, 3], "year": [2009, 2015, 2009, 2015, 2015],
                          "cluster_id": ["a", "a", "b", "b", "b"],
                          "employees": [10, 12, 50, 55, 7]})
    return gp.load_panel(frame)


def _module(rows):
    return pd.DataFrame(rows, columns=["firm_id", "year", "buyer_owned", "n_buyers"])


def test_records_are_joined_by_firm_and_year_and_every_other_record_is_counted(survey):
    module = _module([(1, 2009, 0, 4), (1, 2015, 1, 2), (2, 2015, 0, 7),
                      (3, 2009, 0, 3),       # firm 3 was not interviewed in 2009
                      (9, 2015, 0, 1),       # no firm 9
                      (None, 2015, 0, 1)])   # no key
    joined = join_module(survey, module)
    data = joined.data
    assert data.loc[(1, 2015), "buyer_owned"] == 1 and data.loc[(2, 2015), "n_buyers"] == 7
    assert data[["buyer_owned", "n_buyers"]].isna().sum().tolist() == [2, 2]
    report = joined.module_report
    assert dict(zip(report.unmatched["reason"], report.unmatched["n_rows"])) == {
        MISSING_KEY: 1, UNKNOWN_FIRM: 1, NOT_OBSERVED: 1}
    assert (report.n_module_rows, report.n_matched, report.n_panel_rows_without_module) == (6, 3, 2)
    assert report.columns == ("buyer_owned", "n_buyers")
    assert joined.provenance.steps[-1] == "join_module:<DataFrame>"
    assert len(joined) == len(survey)  # the panel keeps every firm-year
    # the report survives later steps
    assert gp.classify_governance(joined).module_report is report
    assert "records not joined: firm not in the panel" in report.summary()["statistic"].tolist()


def test_a_module_keyed_by_wave_takes_the_panels_wave_years(survey):
    module = pd.DataFrame({"firm_id": [1, 2, 3, 2], "wave": [1, 2, 2, 3], "n_buyers": [5, 6, 7, 8]})
    joined = join_module(survey, module)
    assert joined.module_report.keyed_by == "wave"
    assert dict(joined.module_report.waves) == {1: 2009, 2: 2015}
    np.testing.assert_array_equal(joined.data["n_buyers"].astype(float), [5, np.nan, np.nan, 6, 7])
    assert joined.module_report.unmatched.to_dict("records") == [{"reason": UNKNOWN_WAVE, "n_rows": 1}]
    explicit = join_module(survey, module, waves={1: 2015, 3: 2009})
    assert explicit.data.loc[(1, 2015), "n_buyers"] == 5 and explicit.data.loc[(2, 2009), "n_buyers"] == 8


def test_text_and_number_firm_ids_meet(survey):
    module = pd.DataFrame({"firm_id": ["1", "2"], "year": [2009, 2009], "n_buyers": [4, 5]})
    joined = join_module(survey, module)
    assert joined.module_report.n_matched == 2


def test_repeated_keys_are_listed_and_refused(survey):
    module = _module([(1, 2009, 0, 4), (1, 2009, 1, 2), (2, 2015, 0, 3), (2, 2015, 0, 3), (3, 2015, 0, 1)])
    with pytest.raises(SchemaError, match=r"2 firm-year key\(s\).*firm_id 1, year 2009: 2 records") as err:
        join_module(survey, module)
    assert err.value.problems["records"].tolist() == [2, 2]


def test_values_already_in_the_panel_are_never_overwritten(survey):
    module = pd.DataFrame({"firm_id": [1], "year": [2009], "employees": [99]})
    with pytest.raises(SpecificationError, match="employees already hold values"):
        join_module(survey, module)
    empty = survey.derive(survey.data.assign(n_buyers=pd.array([pd.NA] * 5, dtype="Float64")), step="blank")
    filled = join_module(empty, pd.DataFrame({"firm_id": [1], "year": [2009], "n_buyers": [3]}))
    assert filled.data.loc[(1, 2009), "n_buyers"] == 3


@pytest.mark.parametrize("columns, message", [
    (["idstd", "year", "n_buyers"], "no firm key"),
    (["firm_id", "round", "n_buyers"], "no year or wave key"),
])
def test_a_module_without_its_keys_is_refused(survey, columns, message):
    module = pd.DataFrame([[1, 2009, 3]], columns=columns)
    with pytest.raises(SpecificationError, match=message):
        join_module(survey, module)


def test_joined_values_are_checked_against_the_schema(survey):
    module = pd.DataFrame({"firm_id": [1], "year": [2009], "buyer_owned": [7]})
    with pytest.raises(SchemaError, match="buyer_owned"):
        join_module(survey, module)


def test_the_template_maps_to_schema_fields_and_documents_every_field():
    template = read_mapping("governance_module")
    schema = gp.read_schema("firm_panel")
    targets = {rule.target for rule in template.rules}
    assert targets - {"wave"} <= set(schema.field_names)
    assert all(rule.note for rule in template.rules)
    governance_inputs = {c for rule in HS_RULES for c in rule.needs}
    assert governance_inputs <= targets
    raw = json.loads(open(template.path, encoding="utf-8").read())
    assert "join_module" in raw["source"]


# --- classify: every missing input of every rule, at once -----------------------------------------
def test_classify_lists_every_missing_input_of_every_rule():
    frame = pd.DataFrame({"firm_id": [1, 2], "year": [2010, 2010], "cluster_id": ["c", "c"],
                          "n_buyers": [4, None]})
    report = classify_frame(frame)
    assert report.n_classified == 0
    needed = {(rule.name, column) for rule in HS_RULES for column in rule.needs}
    listed = set(zip(report.missing_inputs["rule"], report.missing_inputs["column"]))
    assert listed == needed
    absent = report.missing_inputs.set_index(["rule", "column"])
    assert not absent.loc[("market_arms_length", "n_buyers"), "absent"]
    assert absent.loc[("market_arms_length", "n_buyers"), "n_missing"] == 1
    text = report.missing_inputs_text()
    for rule in HS_RULES:
        assert f"rule {rule.name} needs" in text


@pytest.fixture(scope="module")
def es_files(tmp_path_factory):
    return simulate_survey(n_firms=500, n_regions=6, seed=2).write(tmp_path_factory.mktemp("es"))


def test_cli_classify_exits_1_naming_every_missing_input_when_nothing_is_classified(es_files, tmp_path, capsys):
    out = tmp_path / "classified.parquet"
    code = main(["classify", str(es_files["survey"]), "--mapping", "wbes", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 1
    for rule in HS_RULES:
        assert f"rule {rule.name} needs" in captured.err
    assert captured.err.count("\n") == 1  # one message
    assert "--module" in captured.err and not out.exists()
    assert "Rule inputs absent or missing" in captured.out


def test_cli_classify_with_the_module_classifies(es_files, tmp_path, capsys):
    out = tmp_path / "classified.csv"
    code = main(["classify", str(es_files["survey"]), "--mapping", "wbes", "--module",
                 str(es_files["module"]), "--module-mapping", "governance_module", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Module joined" in captured.out and "records not joined" in captured.out
    classified = pd.read_csv(out)
    assert classified["governance"].notna().mean() > 0.85


def test_cli_describe_and_a_missing_module_file(es_files, tmp_path, capsys):
    assert main(["describe", str(es_files["survey"]), "--mapping", "wbes", "--module",
                 str(es_files["module"]), "--module-mapping", "governance_module"]) == 0
    assert "Module joined" in capsys.readouterr().out
    code = main(["describe", str(es_files["survey"]), "--mapping", "wbes", "--module",
                 str(tmp_path / "nope.csv")])
    assert code == 3 and "nope.csv" in capsys.readouterr().err


def test_module_ids_with_leading_zeros_meet_text_ids(tmp_path):
    panel = gp.load_panel(pd.DataFrame({"firm_id": ["007", "012"], "year": [2010, 2010],
                                        "cluster_id": ["a", "a"]}))
    path = tmp_path / "module.csv"
    path.write_text("firm_id,year,n_buyers\n007,2010,4\n12,2010,5\n")
    joined = join_module(panel, path)
    assert joined.data.loc[("007", 2010), "n_buyers"] == 4
    assert joined.module_report.unmatched.to_dict("records") == [{"reason": UNKNOWN_FIRM, "n_rows": 1}]
    assert joined.module_report.sha256 is not None
