"""Every example of issue #8 ("Nothing lost, nothing stale"), reproduced as the issue wrote it.

One small test per example; each docstring quotes the example.  Examples already covered one to
one by a test elsewhere are listed here with that test instead of being run twice:

- "`python -m replication.run --out o` succeeds, then `--data nofunc.csv --out o` fails after
  table 1: o/ holds the new table 1 beside the old tables 2-6 and the old run log":
  tests/bad_input/test_outputs.py::test_failed_run_after_table1_leaves_earlier_set_byte_identical
  and ::test_data_without_an_indicator_writes_what_it_can_and_nothing_stale (nofunc.csv now
  writes the tables it can, replaces the whole set and logs what is not estimable).
- "A killed run leaves an incomplete set":
  tests/bad_input/test_outputs.py::test_killed_replication_leaves_earlier_set_and_next_run_cleans_up
- "two runs into one folder both exit 0 and mix tables":
  tests/bad_input/test_outputs.py::test_concurrent_run_is_refused_while_the_lock_is_held
- "a successful run on user data leaves the example's truth table behind":
  tests/bad_input/test_outputs.py::test_user_data_run_replaces_the_whole_example_set
- "a read-only target leaves .md and .tex new, .html old and no .csv":
  tests/bad_input/test_cli.py::test_hypotheses_read_only_html_leaves_every_file_as_it_was
- the Hausman test on Produc (9.5254 on 4 df, plm::phtest):
  tests/test_produc_reference.py::test_hausman_equals_plm_phtest_with_a_slightly_negative_eigenvalue

The Done-when run "make replicate, then make replicate DATA=<a bad file>" is
tests/bad_input/test_outputs.py::test_invalid_data_exits_1_and_leaves_earlier_set (through
``replication.run``, which the Makefile target calls).
"""

from __future__ import annotations

import gzip
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import gvcpanel as gp
from gvcpanel import cli
from gvcpanel.errors import (
    DataFileError,
    FewClustersWarning,
    MappingError,
    PartitionSchemaWarning,
    SpecificationError,
)

REF = Path(__file__).parent / "reference"
FE = "labour_productivity ~ quasi_hierarchy + network + log(employees)"


@pytest.fixture(scope="module")
def small(simulated):
    """A small simulated panel: 120 firms in 12 clusters (the shared ``simulated`` fixture)."""
    return simulated(n_firms=120, n_clusters=12, seed=8)


@pytest.fixture(scope="module")
def frame(small) -> pd.DataFrame:
    return small.panel.data


