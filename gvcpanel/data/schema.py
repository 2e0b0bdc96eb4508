"""Read the firm-panel schema and check data frames against it.

The schema is a Frictionless Table Schema (``data_schemas/firm_panel.schema.json``) with a few
custom keys per field: ``unit``, ``construct``, ``measure`` (the published measure the field
follows) and ``example`` (a valid value, used by the tests).

Storage of each schema type in the validated data (the canonical dtypes):

=============================  ===========================================================
schema type                    pandas dtype
=============================  ===========================================================
``integer`` (primary key)      ``int64`` (``year``: never missing)
``integer`` and ``number``     ``float64``, missing = NaN; binary indicators are 0.0/1.0
``string`` with ``enum``       ``category`` with the schema's categories (``governance``)
``string``                     pandas ``str`` (missing = NA)
``any`` (identifiers)          ``int64`` when every value is a whole number written without
                               leading zeros, else ``str`` (so ``"007"`` stays ``"007"``)
=============================  ===========================================================

Binary and count fields are stored as float64 rather than nullable integers because every
estimator downstream works on float arrays and NaN, and float64 keeps 10-million-row panels
fast; integrality is still checked (``1.5`` in ``n_buyers`` is a problem, not rounded).

Validation is vectorised column by column and collects every problem; nothing is dropped or
changed except by type conversion (``"1"`` -> 1.0, 7 -> ``"7"`` in a text field) and by the
schema's missing-value markers, which apply the same way whatever the source (CSV, Excel,
Parquet, Stata or a DataFrame):

- numeric fields: a text cell equal to one of the schema's ``missingValues`` (``""``, ``NA``,
  ``.``, ...) is missing;
- text and identifier fields: only the empty string is missing, so a country ``NA`` (Namibia)
  or a firm id ``NA`` stays text; a field that lists its own ``missingValues`` (the governance
  categories do) uses that list instead.

Values whose magnitude exceeds the schema's ``maxMagnitude`` (1e15 for the firm panel) are
problems even in fields without bounds: no field measures anything that large, float64 stops
holding whole numbers exactly beyond 2**53 (about 9.0e15), and values such as 1e308 overflow
the cross-products of every estimator.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gvcpanel.errors import SchemaError, SpecificationError

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
CONSTRUCTS = (
    "key",
    "governance",
    "upgrading-process",
    "upgrading-product",
    "upgrading-functional",
    "upgrading-intersectoral",
    "network",
    "control",
    "design",
)
_TYPES = ("any", "string", "integer", "number")
PROBLEM_COLUMNS = ("firm_id", "year", "row", "column", "problem", "value", "source")
# Identifiers that are canonical decimal integers (no sign tricks, no leading zeros) become
# int64; anything else stays text so that codes such as "007" are not altered.
_CANONICAL_INT = r"-?(0|[1-9][0-9]{0,17})"

# How to fix each kind of problem; matched on the start of the problem text.
HINTS = {
    "missing required column": "add the column (or pass mapping= to rename the source's column)",
    "missing value in required field": "fill the key fields (firm_id, year, cluster_id) in every row",
    "not a number": "write numbers with a '.' decimal point and empty cells for missing values",
    "not a finite number": "replace infinite values with a number or an empty cell",
    "magnitude above": ("values this large are coding errors or a wrong unit (rescale, e.g. to "
                        "thousands); estimators would overflow"),
    "not a whole number": "counts, codes and 0/1 indicators must be whole numbers",
    "below minimum": "check the unit (shares are 0-1, counts are non-negative)",
    "above maximum": ("check the unit and coding (shares are 0-1, not percent: divide by 100; a "
                      "firm_age near 1900 comes from a two-digit founding year)"),
    "not one of": "use one of the allowed values listed in the schema (firm_panel.schema.json)",
    "unknown category": "use one of the schema's categories (spelling and case matter)",
    "does not match pattern": "identifiers and labels must contain a non-blank character",
    "duplicate key": "each (firm_id, year) may occur once: drop or merge repeated rows",
    "not a text value": ("text fields take text (bytes must be UTF-8); check that the column "
                         "holds labels"),
}


@dataclass(frozen=True)
class Field:
    """One field (column) of the schema.

    Attributes
    ----------
    name, type, title, description : str
        Frictionless field properties; ``type`` is one of any, string, integer, number.
    required : bool
        The column must exist and have no missing values.
    minimum, maximum : float or None
        Inclusive bounds.
    enum : tuple or None
        Allowed values (categories of a text field, or e.g. (0, 1) for binaries).
    pattern : str or None
        Regular expression every text value must match in full.
    unit, construct, measure : str
        Custom keys: unit of measurement, the construct measured, the published measure followed.
    example : Any
        A valid value.
    missing_values : tuple of str
        Text cells read as missing: the schema's ``missingValues`` for numeric fields, only
        ``""`` for text fields, unless the field lists its own ``missingValues``.
    """

    name: str
    type: str
    title: str
    description: str
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    enum: tuple[Any, ...] | None = None
    pattern: str | None = None
    unit: str = ""
    construct: str = ""
    measure: str = ""
    example: Any = None
    missing_values: tuple[str, ...] = ("",)

    @property
    def is_numeric(self) -> bool:
        """True for integer and number fields."""
        return self.type in ("integer", "number")

    @property
    def is_binary(self) -> bool:
        """True for 0/1 indicator fields."""
        return self.is_numeric and self.enum is not None and set(self.enum) == {0, 1}

    @property
    def is_categorical(self) -> bool:
        """True for text fields with a fixed list of categories."""
        return self.type == "string" and self.enum is not None


@dataclass(frozen=True)
class Schema:
    """A parsed table schema.

    Attributes
    ----------
    name, title, version : str
        Identification; ``version`` is recorded in every panel's provenance.
    fields : tuple of Field
        In schema order.
    primary_key : tuple of str
        ``("firm_id", "year")`` for the firm panel.
    missing_values : tuple of str
        Text cells read as missing in numeric fields (``missingValues``).
    max_magnitude : float or None
        Largest absolute value any numeric field may take (``maxMagnitude``).
    path : str
        The JSON file the schema came from.
    """

    name: str
    title: str
    version: str
    fields: tuple[Field, ...]
    primary_key: tuple[str, ...]
    missing_values: tuple[str, ...] = ("",)
    max_magnitude: float | None = None
    path: str = ""
    _by_name: dict[str, Field] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {f.name: f for f in self.fields})

    @property
    def field_names(self) -> tuple[str, ...]:
        """Names of all fields in schema order."""
        return tuple(f.name for f in self.fields)

    @property
    def required(self) -> tuple[str, ...]:
        """Names of the required fields."""
        return tuple(f.name for f in self.fields if f.required)

    def field(self, name: str) -> Field:
        """Return the field called ``name`` (KeyError listing the known names otherwise)."""
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no field {name!r} in schema {self.name!r}; fields: "
                           f"{', '.join(self.field_names)}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def by_construct(self, construct: str) -> tuple[str, ...]:
        """Names of the fields that measure ``construct`` (e.g. ``"governance"``)."""
        return tuple(f.name for f in self.fields if f.construct == construct)


def _parse_field(raw: dict[str, Any], where: str, markers: tuple[str, ...]) -> Field:
    cons = raw.get("constraints", {})
    ftype = raw.get("type", "string")
    if ftype not in _TYPES:
        raise SchemaError(f"{where}: field {raw.get('name')!r} has type {ftype!r}; expected one of "
                          f"{', '.join(_TYPES)}")
    construct = raw.get("construct", "")
    if construct not in CONSTRUCTS:
        raise SchemaError(f"{where}: field {raw.get('name')!r} has construct {construct!r}; "
                          f"expected one of {', '.join(CONSTRUCTS)}")
    enum = cons.get("enum")
    own = raw.get("missingValues")
    if own is not None and not (isinstance(own, list) and all(isinstance(m, str) for m in own)):
        raise SchemaError(f"{where}: field {raw.get('name')!r} has missingValues {own!r}; "
                          f"expected a list of text values such as [\"\", \"NA\"]")
    if own is None:
        own = markers if ftype in ("integer", "number") else ("",)
    return Field(
        name=raw["name"], type=ftype, title=raw.get("title", ""),
        description=raw.get("description", ""), required=bool(cons.get("required", False)),
        minimum=cons.get("minimum"), maximum=cons.get("maximum"),
        enum=tuple(enum) if enum is not None else None, pattern=cons.get("pattern"),
        unit=raw.get("unit", ""), construct=construct, measure=raw.get("measure", ""),
        example=raw.get("example"), missing_values=tuple(own),
    )


def read_schema(name_or_path: str | Path | Schema = "firm_panel") -> Schema:
    """Read a table schema.

    Parameters
    ----------
    name_or_path : str, Path or Schema
        A shipped schema's name (``"firm_panel"``), a path to a ``.schema.json`` file, or a
        Schema (returned unchanged).

    Returns
    -------
    Schema
        Frozen; read once per path and cached.
    """
    if isinstance(name_or_path, Schema):
        return name_or_path
    path = Path(name_or_path)
    if not path.suffix:
        path = SCHEMA_DIR / f"{name_or_path}.schema.json"
    path = path.resolve()
    try:
        stat = path.stat()
    except FileNotFoundError as exc:
        shipped = sorted(p.name.removesuffix(".schema.json") for p in SCHEMA_DIR.glob("*.schema.json")
                         if p.name != "mapping.schema.json")
        raise SpecificationError(f"schema file {path} not found; pass a path to a .schema.json "
                                 f"file or a shipped schema name: {', '.join(shipped)}") from exc
    # keyed on the modification time too, so an edited schema file is read again
    return _read_schema_file(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=16)
def _read_schema_file(path: str, mtime_ns: int = 0, size: int = 0) -> Schema:
    try:
        with open(path, encoding="utf-8") as handle:
            raw = json.load(handle)
    except json.JSONDecodeError as exc:
        raise SchemaError(f"schema file {path} is not valid JSON: {exc}", source=path) from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("fields"), list):
        raise SpecificationError(f"{path} is not a table schema: expected a JSON object with a "
                                 f"list of \"fields\" (Frictionless Table Schema)")
    markers = tuple(raw.get("missingValues", [""]))
    fields = tuple(_parse_field(f, path, markers) for f in raw["fields"])
    names = [f.name for f in fields]
    key = raw.get("primaryKey", [])
    key = (key,) if isinstance(key, str) else tuple(key)
    unknown = [k for k in key if k not in names]
    if unknown or len(set(names)) != len(names):
        raise SchemaError(f"{path}: primary key {key} must name fields, and field names must be "
                          f"unique (found {names})", source=path)
    return Schema(name=raw.get("name", Path(path).stem), title=raw.get("title", ""),
                  version=str(raw.get("version", "0")), fields=fields, primary_key=key,
                  missing_values=markers, max_magnitude=raw.get("maxMagnitude"), path=path)


@dataclass(frozen=True)
class CheckResult:
    """Outcome of checking one data frame.

    Attributes
    ----------
    data : pandas.DataFrame
        The frame with schema columns converted to their canonical dtypes (schema order first,
        extra columns after, unchanged); row order as given, default RangeIndex.
    problems : pandas.DataFrame
        Columns firm_id, year, row, column, problem, value; empty when the data are valid.
    notes : tuple of str
        Remarks that are not errors (extra columns kept, markers read as missing).
    """

    data: pd.DataFrame
    problems: pd.DataFrame
    notes: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return self.problems.empty


def empty_problems() -> pd.DataFrame:
    """An empty problems table with the standard columns."""
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in PROBLEM_COLUMNS})


class _Collector:
    """Gathers problems as column arrays; rows are positions in the checked frame."""

    def __init__(self, firm: np.ndarray, year: np.ndarray, row_offset: int) -> None:
        self.firm = firm
        self.year = year
        self.row_offset = row_offset
        self.parts: list[pd.DataFrame] = []

    def add(self, mask: np.ndarray, column: str, problem: str, values: Any) -> np.ndarray:
        """Record one problem for every True cell of ``mask``; returns ``mask``."""
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            return mask
        vals = np.asarray(values, dtype=object)[idx]
        self.parts.append(pd.DataFrame({
            "firm_id": self.firm[idx], "year": self.year[idx],
            "row": idx + self.row_offset, "column": column, "problem": problem,
            "value": pd.Series(vals, dtype=object).map(_show), "source": pd.NA,
        }))
        return mask

    def add_missing_column(self, column: str) -> None:
        self.parts.append(pd.DataFrame({
            "firm_id": [pd.NA], "year": [pd.NA], "row": [pd.NA], "column": [column],
            "problem": ["missing required column"], "value": [pd.NA], "source": [pd.NA]},
            dtype=object))

    def table(self) -> pd.DataFrame:
        if not self.parts:
            return empty_problems()
        out = pd.concat(self.parts, ignore_index=True)
        # whole-file problems first, then by row; ties keep the order of the checks
        order = np.argsort(pd.to_numeric(out["row"], errors="coerce").fillna(-1).to_numpy(),
                           kind="stable")
        out = out.iloc[order].reset_index(drop=True)
        return out.astype({name: object for name in PROBLEM_COLUMNS})


def _show(value: Any) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return pd.NA
    if isinstance(value, (float, np.floating)) and float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))  # 1914, not 1914.0: floats only because of missing cells
    return str(value)


def _raw_key(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name in frame.columns:
        return frame[name].to_numpy(dtype=object, na_value=pd.NA)
    return np.full(len(frame), pd.NA, dtype=object)


def _to_float(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Float values and a mask of entries that were present but not numbers."""
    present = series.notna().to_numpy()
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.to_numpy(dtype="float64", na_value=np.nan), np.zeros(len(series), bool)
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series.to_numpy(dtype="float64", na_value=np.nan), np.zeros(len(series), bool)
    converted = pd.to_numeric(series, errors="coerce")
    values = converted.to_numpy(dtype="float64", na_value=np.nan)
    return values, present & np.isnan(values)


