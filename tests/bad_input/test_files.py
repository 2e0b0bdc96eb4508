"""Bad files: every source that cannot be read whole and as written is refused by name.

Each refusal asserts the error class (DataFileError, or SpecificationError for an option or
name that does not apply), that the message names the file and the culprit (line, encoding,
sheet, column, partition file) and that nothing was lost (no partial panel; the source left as
it was). Sources that can be read with a difference (a partition lacking a column, types that
differ between files) are read whole, with the difference in the load report and a warning.
``validate`` and ``load_panel`` give the same verdict on every input here and in test_values.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gvcpanel as gp
from gvcpanel.cli import main
from gvcpanel.data.io import validate_file
from gvcpanel.data.schema import check_frame
from gvcpanel.errors import (DataFileError, GvcPanelError, PartitionSchemaWarning, SchemaError,
                             SpecificationError)

from .cases import FILE_CASES, VALUE_CASES, FileCase, csv_text, valid_frame


# -- refusals ----------------------------------------------------------------------------------
@pytest.mark.parametrize("case", FILE_CASES, ids=lambda c: c.id)
def test_unreadable_source_is_refused_by_name(case: FileCase, tmp_path, fingerprint):
    source, options = case.make(tmp_path)
    before = fingerprint(source) if isinstance(source, Path) else None
    with pytest.raises(case.error) as info:
        gp.load_panel(source, **options)
    error = info.value
    message = str(error)
    for culprit in case.culprits:
        assert culprit in message, (culprit, message)
    # the package's own error, also the builtin it refines, never a raw third-party one
    assert isinstance(error, GvcPanelError) and isinstance(error, ValueError)
    assert type(error).__module__ == "gvcpanel.errors"
    if isinstance(error, DataFileError):
        assert error.source is not None and Path(error.source).name in message
    if case.line is not None:
        assert error.line == case.line
    # nothing lost or changed: the source is untouched, no partial panel was returned
    if before is not None:
        assert fingerprint(source) == before


def _verdict(call):
    """'ok', ('invalid', sorted problems) or the name of the error raised."""
    try:
        result = call()
    except SchemaError as exc:
        if exc.problems is None:
            return "SchemaError"
        return ("invalid", sorted(map(tuple, exc.problems[["row", "column", "problem"]]
                                      .astype(str).to_numpy())))
    except GvcPanelError as exc:
        return type(exc).__name__
    if hasattr(result, "ok") and not result.ok:
        return ("invalid", sorted(map(tuple, result.problems[["row", "column", "problem"]]
                                      .astype(str).to_numpy())))
    return "ok"


_FILE_SOURCES = [(c.id, c.make) for c in FILE_CASES if not c.id.startswith(("frame_",
                                                                             "encoding_on_frame"))]
_VALUE_SOURCES = [(c.id, c.make) for c in VALUE_CASES]
_VALID_SOURCES = [("valid_csv", lambda d: ((d / "ok.csv"), {}) if (d / "ok.csv").write_text(
    csv_text()) else None)]


@pytest.mark.parametrize("make", [m for _, m in _FILE_SOURCES + _VALUE_SOURCES + _VALID_SOURCES],
                         ids=[i for i, _ in _FILE_SOURCES + _VALUE_SOURCES + _VALID_SOURCES])
def test_validate_and_load_panel_give_the_same_verdict(make, tmp_path):
    source, options = make(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PartitionSchemaWarning)
        loaded = _verdict(lambda: gp.load_panel(source, **options))
        streamed = _verdict(lambda: validate_file(source, batch_size=2, **options))
    assert loaded == streamed


@pytest.mark.parametrize("case_id", ["latin1_as_utf8", "truncated_mid_row", "xlsx_two_sheets",
                                     "folder_of_csv", "parquet_truncated", "gzip_truncated"])
def test_command_line_validate_says_it_in_one_line_and_exits_1(case_id, tmp_path, capsys):
    case = next(c for c in FILE_CASES if c.id == case_id)
    source, _ = case.make(tmp_path)
    assert main(["validate", str(source)]) == 1
    captured = capsys.readouterr()
    assert Path(source).name in captured.err and "Traceback" not in captured.err
    assert captured.out == ""


# -- reading with options --------------------------------------------------------------------------
def test_latin1_file_reads_with_encoding_option(tmp_path, capsys):
    case = next(c for c in FILE_CASES if c.id == "latin1_as_utf8")
    path, _ = case.make(tmp_path)
    panel = gp.load_panel(path, encoding="latin-1")
    assert panel.data.loc[("F2", 2010), "cluster_id"] == "São Paulo"
    assert len(panel) == 6
    assert validate_file(path, encoding="latin-1").ok
    assert main(["validate", str(path), "--encoding", "latin-1"]) == 0
    assert "valid. 6 firm-years" in capsys.readouterr().out


def test_utf8_with_byte_order_mark_and_crlf_read_like_plain(tmp_path):
    plain = tmp_path / "plain.csv"
    plain.write_text(csv_text(), encoding="utf-8")
    windows = tmp_path / "windows.csv"
    windows.write_bytes(b"\xef\xbb\xbf" + csv_text().replace("\n", "\r\n").encode("utf-8"))
    pd.testing.assert_frame_equal(gp.load_panel(windows).data, gp.load_panel(plain).data)


def test_gzip_csv_reads_like_the_csv(tmp_path):
    import gzip

    plain = tmp_path / "p.csv"
    plain.write_text(csv_text())
    packed = tmp_path / "p.csv.gz"
    packed.write_bytes(gzip.compress(csv_text().encode()))
    pd.testing.assert_frame_equal(gp.load_panel(packed).data, gp.load_panel(plain).data)


def test_second_sheet_is_read_only_when_asked(tmp_path, capsys):
    book = tmp_path / "book.xlsx"
    first, second = valid_frame().iloc[:2], valid_frame().iloc[2:]
    with pd.ExcelWriter(book) as writer:
        first.to_excel(writer, sheet_name="wave1", index=False)
        second.to_excel(writer, sheet_name="wave2", index=False)
    # before: the first sheet was read and the second ignored without a word
    with pytest.raises(DataFileError, match="'wave1'.*'wave2'"):
        gp.load_panel(book)
    assert len(gp.load_panel(book, sheet="wave2")) == len(second)
    assert len(gp.load_panel(book, sheet=0)) == len(first)
    assert main(["validate", str(book), "--sheet", "wave2"]) == 0
    assert "valid. 4 firm-years" in capsys.readouterr().out


def test_one_filled_sheet_among_empty_ones_is_read_and_named(tmp_path):
    book = tmp_path / "book.xlsx"
    with pd.ExcelWriter(book) as writer:
        pd.DataFrame().to_excel(writer, sheet_name="cover")
        valid_frame().to_excel(writer, sheet_name="panel", index=False)
    panel = gp.load_panel(book)
    assert len(panel) == 6
    assert any("sheet 'panel' read" in note for note in panel.load_report.notes)


def test_missing_line_end_is_noted(tmp_path):
    path = tmp_path / "no_eol.csv"
    path.write_text(csv_text().rstrip("\n"))
    panel = gp.load_panel(path)
    assert len(panel) == 6
    assert any("no line end" in note for note in panel.load_report.notes)


# -- partitioned Parquet folders: unified over all files ------------------------------------------
def _partitions(root: Path, tables: dict[int, pa.Table]) -> None:
    for year, table in tables.items():
        folder = root / f"year={year}"
        folder.mkdir(parents=True)
        pq.write_table(table, folder / "part-0.parquet")


def _wave(shift: int, **extra) -> pa.Table:
    return pa.table({"firm_id": [1 + shift, 2 + shift, 3 + shift], "cluster_id": [1, 1, 2],
                     **extra})


def test_first_file_lacking_a_column_does_not_lose_it(tmp_path):
    root = tmp_path / "parts"
    _partitions(root, {2010: _wave(0), 2011: _wave(0, export_share=[0.1, 0.2, 0.3]),
                       2012: _wave(0, export_share=[0.4, 0.5, 0.6])})
    with pytest.warns(PartitionSchemaWarning, match="year=2010/part-0.parquet"):
        panel = gp.load_panel(root)
    data = panel.data
    # before: the dataset took the first file's schema and dropped export_share for every year
    assert "export_share" in data.columns and len(panel) == 9
    assert data["export_share"].isna().sum() == 3
    assert data.xs(2010, level="year")["export_share"].isna().all()
    np.testing.assert_allclose(data.xs(2012, level="year")["export_share"], [0.4, 0.5, 0.6],
                               rtol=0, atol=0)
    notes = [n for n in panel.load_report.notes if "absent" in n]
    assert notes == ["column export_share is absent from 1 of 3 file(s) "
                     "(year=2010/part-0.parquet): read as missing for their 3 row(s)"]
    with pytest.warns(PartitionSchemaWarning):
        report = validate_file(root, batch_size=2)
    assert report.ok and notes[0] in report.notes


def test_later_file_lacking_a_column_is_reported_not_silent(tmp_path):
    root = tmp_path / "parts"
    _partitions(root, {2010: _wave(0, employees=[5, 6, 7]), 2011: _wave(0),
                       2012: _wave(0, employees=[8, 9, 10])})
    with pytest.warns(PartitionSchemaWarning, match="employees is absent .*year=2011"):
        panel = gp.load_panel(root)
    assert panel.data["employees"].isna().sum() == 3
    # projection pushdown still reads the unified schema
    with pytest.warns(PartitionSchemaWarning):
        sub = gp.load_panel(root, columns=["employees"])
    assert list(sub.data.columns) == ["cluster_id", "employees"]


def test_types_that_widen_are_widened_and_noted(tmp_path):
    root = tmp_path / "parts"
    _partitions(root, {2010: _wave(0, labour_productivity=pa.array([9, 10, 11], pa.int64())),
                       2011: _wave(0, labour_productivity=[9.5, 10.5, 11.5])})
    with pytest.warns(PartitionSchemaWarning, match="int64 in year=2010.*double in year=2011"):
        panel = gp.load_panel(root)
    np.testing.assert_allclose(panel.data["labour_productivity"].to_numpy(),
                               [9, 9.5, 10, 10.5, 11, 11.5], rtol=0, atol=0)


def test_types_that_do_not_widen_are_read_as_text_and_checked_by_value(tmp_path):
    root = tmp_path / "parts"
    _partitions(root, {2010: _wave(0, employees=pa.array([5, 6, 7], pa.int64())),
                       2011: _wave(0, employees=["8", "NA", "lots"])})
    with pytest.warns(PartitionSchemaWarning, match="read as text"):
        with pytest.raises(SchemaError) as info:
            gp.load_panel(root)
    problems = info.value.problems
    assert problems[["firm_id", "year", "column", "problem"]].values.tolist() == [
        [3, 2011, "employees", "not a number"]]
    assert "lots" in str(info.value) and "year=2011/part-0.parquet" in str(info.value)


def test_partition_filters_still_push_down_after_unification(tmp_path):
    root = tmp_path / "parts"
    _partitions(root, {2010: _wave(0), 2011: _wave(0, export_share=[0.1, 0.2, 0.3])})
    with pytest.warns(PartitionSchemaWarning):
        panel = gp.load_panel(root, filters=[("year", "==", 2011)])
    assert panel.years == (2011,) and panel.data["export_share"].notna().all()


# -- text stays text, the same from every source ---------------------------------------------------
def test_namibia_and_firm_na_survive_every_format(tmp_path):
    frame = valid_frame()
    frame.to_csv(tmp_path / "p.csv", index=False)
    frame.to_parquet(tmp_path / "p.parquet", index=False)
    frame.to_excel(tmp_path / "p.xlsx", index=False)
    frame.to_stata(tmp_path / "p.dta", write_index=False, version=118)
    # pandas' own CSV and Excel defaults read the text NA as missing: that was the bug
    assert pd.read_csv(tmp_path / "p.csv")["country"].isna().sum() == 3
    reference = gp.load_panel(frame).data
    assert reference.loc[("NA", 2010), "country"] == "NA"
    assert reference.loc[("NA", 2010), "sector"] == "NA"
    assert reference["country"].isna().sum() == 1  # the one empty cell
    for name in ("p.csv", "p.parquet", "p.xlsx", "p.dta"):
        pd.testing.assert_frame_equal(gp.load_panel(tmp_path / name).data, reference, obj=name)


def test_markers_in_numeric_fields_are_missing_in_every_format(tmp_path):
    frame = valid_frame().astype({"employees": object, "n_buyers": object})
    frame.loc[0, "employees"] = "NA"
    frame.loc[1, "n_buyers"] = "."
    frame.to_csv(tmp_path / "m.csv", index=False)
    frame.astype({"employees": str, "n_buyers": str}).to_parquet(tmp_path / "m.parquet")
    frame.to_excel(tmp_path / "m.xlsx", index=False)
    panels = [gp.load_panel(frame)] + [gp.load_panel(tmp_path / f"m.{ext}")
                                       for ext in ("csv", "parquet", "xlsx")]
    for panel in panels:
        data = panel.data
        assert np.isnan(data.loc[("F1", 2010), "employees"])
        assert np.isnan(data.loc[("F1", 2011), "n_buyers"])
        assert data["employees"].notna().sum() == 4  # nothing else became missing
        assert any("'NA'" in n and "employees" in n for n in panel.load_report.notes)
    pd.testing.assert_frame_equal(panels[1].data, panels[0].data)
    pd.testing.assert_frame_equal(panels[2].data, panels[0].data)


def test_lone_carriage_return_written_unquoted_is_refused(tmp_path):
    frame = valid_frame()
    frame.loc[0, "cluster_id"] = "sinos\r"
    frame.to_csv(tmp_path / "cr.csv", index=False)  # pandas does not quote the lone CR
    with pytest.raises(DataFileError, match="line 2 has 3 field"):
        gp.load_panel(tmp_path / "cr.csv")
    import csv

    frame.to_csv(tmp_path / "quoted.csv", index=False, quoting=csv.QUOTE_NONNUMERIC)
    panel = gp.load_panel(tmp_path / "quoted.csv")
    assert panel.data.loc[("F1", 2010), "cluster_id"] == "sinos\r"


# -- properties of the CSV reader ---------------------------------------------------------------------
# pandas' CSV writer leaves a lone carriage return unquoted, which makes its own file ambiguous
# (test_lone_carriage_return_written_unquoted_is_refused); every other character is allowed
_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\r"),
                min_size=1, max_size=12).filter(lambda s: s.strip() != "")


@st.composite
def panels(draw):
    n_firms = draw(st.integers(1, 4))
    firms = draw(st.lists(_text, min_size=n_firms, max_size=n_firms, unique=True))
    years = draw(st.lists(st.integers(1990, 2030), min_size=1, max_size=3, unique=True))
    rows = [(f, y) for f in firms for y in years]
    n = len(rows)
    maybe = lambda s: st.one_of(st.none(), s)  # noqa: E731
    return pd.DataFrame({
        "firm_id": [f for f, _ in rows], "year": [y for _, y in rows],
        "cluster_id": draw(st.lists(_text, min_size=n, max_size=n)),
        "country": draw(st.lists(maybe(_text), min_size=n, max_size=n)),
        "sector": draw(st.lists(maybe(st.sampled_from(["NA", "N/A", ".", "null", "007", "15"])),
                                min_size=n, max_size=n)),
        "governance": draw(st.lists(maybe(st.sampled_from(["market", "network", "hierarchy"])),
                                    min_size=n, max_size=n)),
        "labour_productivity": draw(st.lists(maybe(st.floats(-1e12, 1e12)), min_size=n, max_size=n)),
        "employees": draw(st.lists(maybe(st.integers(0, 10**9).map(float)), min_size=n, max_size=n)),
        "main_buyer_share": draw(st.lists(maybe(st.floats(0, 1)), min_size=n, max_size=n)),
    })


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=panels())
def test_csv_and_parquet_round_trip_any_valid_panel(frame, tmp_path_factory):
    folder = tmp_path_factory.mktemp("prop")
    frame.to_csv(folder / "p.csv", index=False)
    frame.to_parquet(folder / "p.parquet", index=False)
    reference = gp.load_panel(frame).data
    assert len(reference) == len(frame)
    for name in ("p.csv", "p.parquet"):
        pd.testing.assert_frame_equal(gp.load_panel(folder / name).data, reference, obj=name)
    # every text cell comes back exactly as written: NA, quotes, commas and line breaks included
    got = gp.load_panel(folder / "p.csv").data
    assert got["cluster_id"].tolist() == reference["cluster_id"].tolist()
    assert got["country"].isna().sum() == frame["country"].isna().sum()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=panels(), data=st.data())
def test_dropping_fields_from_any_line_is_refused_with_that_line(frame, data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("ragged")
    path = folder / "p.csv"
    frame.to_csv(path, index=False)
    text = path.read_text()
    # cut the file anywhere after the header: either nothing is lost (the cut fell on a line
    # end) or the reader refuses; it never returns a panel with a half-filled row
    header_end = text.index("\n") + 1
    cut = data.draw(st.integers(header_end, len(text) - 1))
    path.write_text(text[:cut])
    try:
        panel = gp.load_panel(path)
    except (DataFileError, SchemaError):
        return
    # the whole panel in file order: the rows read must be its first rows
    whole = check_frame(frame).data.set_index(["firm_id", "year"]).iloc[:len(panel)]
    got = panel.data.loc[whole.index]
    if text[:cut].endswith("\n"):
        pd.testing.assert_frame_equal(got, whole)
    else:
        # a cut inside the last field of a row cannot be told from a shorter value: the rows
        # before it are exact and the missing line end is said in the load report
        assert any("no line end" in note for note in panel.load_report.notes)
        pd.testing.assert_frame_equal(got.iloc[:-1], whole.iloc[:-1])