@pytest.fixture(scope="module")
def flat(small) -> pd.DataFrame:
    """The panel as a user's file holds it: keys as columns."""
    return small.frame


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def quiet(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


# --- partitioned Parquet ----------------------------------------------------------------------
def _partitioned(folder: Path, flat: pd.DataFrame, lacking_year: int) -> Path:
    """Four yearly files, as Spark or pyarrow write them (``year=2005/part-0.parquet``)."""
    for year, rows in _four_years(flat).groupby("year"):
        part = folder / f"year={year}"
        part.mkdir(parents=True)
        if year == lacking_year:
            rows = rows.drop(columns=["iso_certified"])
        rows.drop(columns="year").to_parquet(part / "part-0.parquet", index=False)
    return folder


def test_first_partition_lacking_a_column_keeps_it_for_the_other_years(tmp_path, flat, capsys):
    """"A partitioned Parquet folder whose first file lacks a column loses that column for every
    year" (and "`validate` says valid")."""
    first = int(flat["year"].min())
    folder = _partitioned(tmp_path / "panel", flat, lacking_year=first)
    with pytest.warns(PartitionSchemaWarning, match=f"year={first}/part-0.parquet"):
        panel = gp.load_panel(folder)
    by_year = panel.data["iso_certified"].notna().groupby(level="year").sum()
    assert by_year[first] == 0 and (by_year.drop(first) > 0).all()
    code, out, err = run_cli(capsys, "validate", folder)
    # valid (the values are), but the absent column is said, naming the file
    assert code == 0 and f"iso_certified is absent from 1 of" in out and f"year={first}/part-0.parquet" in out
    assert "Traceback" not in err and "cli.py" not in err


def test_later_partition_lacking_a_column_is_reported_not_silent(tmp_path, flat):
    """"a later file lacking it gives NaN for that year; `validate` says valid"."""
    year = int(flat["year"].min()) + 2
    folder = _partitioned(tmp_path / "panel", flat, lacking_year=year)
    with pytest.warns(PartitionSchemaWarning, match="No column was dropped"):
        panel = gp.load_panel(folder)
    n_rows = int((flat["year"] == year).sum())
    note = f"column iso_certified is absent from 1 of 4 file(s) (year={year}/part-0.parquet)"
    assert any(n.startswith(note) and f"{n_rows} row(s)" in n for n in panel.load_report.notes)
    with pytest.warns(PartitionSchemaWarning):
        report = gp.validate_file(folder)
    assert report.ok and note in report.message()


def _four_years(flat: pd.DataFrame) -> pd.DataFrame:
    return flat[flat["year"] < flat["year"].min() + 4]


# --- mapping files ----------------------------------------------------------------------------
def _wbes_like(folder: Path) -> Path:
    path = folder / "wb.csv"
    pd.DataFrame({"idstd": [1, 1, 2, 2], "year": [2010, 2013, 2010, 2013], "a2": "sp",
                  "l1": [50, 60, -9, 30], "b5": [1990, 1990, 1995, 2001]}).to_csv(path, index=False)
    return path


_FIELDS = ('"firm_id": {"op": "copy", "from": ["idstd"]}, "year": {"op": "copy", "from": ["year"]}, '
           '"cluster_id": {"op": "copy", "from": ["a2"]}, "employees": {"op": "copy", "from": ["l1"]}')


def test_mapping_with_a_target_key_twice_is_refused(tmp_path, capsys):
    """"A mapping JSON with the same target key twice keeps the last silently (employees became the
    founding year)"."""
    data = _wbes_like(tmp_path)
    mapping = tmp_path / "twice.json"
    mapping.write_text('{"name": "m", "fields": {' + _FIELDS + ', "employees": {"op": "copy", "from": ["b5"]}}}')
    with pytest.raises(MappingError, match=r"fields\.employees: key 'employees' is given 2 times"):
        gp.load_panel(data, mapping=str(mapping))
    code, _, err = run_cli(capsys, "validate", data, "--mapping", mapping)
    assert code == 2 and "twice.json" in err and "'employees'" in err and len(err.strip().splitlines()) <= 3


def test_misspelt_missing_code_key_is_refused(tmp_path):
    """"a misspelt `missing_code` key is ignored, so -9 stays a number"."""
    data = _wbes_like(tmp_path)
    mapping = tmp_path / "misspelt.json"
    mapping.write_text('{"name": "m", "missing_code": {"-9": "don\'t know"}, "fields": {' + _FIELDS + "}}")
    with pytest.raises(MappingError, match=r"unknown key 'missing_code' \(did you mean 'missing_codes'\?\)"):
        gp.load_panel(data, mapping=str(mapping))
    # spelt right, -9 is missing and counted
    mapping.write_text('{"name": "m", "missing_codes": {"-9": "don\'t know"}, "fields": {' + _FIELDS + "}}")
    panel = gp.load_panel(data, mapping=str(mapping))
    assert panel.data["employees"].isna().sum() == 1 and -9 not in panel.data["employees"].tolist()


# --- bootstrap options ------------------------------------------------------------------------
@pytest.mark.parametrize("options, culprit", [
    ({"draws": 1}, "draws=1"),
    ({"draws": 0}, "draws=0"),
    ({"seed": -1}, "seed=-1"),
])
def test_wild_bootstrap_options_are_checked_on_entry(frame, options, culprit):
    """"`inference={"kind": "wild", "draws": 1}` gives p = 0 for every term; draws=0 gives NaN and
    a zero-width interval; seed=-1 raises a raw numpy error"."""
    with pytest.raises(SpecificationError, match=culprit):
        quiet(gp.fe_regression, frame, FE, inference={"kind": "wild", **options})


def test_test_hypotheses_level_095_is_refused(frame):
    """"`test_hypotheses(..., level=0.95)` is accepted and calls an estimate with one-sided
    p = 0.555 "supported"."""
    with pytest.raises(SpecificationError, match="alpha="):
        gp.test_hypotheses(frame, level=0.95)
    with pytest.raises(SpecificationError, match="alpha=0.95 is not a significance level"):
        gp.test_hypotheses(frame, alpha=0.95)


# --- files ------------------------------------------------------------------------------------
def test_csv_cut_mid_row_is_refused_naming_the_line(tmp_path, flat, capsys):
    """"A CSV cut mid-row loads with the last row's values half missing"."""
    text = flat.head(30).to_csv(index=False)
    path = tmp_path / "cut.csv"
    path.write_text(text[: text.rindex(",", 0, len(text) - 40)])
    with pytest.raises(DataFileError, match=r"cut\.csv: .*line 31 has"):
        gp.load_panel(path)
    code, _, err = run_cli(capsys, "validate", path)
    assert code == 1 and "cut.csv" in err and "line 31" in err


def test_second_sheet_of_a_workbook_is_not_ignored(tmp_path, flat):
    """"the second sheet of an .xlsx is ignored"."""
    pytest.importorskip("openpyxl")
    path = tmp_path / "waves.xlsx"
    with pd.ExcelWriter(path) as book:
        flat.head(10).to_excel(book, sheet_name="wave1", index=False)
        flat.iloc[10:25].to_excel(book, sheet_name="wave2", index=False)
    with pytest.raises(DataFileError, match=r"waves\.xlsx: the workbook has 2 sheets with data: 'wave1'.*'wave2'"):
        gp.load_panel(path)
    assert len(gp.load_panel(path, sheet="wave2").data) == 15


@pytest.mark.parametrize("suffix", ["csv", "xlsx", "parquet", "frame"])
def test_country_na_namibia_stays_text_in_every_format(tmp_path, flat, suffix):
    """"country "NA" (Namibia) becomes missing in CSV and Excel but not in Parquet"."""
    rows = flat.head(12).assign(country="NA")
    source: object = rows
    if suffix != "frame":
        source = tmp_path / f"namibia.{suffix}"
        if suffix == "xlsx":
            pytest.importorskip("openpyxl")
            rows.to_excel(source, index=False)
        else:
            getattr(rows, f"to_{'csv' if suffix == 'csv' else 'parquet'}")(source, index=False)
    assert gp.load_panel(source).data["country"].tolist() == ["NA"] * 12


def _empty(folder: Path, flat: pd.DataFrame) -> Path:
    (folder / "empty.csv").write_text("")
    return folder / "empty.csv"


def _latin1(folder: Path, flat: pd.DataFrame) -> Path:
    rows = flat.head(8).assign(country="São Tomé")
    rows.to_csv(folder / "latin.csv", index=False, encoding="latin-1")
    return folder / "latin.csv"


def _truncated_parquet(folder: Path, flat: pd.DataFrame) -> Path:
    flat.head(40).to_parquet(folder / "whole.parquet", index=False)
    data = (folder / "whole.parquet").read_bytes()
    (folder / "cut.parquet").write_bytes(data[: len(data) // 2])
    return folder / "cut.parquet"


def _corrupt_gzip(folder: Path, flat: pd.DataFrame) -> Path:
    data = gzip.compress(flat.head(40).to_csv(index=False).encode())
    (folder / "cut.csv.gz").write_bytes(data[: len(data) // 2])
    return folder / "cut.csv.gz"


def _ragged(folder: Path, flat: pd.DataFrame) -> Path:
    lines = flat.head(10).to_csv(index=False).splitlines()
    lines[4] += ",surplus"
    (folder / "ragged.csv").write_text("\n".join(lines) + "\n")
    return folder / "ragged.csv"


def _folder_of_csv(folder: Path, flat: pd.DataFrame) -> Path:
    (folder / "waves").mkdir()
    flat.head(10).to_csv(folder / "waves" / "2010.csv", index=False)
    flat.iloc[10:20].to_csv(folder / "waves" / "2011.csv", index=False)
    return folder / "waves"


@pytest.mark.parametrize("make, culprit", [
    (_empty, "empty.csv: the file is empty (0 bytes)"),
    (_latin1, "latin.csv: the text does not decode as utf-8"),
    (_truncated_parquet, "cut.parquet: cannot be read as Parquet"),
    (_corrupt_gzip, "cut.csv.gz: cannot be read as gzip"),
    (_ragged, "ragged.csv: 1 line(s) have a different number of fields"),
    (_folder_of_csv, "waves: the folder holds CSV files (2010.csv, 2011.csv)"),
], ids=["empty_csv", "latin1", "truncated_parquet", "corrupt_gz", "ragged_rows", "folder_of_csvs"])
def test_unreadable_files_get_the_packages_error_on_both_paths(tmp_path, flat, capsys, make, culprit):
    """"Empty CSV, Latin-1 text, truncated Parquet, corrupt .gz, ragged rows, a folder of CSVs
    [...]: raw third-party tracebacks. The CLI catches only two exception types"."""
    source = make(tmp_path, flat)
    with pytest.raises(DataFileError) as info:
        gp.load_panel(source)
    assert culprit in str(info.value)
    code, out, err = run_cli(capsys, "validate", source)
    assert code == 1 and culprit in err and "Traceback" not in err and out == ""


def test_1e308_values_get_a_clear_error(frame):
    """"1e308 values [...]: raw third-party tracebacks" (item 5: "a clear error, not a LinAlgError")."""
    big = frame.copy()
    big.iloc[5, big.columns.get_loc("export_share")] = 1e308
    with pytest.raises(SpecificationError, match=r"'export_share' \(largest \|value\| 1e\+308\).*Rescale"):
        quiet(gp.fe_regression, big, FE + " + export_share")


def test_effects_firm_means_the_firm_effect(frame):
    """"`effects="firm"` (read as columns f, i, r, m)"."""
    by_text = quiet(gp.fe_regression, frame, FE, effects="firm")
    by_tuple = quiet(gp.fe_regression, frame, FE, effects=("firm",))
    pd.testing.assert_series_equal(by_text.params, by_tuple.params)
    assert by_text.nobs == by_tuple.nobs


def test_text_column_as_a_regressor_gives_dummies(frame):
    """"a text column as a regressor: raw third-party tracebacks"."""
    text = frame.assign(sector=frame["sector"].astype(str))
    res = quiet(gp.fe_regression, text, "labour_productivity ~ log(employees) + sector", effects=("year",))
    levels = sorted(text["sector"].unique())
    assert [t for t in res.params.index if t.startswith("sector")] == [f"sector[T.{s}]" for s in levels[1:]]


# --- few clusters -----------------------------------------------------------------------------
def _merged(frame: pd.DataFrame, n: int) -> pd.DataFrame:
    codes = pd.factorize(frame["cluster_id"], sort=True)[0] % n
    return frame.assign(cluster_id=np.array([f"C{c}" for c in codes]))


@pytest.mark.parametrize("kind", ["cluster", "cr2", "wild", "hazard"])
def test_one_cluster_is_refused_by_every_cluster_inference(frame, kind):
    """"One cluster: CRV1, hazards and the wild bootstrap raise ZeroDivisionError; CR2 returns
    s.e. 0 and p ~ 1e-16"."""
    one = _merged(frame, 1)
    with pytest.raises(SpecificationError, match="single cluster \\('C0'\\)"):
        if kind == "hazard":
            quiet(gp.upgrading_hazard, one, "process ~ network + quasi_hierarchy")
        else:
            quiet(gp.fe_regression, one, FE, inference=kind)


def test_two_clusters_wild_bootstrap_warns_and_p_is_not_zero(frame):
    """"Two clusters with the wild bootstrap: p = 0 and no FewClustersWarning"."""
    with pytest.warns(FewClustersWarning, match="only 2 clusters"):
        res = gp.fe_regression(_merged(frame, 2), FE, inference={"kind": "wild", "draws": 199})
    # two Rademacher clusters have 4 sign vectors: p cannot fall below 1/4 of them, let alone 0
    assert (res.pvalues >= 0.25).all()


# --- the command line's outputs ---------------------------------------------------------------
@pytest.fixture(scope="module")
def panel_csv(tmp_path_factory, simulated) -> Path:
    """300 firms in 12 clusters: enough events for every hazard of test_hypotheses (with 120
    firms, hierarchy separates events from non-events and the command stops with exit 1)."""
    path = tmp_path_factory.mktemp("cli") / "firms.csv"
    simulated(n_firms=300, n_clusters=12, seed=8).frame.to_csv(path, index=False)
    return path


def test_hypotheses_out_stem_keeps_its_dots(tmp_path, panel_csv, capsys):
    """"`gvcpanel hypotheses --out res/hyp_v1.2` writes `res/hyp_v1.*`"."""
    code, _, err = run_cli(capsys, "hypotheses", panel_csv, "--out", tmp_path / "res" / "hyp_v1.2")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "res").iterdir()) == [
        "hyp_v1.2.csv", "hyp_v1.2.html", "hyp_v1.2.md", "hyp_v1.2.tex"]


def test_classify_out_csv_writes_csv(tmp_path, panel_csv, capsys):
    """"`classify --out x.csv` writes Parquet bytes into x.csv"."""
    code, _, err = run_cli(capsys, "classify", panel_csv, "--out", tmp_path / "x.csv")
    assert code == 0, err
    written = pd.read_csv(tmp_path / "x.csv")
    assert {"firm_id", "year", "governance"} <= set(written.columns)
    assert not (tmp_path / "x.csv").read_bytes().startswith(b"PAR1")
    code, _, err = run_cli(capsys, "classify", panel_csv, "--out", tmp_path / "x.xlsx")
    assert code == 2 and "x.xlsx" in err and not (tmp_path / "x.xlsx").exists()


def test_command_line_warnings_are_one_line_each(tmp_path, panel_csv, capsys):
    """Item 6, "Every package error [...] is one message on stderr, no traceback": warnings too
    were shown as Python shows them, with the package's file, line and source code."""
    code, _, err = run_cli(capsys, "hypotheses", panel_csv, "--out", tmp_path / "h")
    assert code == 0
    lines = [line for line in err.splitlines() if "Warning" in line]
    assert lines and all(line.startswith("gvcpanel hypotheses: FewClustersWarning: ") for line in lines)
    assert len(lines) == len(set(lines))  # each said once
    assert ".py:" not in err and "sys.exit" not in err


# --- item 5: an outcome that is also a regressor ------------------------------------------------
@pytest.mark.parametrize("rhs", ["labour_productivity", "network:labour_productivity"])
def test_outcome_that_is_also_a_regressor_is_refused(frame, rhs):
    """Item 5: "An outcome that is also a regressor is refused" (it was fitted, coefficient 1)."""
    with pytest.raises(SpecificationError, match="outcome 'labour_productivity' is also a regressor"):
        gp.fe_regression(frame, f"labour_productivity ~ network + {rhs}")
    lagged = quiet(gp.fe_regression, frame, "labour_productivity ~ network + l(labour_productivity, 1)")
    assert "l(labour_productivity, 1)" in lagged.params.index


# --- the second number --------------------------------------------------------------------------
def test_moderation_cr2_df_of_each_contrast_as_in_the_issue():
    """"`moderation` under CR2 uses the smallest Satterthwaite df of the two terms for every
    conditional effect. clubSandwich's `linear_contrast` computes the df of each contrast, which is
    smaller here (4.40 vs 4.52 on Produc by census region)".

    The issue's model: state effects, log(emp) x unemp; R numbers from
    tests/reference/make_issue8_moderation_reference.R (clubSandwich 0.5.8)."""
    from gvcpanel.models.moderation import moderation

    produc = pd.read_csv(REF / "produc.csv", dtype={"region": str}).rename(columns={"state": "firm_id"})
    ref = pd.read_csv(REF / "issue8_moderation_reference.csv", dtype={"at": str})
    r = ref.set_index(["quantity", "at"])["value"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewClustersWarning)  # 9 census regions
        res = fe_cr2 = gp.fe_regression(produc, "log(gsp) ~ log(emp)*unemp + log(pcap) + log(pc)",
                                        effects=("firm",), cluster="region", inference="cr2")
    terms = fe_cr2.inference.df_by_term[["log(emp)", "log(emp):unemp"]].to_numpy()
    np.testing.assert_allclose(terms, [r["df_term", "focal"], r["df_term", "interaction"]], rtol=1e-7)
    assert round(min(terms), 2) == 4.52
    at = {q: r["moderator", q] for q in ("p25", "p50", "p75")}
    mod = moderation(res, focal="log(emp)", moderator="unemp", at=at)
    for column, quantity, rtol in (("effect", "estimate", 1e-8), ("std_error", "std_error", 1e-7),
                                   ("df", "df", 1e-7), ("ci_low", "ci_low", 1e-6), ("ci_high", "ci_high", 1e-6)):
        expected = [r[quantity, q] for q in at]
        np.testing.assert_allclose(mod.table[column].to_numpy(dtype=float), expected, rtol=rtol, err_msg=column)
    assert round(float(mod.table.loc["p25", "df"]), 2) == 4.40
