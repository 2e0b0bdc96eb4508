"""Format readers: every failure to read becomes a :class:`~gvcpanel.errors.DataFileError`.

Each reader either returns the table as written, or raises the package's own error naming the
file, what is wrong and how to fix it. Nothing is padded, cut or dropped on the way:

- CSV (``.csv``, ``.txt``, ``.gz``): an empty file, text that does not decode in the given
  ``encoding`` (the error names the encoding, the byte and the line, and suggests another),
  a corrupt or truncated gzip stream, a repeated header name, or any line whose number of
  fields differs from the header's (the line numbers are listed: a short row is never filled
  with missing values) is refused before pandas parses the file. Only empty cells are read as
  missing here; the schema's missing-value markers (``NA``, ``.``, ...) are applied to numeric
  fields later, by :func:`gvcpanel.data.schema.check_frame`, so a country ``NA`` (Namibia)
  stays text.
- Parquet: a file that is empty, truncated or corrupt is refused with its name. A folder is a
  (hive-partitioned) Parquet dataset: every data file in it must be Parquet (names starting
  with ``.`` or ``_`` are ignored); a folder of CSV files is refused, with the two lines of
  pandas that join them. The schema is unified over all files, not taken from the first: a
  column that some files lack is kept and read as missing for their rows, and a column whose
  type differs between files is widened (``int64`` + ``double`` -> ``double``) or, when the
  types do not widen (``int64`` + ``string``), read as text so the schema check reports the
  values that are not numbers. Each difference is a note of the load report and a
  :class:`~gvcpanel.errors.PartitionSchemaWarning` naming the files.
- Excel: a workbook with several non-empty sheets needs ``sheet=``; with one non-empty sheet
  that sheet is read (and named in the notes).
- Stata: a file that pandas cannot parse is refused with its name.

A source with a header but no data rows is refused as well (``no data rows``).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gzip
import io
import os
import struct
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import pandas as pd

from gvcpanel.errors import DataFileError, GvcPanelError, PartitionSchemaWarning, SpecificationError

FORMATS = {".csv": "csv", ".txt": "csv", ".gz": "csv", ".parquet": "parquet", ".pq": "parquet",
           ".dta": "stata", ".xlsx": "excel", ".xlsm": "excel"}
_HINTS = {".xls": "save it as .xlsx (File > Save As in Excel or LibreOffice)",
          ".sav": "convert it with pandas.read_spss(...).to_parquet(...)",
          ".json": "convert it to CSV or Parquet first"}
_BLOCK = 1 << 20
_SHOWN = 10


# -- what a source is ------------------------------------------------------------------------
def source_format(path: str | Path) -> str:
    """``"csv"``, ``"parquet"``, ``"parquet_dir"``, ``"stata"`` or ``"excel"``."""
    path = Path(path)
    if path.is_dir():
        return "parquet_dir"
    if not path.exists():
        raise SpecificationError(f"{path}: no such file or folder; expected a CSV, Parquet file "
                                 f"or folder, Stata .dta or Excel .xlsx path, or a DataFrame")
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        hint = _HINTS.get(path.suffix.lower())
        raise SpecificationError(f"{path}: unknown file type {path.suffix!r}; expected one of "
                                 f"{', '.join(sorted(FORMATS))} or a Parquet folder"
                                 + (f" ({hint})" if hint else ""))
    return kind


def data_files(folder: Path) -> list[Path]:
    """The files pyarrow.dataset reads: hidden and underscore-prefixed names are skipped."""
    out = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        out += [Path(root) / f for f in files if not f.startswith((".", "_"))]
    return sorted(out, key=lambda p: p.relative_to(folder).as_posix())


@dataclass(frozen=True)
class ReadOptions:
    """Options that apply to one format only.

    Attributes
    ----------
    encoding : str or None
        Text encoding of a CSV file (default UTF-8, with or without a byte-order mark).
    sheet : str, int or None
        Worksheet of an Excel workbook, by name or 0-based position.
    """

    encoding: str | None = None
    sheet: str | int | None = None


def check_options(kind: str, label: str, encoding: str | None,
                  sheet: str | int | None) -> ReadOptions:
    """Refuse options that do not apply to the source (rather than ignore them)."""
    if encoding is not None:
        if kind != "csv":
            raise SpecificationError(f"{label}: encoding={encoding!r} applies to CSV text files "
                                     f"only; a {kind.replace('_dir', ' folder')} source "
                                     f"records its own encoding. Leave encoding unset.")
        if not isinstance(encoding, str):
            raise SpecificationError(f"encoding must be a text encoding name such as 'latin-1', "
                                     f"got {encoding!r}")
        try:
            encoding = codecs.lookup(encoding).name
        except LookupError:
            raise SpecificationError(f"encoding={encoding!r} is not a known text encoding; common "
                                     f"ones: utf-8, latin-1, cp1252, utf-16") from None
    if sheet is not None:
        if kind != "excel":
            raise SpecificationError(f"{label}: sheet={sheet!r} applies to Excel workbooks only; "
                                     f"leave it unset for a {kind.replace('_dir', ' folder')} "
                                     f"source.")
        if isinstance(sheet, bool) or not isinstance(sheet, (str, int)):
            raise SpecificationError(f"sheet must be a worksheet name or a 0-based position, "
                                     f"got {sheet!r}")
    return ReadOptions(encoding, sheet)


# -- turning third-party failures into the package's error -----------------------------------
def _is_system_error(exc: OSError) -> bool:
    # permission, missing file and real I/O errors stay OSError (the CLI reports them as I/O);
    # pyarrow and gzip raise OSError without an errno for bytes they cannot decode
    return isinstance(exc, (PermissionError, FileNotFoundError, IsADirectoryError,
                            NotADirectoryError)) or exc.errno is not None


@contextlib.contextmanager
def reading(label: str, what: str, fix: str) -> Iterator[None]:
    """Re-raise any failure of a third-party reader as DataFileError naming ``label``."""
    import pyarrow as pa

    try:
        yield
    except GvcPanelError:
        raise
    except OSError as exc:
        if _is_system_error(exc):
            raise
        raise DataFileError(f"{label}: cannot be read as {what} ({str(exc).strip()}). {fix}",
                            source=label) from exc
    except (pa.ArrowException, pd.errors.ParserError, pd.errors.EmptyDataError, ValueError,
            EOFError, zlib.error, zipfile.BadZipFile, struct.error, KeyError, IndexError) as exc:
        raise DataFileError(f"{label}: cannot be read as {what} ({type(exc).__name__}: "
                            f"{str(exc).strip()}). "
                            f"{fix}", source=label) from exc


def _empty_file(path: Path, what: str) -> None:
    if path.stat().st_size == 0:
        raise DataFileError(f"{path}: the file is empty (0 bytes); expected {what}. Was it "
                            f"written completely? Write or copy it again.", source=str(path))


def no_rows(label: str) -> DataFileError:
    """The error for a source that has columns but no data rows."""
    return DataFileError(f"{label}: no data rows (only the column names); expected one row per "
                         f"firm-year. Check that the right file (or sheet) was given.",
                         source=label)


def refuse_duplicate_columns(columns: Sequence[Any], label: str) -> None:
    """A repeated column name is refused: readers would rename or drop one copy."""
    seen: dict[str, list[int]] = {}
    for i, name in enumerate(columns):
        seen.setdefault(str(name), []).append(i + 1)
    repeated = {name: pos for name, pos in seen.items() if len(pos) > 1}
    if repeated:
        listed = "; ".join(f"{name!r} at positions {', '.join(map(str, pos))}"
                           for name, pos in repeated.items())
        raise DataFileError(f"{label}: column name(s) repeated in the header: {listed}. Each "
                            f"column needs its own name (one copy would be renamed or lost); "
                            f"rename or remove the repeated column.", source=label)


# -- CSV -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CsvLayout:
    """What the structure check of a CSV file found.

    Attributes
    ----------
    header : tuple of str
        Column names.
    n_rows : int
        Data rows (blank lines are not rows).
    encoding : str
        The encoding the file decoded in.
    notes : tuple of str
        Remarks (e.g. no line end after the last row).
    """

    header: tuple[str, ...]
    n_rows: int
    encoding: str
    notes: tuple[str, ...]


def _open_binary(path: Path) -> Any:
    return gzip.open(path, "rb") if path.suffix.lower() == ".gz" else open(path, "rb")


def _decode_error(path: Path, encoding: str, offset: int, line: int, bad: bytes,
                  head: bytes) -> DataFileError:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        suggestion = "the file starts with a UTF-16 byte-order mark: pass encoding='utf-16'"
    elif encoding.replace("-", "").replace("_", "").lower() in ("utf8", "utf8sig"):
        suggestion = ("files saved by Excel or Stata on Windows are often cp1252 or latin-1: "
                      "pass encoding='latin-1' (or 'cp1252')")
    else:
        suggestion = "pass the file's encoding, e.g. encoding='utf-8' or encoding='cp1252'"
    return DataFileError(
        f"{path}: the text does not decode as {encoding}: byte {offset} (line {line}) is "
        f"{bad!r}. {suggestion[0].upper() + suggestion[1:]} (command line: --encoding NAME).",
        source=str(path), line=line)


def _decode_check(path: Path, encoding: str) -> tuple[bytes, bool]:
    """Decode the whole file once; return its first bytes and whether it ends with a newline.

    Also checks the gzip stream of a ``.gz`` file to its end.
    """
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset = 0
    lines = 0
    head = b""
    last = b""
    with reading(str(path), "gzip-compressed text",
                 "The gzip file is corrupt or was cut short: write or copy it again."):
        with _open_binary(path) as handle:
            while block := handle.read(_BLOCK):
                head = head or block[:4]
                pending = len(decoder.getstate()[0])
                try:
                    decoder.decode(block)
                except UnicodeDecodeError as exc:
                    start = max(exc.start - pending, 0)
                    line = lines + block[:start].count(b"\n") + 1
                    raise _decode_error(path, encoding, offset + start, line,
                                        bytes(exc.object[exc.start:exc.end]), head) from None
                lines += block.count(b"\n")
                offset += len(block)
                last = block[-1:]
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError as exc:
                raise _decode_error(path, encoding, offset - len(exc.object) + exc.start,
                                    lines + 1, bytes(exc.object[exc.start:exc.end]),
                                    head) from None
    if offset == 0:
        raise DataFileError(f"{path}: the compressed file holds no text (0 bytes); expected a "
                            f"header line and one line per firm-year.", source=str(path))
    return head, last in (b"\n", b"\r")


def _header(path: Path, encoding: str) -> list[str]:
    # utf-8-sig strips a byte-order mark, as pandas does, so names compare equal
    text_encoding = "utf-8-sig" if encoding == "utf-8" else encoding
    with _open_binary(path) as raw:
        text = io.TextIOWrapper(raw, encoding=text_encoding, newline="")
        for row in csv.reader(text):
            if any(cell.strip() for cell in row):
                return row
    raise DataFileError(f"{path}: the file holds only blank lines; expected a header line naming "
                        f"the columns (firm_id,year,cluster_id,...) and one line per firm-year.",
                        source=str(path))


def check_csv(path: str | Path, encoding: str | None = None) -> CsvLayout:
    """Check that a CSV file can be read whole and as written, before any parsing.

    Parameters
    ----------
    path : str or Path
        A ``.csv``/``.txt`` file, or a gzip-compressed ``.gz`` one.
    encoding : str, optional
        Text encoding (default UTF-8).

    Returns
    -------
    CsvLayout

    Raises
    ------
    DataFileError
        Empty file, undecodable text, corrupt or truncated gzip, repeated header names, lines
        with more or fewer fields than the header (the first ten listed with their line
        numbers; the header is line 1), or no data rows.

    Notes
    -----
    Field counts are taken by pyarrow's CSV parser (single-threaded, so that it knows line
    numbers; quoted fields may hold commas and line breaks), converting one column only: about
    half the time pandas takes to parse the file.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    path = Path(path)
    encoding = codecs.lookup(encoding or "utf-8").name
    _empty_file(path, "a header line naming the columns and one line per firm-year")
    head, ends_with_newline = _decode_check(path, encoding)
    header = _header(path, encoding)
    if len(header) == 1:
        for separator, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")):
            if separator in header[0]:
                raise DataFileError(
                    f"{path}: the header is one field, {header[0][:60]!r}: the columns seem "
                    f"separated by {name}, not commas. Save the file as comma-separated values "
                    f"(e.g. df = pd.read_csv(path, sep={separator!r}); df.to_csv('panel.csv', "
                    f"index=False)).", source=str(path), line=1)
    refuse_duplicate_columns(header, str(path))
    bad: list[tuple[int | None, int, str]] = []
    n_bad = 0

    def count(row: Any) -> str:
        nonlocal n_bad
        n_bad += 1
        if len(bad) < _SHOWN:
            bad.append((row.number, row.actual_columns, row.text))
        return "skip"

    names = [f"c{i}" for i in range(len(header))]
    with reading(str(path), "CSV", "Check the quoting: a quote opened in a field must be "
                 "closed in the same field."):
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=False, encoding=encoding,
                                           column_names=names, skip_rows=1),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=count),
            convert_options=pacsv.ConvertOptions(include_columns=names[:1],
                                                 column_types={names[0]: pa.string()}))
    if n_bad:
        shown = "; ".join(f"line {number if number is not None else '?'} has {actual} "
                          f"field(s): {text[:60]!r}" for number, actual, text in bad)
        more = f" (and {n_bad - len(bad)} more)" if n_bad > len(bad) else ""
        first = bad[0][0]
        raise DataFileError(
            f"{path}: {n_bad} line(s) have a different number of fields from the header's "
            f"{len(header)} ({', '.join(header[:8])}{', ...' if len(header) > 8 else ''}): "
            f"{shown}{more}. A row is never padded with missing values or cut short: fix these "
            f"lines (quote any field that holds a comma; a file cut off in the middle of a row "
            f"must be written again).", source=str(path), line=first)
    n_rows = table.num_rows
    if n_rows == 0:
        raise no_rows(str(path))
    notes = () if ends_with_newline else (
        f"{path.name}: the last line has no line end; if the file was cut short, its last row "
        f"may be incomplete",)
    return CsvLayout(tuple(header), n_rows, encoding, notes)


