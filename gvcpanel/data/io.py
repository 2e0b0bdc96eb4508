"""Read firm panels from files or frames, validate them, and stream-validate large files.

Formats: CSV (also gzip-compressed), Parquet (a file or a hive-partitioned folder), Stata
``.dta``, Excel ``.xlsx``, and pandas DataFrames. The readers in :mod:`gvcpanel.data.readers`
refuse anything they cannot read whole and as written (empty, undecodable, ragged, truncated,
corrupt, several Excel sheets) with a :class:`~gvcpanel.errors.DataFileError` naming the file;
:func:`load_panel` and :func:`validate_file` use the same readers and the same checks, so they
give the same verdict on every input. Format conventions applied (and noted in the load report):

- CSV: only empty cells are read as missing; identifier and text columns are read as text so
  that codes keep leading zeros and a country ``NA`` (Namibia) stays ``NA``. The schema's
  missing-value markers (``NA``, ``.``, ...) then apply to numeric fields only, the same way
  for every format (see :mod:`gvcpanel.data.schema`). ``encoding=`` names the text encoding.
- Stata: value labels are not applied (``convert_categoricals=False``): survey codes such as
  ``b8 = 1/2`` stay codes for the mapping; an empty string, Stata's missing string, is missing.
- Parquet folders: partition directories ``year=2010/`` are read as columns (hive layout); the
  schema is unified over all files and every difference between files is a note and a
  :class:`~gvcpanel.errors.PartitionSchemaWarning`; ``columns=`` and ``filters=`` are pushed
  down, so only those columns and row groups are read. A folder of CSV files is refused.
- Excel: ``sheet=`` picks the worksheet; it is needed when several sheets hold data.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd

from gvcpanel.errors import DataFileError, SchemaError, SpecificationError
from gvcpanel.data import readers
from gvcpanel.data.mapping import (Mapping, MappingReport, apply_mapping, check_targets,
                                   read_mapping, source_values)
from gvcpanel.data.panel import (FirmPanel, LoadReport, Provenance, frame_sha256, index_by_key,
                                 package_version)
from gvcpanel.progress import progress
from gvcpanel.data.readers import FORMATS, ReadOptions, source_format  # noqa: F401 (re-exported)
from gvcpanel.data.schema import (Schema, check_frame, empty_problems, problems_message,
                                  read_schema)

Filters = Sequence[tuple[str, str, Any]] | Sequence[Sequence[tuple[str, str, Any]]]
_CHUNK = 1 << 20
_data_files = readers.data_files


# -- content hashes -------------------------------------------------------------------------
def content_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes, or of a folder's sorted relative paths and their bytes.

    Notes
    -----
    For a folder the digest is taken over, for each data file in sorted order, its relative
    POSIX path, a NUL byte and its bytes, so renaming a partition changes the hash.
    """
    path = Path(path)
    digest = hashlib.sha256()
    files = _data_files(path) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with open(file, "rb") as handle:
            while block := handle.read(_CHUNK):
                digest.update(block)
    return digest.hexdigest()


# -- readers --------------------------------------------------------------------------------
def _text_columns(schema: Schema, mapping: Mapping | None) -> set[str]:
    """Source columns to read as text: schema text/identifier fields, or their mapped sources."""
    text = {f.name for f in schema.fields if f.type in ("string", "any")}
    if mapping is None:
        return text
    out: set[str] = set()
    for rule in mapping.rules:
        if rule.target in text and rule.op in ("copy", "concat"):
            out.update(name for alternatives in rule.inputs for name in alternatives)
    return out


def _projection(available: Sequence[str], schema: Schema, columns: Sequence[str] | None,
                label: str) -> list[str] | None:
    if columns is None:
        return None
    unknown = [c for c in columns if c not in available]
    if unknown:
        raise SpecificationError(f"{label}: columns {unknown} not in the source; available: "
                                 f"{', '.join(map(str, available))}")
    # keys always come along: the panel is indexed by them and estimators cluster on cluster_id
    keep = [f for f in schema.required if f in available]
    return keep + [c for c in columns if c not in keep]


def _filter_expression(filters: Filters) -> Any:
    import pyarrow.parquet as pq

    try:
        return pq.filters_to_expression(list(filters))
    except (TypeError, ValueError) as exc:
        raise SpecificationError(f"filters={filters!r} not understood; expected a list of "
                                 f"(column, op, value) tuples, e.g. [('year', '>=', 2010)]") from exc


