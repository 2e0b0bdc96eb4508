"""Loading from every format, mappings, projection/filter pushdown and streaming validation."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import gvcpanel as gp
from gvcpanel.data import io as gio
from gvcpanel.data import readers
from gvcpanel.errors import SchemaError, SpecificationError

FIXTURES = Path(__file__).parent / "fixtures"


def small_panel(seed: int = 7, n_firms: int = 40) -> pd.DataFrame:
    """A valid unbalanced panel with text ids, categories, binaries, counts and missing cells."""
    rng = np.random.default_rng(seed)
    years = np.arange(2008, 2014)
    firm = np.repeat(np.arange(n_firms), len(years))
    year = np.tile(years, n_firms)
    keep = rng.random(firm.size) < 0.8
    firm, year = firm[keep], year[keep]
    n = firm.size
    gov = np.array(["market", "network", "quasi_hierarchy", "hierarchy"], dtype=object)
    frame = pd.DataFrame({
        "firm_id": [f"F{i:03d}" for i in firm],
        "year": year,
        "cluster_id": [f"cl{i % 5}" for i in firm],
        "country": np.where(firm % 2 == 0, "BRA", "IND").astype(object),
        "main_buyer_share": rng.uniform(0, 1, n).round(3),
        "n_buyers": rng.integers(1, 30, n).astype(float),
        "governance": gov[rng.integers(0, 4, n)],
        "iso_certified": rng.integers(0, 2, n).astype(float),
        "function_level": rng.integers(0, 4, n).astype(float),
        "labour_productivity": rng.normal(9, 1, n).round(4),
        "export_share": rng.uniform(0, 1, n).round(3),
    })
    frame.loc[rng.random(n) < 0.1, "iso_certified"] = np.nan
    frame.loc[rng.random(n) < 0.1, "governance"] = None
    frame.loc[rng.random(n) < 0.1, "country"] = None
    return frame


def write_all_formats(frame: pd.DataFrame, folder: Path) -> dict[str, Path]:
    paths = {"csv": folder / "p.csv", "parquet": folder / "p.parquet", "folder": folder / "parts",
             "dta": folder / "p.dta", "xlsx": folder / "p.xlsx"}
    frame.to_csv(paths["csv"], index=False)
    frame.to_parquet(paths["parquet"], index=False)
    frame.to_parquet(paths["folder"], partition_cols=["year"], index=False)
    frame.to_stata(paths["dta"], write_index=False, version=118)
    frame.to_excel(paths["xlsx"], index=False)
    return paths


@pytest.fixture(scope="module")
def formats(tmp_path_factory):
    folder = tmp_path_factory.mktemp("formats")
    frame = small_panel()
    return frame, write_all_formats(frame, folder)


def test_every_format_gives_the_same_panel(formats):
    frame, paths = formats
    reference = gp.load_panel(frame)
    for kind, path in paths.items():
        panel = gp.load_panel(path)
        pd.testing.assert_frame_equal(panel.data, reference.data, obj=kind)
        assert panel.provenance.sha256 == gio.content_sha256(path), kind
        assert panel.provenance.source == str(path)
    # the Stata convention (empty string = missing) is applied and noted, not silent
    notes = gp.load_panel(paths["dta"]).load_report.notes
    assert any("Stata" in n and "country" in n for n in notes)


def test_content_hash_of_file_and_folder(formats, tmp_path):
    _, paths = formats
    expected = hashlib.sha256(paths["csv"].read_bytes()).hexdigest()
    assert gio.content_sha256(paths["csv"]) == expected
    copy = tmp_path / "copy"
    copy.mkdir()
    for file in gio._data_files(paths["folder"]):
        target = copy / file.relative_to(paths["folder"])
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(file.read_bytes())
    assert gio.content_sha256(copy) == gio.content_sha256(paths["folder"])
    # moving rows to another partition changes the hash even though the bytes are the same
    first = sorted(p for p in copy.iterdir())[0]
    first.rename(copy / "year=1999")
    assert gio.content_sha256(copy) != gio.content_sha256(paths["folder"])


def test_frame_with_key_index_loads_like_columns():
    frame = small_panel()
    by_columns = gp.load_panel(frame)
    by_index = gp.load_panel(frame.set_index(["firm_id", "year"]))
    pd.testing.assert_frame_equal(by_index.data, by_columns.data)


def test_columns_and_filters_are_pushed_down(formats, monkeypatch):
    frame, paths = formats
    calls = []
    original = readers.read_parquet

    def recording(source, label, columns=None, filter=None):
        calls.append({"columns": columns, "filter": filter})
        return original(source, label, columns, filter)

    monkeypatch.setattr(readers, "read_parquet", recording)
    panel = gp.load_panel(paths["folder"], columns=["iso_certified"],
                          filters=[("year", ">=", 2010)])
    call = calls[-1]
    assert call["columns"] == ["firm_id", "year", "cluster_id", "iso_certified"]
    assert call["filter"] is not None and "2010" in str(call["filter"])
    assert list(panel.data.columns) == ["cluster_id", "iso_certified"]
    assert min(panel.years) == 2010
    expected = frame[frame["year"] >= 2010]
    assert len(panel) == len(expected)
    assert panel.load_report.n_rows_source == len(frame)
    # the same request on CSV (filtered after reading) gives the same panel
    from_csv = gp.load_panel(paths["csv"], columns=["iso_certified"], filters=[("year", ">=", 2010)])
    pd.testing.assert_frame_equal(from_csv.data, panel.data)


def test_filters_in_or_form_and_bad_requests(formats, tmp_path):
    _, paths = formats
    panel = gp.load_panel(paths["parquet"], filters=[[("year", "==", 2008)], [("year", "==", 2013)]])
    assert panel.years == (2008, 2013)
    with pytest.raises(SpecificationError, match="not in the source"):
        gp.load_panel(paths["parquet"], columns=["no_such_column"])
    with pytest.raises(SpecificationError, match="unknown file type"):
        (tmp_path / "p.json").write_text("{}")
        gp.load_panel(tmp_path / "p.json")


def test_missing_file_is_a_specification_error(tmp_path):
    with pytest.raises(SpecificationError, match="no such file"):
        gp.load_panel(tmp_path / "nope.csv")


def test_five_problems_reported_with_firm_and_year():
    with pytest.raises(SchemaError) as info:
        gp.load_panel(FIXTURES / "five_problems.csv")
    problems = info.value.problems
    expected = {
        ("main_buyer_share", "F001", 2011): "above maximum 1",
        ("governance", "F002", 2010): "unknown category",
        ("employees", "F002", 2011): "not a number",
        ("function_level", "F003", 2010): "not one of 0/1/2/3",
        ("firm_id+year", "F003", 2011): "duplicate key",
    }
    got = {}
    for column, problem, firm, year in zip(problems["column"], problems["problem"],
                                           problems["firm_id"], problems["year"]):
        got.setdefault((column, firm, year), problem)
    assert set(got) == set(expected)
    for key, start in expected.items():
        assert got[key].startswith(start), (key, got[key])
    # the duplicate is reported on both rows that share the key
    assert (problems["column"] == "firm_id+year").sum() == 2
    message = str(info.value)
    for firm, year in [("F001", 2011), ("F002", 2010), ("F002", 2011), ("F003", 2010),
                       ("F003", 2011)]:
        assert f"firm_id={firm}, year={year}" in message
    assert "five_problems.csv" in message


# -- World Bank Enterprise Survey mapping ---------------------------------------------------
def test_enterprise_survey_fixture_loads_through_its_mapping():
    panel = gp.load_panel(FIXTURES / "wbes_panel.csv", mapping="wbes")
    data = panel.data
    assert panel.provenance.mapping.startswith("wbes@")
    assert len(panel) == 12 and panel.n_firms == 6 and panel.years == (2009, 2014, 2019)
    row = data.loc[(101, 2009)]
    # hand-computed from the fixture's first line: b5 = 1990, d3b = 20, d3c = 30, b2b = 0
    assert row["firm_age"] == 2009 - 1990
    assert row["export_share"] == pytest.approx((20 + 30) / 100, abs=1e-12)
    assert row["foreign_owned"] == 0 and row["iso_certified"] == 1 and row["new_product"] == 1
    assert row["cluster_id"] == "Brazil:1" and row["sector"] == "15" and row["employees"] == 120
    # b2b = 10 is foreign owned (at least 10%), 9.5 is not
    assert data.loc[(102, 2009), "foreign_owned"] == 1
    assert data.loc[(202, 2019), "foreign_owned"] == 0
    # -9 (don't know) becomes missing and is counted per source column
    assert np.isnan(data.loc[(102, 2014), "iso_certified"])
    assert np.isnan(data.loc[(103, 2009), "export_share"])
    assert np.isnan(data.loc[(103, 2009), "firm_age"])
    report = panel.load_report.mapping
    counts = {(t, s): n for t, s, a, n in report.actions.itertuples(index=False)
              if a.startswith("code -9")}
    assert counts == {("iso_certified", "b8"): 2, ("new_product", "h1"): 2,
                      ("firm_age", "b5"): 1, ("foreign_owned", "b2b"): 1,
                      ("export_share", "d3b"): 1}
    assert report.n_set_missing() == 7
    assert len(panel.load_report.set_missing) == 5
    assert set(report.dropped_columns) == {"a6a", "d3a", "k8"}


def test_mapping_codes_outside_the_recode_are_reported(tmp_path):
    source = pd.read_csv(FIXTURES / "wbes_panel.csv")
    source.loc[3, "b8"] = 3
    path = tmp_path / "es.csv"
    source.to_csv(path, index=False)
    with pytest.raises(SchemaError) as info:
        gp.load_panel(path, mapping="wbes")
    problems = info.value.problems
    assert problems[["firm_id", "year", "column"]].values.tolist() == [[102, 2009, "iso_certified"]]


def test_mapping_file_path_and_unknown_mapping(tmp_path):
    mapping = tmp_path / "mine.json"
    mapping.write_text('{"name": "mine", "version": "2", "keep_unmapped": true, "fields": {'
                       '"firm_id": {"from": ["id"]}, "year": {"from": ["yr"]}, '
                       '"cluster_id": {"from": ["town"]}, '
                       '"export_share": {"op": "copy", "from": ["exp_pct"], "scale": 0.01}}}')
    frame = pd.DataFrame({"id": [1, 2], "yr": [2001, 2001], "town": ["a", "b"],
                          "exp_pct": [50, 10], "other": [1, 2]})
    panel = gp.load_panel(frame, mapping=mapping)
    assert panel.data["export_share"].tolist() == [0.5, 0.1]
    assert panel.data["other"].tolist() == [1, 2]
    assert panel.provenance.mapping == "mine@2"
    with pytest.raises(SpecificationError, match="wbes"):
        gp.load_panel(frame, mapping="no_such_mapping")


# -- streaming validation -------------------------------------------------------------------
@pytest.mark.parametrize("batch_size", [2, 3, 1000])
def test_streaming_validation_finds_what_load_panel_finds(batch_size):
    path = FIXTURES / "five_problems.csv"
    with pytest.raises(SchemaError) as info:
        gp.load_panel(path)
    report = gio.validate_file(path, batch_size=batch_size)
    assert not report.ok and report.n_rows == 7
    cols = ["firm_id", "year", "row", "column", "problem", "value"]
    key = ["row", "column", "problem"]
    got = report.problems[cols].astype(str).sort_values(key).reset_index(drop=True)
    want = info.value.problems[cols].astype(str).sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want)
    with pytest.raises(SchemaError):
        report.raise_if_invalid()


@pytest.mark.parametrize("text_ids", [False, True])
def test_streaming_duplicates_across_batches(tmp_path, text_ids):
    rng = np.random.default_rng(3)
    n = 5000
    firm = np.arange(n) // 5
    frame = pd.DataFrame({"firm_id": firm, "year": 2000 + np.arange(n) % 5,
                          "cluster_id": firm % 17})
    if text_ids:
        frame["firm_id"] = "id" + frame["firm_id"].astype(str)
    dup_rows = np.sort(rng.choice(n, size=4, replace=False))
    frame = pd.concat([frame, frame.iloc[dup_rows]], ignore_index=True)
    path = tmp_path / "dups.parquet"
    frame.to_parquet(path, index=False)
    report = gio.validate_file(path, batch_size=700)
    repeats = report.problems[report.problems["problem"].str.contains("repeats")]
    firsts = report.problems[report.problems["problem"].str.contains("first occurrence")]
    assert sorted(repeats["row"]) == list(range(n, n + 4))
    assert sorted(firsts["row"]) == dup_rows.tolist()
    assert report.n_firms == n // 5 and report.years == (2000, 2004)


def test_streaming_valid_file_summary_and_mapping():
    report = gio.validate_file(FIXTURES / "wbes_panel.csv", mapping="wbes", batch_size=5)
    assert report.ok
    assert report.n_rows == 12 and report.n_firms == 6 and report.years == (2009, 2019)
    assert report.mapping.n_set_missing() == 7
    assert "valid" in report.message() and "7 value(s) set to missing" in report.message()


@pytest.mark.slow
def test_streaming_memory_is_bounded_by_the_batch(tmp_path):
    """2,000,000 firm-years validate in a fresh process with a peak RSS well under 4 GB.

    The full 10,000,000-row figure is measured by benchmarks/load_validate.py.
    """
    script = textwrap.dedent(f"""
        import resource, numpy as np, pyarrow as pa, pyarrow.parquet as pq
        from gvcpanel.data.io import validate_file
        n = 2_000_000
        rng = np.random.default_rng(1)
        writer = None
        for start in range(0, n, 500_000):
            rows = np.arange(start, start + 500_000)
            t = pa.table({{"firm_id": rows // 10, "year": 2000 + rows % 10,
                          "cluster_id": (rows // 10) % 300,
                          "main_buyer_share": rng.uniform(0, 1, rows.size),
                          "iso_certified": rng.integers(0, 2, rows.size).astype(float)}})
            writer = writer or pq.ParquetWriter("{tmp_path}/big.parquet", t.schema)
            writer.write_table(t)
        writer.close()
        report = validate_file("{tmp_path}/big.parquet", batch_size=250_000)
        assert report.ok and report.n_rows == n and report.n_firms == n // 10
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    peak_kib = int(out.stdout.strip().splitlines()[-1])
    assert peak_kib < 1_500_000, peak_kib


def test_streaming_over_a_partitioned_folder(tmp_path):
    frame = pd.DataFrame({"firm_id": [1, 1, 2, 2, 1], "year": [2010, 2011, 2010, 2011, 2011],
                          "cluster_id": [1, 1, 2, 2, 1], "export_share": [0.1, 0.2, 0.3, 1.5, 0.1]})
    frame.to_parquet(tmp_path / "parts", partition_cols=["year"], index=False)
    report = gio.validate_file(tmp_path / "parts", batch_size=2)
    got = sorted(zip(report.problems["firm_id"], report.problems["year"],
                     report.problems["column"]))
    assert got == [(1, 2011, "firm_id+year"), (1, 2011, "firm_id+year"),
                   (2, 2011, "export_share")]