def csv_options(layout: CsvLayout, text_columns: set[str],
                usecols: Sequence[str] | None) -> dict[str, Any]:
    """pandas.read_csv options: text columns as ``str``, only empty cells missing."""
    return {"dtype": {c: "str" for c in layout.header if c in text_columns},
            "keep_default_na": False, "na_values": [""], "usecols": usecols,
            "encoding": layout.encoding, "encoding_errors": "strict"}


def read_csv(path: Path, layout: CsvLayout, text_columns: set[str],
             usecols: Sequence[str] | None = None) -> pd.DataFrame:
    """The whole file as pandas reads it (after :func:`check_csv`)."""
    with reading(str(path), "CSV", "Check the quoting and the field separator (a comma)."):
        with warnings.catch_warnings():
            # columns mixing numbers and markers are converted field by field by the schema
            warnings.simplefilter("ignore", pd.errors.DtypeWarning)
            return pd.read_csv(path, **csv_options(layout, text_columns, usecols))


def iter_csv(path: Path, layout: CsvLayout, text_columns: set[str], batch_size: int,
             usecols: Sequence[str] | None = None) -> Iterator[pd.DataFrame]:
    """The file in chunks of ``batch_size`` rows."""
    with reading(str(path), "CSV", "Check the quoting and the field separator (a comma)."):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", pd.errors.DtypeWarning)
            with pd.read_csv(path, chunksize=batch_size,
                             **csv_options(layout, text_columns, usecols)) as reader:
                yield from reader


