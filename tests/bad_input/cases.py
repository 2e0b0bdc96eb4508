"""Bad inputs shared by the file and value suites (and the validate/load_panel verdict test).

Each case writes its input into a temporary folder and says which error it must raise and
which culprits (file name, line, column, encoding, firm/year) the message must name.
"""

from __future__ import annotations

import gzip
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from gvcpanel.errors import DataFileError, SchemaError, SpecificationError


def valid_frame() -> pd.DataFrame:
    """Six valid firm-years; firm 'NA' is in Namibia (country 'NA'), one sector is 'NA'."""
    return pd.DataFrame({
        "firm_id": ["F1", "F1", "F2", "F2", "NA", "NA"],
        "year": [2010, 2011, 2010, 2011, 2010, 2011],
        "cluster_id": ["sinos", "sinos", "sinos", "sinos", "windhoek", "windhoek"],
        "country": ["BRA", "BRA", "BRA", None, "NA", "NA"],
        "sector": ["15", "15", "19", "19", "NA", "15"],
        "governance": ["market", "network", "quasi_hierarchy", None, "market", "hierarchy"],
        "main_buyer_share": [0.5, 0.6, 0.9, np.nan, 0.2, 0.25],
        "n_buyers": [10, 8, 1, 2, np.nan, 30],
        "iso_certified": [0, 1, 1, np.nan, 0, 0],
        "labour_productivity": [9.1, 9.3, 8.7, 8.9, np.nan, 10.2],
        "employees": [120, 125, 40, 45, 300, np.nan],
        "firm_age": [20, 21, 5, 6, 50, 51],
        "export_share": [0.1, 0.2, 0.9, 1.0, 0.0, np.nan],
    })


def csv_text(frame: pd.DataFrame | None = None) -> str:
    return (valid_frame() if frame is None else frame).to_csv(index=False)


@dataclass(frozen=True)
class FileCase:
    """A source that must be refused.

    ``make(folder)`` writes it and returns (source, keyword arguments of load_panel);
    ``culprits`` must all appear in the message.
    """

    id: str
    make: Callable[[Path], tuple[Any, dict[str, Any]]]
    error: type[Exception]
    culprits: tuple[str, ...]
    line: int | None = None


def _write(name: str, data: str | bytes) -> Callable[[Path], tuple[Path, dict]]:
    def make(folder: Path) -> tuple[Path, dict]:
        path = folder / name
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8")
        return path, {}
    return make


def _lines() -> list[str]:
    return csv_text().splitlines()


def _latin1(folder: Path) -> tuple[Path, dict]:
    text = csv_text().replace("sinos,BRA,19", "São Paulo,BRA,19")
    path = folder / "latin.csv"
    path.write_bytes(text.encode("latin-1"))
    return path, {}


def _cp1252_quotes(folder: Path) -> tuple[Path, dict]:
    lines = _lines()
    lines[5] = lines[5].replace("windhoek", "“windhoek”")
    path = folder / "smart_quotes.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode("cp1252"))
    return path, {}


def _utf16(folder: Path) -> tuple[Path, dict]:
    path = folder / "unicode_text.csv"
    path.write_bytes(csv_text().encode("utf-16"))
    return path, {}


def _ascii_named(folder: Path) -> tuple[Path, dict]:
    path, _ = _latin1(folder)
    return path, {"encoding": "ascii"}


def _ragged(row: int, cut: int | None = None, extra: str | None = None,
            name: str = "ragged.csv") -> Callable[[Path], tuple[Path, dict]]:
    def make(folder: Path) -> tuple[Path, dict]:
        lines = _lines()
        fields = lines[row].split(",")
        if cut is not None:
            fields = fields[:cut]
        if extra is not None:
            fields = fields + [extra]
        lines[row] = ",".join(fields)
        path = folder / name
        path.write_text("\n".join(lines) + ("\n" if row < len(lines) - 1 else ""),
                        encoding="utf-8")
        return path, {}
    return make


def _truncated_mid_row(folder: Path) -> tuple[Path, dict]:
    text = csv_text()
    path = folder / "cut.csv"
    # cut inside the last row, as a copy interrupted at a block boundary would
    path.write_text(text[: text.rstrip("\n").rfind("\n") + 25], encoding="utf-8")
    return path, {}


def _many_ragged(folder: Path) -> tuple[Path, dict]:
    frame = pd.concat([valid_frame()] * 3, ignore_index=True)
    frame["year"] = np.repeat([2010, 2011, 2012, 2013, 2014, 2015, 2016, 2017, 2018], 2)
    lines = frame.to_csv(index=False).splitlines()
    for i in range(2, 14):
        lines[i] = lines[i] + ",x"
    path = folder / "many.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, {}