def _text(series: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Text values (pandas str dtype) and a mask of values that are not text-like."""
    bad = np.zeros(len(series), bool)
    if pd.api.types.is_string_dtype(series.dtype) and not pd.api.types.is_object_dtype(series.dtype):
        return series, bad
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.astype("str"), bad
    if pd.api.types.is_float_dtype(series.dtype):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        finite = np.isfinite(values)
        if np.all(values[finite] == np.trunc(values[finite])):
            # codes read as floats because of missing cells: 15.0 is the code "15"
            series = series.astype("Int64")
    if pd.api.types.is_bool_dtype(series.dtype):
        bad = series.notna().to_numpy()
    if pd.api.types.is_object_dtype(series.dtype):
        series, bad = _decode_bytes(series)
    out = series.astype("str")
    return out.where(series.notna(), pd.NA), bad


def _decode_bytes(series: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Bytes (a Parquet binary column, a frame of bytes) as UTF-8 text; others flagged.

    The per-value loop runs only when pandas' type inference sees bytes in the column.
    """
    bad = np.zeros(len(series), bool)
    if pd.api.types.infer_dtype(series, skipna=True) not in ("bytes", "mixed"):
        return series, bad
    values = series.to_numpy(dtype=object, copy=True)
    for i, value in enumerate(values):
        if isinstance(value, (bytes, bytearray, memoryview)):
            try:
                values[i] = bytes(value).decode("utf-8")
            except UnicodeDecodeError:
                values[i] = repr(bytes(value))
                bad[i] = True
    return pd.Series(values, index=series.index, name=series.name, dtype=object), bad


def _mask_markers(series: pd.Series, markers: tuple[str, ...]) -> tuple[pd.Series, list[str]]:
    """``series`` with text cells equal to a marker set to missing, and the markers found.

    Only text-holding columns can hold markers; numbers, booleans and dates pass unchanged.
    """
    if not markers:
        return series, []
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        hit_categories = series.cat.categories.isin(markers)
        if not hit_categories.any():
            return series, []
        found = [str(c) for c in series.cat.categories[hit_categories]
                 if (series == c).any()]
        return series.cat.remove_categories(series.cat.categories[hit_categories]), found
    if not (pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)):
        return series, []
    hit = series.isin(markers).to_numpy(dtype=bool, na_value=False)
    if not hit.any():
        return series, []
    found = sorted(set(series[hit].astype(str)))
    return series.mask(hit), found