# -- Parquet -----------------------------------------------------------------------------------
_PARQUET_FIX = ("Parquet keeps its column index at the end of the file, so a file cut short "
                "or damaged cannot be read: write or copy it again.")


@dataclass(frozen=True)
class ParquetSource:
    """A Parquet file or folder opened for reading.

    Attributes
    ----------
    dataset : pyarrow.dataset.Dataset
        With the schema unified over all files.
    n_rows : int
        Rows over all files (from the file footers).
    notes : tuple of str
        Columns some files lack, columns whose type differs between files.
    """

    dataset: Any
    n_rows: int
    notes: tuple[str, ...]


def _parquet_format() -> Any:
    import pyarrow.dataset as pads

    # pages written with CRC checksums are verified: a flipped byte is an error, not a value
    return pads.ParquetFileFormat(default_fragment_scan_options=pads.ParquetFragmentScanOptions(
        page_checksum_verification=True))


def _file_metadata(path: Path, label: str) -> Any:
    import pyarrow.parquet as pq

    _empty_file(path, "a Parquet file")
    with reading(label, "Parquet", _PARQUET_FIX):
        return pq.read_metadata(path)


def _refuse_non_parquet(folder: Path, files: list[Path]) -> None:
    if not files:
        raise DataFileError(f"{folder}: the folder holds no data files (names starting with '.' "
                            f"or '_' are ignored); expected Parquet files, e.g. year=2010/"
                            f"part-0.parquet.", source=str(folder))
    other = [f for f in files if f.suffix.lower() not in (".parquet", ".pq", "")]
    if not other:
        return
    listed = ", ".join(f.relative_to(folder).as_posix() for f in other[:5])
    if all(FORMATS.get(f.suffix.lower()) == "csv" for f in files):
        raise DataFileError(
            f"{folder}: the folder holds CSV files ({listed}{', ...' if len(other) > 5 else ''}); "
            f"a folder is read as a partitioned Parquet dataset, and CSV files are read one at a "
            f"time so that every problem names its file and line. Join them into one file first, "
            f"checking that their headers agree, e.g. pd.concat([pd.read_csv(f, dtype=str, "
            f"keep_default_na=False) for f in sorted(files)]).to_csv('panel.csv', index=False).",
            source=str(folder))
    raise DataFileError(
        f"{folder}: a Parquet folder must hold only Parquet files, but it holds {listed}"
        f"{', ...' if len(other) > 5 else ''}. Move the other files out, or rename them to start "
        f"with '_' or '.' so they are ignored.", source=str(folder))


