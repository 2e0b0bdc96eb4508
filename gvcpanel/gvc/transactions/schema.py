"""The transaction schemas and the checks that run inside the engine.

``data_schemas/transactions.schema.json`` (Frictionless Table Schema, with the custom keys
``unit``, ``role``, ``example``, ``requiredOneOf`` and ``duplicateKey``) describes the records;
``transactions_products.schema.json`` and ``transactions_buyers.schema.json`` the optional
product and buyer tables.

The records are checked where they live (DuckDB or Spark), never loaded into pandas: each rule
of the schema becomes a boolean SQL condition (:func:`record_checks`), one pass counts every
condition, and only for the conditions that fired a second query fetches the first rows
(ordered by file and row), up to a cap per kind of problem. The error therefore lists every
kind of problem with its full count and a capped listing of the rows, each with its file, row,
seller, buyer, product and year.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from gvcpanel.errors import SchemaError, SpecificationError

SCHEMA_DIR = Path(__file__).resolve().parent.parent.parent / "schemas"
PROBLEM_COLUMNS = ("file", "row", "seller_id", "buyer_id", "product_code", "year", "column",
                   "problem", "value")
COUNT_COLUMNS = ("column", "problem", "n")
# whole-number fixed point: values and quantities are summed as integers of 1e-4 units
FIXED_SCALE = 10_000
FIXED_MAX = 9e14
NON_BLANK = ".*\\S.*"

HINTS = {
    "missing required column": "add the column or rename the source's column to the schema's name",
    "missing value in required field": "every record needs seller_id, buyer_id, product_code, value "
                                       "and a date or year",
    "not a number": "write numbers with a '.' decimal point and no thousands separators",
    "not a finite number": "replace NaN by an empty cell (missing) or a number",
    "below minimum": "values and quantities cannot be negative: returns and corrections must be "
                     "netted out before building indicators",
    "above maximum": "a record above 9e14 is a unit error (check the currency unit) or an "
                     "infinite value",
    "not a whole number": "year must be a whole calendar year",
    "not a date": "write dates as YYYY-MM-DD",
    "blank text": "write a value or leave the cell empty (missing)",
    "does not match pattern": "product codes are text of 6-12 digits with their leading zeros "
                              "(a code stored as a number loses them: 010121 becomes 10121); ids "
                              "and units need a non-blank character; countries are ISO codes",
    "year does not match date": "the year column must be the calendar year of the date",
    "missing date and year": "each record needs a date or a year",
    "unknown product code": "add the code (or its first 6 digits) to the product table, or fix the "
                            "code",
    "unknown buyer": "add the buyer to the buyer table (lead_firm and income_group may be empty)",
    "duplicate record": "each record must occur once: drop repeated rows (or give each record a "
                        "distinct record_id)",
    "duplicate key": "each key may occur once in a lookup table",
}


@dataclass(frozen=True)
class TxField:
    """One field of a transaction schema (Frictionless field with gvcpanel's custom keys)."""

    name: str
    type: str
    title: str = ""
    description: str = ""
    required: bool = False
    pattern: str | None = None
    minimum: Any = None
    maximum: Any = None
    enum: tuple[Any, ...] | None = None
    unit: str = ""
    role: str = ""


@dataclass(frozen=True)
class TxSchema:
    """A parsed transaction (or lookup-table) schema."""

    name: str
    version: str
    fields: tuple[TxField, ...]
    primary_key: tuple[str, ...]
    missing_values: tuple[str, ...]
    required_one_of: tuple[tuple[str, ...], ...]
    path: str

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> TxField:
        for f in self.fields:
            if f.name == name:
                return f
        raise SpecificationError(f"no field {name!r} in schema {self.name!r}; fields: "
                                 f"{', '.join(self.field_names)}")


_TYPES = ("any", "string", "integer", "number", "date")


@lru_cache(maxsize=8)
def read_tx_schema(name: str = "transactions") -> TxSchema:
    """Read a shipped transaction schema (``transactions``, ``transactions_products``,
    ``transactions_buyers``) or a ``.schema.json`` path."""
    path = Path(name)
    if not path.suffix:
        path = SCHEMA_DIR / f"{name}.schema.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SpecificationError(f"schema file {path} not found; shipped transaction schemas: "
                                 "transactions, transactions_products, transactions_buyers") from exc
    fields = []
    for item in raw["fields"]:
        cons = item.get("constraints", {})
        if item.get("type", "string") not in _TYPES:
            raise SchemaError(f"{path}: field {item.get('name')!r} has type {item.get('type')!r}; "
                              f"expected one of {', '.join(_TYPES)}", source=str(path))
        fields.append(TxField(
            name=item["name"], type=item.get("type", "string"), title=item.get("title", ""),
            description=item.get("description", ""), required=bool(cons.get("required", False)),
            pattern=cons.get("pattern"), minimum=cons.get("minimum"), maximum=cons.get("maximum"),
            enum=tuple(cons["enum"]) if "enum" in cons else None, unit=item.get("unit", ""),
            role=item.get("role", "")))
    key = raw.get("primaryKey", [])
    return TxSchema(name=raw.get("name", path.stem), version=str(raw.get("version", "0")),
                    fields=tuple(fields), primary_key=(key,) if isinstance(key, str) else tuple(key),
                    missing_values=tuple(raw.get("missingValues", [""])),
                    required_one_of=tuple(tuple(g) for g in raw.get("requiredOneOf", [])),
                    path=str(path))