def _check_numeric(spec: Field, series: pd.Series, col: _Collector,
                   max_magnitude: float | None = None) -> pd.Series:
    values, not_number = _to_float(series)
    col.add(not_number, spec.name, "not a number", series)
    infinite = np.isinf(values)
    col.add(infinite, spec.name, "not a finite number", series)
    values = np.where(infinite, np.nan, values)
    finite = ~np.isnan(values)
    whole = finite & (np.trunc(values) == values) if (spec.type == "integer" or spec.enum) else finite
    # one problem per cell: each check skips cells an earlier check already reported
    flagged = np.zeros(len(values), bool)
    if spec.type == "integer":
        flagged |= col.add(finite & ~whole, spec.name, "not a whole number", series)
    if spec.minimum is not None:
        flagged |= col.add(finite & (values < spec.minimum) & ~flagged, spec.name,
                           f"below minimum {spec.minimum}", series)
    if spec.maximum is not None:
        flagged |= col.add(finite & (values > spec.maximum) & ~flagged, spec.name,
                           f"above maximum {spec.maximum}", series)
    if spec.enum is not None:
        allowed = np.asarray(spec.enum, dtype="float64")
        label = "/".join(str(v) for v in spec.enum)
        flagged |= col.add(finite & ~np.isin(values, allowed) & ~flagged, spec.name,
                           f"not one of {label}", series)
    if max_magnitude is not None:
        # one problem per cell: a value already outside the field's own bounds is not repeated
        huge = finite & (np.abs(values) > max_magnitude) & ~flagged
        col.add(huge, spec.name, f"magnitude above {max_magnitude:g} (the schema's maxMagnitude)",
                series)
    return pd.Series(values, index=series.index, name=spec.name)