def _unify(folder: Path, files: list[Path], schemas: list[Any],
           rows: list[int]) -> tuple[Any, list[str], list[str]]:
    """One schema over all files; notes on missing columns and on differing types."""
    import pyarrow as pa

    names: list[str] = []
    types: dict[str, dict[Any, list[int]]] = {}
    for i, schema in enumerate(schemas):
        for field in schema:
            if field.name not in types:
                names.append(field.name)
                types[field.name] = {}
            types[field.name].setdefault(field.type, []).append(i)

    def where(idx: list[int]) -> str:
        shown = ", ".join(files[i].relative_to(folder).as_posix() for i in idx[:3])
        return shown + (f" and {len(idx) - 3} more" if len(idx) > 3 else "")

    fields, missing_notes, type_notes = [], [], []
    for name in names:
        by_type = types[name]
        present = sorted(i for idx in by_type.values() for i in idx)
        if len(by_type) == 1:
            kind = next(iter(by_type))
        else:
            try:
                kind = pa.unify_schemas([pa.schema([pa.field(name, t)]) for t in by_type],
                                        promote_options="permissive").field(name).type
                how = f"read as {kind}"
            except (pa.ArrowTypeError, pa.ArrowInvalid, pa.ArrowNotImplementedError):
                kind = pa.large_string()
                how = "read as text, so the schema check reports each value that does not fit"
            listed = "; ".join(f"{t} in {where(idx)}" for t, idx in by_type.items())
            type_notes.append(f"column {name} has different types across files ({listed}): {how}")
        fields.append(pa.field(name, kind))
        absent = [i for i in range(len(files)) if i not in set(present)]
        if absent:
            n_rows = sum(rows[i] for i in absent)
            missing_notes.append(
                f"column {name} is absent from {len(absent)} of {len(files)} file(s) "
                f"({where(absent)}): read as missing for their {n_rows} row(s)")
    return pa.schema(fields), missing_notes, type_notes