def _filter_frame(frame: pd.DataFrame, filters: Filters, label: str) -> pd.DataFrame:
    """Row filter in pyarrow's DNF form, applied to a pandas frame."""
    groups = filters if filters and isinstance(filters[0], list) else [filters]
    keep = np.zeros(len(frame), dtype=bool)
    ops = {"=": "eq", "==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
    for group in groups:
        mask = np.ones(len(frame), dtype=bool)
        for column, op, value in group:
            if column not in frame.columns:
                raise SpecificationError(f"{label}: filter column {column!r} not in the data")
            series = frame[column]
            if op in ops:
                hit = getattr(series, ops[op])(value)
            elif op in ("in", "not in"):
                hit = series.isin(list(value))
                hit = ~hit if op == "not in" else hit
            else:
                raise SpecificationError(f"filter op {op!r} unknown; use one of "
                                         f"{', '.join(list(ops) + ['in', 'not in'])}")
            mask &= hit.fillna(False).to_numpy(dtype=bool)
        keep |= mask
    return frame.loc[keep]


@dataclass(frozen=True)
class _Raw:
    frame: pd.DataFrame
    label: str
    sha256: str | None
    n_rows_source: int | None
    notes: tuple[str, ...]
    pushed_down: bool


def _rows_agree(label: str, expected: int, got: int) -> None:
    # the structure check and pandas must see the same rows: a difference means a row was
    # merged, split or skipped by one of them, and nothing may be lost silently
    if expected != got:
        raise DataFileError(f"{label}: the structure check counted {expected} data row(s) but "
                            f"pandas read {got}; the file's quoting or line ends are ambiguous. "
                            f"Save it again as plain comma-separated UTF-8 text.", source=label)


def _read(path: Path, schema: Schema, mapping: Mapping | None, columns: Sequence[str] | None,
          filters: Filters | None, options: ReadOptions) -> _Raw:
    kind = source_format(path)
    label = str(path)
    notes: tuple[str, ...] = ()
    push = mapping is None
    text = _text_columns(schema, mapping)
    if kind in ("parquet", "parquet_dir"):
        source = readers.open_parquet(path)
        readers.warn_partition_notes(source.notes, label, stacklevel=3)  # the user's call
        if source.n_rows == 0:
            raise readers.no_rows(label)
        cols = _projection(source.dataset.schema.names, schema, columns, label) if push else None
        expr = _filter_expression(filters) if (push and filters) else None
        frame = readers.read_parquet(source, label, cols, expr)
        return _Raw(frame, label, content_sha256(path), source.n_rows, source.notes, push)
    if kind == "csv":
        layout = readers.check_csv(path, options.encoding)
        usecols = None
        if push and columns is not None:
            usecols = _projection(list(layout.header), schema, columns, label)
        frame = readers.read_csv(path, layout, text, usecols)
        _rows_agree(label, layout.n_rows, len(frame))
        notes = layout.notes
    elif kind == "stata":
        frame = readers.read_stata(path)
        frame, stata_notes = readers.stata_blanks(frame)
        notes = tuple(stata_notes)
    else:
        frame, notes = readers.read_excel(path, options.sheet, text)
    if frame.empty:
        raise readers.no_rows(label)
    n_source = len(frame)
    if push:
        if columns is not None and kind != "csv":
            frame = frame[_projection(list(frame.columns), schema, columns, label)]
        if filters:
            frame = _filter_frame(frame, filters, label)
    return _Raw(frame, label, content_sha256(path), n_source, notes, push)


def _frame_source(source: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    key = list(schema.primary_key)
    if all(k in (source.index.names or []) for k in key):
        frame = source.reset_index()
    else:
        frame = source.reset_index(drop=True)
    if frame.columns.duplicated().any():
        repeated = sorted(set(map(str, frame.columns[frame.columns.duplicated()])))
        raise SchemaError(f"<DataFrame>: column(s) {', '.join(repeated)} appear more than once; "
                          f"each column needs its own name (rename or drop the copies).",
                          source="<DataFrame>")
    if frame.empty:
        raise readers.no_rows("<DataFrame>")
    return frame


def _checked(frame: pd.DataFrame, schema: Schema, source_frame: pd.DataFrame | None,
             mapping: Mapping | None, label: str, notes: tuple[str, ...] = ()) -> Any:
    """check_frame, with mapped problems naming their source values; raise when invalid."""
    result = check_frame(frame, schema)
    if not result.ok:
        problems = result.problems
        if mapping is not None and source_frame is not None:
            problems = source_values(problems, source_frame, frame.index, mapping)
        raise SchemaError(problems_message(problems, label, notes=notes + result.notes),
                          problems=problems, source=label)
    return result


def load_panel(source: str | Path | pd.DataFrame, schema: Schema | str = "firm_panel",
               mapping: Mapping | str | Path | None = None, columns: Sequence[str] | None = None,
               filters: Filters | None = None, *, encoding: str | None = None,
               sheet: str | int | None = None) -> FirmPanel:
    """Load and validate a firm-year panel.

    Parameters
    ----------
    source : str, Path or pandas.DataFrame
        CSV (or ``.csv.gz``), Parquet file, hive-partitioned Parquet folder, Stata ``.dta`` or
        Excel ``.xlsx`` path; or a frame with columns firm_id, year, ... (or a (firm_id, year)
        index).
    schema : Schema or str
        Schema name or path (default the shipped firm panel schema).
    mapping : Mapping, str or Path, optional
        Source mapping (name of a shipped one such as ``"wbes"``, or a JSON path) turning the
        source's own codes into canonical columns; its recodes and the values it sets to
        missing are counted in ``panel.load_report.mapping``.
    columns : sequence of str, optional
        Canonical columns to keep. The required fields (firm_id, year, cluster_id) are always
        added. For Parquet sources without a mapping, only these columns are read.
    filters : list of (column, op, value), optional
        Row filter in pyarrow's form, e.g. ``[("year", ">=", 2010)]`` (a list of lists means OR
        of ANDs). Pushed down to Parquet; applied after reading for other formats, and after
        the mapping when one is given.
    encoding : str, optional
        Text encoding of a CSV file (default UTF-8); e.g. ``"latin-1"`` or ``"cp1252"`` for
        files saved by Excel or Stata on Windows. Refused for other formats.
    sheet : str or int, optional
        Worksheet of an Excel workbook (name or 0-based position); needed when several sheets
        hold data. Refused for other formats.

    Returns
    -------
    FirmPanel

    Raises
    ------
    DataFileError
        The source cannot be read whole and as written (empty, undecodable, ragged rows,
        truncated or corrupt, a folder without Parquet files, several sheets, no data rows).
    SchemaError
        Listing every problem in the data (also in ``.problems``).
    MappingError
        The mapping file breaks ``mapping.schema.json`` or names a field the schema lacks.
    SpecificationError
        Unknown file type, mapping, column, filter, or an option that does not apply.

    Examples
    --------
    >>> import gvcpanel as gp
    >>> panel = gp.load_panel("survey.dta", mapping="wbes")          # doctest: +SKIP
    >>> sub = gp.load_panel("panel_parquet/", columns=["iso_certified"],
    ...                     filters=[("year", ">=", 2010)])          # doctest: +SKIP
    >>> latin = gp.load_panel("export.csv", encoding="latin-1")     # doctest: +SKIP
    """
    schema = read_schema(schema)
    mapping_obj = read_mapping(mapping) if mapping is not None else None
    if mapping_obj is not None:
        check_targets(mapping_obj, schema)
    if isinstance(source, pd.DataFrame):
        readers.check_options("DataFrame", "<DataFrame>", encoding, sheet)
        frame = _frame_source(source, schema)
        raw = _Raw(frame, "<DataFrame>", None, len(frame), (), mapping_obj is None)
        if mapping_obj is None:
            if columns is not None:
                frame = frame[_projection(list(frame.columns), schema, columns, raw.label)]
            if filters:
                frame = _filter_frame(frame, filters, raw.label)
            raw = _Raw(frame, raw.label, None, raw.n_rows_source, (), True)
    else:
        path = Path(source)
        options = readers.check_options(source_format(path), str(path), encoding, sheet)
        raw = _read(path, schema, mapping_obj, columns, filters, options)
    frame = raw.frame
    mapping_report: MappingReport | None = None
    source_frame = None
    if mapping_obj is not None:
        source_frame = frame
        frame, mapping_report = apply_mapping(frame, mapping_obj, schema=schema)
        if columns is not None:
            frame = frame[_projection(list(frame.columns), schema, columns, raw.label)]
        if filters:
            frame = _filter_frame(frame, filters, raw.label)
    result = _checked(frame, schema, source_frame, mapping_obj, raw.label, raw.notes)
    data = result.data
    notes = raw.notes + result.notes
    if mapping_report is not None and mapping_report.dropped_columns:
        notes += (f"{len(mapping_report.dropped_columns)} source column(s) not used by mapping "
                  f"{mapping_report.mapping} left out",)
    if mapping_report is not None and mapping_report.not_derived:
        notes += tuple(f"not derived: {t}" for t in mapping_report.not_derived)
    digest = raw.sha256
    panel_data = index_by_key(data, schema)
    if digest is None:
        # frames have no bytes: hash the sorted canonical data so row order does not matter
        digest = frame_sha256(panel_data)
    provenance = Provenance(raw.label, digest, schema.version, package_version(),
                            mapping_obj.label if mapping_obj is not None else "")
    report = LoadReport(source=raw.label, n_rows_source=raw.n_rows_source, n_rows=len(data),
                        notes=notes, mapping=mapping_report,
                        columns=",".join(columns) if columns is not None else "",
                        filters=repr(list(filters)) if filters else "")
    return FirmPanel._from_validated(panel_data, schema, provenance, report)


# -- streaming validation -------------------------------------------------------------------
@dataclass(frozen=True)
class ValidationReport:
    """Result of :func:`validate_file`.

    Attributes
    ----------
    source : str
        The file checked.
    n_rows, n_firms : int
        Rows read and distinct firms (for text identifiers counted by 64-bit hash).
    years : tuple of int
        First and last year, empty when no year was readable.
    problems : pandas.DataFrame
        Every problem (firm_id, year, row, column, problem, value).
    notes : tuple of str
        Extra columns and format conventions.
    mapping : MappingReport or None
        Summed over batches.
    """

    source: str
    n_rows: int
    n_firms: int
    years: tuple[int, ...]
    problems: pd.DataFrame
    notes: tuple[str, ...]
    mapping: MappingReport | None

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return self.problems.empty

    def message(self, *, shown: int = 20) -> str:
        """The problems listing (as in SchemaError) or a one-paragraph summary."""
        if not self.ok:
            return problems_message(self.problems, self.source, shown=shown, notes=self.notes)
        span = f"{self.years[0]}-{self.years[-1]}" if self.years else "none"
        lines = [f"{self.source}: valid. {self.n_rows} firm-years, {self.n_firms} firms, "
                 f"years {span}."]
        if self.mapping is not None:
            n = self.mapping.n_set_missing()
            lines.append(f"Mapping {self.mapping.mapping}: {n} value(s) set to missing by "
                         f"missing codes.")
        lines += [f"Note: {note}" for note in self.notes]
        return "\n".join(lines)

    def raise_if_invalid(self) -> None:
        """Raise SchemaError with every problem when the file is invalid."""
        if not self.ok:
            raise SchemaError(self.message(), problems=self.problems, source=self.source)


@dataclass
class _Stream:
    """Batches of a source, with the notes of its reader and the rows it must yield."""

    batches: Iterator[pd.DataFrame]
    notes: tuple[str, ...]
    n_rows: int | None
    partition_notes: tuple[str, ...] = ()


def _open_stream(path: Path, batch_size: int, schema: Schema, mapping: Mapping | None,
                 columns: Sequence[str] | None, options: ReadOptions) -> _Stream:
    kind = source_format(path)
    label = str(path)
    text = _text_columns(schema, mapping)
    if kind in ("parquet", "parquet_dir"):
        source = readers.open_parquet(path)
        if source.n_rows == 0:
            raise readers.no_rows(label)
        return _Stream(readers.iter_parquet(path, source, batch_size, columns), source.notes,
                       source.n_rows, source.notes)
    if kind == "csv":
        layout = readers.check_csv(path, options.encoding)
        return _Stream(readers.iter_csv(path, layout, text, batch_size,
                                        list(columns) if columns else None),
                       layout.notes, layout.n_rows)
    if kind == "stata":
        return _Stream(readers.iter_stata(path, batch_size, columns), (), None)
    # Excel has no streaming reader: the sheet is read whole
    frame, notes = readers.read_excel(path, options.sheet, text)
    frame = frame[list(columns)] if columns else frame
    return _Stream(iter([frame]), notes, len(frame))


def iter_batches(path: str | Path, batch_size: int, *, schema: Schema | str = "firm_panel",
                 mapping: Mapping | None = None, columns: Sequence[str] | None = None,
                 encoding: str | None = None,
                 sheet: str | int | None = None) -> Iterator[pd.DataFrame]:
    """Yield the source as DataFrames of at most ``batch_size`` rows, in file order.

    Parquet is read record batch by record batch, CSV and Stata in chunks; Excel files are
    read whole (the format has no streaming reader). The source is checked as by
    :func:`load_panel` first (DataFileError when it cannot be read whole).
    """
    schema = read_schema(schema)
    path = Path(path)
    options = readers.check_options(source_format(path), str(path), encoding, sheet)
    yield from _open_stream(path, batch_size, schema, mapping, columns, options).batches


class _KeyStore:
    """(firm, year, row) keys across batches for the duplicate check, in compact arrays.

    Integer firm ids are kept as int64; text ids as 64-bit hashes, so duplicates found among
    hashes are confirmed on the real values before they are reported.
    """

    def __init__(self) -> None:
        self.firms: list[np.ndarray] = []
        self.years: list[np.ndarray] = []
        self.rows: list[np.ndarray] = []
        self.hashed = False

    @staticmethod
    def _hash(values: np.ndarray) -> np.ndarray:
        text = pd.Series(values).astype("str").to_numpy(dtype=object)
        return pd.util.hash_array(text).view(np.int64)

    def add(self, firm: pd.Series, year: pd.Series, rows: np.ndarray) -> None:
        numeric_year = pd.to_numeric(year, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        ok = firm.notna().to_numpy() & np.isfinite(numeric_year)
        if pd.api.types.is_integer_dtype(firm.dtype) and not self.hashed:
            keys = firm.to_numpy(dtype=np.int64, na_value=0)[ok]
        else:
            if not self.hashed:
                self.firms = [self._hash(f) for f in self.firms]
                self.hashed = True
            keys = self._hash(firm.to_numpy(dtype=object)[ok])
        self.firms.append(keys)
        self.years.append(numeric_year[ok].astype(np.int32))
        self.rows.append(rows[ok])

    def duplicates(self) -> tuple[np.ndarray, int]:
        """Rows whose (firm, year) key repeats (candidates when hashed), and the firm count."""
        if not self.firms:
            return np.empty(0, np.int64), 0
        firm = np.concatenate(self.firms)
        self.firms = []
        year = np.concatenate(self.years)
        self.years = []
        row = np.concatenate(self.rows)
        self.rows = []
        order = np.lexsort((row, year, firm))
        firm, year, row = firm[order], year[order], row[order]
        del order
        n_firms = int(1 + np.count_nonzero(firm[1:] != firm[:-1])) if firm.size else 0
        same = (firm[1:] == firm[:-1]) & (year[1:] == year[:-1])
        in_group = np.zeros(firm.size, bool)
        in_group[1:] |= same
        in_group[:-1] |= same
        return row[in_group], n_firms


def validate_file(path: str | Path, schema: Schema | str = "firm_panel",
                  mapping: Mapping | str | Path | None = None, *,
                  batch_size: int = 500_000, encoding: str | None = None,
                  sheet: str | int | None = None) -> ValidationReport:
    """Validate a file batch by batch, with memory bounded by the batch size.

    Parameters
    ----------
    path : str or Path
        Any format :func:`load_panel` reads (Excel is read whole).
    schema, mapping, encoding, sheet
        As in :func:`load_panel`.
    batch_size : int
        Rows per batch.

    Returns
    -------
    ValidationReport
        Every problem found; ``report.raise_if_invalid()`` turns it into a SchemaError.

    Raises
    ------
    DataFileError, MappingError, SpecificationError
        As :func:`load_panel` does for the same input: a file that cannot be read whole is
        never half-validated.

    Notes
    -----
    Each batch is checked with :func:`gvcpanel.data.schema.check_frame`. The duplicate-key check
    spans batches: only the keys are kept (firm id as int64, or its 64-bit hash for text ids,
    year as int32, row as int64: 20 bytes per firm-year, 200 MB for 10 million), sorted once
    with ``numpy.lexsort``; hash matches are confirmed on the real ids in a second pass over
    the key columns only, so a hash collision cannot create a false report.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise SpecificationError(f"batch_size must be a positive whole number of rows, got "
                                 f"{batch_size!r}")
    schema = read_schema(schema)
    mapping_obj = read_mapping(mapping) if mapping is not None else None
    if mapping_obj is not None:
        check_targets(mapping_obj, schema)
    path = Path(path)
    options = readers.check_options(source_format(path), str(path), encoding, sheet)
    key_firm, key_year = schema.primary_key
    store = _KeyStore()
    parts: list[pd.DataFrame] = []
    stream = _open_stream(path, batch_size, schema, mapping_obj, None, options)
    readers.warn_partition_notes(stream.partition_notes, str(path), stacklevel=2)
    notes: set[str] = set()
    report: MappingReport | None = None
    offset = 0
    year_min, year_max = np.inf, -np.inf
    # a bar on an interactive terminal only (gvcpanel.progress); batches are counted, not rows,
    # because a reader's batches need not have batch_size rows
    for batch in progress(stream.batches, desc=f"validating {path.name}", unit="batch"):
        source = batch
        if mapping_obj is not None:
            batch, part = apply_mapping(batch, mapping_obj, schema=schema)
            report = part if report is None else report.combine(part)
        result = check_frame(batch, schema, row_offset=offset, check_duplicates=False)
        if not result.ok:
            problems = result.problems
            if mapping_obj is not None:
                problems = source_values(problems, source, batch.index, mapping_obj,
                                         row_offset=offset)
            parts.append(problems)
        notes.update(result.notes)
        data = result.data
        rows = np.arange(offset, offset + len(data), dtype=np.int64)
        if key_firm in data.columns and key_year in data.columns:
            store.add(data[key_firm], data[key_year], rows)
            years = pd.to_numeric(data[key_year], errors="coerce")
            if years.notna().any():
                year_min, year_max = min(year_min, years.min()), max(year_max, years.max())
        offset += len(data)
    if stream.n_rows is not None:
        _rows_agree(str(path), stream.n_rows, offset)
    if offset == 0:
        raise readers.no_rows(str(path))
    dup_rows, n_firms = store.duplicates()
    if dup_rows.size:
        parts.append(_confirm_duplicates(path, schema, mapping_obj, batch_size, dup_rows, options))
    problems = pd.concat(parts, ignore_index=True) if parts else empty_problems()
    years = (int(year_min), int(year_max)) if np.isfinite(year_min) else ()
    if mapping_obj is not None and report is not None and report.dropped_columns:
        notes.add(f"{len(report.dropped_columns)} source column(s) not used by mapping "
                  f"{report.mapping} left out")
    notes.update(stream.notes)
    return ValidationReport(str(path), offset, n_firms, years, problems, tuple(sorted(notes)),
                            report)


def _confirm_duplicates(path: Path, schema: Schema, mapping: Mapping | None,
                        batch_size: int, rows: np.ndarray, options: ReadOptions) -> pd.DataFrame:
    """Problems for candidate duplicate rows, confirmed on the real key values."""
    key = list(schema.primary_key)
    wanted = np.sort(rows)
    picked = []
    offset = 0
    # Parquet and CSV can project the key columns; with a mapping the keys are derived, so
    # whole batches are mapped again (only for files that do have duplicate candidates).
    columns = None
    if mapping is None and source_format(path) in ("parquet", "parquet_dir", "csv", "stata"):
        columns = key
    stream = _open_stream(path, batch_size, schema, mapping, columns, options)
    for batch in stream.batches:
        n = len(batch)
        lo, hi = np.searchsorted(wanted, [offset, offset + n])
        if hi > lo:
            if mapping is not None:
                batch = apply_mapping(batch, mapping, schema=schema)[0]
            data = check_frame(batch[key], schema, check_duplicates=False).data
            local = wanted[lo:hi] - offset
            sub = data.iloc[local][key].copy()
            sub["row"] = wanted[lo:hi]
            picked.append(sub)
        offset += n
    keys = pd.concat(picked, ignore_index=True)
    dup = keys.duplicated(subset=key, keep=False).to_numpy()
    repeat = keys.duplicated(subset=key, keep="first").to_numpy()
    keys = keys[dup]
    repeat = repeat[dup]
    return pd.DataFrame({
        "firm_id": keys[key[0]].to_numpy(dtype=object), "year": keys[key[1]].to_numpy(dtype=object),
        "row": keys["row"].to_numpy(dtype=object), "column": "+".join(key),
        "problem": np.where(repeat, "duplicate key (repeats an earlier row)",
                            "duplicate key (first occurrence)"),
        "value": (keys[key[0]].astype(str) + ", " + keys[key[1]].astype(str)).to_numpy(dtype=object),
        "source": pd.NA,
    }).astype(object)