def _fullmatch(values: Any, pattern: str) -> np.ndarray:
    """Whole-string regex match of text values, vectorised in pyarrow (RE2 syntax)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(values, pd.Series):
        # a pandas str column is Arrow-backed already: no round trip through Python objects
        array = pa.array(values, type=pa.string(), from_pandas=True)
    else:
        array = pa.array(np.asarray(values, dtype=object), type=pa.string(), from_pandas=True)
    matched = pc.match_substring_regex(array, f"^(?:{pattern})$")
    return matched.to_numpy(zero_copy_only=False).astype(bool)


def _factorize_text(series: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes (-1 = missing), distinct text values, and a mask of values that are not text.

    Checks then run once per distinct value instead of once per row: survey text columns
    (country, sector, governance) have few distinct values.
    """
    if isinstance(series.dtype, pd.CategoricalDtype):
        categories, bad = _text(pd.Series(series.cat.categories))
        return (series.cat.codes.to_numpy(dtype=np.int64), categories.to_numpy(dtype=object),
                np.zeros(len(series), bool))
    text, bad = _text(series)
    codes, uniques = pd.factorize(text)
    return codes.astype(np.int64), np.asarray(uniques, dtype=object), bad


def _check_text(spec: Field, series: pd.Series, col: _Collector) -> pd.Series:
    codes, uniques, bad = _factorize_text(series)
    col.add(bad, spec.name, "not a text value", series)
    present = codes >= 0
    if spec.pattern is not None and len(uniques):
        ok = _fullmatch(uniques, spec.pattern)
        col.add(present & ~ok[np.where(present, codes, 0)], spec.name,
                f"does not match pattern {spec.pattern}", series)
    if spec.enum is not None:
        position = pd.Index(list(spec.enum)).get_indexer(pd.Index(uniques, dtype=object))
        new_codes = np.where(present, position[np.where(present, codes, 0)] if len(uniques) else -1, -1)
        col.add(present & (new_codes < 0), spec.name,
                f"unknown category (allowed: {', '.join(map(str, spec.enum))})", series)
        return pd.Series(pd.Categorical.from_codes(new_codes, categories=list(spec.enum)),
                         index=series.index, name=spec.name)
    values = np.empty(len(series), dtype=object)
    values[present] = uniques[codes[present]]
    values[~present] = pd.NA
    return pd.Series(values, index=series.index, name=spec.name, dtype="str")