def open_parquet(path: str | Path) -> ParquetSource:
    """Open a Parquet file or hive-partitioned folder, checking every file's footer.

    Raises
    ------
    DataFileError
        Empty, truncated or corrupt file (named), a folder without Parquet files, a folder of
        CSV files, a column whose type cannot be read in every file.
    """
    import pyarrow as pa
    import pyarrow.dataset as pads

    path = Path(path)
    label = str(path)
    if not path.is_dir():
        meta = _file_metadata(path, label)
        with reading(label, "Parquet", _PARQUET_FIX):
            dataset = pads.dataset(path, format=_parquet_format())
        refuse_duplicate_columns(dataset.schema.names, label)
        return ParquetSource(dataset, meta.num_rows, ())
    files = data_files(path)
    _refuse_non_parquet(path, files)
    metas = [_file_metadata(f, f"{path}: file {f.relative_to(path).as_posix()}") for f in files]
    schemas = []
    for file, meta in zip(files, metas):
        with reading(f"{path}: file {file.relative_to(path).as_posix()}", "Parquet", _PARQUET_FIX):
            schema = meta.schema.to_arrow_schema()
        refuse_duplicate_columns(schema.names, f"{path}: file {file.relative_to(path).as_posix()}")
        schemas.append(schema.remove_metadata())
    rows = [m.num_rows for m in metas]
    with reading(label, "a partitioned Parquet folder", _PARQUET_FIX):
        discovered = pads.dataset(path, format="parquet", partitioning="hive")
    partition = discovered.partitioning.schema if discovered.partitioning is not None else pa.schema([])
    data_schemas = [pa.schema([f for f in s if f.name not in partition.names]) for s in schemas]
    unified, missing_notes, type_notes = _unify(path, files, data_schemas, rows)
    full = pa.schema(list(unified) + list(partition))
    with reading(label, "a partitioned Parquet folder", _PARQUET_FIX):
        dataset = pads.dataset(path, format=_parquet_format(), partitioning="hive", schema=full)
    notes = tuple(missing_notes + type_notes)
    return ParquetSource(dataset, sum(rows), notes)