@dataclass(frozen=True)
class Check:
    """One rule as SQL: rows of the checked view where ``condition`` holds are problems.

    ``value`` is the SQL expression shown as the offending value (cast to text).
    """

    column: str
    problem: str
    condition: str
    value: str


def _text(column: str) -> str:
    return f"CAST({column} AS STRING)"


def record_checks(schema: TxSchema, columns: set[str], regex: Any, *, products: bool,
                  buyers: bool, kinds: dict[str, str] | None = None) -> list[Check]:
    """The row-level rules of ``schema`` for a source with ``columns``, as SQL on view ``tx_raw``.

    Parameters
    ----------
    schema : TxSchema
    columns : set of str
        Columns present in the source (absent optional fields are not checked).
    regex : callable
        ``regex(expr, pattern) -> SQL`` full-match test of the engine's dialect.
    products, buyers : bool
        Whether a product table (``products_lookup``) and a buyer table (``buyers_lookup``) are
        joined, so unknown codes and buyers are problems.
    kinds : dict, optional
        Column -> ``"integer"``, ``"float"``, ``"date"`` or ``"other"`` as the engine stores it
        (:meth:`Engine.column_kinds`). A rule that a stored type cannot break (an integer column
        is never blank text nor a fraction, a float column is always a number, a DATE column
        always a date) is left out, so typed Parquet is not cast to text row by row; text
        columns keep every rule.
    """
    kinds = kinds or {}
    checks: list[Check] = []
    for f in schema.fields:
        if f.name not in columns:
            continue
        col = f"r.{f.name}"
        kind = kinds.get(f.name, "other")
        typed = kind in ("integer", "float", "date")  # never blank text
        if f.required:
            blank = f" OR TRIM({_text(col)}) = ''" if f.type in ("any", "string") and not typed else ""
            checks.append(Check(f.name, "missing value in required field", f"{col} IS NULL{blank}",
                                "CAST(NULL AS STRING)"))
        present = f"{col} IS NOT NULL"
        if f.type in ("any", "string") and f.pattern == NON_BLANK:
            # "some non-blank character": a TRIM test, no regular expression over 10^8 ids
            if not f.required and not typed:
                checks.append(Check(f.name, "blank text", f"{present} AND TRIM({_text(col)}) = ''",
                                    _text(col)))
        elif f.type in ("any", "string") and f.pattern:
            # codes, countries: few distinct values, tested once each (bad_values_<field>)
            checks.append(Check(f.name, f"does not match pattern {f.pattern}",
                                f"bad_{f.name}.v IS NOT NULL", _text(col)))
        if f.type in ("number", "integer"):
            numeric = kind in ("integer", "float")
            num = f"CAST({col} AS DOUBLE)" if numeric else f"TRY_CAST({col} AS DOUBLE)"
            if not numeric:
                checks.append(Check(f.name, "not a number", f"{present} AND {num} IS NULL", _text(col)))
            finite = f"{num} IS NOT NULL AND NOT isnan({num})"
            if kind != "integer":
                checks.append(Check(f.name, "not a finite number",
                                    f"{num} IS NOT NULL AND isnan({num})", _text(col)))
            else:
                finite = f"{num} IS NOT NULL"
            if f.type == "integer" and kind != "integer":
                checks.append(Check(f.name, "not a whole number",
                                    f"{finite} AND {num} <> FLOOR({num})", _text(col)))
            if f.minimum is not None:
                checks.append(Check(f.name, f"below minimum {f.minimum:g}",
                                    f"{finite} AND {num} < {f.minimum}", _text(col)))
            if f.maximum is not None:
                checks.append(Check(f.name, f"above maximum {f.maximum:g}",
                                    f"{finite} AND {num} > {f.maximum}", _text(col)))
        if f.type == "date":
            as_date = col if kind == "date" else f"TRY_CAST({col} AS DATE)"
            if kind != "date":
                checks.append(Check(f.name, "not a date (YYYY-MM-DD)",
                                    f"{present} AND {as_date} IS NULL", _text(col)))
            checks.append(Check(f.name, f"outside {f.minimum} to {f.maximum}",
                                f"{as_date} IS NOT NULL AND ({as_date} < DATE '{f.minimum}' OR "
                                f"{as_date} > DATE '{f.maximum}')", _text(col)))
    for group in schema.required_one_of:
        have = [c for c in group if c in columns]
        if have:
            none = " AND ".join(f"r.{c} IS NULL" for c in have)
            checks.append(Check("+".join(have), f"missing {' and '.join(group)}", none,
                                "CAST(NULL AS STRING)"))
    if {"date", "year"} <= columns:
        year_num = "TRY_CAST(r.year AS DOUBLE)"
        checks.append(Check("year", "year does not match date",
                            f"TRY_CAST(r.date AS DATE) IS NOT NULL AND {year_num} IS NOT NULL AND "
                            f"YEAR(TRY_CAST(r.date AS DATE)) <> {year_num}",
                            f"CONCAT({_text('r.year')}, ' vs ', {_text('r.date')})"))
    if products:
        checks.append(Check("product_code", "unknown product code (not in the product table, "
                            "neither the code nor its first 6 digits)",
                            "unknown_product_code.v IS NOT NULL", _text("r.product_code")))
    if buyers:
        checks.append(Check("buyer_id", "unknown buyer (not in the buyer table)",
                            "unknown_buyer_id.v IS NOT NULL", _text("r.buyer_id")))
    return checks