def _check_identifier(spec: Field, series: pd.Series, col: _Collector) -> pd.Series:
    if pd.api.types.is_integer_dtype(series.dtype) and not series.isna().any():
        return series.astype("int64")
    text = _check_text(spec, series, col)
    if text.isna().any() or not len(text):
        return text
    if _fullmatch(text, _CANONICAL_INT).all():
        import pyarrow as pa

        # pyarrow parses decimal text to int64 in C; pandas.to_numeric goes value by value
        numbers = pa.array(text, type=pa.string(), from_pandas=True).cast(pa.int64())
        return pd.Series(numbers.to_numpy(), index=text.index, name=text.name)
    return text


def check_frame(frame: pd.DataFrame, schema: Schema | str = "firm_panel", *, row_offset: int = 0,
                check_duplicates: bool = True) -> CheckResult:
    """Check a data frame against a schema and convert its columns to canonical dtypes.

    Parameters
    ----------
    frame : pandas.DataFrame
        Columns named as the schema's fields; any index (ignored).
    schema : Schema or str
        The schema or its name.
    row_offset : int
        Added to row positions in the problems table (for batches of a larger file).
    check_duplicates : bool
        Look for repeated primary keys (streaming validation checks them across batches).

    Returns
    -------
    CheckResult
        Converted data, every problem found, and notes.
    """
    schema = read_schema(schema)
    frame = frame.reset_index(drop=True)
    col = _Collector(_raw_key(frame, schema.primary_key[0]), _raw_key(frame, schema.primary_key[1]),
                     row_offset)
    _readable_years(frame, schema, col)
    converted: dict[str, pd.Series] = {}
    marker_notes = []
    for spec in schema.fields:
        if spec.name not in frame.columns:
            if spec.required:
                col.add_missing_column(spec.name)
            continue
        series, found = _mask_markers(frame[spec.name], spec.missing_values)
        shown = [m for m in found if m != ""]
        if shown:
            marker_notes.append(f"{spec.name}: cells written {', '.join(map(repr, shown))} read as "
                                f"missing (missingValues of the schema)")
        if spec.required:
            col.add(series.isna().to_numpy(), spec.name, "missing value in required field", series)
        if spec.is_numeric:
            out = _check_numeric(spec, series, col, schema.max_magnitude)
            if spec.name in schema.primary_key and not out.isna().any():
                out = out.astype("int64")
        elif spec.type == "any":
            out = _check_identifier(spec, series, col)
        else:
            out = _check_text(spec, series, col)
        converted[spec.name] = out
    if check_duplicates:
        _check_duplicates(schema, converted, col)
    extras = [c for c in frame.columns if c not in schema]
    notes = tuple(marker_notes)
    if extras:
        notes += (f"{len(extras)} column(s) not in schema {schema.name!r} kept unchanged: "
                  f"{', '.join(map(str, extras))}",)
    columns = list(converted.values()) + [frame[name] for name in extras]
    names = list(converted) + extras
    # concat keeps one block per column; the DataFrame constructor would copy every float
    # column into one 2-D block, which costs more than all the checks on a 1M-row panel
    data = (pd.concat(columns, axis=1, keys=names) if columns
            else pd.DataFrame(index=frame.index))
    return CheckResult(data=data, problems=col.table(), notes=notes)