def warn_partition_notes(notes: Sequence[str], label: str, stacklevel: int = 3) -> None:
    """One PartitionSchemaWarning listing the differences between the files of a folder."""
    if notes:
        warnings.warn(f"{label}: the files of the folder differ: " + "; ".join(notes)
                      + ". No column was dropped; see load_report.notes.",
                      PartitionSchemaWarning, stacklevel=stacklevel + 1)


def read_parquet(source: ParquetSource, label: str, columns: Sequence[str] | None = None,
                 filter: Any = None) -> pd.DataFrame:
    """The dataset as one frame (columns and row filter pushed down)."""
    with reading(label, "Parquet", _PARQUET_FIX):
        table = source.dataset.to_table(columns=columns, filter=filter)
        return table.to_pandas(split_blocks=True, self_destruct=True)


def iter_parquet(path: Path, source: ParquetSource, batch_size: int,
                 columns: Sequence[str] | None = None) -> Iterator[pd.DataFrame]:
    """Record batches of at most ``batch_size`` rows, one file at a time, in file order."""
    import pyarrow.parquet as pq

    label = str(path)
    with reading(label, "Parquet", _PARQUET_FIX):
        if not path.is_dir():
            # one row group decoded at a time; the dataset scanner reads ahead and holds several
            reader = pq.ParquetFile(path, page_checksum_verification=True)
            for batch in reader.iter_batches(batch_size=batch_size, columns=columns):
                yield batch.to_pandas()
            return
        dataset = source.dataset
        for fragment in dataset.get_fragments():
            batches = fragment.to_batches(schema=dataset.schema, columns=columns,
                                          batch_size=batch_size, batch_readahead=0,
                                          fragment_readahead=0)
            for batch in batches:
                yield batch.to_pandas()


# -- Excel -------------------------------------------------------------------------------------
_EXCEL_FIX = "Open it in Excel or LibreOffice and save it again as .xlsx."