def _gzip(name: str, transform: Callable[[bytes], bytes]) -> Callable[[Path], tuple[Path, dict]]:
    def make(folder: Path) -> tuple[Path, dict]:
        path = folder / name
        path.write_bytes(transform(gzip.compress(csv_text().encode())))
        return path, {}
    return make


def _flip_middle(data: bytes) -> bytes:
    out = bytearray(data)
    for i in range(len(out) // 3, len(out) // 3 + 16):
        out[i] ^= 0x5A
    return bytes(out)


def _parquet_bytes(frame: pd.DataFrame | None = None, **options: Any) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pandas(valid_frame() if frame is None else frame,
                                        preserve_index=False), sink, **options)
    return sink.getvalue().to_pybytes()


def _parquet_flipped(folder: Path) -> tuple[Path, dict]:
    frame = pd.concat([valid_frame()] * 200, ignore_index=True)
    frame["year"] = 1950 + np.arange(len(frame)) % 150
    frame["firm_id"] = [f"F{i // 150}" for i in range(len(frame))]
    data = bytearray(_parquet_bytes(frame, write_page_checksum=True, compression="none"))
    data[len(data) // 3] ^= 0x01
    path = folder / "flipped.parquet"
    path.write_bytes(bytes(data))
    return path, {}


def _partitioned(folder: Path) -> Path:
    root = folder / "parts"
    valid_frame().to_parquet(root, partition_cols=["year"], index=False)
    return root


def _folder_with(name: str, files: dict[str, bytes | str]) -> Callable[[Path], tuple[Path, dict]]:
    def make(folder: Path) -> tuple[Path, dict]:
        root = folder / name
        root.mkdir()
        for rel, data in files.items():
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data if isinstance(data, bytes) else data.encode())
        return root, {}
    return make


def _truncated_partition(folder: Path) -> tuple[Path, dict]:
    root = _partitioned(folder)
    victim = sorted((root / "year=2011").iterdir())[0]
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])
    return root, {}


def _parquet_with_readme(folder: Path) -> tuple[Path, dict]:
    root = _partitioned(folder)
    (root / "README.txt").write_text("panel by year\n")
    return root, {}


def _xlsx(name: str, sheets: dict[str, pd.DataFrame], **kwargs: Any
          ) -> Callable[[Path], tuple[Path, dict]]:
    def make(folder: Path) -> tuple[Path, dict]:
        path = folder / name
        with pd.ExcelWriter(path, engine="openpyxl") as writer:
            for sheet, frame in sheets.items():
                frame.to_excel(writer, sheet_name=sheet, index=False)
        return path, dict(kwargs)
    return make


def _xlsx_duplicate_header(folder: Path) -> tuple[Path, dict]:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["firm_id", "year", "cluster_id", "employees", "employees"])
    sheet.append(["F1", 2010, "c1", 5, 6])
    path = folder / "twice.xlsx"
    book.save(path)
    return path, {}


def _with(make: Callable[[Path], tuple[Any, dict]], **kwargs: Any
          ) -> Callable[[Path], tuple[Any, dict]]:
    def wrapped(folder: Path) -> tuple[Any, dict]:
        source, options = make(folder)
        return source, {**options, **kwargs}
    return wrapped


def _frame(frame_factory: Callable[[], pd.DataFrame]) -> Callable[[Path], tuple[Any, dict]]:
    return lambda folder: (frame_factory(), {})


_ONE_SHEET = {"panel": valid_frame()}