def value_tables(schema: TxSchema, columns: set[str], regex: Any, *, products: bool,
                 buyers: bool) -> list[tuple[str, str, str | None]]:
    """Small tables of bad values, each computed from a field's distinct values.

    Returns (table name, SELECT, field) triples in the order they are to be made. The first,
    ``distinct_values``, holds the distinct values of every field tested this way (one scan of
    the records, one grouping set per field); each ``bad_<field>`` / ``unknown_<field>`` table
    then selects the bad ones (column ``v``) from it, and :func:`checked_from` joins those to the
    records, so a regular expression or a lookup runs once per distinct code, country or buyer
    instead of once per record. ``field`` is None for ``distinct_values`` (not joined).
    """
    fields = [f.name for f in schema.fields
              if f.name in columns and f.type in ("any", "string") and f.pattern
              and f.pattern != NON_BLANK]
    tested = list(fields)
    if products and "product_code" not in tested:
        tested.append("product_code")
    if buyers:
        tested.append("buyer_id")
    if not tested:
        return []

    def expr(name: str) -> str:
        return f"{name}" if name == "buyer_id" else _text(name)

    sets = ", ".join(f"({expr(c)})" for c in tested)
    select = ", ".join(f"{expr(c)} AS d_{c}" for c in tested)
    out: list[tuple[str, str, str | None]] = [
        ("distinct_values", f"SELECT {select} FROM tx_raw GROUP BY GROUPING SETS ({sets})", None)]

    def values(name: str) -> str:
        return f"(SELECT DISTINCT d_{name} AS v FROM distinct_values WHERE d_{name} IS NOT NULL) d"

    for name in fields:
        pattern = schema.field(name).pattern
        out.append((f"bad_{name}",
                    f"SELECT d.v FROM {values(name)} "
                    f"WHERE TRIM(d.v) <> '' AND NOT {regex('d.v', pattern)}", name))
    if products:
        out.append(("unknown_product_code",
                    f"SELECT d.v FROM {values('product_code')} "
                    "LEFT JOIN products_lookup pf ON d.v = pf.product_code "
                    "LEFT JOIN products_lookup ps ON SUBSTR(d.v, 1, 6) = ps.product_code "
                    "WHERE pf.product_code IS NULL AND ps.product_code IS NULL",
                    "product_code"))
    if buyers:
        out.append(("unknown_buyer_id",
                    f"SELECT d.v FROM {values('buyer_id')} "
                    "LEFT JOIN buyers_lookup b ON d.v = b.buyer_id "
                    "WHERE b.buyer_id IS NULL", "buyer_id"))
    return out