def _readable_years(frame: pd.DataFrame, schema: Schema, col: _Collector) -> None:
    # problems show the year as a number (2010, not "2010" or 2010.0) wherever it is readable
    firm = schema.primary_key[0]
    if firm in frame.columns and schema.field(firm).type == "any":
        # ids shown as the panel will store them (102, not "102" read as text from a CSV)
        scratch = _Collector(col.firm, col.year, 0)
        ids = _check_identifier(schema.field(firm), frame[firm], scratch)
        if ids.dtype == np.int64:
            col.firm = ids.to_numpy(dtype=object)
    name = schema.primary_key[1]
    if name not in frame.columns:
        return
    values, _ = _to_float(frame[name])
    whole = np.isfinite(values) & (values == np.trunc(values))
    if whole.any():
        years = col.year.copy()
        years[whole] = values[whole].astype(np.int64)
        col.year = years


def _check_duplicates(schema: Schema, converted: dict[str, pd.Series], col: _Collector) -> None:
    names = list(schema.primary_key)
    if not all(n in converted for n in names):
        return
    keys = pd.DataFrame({n: converted[n] for n in names})
    complete = keys.notna().all(axis=1).to_numpy()
    dup = keys.duplicated(keep=False).to_numpy() & complete
    if dup.any():
        first = keys.duplicated(keep="first").to_numpy() & complete
        label = np.where(first, "duplicate key (repeats an earlier row)",
                         "duplicate key (first occurrence)")
        for text in ("duplicate key (first occurrence)", "duplicate key (repeats an earlier row)"):
            shown = keys[names[0]].astype(str) + ", " + keys[names[1]].astype(str)
            col.add(dup & (label == text), "+".join(names), text, shown)