FILE_CASES = [
    # text files
    FileCase("empty_csv", _write("empty.csv", ""), DataFileError, ("empty.csv", "empty (0 bytes)")),
    FileCase("blank_lines_csv", _write("blank.csv", "\n \n\n"), DataFileError,
             ("blank.csv", "only blank lines")),
    FileCase("header_only_csv", _write("header.csv", "firm_id,year,cluster_id\n"), DataFileError,
             ("header.csv", "no data rows")),
    FileCase("latin1_as_utf8", _latin1, DataFileError,
             ("latin.csv", "does not decode as utf-8", "line 4", "encoding='latin-1'"), line=4),
    FileCase("cp1252_quotes_as_utf8", _cp1252_quotes, DataFileError,
             ("smart_quotes.csv", "utf-8", "line 6", "cp1252"), line=6),
    FileCase("utf16_as_utf8", _utf16, DataFileError,
             ("unicode_text.csv", "UTF-16", "encoding='utf-16'")),
    FileCase("latin1_as_ascii", _ascii_named, DataFileError,
             ("latin.csv", "does not decode as ascii", "line 4")),
    FileCase("short_row_in_middle", _ragged(3, cut=7), DataFileError,
             ("ragged.csv", "line 4 has 7 field(s)", "13"), line=4),
    FileCase("truncated_mid_row", _truncated_mid_row, DataFileError,
             ("cut.csv", "line 7 has", "never padded"), line=7),
    FileCase("long_row", _ragged(2, extra="99"), DataFileError,
             ("ragged.csv", "line 3 has 14 field(s)"), line=3),
    FileCase("unquoted_comma", _ragged(5, extra=" Namibia"), DataFileError,
             ("ragged.csv", "line 6 has 14", "quote any field that holds a comma"), line=6),
    FileCase("unclosed_quote_last_row", _write("quote.csv", csv_text() + 'F3,2012,"sinos,BRA\n'),
             DataFileError, ("quote.csv", "line 8 has"), line=8),
    FileCase("twelve_ragged_rows", _many_ragged, DataFileError,
             ("many.csv", "12 line(s)", "line 3 has 14", "and 2 more"), line=3),
    FileCase("repeated_header_name",
             _write("twice.csv", "firm_id,year,cluster_id,employees,employees\nF1,2010,c,1,2\n"),
             DataFileError, ("twice.csv", "'employees' at positions 4, 5")),
    FileCase("semicolon_separated", _write("semi.csv", csv_text().replace(",", ";")),
             DataFileError, ("semi.csv", "semicolons")),
    FileCase("tab_separated_txt", _write("tabs.txt", csv_text().replace(",", "\t")),
             DataFileError, ("tabs.txt", "tabs")),
    FileCase("gzip_truncated", _gzip("cut.csv.gz", lambda b: b[: len(b) // 2]), DataFileError,
             ("cut.csv.gz", "gzip", "cut short")),
    FileCase("gzip_corrupt", _gzip("flipped.csv.gz", _flip_middle), DataFileError,
             ("flipped.csv.gz", "gzip")),
    FileCase("gzip_not_gzip", _write("plain.csv.gz", csv_text()), DataFileError,
             ("plain.csv.gz", "gzip")),
    FileCase("gzip_of_nothing", _write("nothing.csv.gz", gzip.compress(b"")), DataFileError,
             ("nothing.csv.gz", "holds no text")),
    # Parquet files and folders
    FileCase("parquet_empty", _write("empty.parquet", b""), DataFileError,
             ("empty.parquet", "empty (0 bytes)")),
    FileCase("parquet_truncated", _write("cut.parquet", _parquet_bytes()[:-200]), DataFileError,
             ("cut.parquet", "Parquet", "cut short")),
    FileCase("parquet_is_csv", _write("text.parquet", csv_text()), DataFileError,
             ("text.parquet", "Parquet")),
    FileCase("parquet_page_checksum", _parquet_flipped, DataFileError,
             ("flipped.parquet", "Parquet")),
    FileCase("parquet_no_rows", _write("none.parquet", _parquet_bytes(valid_frame().iloc[:0])),
             DataFileError, ("none.parquet", "no data rows")),
    FileCase("folder_empty", _folder_with("empty_dir", {}), DataFileError,
             ("empty_dir", "no data files")),
    FileCase("folder_hidden_only", _folder_with("hidden", {".DS_Store": b"x", "_SUCCESS": b""}),
             DataFileError, ("hidden", "no data files")),
    FileCase("folder_of_csv", _folder_with("waves", {"2010.csv": csv_text(), "2011.csv": csv_text()}),
             DataFileError, ("waves", "CSV files", "2010.csv", "pd.concat")),
    FileCase("folder_with_readme", _parquet_with_readme, DataFileError,
             ("parts", "README.txt", "only Parquet files")),
    FileCase("folder_truncated_partition", _truncated_partition, DataFileError,
             ("parts", "year=2011/", "Parquet")),
    # Excel and Stata
    FileCase("xlsx_two_sheets", _xlsx("book.xlsx", {"panel": valid_frame(),
                                                    "notes": pd.DataFrame({"note": ["draft"]})}),
             DataFileError, ("book.xlsx", "2 sheets", "'panel'", "'notes'", "sheet=")),
    FileCase("xlsx_all_sheets_empty", _xlsx("blank.xlsx", {"a": pd.DataFrame(), "b": pd.DataFrame()}),
             DataFileError, ("blank.xlsx", "every sheet", "empty")),
    FileCase("xlsx_header_only", _xlsx("head.xlsx", {"panel": valid_frame().iloc[:0]}),
             DataFileError, ("head.xlsx", "no data rows")),
    FileCase("xlsx_not_a_zip", _write("junk.xlsx", b"PK\x03\x04 not really"), DataFileError,
             ("junk.xlsx", "Excel workbook")),
    FileCase("xlsx_empty_file", _write("zero.xlsx", b""), DataFileError,
             ("zero.xlsx", "empty (0 bytes)")),
    FileCase("xlsx_unknown_sheet", _xlsx("named.xlsx", _ONE_SHEET, sheet="Data"),
             SpecificationError, ("named.xlsx", "no sheet named 'Data'", "'panel'")),
    FileCase("xlsx_sheet_out_of_range", _xlsx("pos.xlsx", _ONE_SHEET, sheet=3),
             SpecificationError, ("pos.xlsx", "sheet=3", "1 sheet(s)")),
    FileCase("xlsx_repeated_header", _xlsx_duplicate_header, DataFileError,
             ("twice.xlsx", "'employees' at positions 4, 5")),
    FileCase("stata_garbage", _write("junk.dta", b"not a stata file" * 8), DataFileError,
             ("junk.dta", "Stata")),
    FileCase("stata_empty", _write("zero.dta", b""), DataFileError, ("zero.dta", "empty (0 bytes)")),
    # options that do not apply, names that do not exist
    FileCase("encoding_on_parquet", _with(_write("p.parquet", _parquet_bytes()), encoding="latin-1"),
             SpecificationError, ("p.parquet", "encoding='latin-1'", "CSV")),
    FileCase("sheet_on_csv", _with(_write("p.csv", csv_text()), sheet="panel"),
             SpecificationError, ("p.csv", "sheet='panel'", "Excel")),
    FileCase("unknown_encoding", _with(_write("p.csv", csv_text()), encoding="latin-one"),
             SpecificationError, ("'latin-one'", "not a known text encoding")),
    FileCase("old_excel_format", _write("old.xls", b"\xd0\xcf\x11\xe0"), SpecificationError,
             ("old.xls", ".xlsx")),
    FileCase("frame_repeated_column", _frame(lambda: pd.concat(
        [valid_frame(), valid_frame()[["employees"]]], axis=1)), SchemaError,
        ("<DataFrame>", "employees", "more than once")),
    FileCase("frame_empty", _frame(lambda: valid_frame().iloc[:0]), DataFileError,
             ("<DataFrame>", "no data rows")),
    FileCase("encoding_on_frame", _with(_frame(valid_frame), encoding="latin-1"),
             SpecificationError, ("<DataFrame>", "encoding")),
]


@dataclass(frozen=True)
class ValueCase:
    """One bad cell written into a valid CSV: the problem it must produce, and where."""

    id: str
    column: str
    text: str
    problem: str
    row: int = 1
    firm: Any = "F1"
    year: Any = 2011
    extra: dict[str, str] = field(default_factory=dict)

    def make(self, folder: Path) -> tuple[Path, dict]:
        frame = valid_frame().astype(object)
        frame.loc[self.row, self.column] = self.text
        for column, text in self.extra.items():
            frame.loc[self.row, column] = text
        path = folder / f"{self.id}.csv"
        frame.to_csv(path, index=False)
        return path, {}


VALUE_CASES = [
    ValueCase("inf_count", "employees", "inf", "not a finite number"),
    ValueCase("minus_inf_number", "labour_productivity", "-inf", "not a finite number"),
    ValueCase("huge_unbounded", "labour_productivity", "1e308", "magnitude above 1e+15"),
    ValueCase("huge_negative", "labour_productivity", "-1e308", "magnitude above 1e+15"),
    ValueCase("huge_count", "employees", "1e16", "magnitude above 1e+15"),
    ValueCase("huge_bounded_share", "export_share", "1e308", "above maximum 1"),
    ValueCase("word_in_count", "employees", "many", "not a number"),
    ValueCase("decimal_comma", "main_buyer_share", "0,5", "not a number"),
    ValueCase("lowercase_na_is_not_a_marker", "n_buyers", "n/a", "not a number"),
    ValueCase("half_a_partner", "n_buyers", "2.5", "not a whole number"),
    ValueCase("percent_not_share", "export_share", "35", "above maximum 1"),
    ValueCase("negative_employees", "employees", "-1", "below minimum 0"),
    ValueCase("two_digit_founding_year_age", "firm_age", "1918", "above maximum 1000"),
    ValueCase("binary_code_2", "iso_certified", "2", "not one of 0/1"),
    ValueCase("category_case", "governance", "Quasi-Hierarchy", "unknown category"),
    ValueCase("year_too_early", "year", "1850", "below minimum 1900", year=1850),
    ValueCase("year_fraction", "year", "2011.5", "not a whole number", year="2011.5"),
    ValueCase("year_word", "year", "twenty", "not a number", year="twenty"),
    ValueCase("blank_firm_id", "firm_id", "   ", "does not match pattern", firm="   "),
    ValueCase("blank_country", "country", " ", "does not match pattern"),
    ValueCase("empty_cluster", "cluster_id", "", "missing value in required field"),
    ValueCase("duplicate_key", "year", "2010", "duplicate key", year=2010),
]