def checked_from(tables: list[tuple[str, str, str | None]]) -> str:
    """FROM clause of the checks: the records with the (usually empty) bad-value tables."""
    parts = ["tx_raw r"]
    for name, _, column in tables:
        if column is None:
            continue
        left = f"CAST(r.{column} AS STRING)" if column != "buyer_id" else "r.buyer_id"
        parts.append(f"LEFT JOIN {name} {name} ON {left} = {name}.v")
    return " ".join(parts)


def duplicate_key(columns: set[str], schema: TxSchema) -> tuple[str, ...]:
    """record_id when present, else every schema field present."""
    if "record_id" in columns:
        return ("record_id",)
    return tuple(c for c in schema.field_names if c in columns)


class TransactionSchemaError(SchemaError):
    """Transaction records (or a lookup table) break the schema.

    Attributes
    ----------
    problems : pandas.DataFrame
        The listed rows: file, row, seller_id, buyer_id, product_code, year, column, problem,
        value (at most ``cap`` rows per kind of problem).
    counts : pandas.DataFrame
        column, problem, n: the full count of every kind of problem.
    source : str
    """

    def __init__(self, message: str, problems: pd.DataFrame, counts: pd.DataFrame,
                 source: str) -> None:
        super().__init__(message, problems=problems, source=source)
        self.counts = counts