def problems_message(problems: pd.DataFrame, source: str, *, shown: int = 20,
                     notes: tuple[str, ...] = ()) -> str:
    """Human-readable summary of a problems table.

    Lists the first ``shown`` problems with file, column, firm_id, year and value, counts the
    rest and says how to fix each kind of problem found.
    """
    n = len(problems)
    lines = [f"{source}: {n} problem(s) found against the firm-panel schema "
             f"(expected: the columns, types and ranges of data_schemas/firm_panel.schema.json; "
             f"rows count data rows from 0, so CSV line = row + 2)."]
    head = problems.head(shown)
    sources = head["source"] if "source" in head.columns else pd.Series(pd.NA, index=head.index)
    for firm, year, row, column, problem, value, source_value in zip(
            head["firm_id"], head["year"], head["row"], head["column"], head["problem"],
            head["value"], sources):
        where = "whole file" if pd.isna(row) else f"row {row} (firm_id={firm}, year={year})"
        found = "" if pd.isna(value) else f"; found {value!r}"
        origin = "" if pd.isna(source_value) else f" (from {source_value})"
        lines.append(f"  - {where}, column {column}: {problem}{found}{origin}")
    if n > shown:
        lines.append(f"  ... and {n - shown} more problem(s): see SchemaError.problems for all.")
    kinds = pd.unique(problems["problem"].astype(str))
    fixes = []
    for hint_key, hint in HINTS.items():
        if any(k.startswith(hint_key) for k in kinds):
            fixes.append(f"  - {hint_key}: {hint}")
    if fixes:
        lines.append("How to fix:")
        lines.extend(fixes)
    lines.extend(f"Note: {note}" for note in notes)
    return "\n".join(lines)


def validate_frame(frame: pd.DataFrame, schema: Schema | str = "firm_panel", *,
                   source: str = "<DataFrame>") -> CheckResult:
    """Check ``frame`` and raise :class:`~gvcpanel.errors.SchemaError` if anything is wrong.

    Returns
    -------
    CheckResult
        When the data are valid.

    Raises
    ------
    SchemaError
        Listing every problem (``.problems`` holds them all).
    """
    result = check_frame(frame, schema)
    if not result.ok:
        raise SchemaError(problems_message(result.problems, source, notes=result.notes),
                          problems=result.problems, source=source)
    return result