def read_excel(path: Path, sheet: str | int | None, text_columns: set[str]) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """The chosen (or only non-empty) worksheet, and a note naming it.

    Raises
    ------
    DataFileError
        Not a workbook; several non-empty sheets and no ``sheet=``; no data.
    SpecificationError
        ``sheet`` names no worksheet.
    """
    label = str(path)
    _empty_file(path, "an Excel workbook")
    options = {"keep_default_na": False, "na_values": [""]}
    with reading(label, "an Excel workbook", _EXCEL_FIX), contextlib.ExitStack() as stack:
        book = stack.enter_context(pd.ExcelFile(path, engine="openpyxl"))
        names = book.sheet_names
        if sheet is None:
            raw = {name: pd.read_excel(book, sheet_name=name, header=None, **options)
                   for name in names}
            filled = {name: frame.dropna(how="all") for name, frame in raw.items()}
            filled = {name: frame for name, frame in filled.items() if not frame.empty}
            if len(filled) > 1:
                listed = ", ".join(f"{name!r} ({len(frame)} filled row(s))"
                                   for name, frame in filled.items())
                raise DataFileError(
                    f"{label}: the workbook has {len(filled)} sheets with data: {listed}. Say "
                    f"which holds the panel with sheet='{next(iter(filled))}' (command line: "
                    f"--sheet NAME); no sheet is chosen silently.", source=label)
            if not filled:
                raise DataFileError(f"{label}: every sheet of the workbook is empty; expected "
                                    f"a header row and one row per firm-year.", source=label)
            chosen: str | int = next(iter(filled))
        else:
            if isinstance(sheet, str) and sheet not in names and sheet.isdigit():
                sheet = int(sheet)  # the command line passes positions as text
            if isinstance(sheet, int) and not 0 <= sheet < len(names):
                raise SpecificationError(f"{label}: sheet={sheet} is out of range; the workbook "
                                         f"has {len(names)} sheet(s): {', '.join(map(repr, names))}")
            if isinstance(sheet, str) and sheet not in names:
                raise SpecificationError(f"{label}: no sheet named {sheet!r}; the workbook has "
                                         f"{', '.join(map(repr, names))}")
            chosen = names[sheet] if isinstance(sheet, int) else sheet
        header = pd.read_excel(book, sheet_name=chosen, header=None, nrows=1, **options)
        if header.empty:
            raise DataFileError(f"{label}: sheet {chosen!r} is empty; expected a header row and "
                                f"one row per firm-year.", source=label)
        refuse_duplicate_columns(list(header.iloc[0]), f"{label} (sheet {chosen!r})")
        frame = pd.read_excel(book, sheet_name=chosen, **options)
    if frame.empty:
        raise no_rows(f"{label} (sheet {chosen!r})")
    frame = frame.astype({c: "str" for c in frame.columns
                          if c in text_columns and frame[c].dtype == object}, errors="ignore")
    notes = (f"{path.name}: sheet {chosen!r} read",) if len(names) > 1 else ()
    return frame, notes


# -- Stata -------------------------------------------------------------------------------------
_STATA_FIX = "Save it again from Stata (or with pandas.DataFrame.to_stata)."


def stata_blanks(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Stata's missing string is the empty string: read it as missing, and say so."""
    notes = []
    for name in frame.columns:
        series = frame[name]
        if pd.api.types.is_string_dtype(series.dtype) or series.dtype == object:
            blank = series.astype("str").eq("").fillna(False).to_numpy(dtype=bool)
            if blank.any():
                frame[name] = series.mask(blank)
                notes.append(f"Stata: {int(blank.sum())} empty string(s) in {name} read as missing")
    return frame, notes


def read_stata(path: Path) -> pd.DataFrame:
    """The whole file, value labels not applied (survey codes stay codes)."""
    _empty_file(path, "a Stata .dta file")
    with reading(str(path), "a Stata .dta file", _STATA_FIX), warnings.catch_warnings():
        # pandas overflows while decoding the header of a damaged file before it fails
        warnings.simplefilter("ignore", RuntimeWarning)
        frame = pd.read_stata(path, convert_categoricals=False)
    refuse_duplicate_columns(list(frame.columns), str(path))
    return frame


def iter_stata(path: Path, batch_size: int,
               columns: Sequence[str] | None = None) -> Iterator[pd.DataFrame]:
    """Chunks of ``batch_size`` rows."""
    _empty_file(path, "a Stata .dta file")
    with reading(str(path), "a Stata .dta file", _STATA_FIX), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pd.read_stata(path, convert_categoricals=False, chunksize=batch_size,
                           columns=list(columns) if columns else None) as reader:
            for chunk in reader:
                yield stata_blanks(chunk)[0]