def problems_message(problems: pd.DataFrame, counts: pd.DataFrame, source: str, schema: str, *,
                     shown: int = 25) -> str:
    """Summary: counts of every kind, the first ``shown`` rows, and how to fix each kind."""
    total = int(counts["n"].sum())
    lines = [f"{source}: {total:,} problem(s) in {len(counts)} kind(s) against {schema} "
             f"(data_schemas/{schema}.schema.json; rows count records from 0 within each file, "
             "so a CSV line is row + 2)."]
    lines.append("Counts:")
    for column, problem, n in counts.itertuples(index=False, name=None):
        lines.append(f"  - {column}: {problem}: {int(n):,}")
    lines.append("First problems:")
    for rec in problems.head(shown).itertuples(index=False):
        where = "whole file" if pd.isna(rec.row) else f"{rec.file} row {rec.row}"
        who = ", ".join(f"{k}={getattr(rec, k)}" for k in ("seller_id", "buyer_id", "product_code",
                                                            "year")
                        if not pd.isna(getattr(rec, k)))
        found = "" if pd.isna(rec.value) else f"; found {rec.value!r}"
        lines.append(f"  - {where}{f' ({who})' if who else ''}, column {rec.column}: "
                     f"{rec.problem}{found}")
    listed = len(problems)
    if total > min(listed, shown):
        lines.append(f"  ... {total - min(listed, shown):,} more: SchemaError.problems lists "
                     f"{listed:,} rows (capped per kind), SchemaError.counts every count.")
    fixes = [f"  - {key}: {hint}" for key, hint in HINTS.items()
             if any(str(p).startswith(key) for p in counts["problem"])]
    if fixes:
        lines.append("How to fix:")
        lines.extend(fixes)
    return "\n".join(lines)


def empty_problems() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in PROBLEM_COLUMNS})


def check_lookup(frame: pd.DataFrame, schema_name: str, source: str) -> pd.DataFrame:
    """Validate a small lookup table (products or buyers) in pandas and return it cleaned.

    Keys are text (products) or as given (buyers); every problem is listed in one error.
    """
    schema = read_tx_schema(schema_name)
    rows: list[dict[str, Any]] = []
    missing = [f.name for f in schema.fields if f.required and f.name not in frame.columns]
    for name in missing:
        rows.append({"file": source, "row": pd.NA, "column": name, "problem": "missing required column",
                     "value": pd.NA})
    out = frame.reset_index(drop=True).copy()
    for f in schema.fields:
        if f.name not in out.columns:
            continue
        col = out[f.name]
        if f.type == "string":
            col = col.astype("string").str.strip()
            col = col.mask(col.isin(schema.missing_values))
        present = col.notna()
        if f.required:
            for i in col.index[~present]:
                rows.append({"file": source, "row": int(i), "column": f.name,
                             "problem": "missing value in required field", "value": pd.NA})
        if f.type == "string" and f.pattern:
            ok = col.fillna("").str.fullmatch(f.pattern)
            for i in col.index[present & ~ok.astype(bool)]:
                rows.append({"file": source, "row": int(i), "column": f.name,
                             "problem": f"does not match pattern {f.pattern}", "value": str(col[i])})
        if f.enum is not None:
            if f.type == "integer":
                num = pd.to_numeric(col, errors="coerce")
                bad = present & ~num.isin(list(f.enum))
                col = num
            else:
                bad = present & ~col.isin(list(f.enum))
            for i in col.index[bad]:
                rows.append({"file": source, "row": int(i), "column": f.name,
                             "problem": f"not one of {list(f.enum)}", "value": str(frame[f.name].iloc[i])})
        out[f.name] = col
    key = [k for k in schema.primary_key if k in out.columns]
    if key:
        dup = out.duplicated(key, keep=False) & out[key].notna().all(axis=1)
        for i in out.index[dup]:
            rows.append({"file": source, "row": int(i), "column": "+".join(key),
                         "problem": "duplicate key", "value": str(out.loc[i, key[0]])})
    if rows:
        problems = pd.DataFrame(rows)
        for c in PROBLEM_COLUMNS:
            if c not in problems:
                problems[c] = pd.NA
        problems = problems[list(PROBLEM_COLUMNS)].astype(object)
        counts = (problems.groupby(["column", "problem"], sort=False).size()
                  .rename("n").reset_index())
        raise TransactionSchemaError(problems_message(problems, counts, source, schema_name),
                                     problems, counts, source)
    return out


__all__ = ["Check", "FIXED_MAX", "FIXED_SCALE", "TransactionSchemaError", "TxField", "TxSchema",
           "check_lookup", "checked_from", "duplicate_key", "problems_message", "read_tx_schema",
           "value_tables",
           "record_checks"]
