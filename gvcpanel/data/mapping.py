"""Source mappings: turn a survey's own variable codes into the canonical firm-panel columns.

A mapping is a JSON file (shipped ones live in ``data_schemas/mappings/``)::

    {"name": "wbes", "version": "1.0.0", "keep_unmapped": false,
     "missing_codes": {"-9": "don't know"},
     "fields": {"iso_certified": {"op": "recode", "from": ["b8"], "recode": {"1": 1, "2": 0}},
                "firm_age": {"op": "difference", "from": [["year", "a14y"], "b5"]}}}

Each target field has an ``op`` and a list of inputs (``from``); an input is a column name or a
list of alternative names, the first present being used. Operations:

- ``copy``: the input as is;
- ``recode``: listed codes replaced (``"2" -> 0``); codes not listed pass through unchanged, so
  the schema check reports them rather than the mapping hiding them;
- ``difference``: first input minus second (``firm_age = year - b5``);
- ``sum``: sum of the inputs, missing when any input is missing;
- ``threshold``: 1 when the input is at least ``at_least``, 0 below, missing when missing;
- ``concat``: the inputs as text joined by ``separator``.

An optional ``scale`` multiplies the result (percent -> share). Before any operation, the
mapping's ``missing_codes`` (or the rule's own) are set to missing in every input, and each
replacement is counted in the :class:`MappingReport`: nothing is set to missing silently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gvcpanel.errors import SchemaError, SpecificationError

MAPPING_DIR = Path(__file__).resolve().parent.parent / "schemas" / "mappings"
OPERATIONS = ("copy", "recode", "difference", "sum", "threshold", "concat")
_REPORT_COLUMNS = ("target", "source", "action", "n")


@dataclass(frozen=True)
class FieldRule:
    """How one canonical field is made from source columns."""

    target: str
    op: str
    inputs: tuple[tuple[str, ...], ...]
    recode: tuple[tuple[str, Any], ...] = ()
    missing_codes: tuple[tuple[str, str], ...] = ()
    scale: float | None = None
    at_least: float | None = None
    separator: str = ":"
    note: str = ""


@dataclass(frozen=True)
class Mapping:
    """A parsed source mapping (see the module docstring for the file format)."""

    name: str
    version: str
    title: str
    source: str
    rules: tuple[FieldRule, ...]
    keep_unmapped: bool
    path: str

    @property
    def label(self) -> str:
        """``name@version``, recorded in panel provenance."""
        return f"{self.name}@{self.version}"


@dataclass(frozen=True)
class MappingReport:
    """What a mapping did to one source.

    Attributes
    ----------
    mapping : str
        ``name@version``.
    actions : pandas.DataFrame
        One row per (target, source column, action) with the number of rows affected, e.g.
        ``iso_certified, b8, "code -9 (don't know) -> missing", 3`` or ``recode 2 -> 0``.
    not_derived : tuple of str
        Targets whose source columns are absent (the field is then simply not in the panel).
    dropped_columns : tuple of str
        Source columns the mapping does not use, left out because ``keep_unmapped`` is false.
    """

    mapping: str
    actions: pd.DataFrame
    not_derived: tuple[str, ...]
    dropped_columns: tuple[str, ...]

    def n_set_missing(self, target: str | None = None) -> int:
        """Number of values set to missing by missing codes (for one target or all)."""
        act = self.actions
        mask = act["action"].str.contains("-> missing", regex=False)
        if target is not None:
            mask &= act["target"] == target
        return int(act.loc[mask, "n"].sum())

    def combine(self, other: MappingReport) -> MappingReport:
        """Sum the counts of two reports of the same mapping (batches of one file)."""
        both = pd.concat([self.actions, other.actions], ignore_index=True)
        actions = both.groupby(["target", "source", "action"], as_index=False, sort=False)["n"].sum()
        return MappingReport(self.mapping, actions, self.not_derived, self.dropped_columns)


def read_mapping(name_or_path: str | Path | Mapping) -> Mapping:
    """Read a mapping by shipped name (``"wbes"``) or path to a JSON file."""
    if isinstance(name_or_path, Mapping):
        return name_or_path
    path = Path(name_or_path)
    if path.suffix.lower() != ".json":
        path = MAPPING_DIR / f"{name_or_path}.json"
    return _read_mapping_file(str(path.resolve()))


@lru_cache(maxsize=16)
def _read_mapping_file(path: str) -> Mapping:
    try:
        with open(path, encoding="utf-8") as handle:
            raw = json.load(handle)
    except FileNotFoundError as exc:
        shipped = sorted(p.stem for p in MAPPING_DIR.glob("*.json"))
        raise SpecificationError(f"mapping {path} not found; pass a JSON file path or one of the "
                                 f"shipped mappings: {', '.join(shipped)}") from exc
    except json.JSONDecodeError as exc:
        raise SpecificationError(f"mapping {path} is not valid JSON: {exc}") from exc
    default_missing = tuple((str(k), str(v)) for k, v in raw.get("missing_codes", {}).items())
    rules = []
    for target, spec in raw.get("fields", {}).items():
        op = spec.get("op", "copy")
        if op not in OPERATIONS:
            raise SpecificationError(f"mapping {path}, field {target!r}: op {op!r} unknown; "
                                     f"expected one of {', '.join(OPERATIONS)}")
        inputs = tuple((i,) if isinstance(i, str) else tuple(i) for i in spec.get("from", [target]))
        needed = {"difference": 2}.get(op, 1)
        if len(inputs) < needed or (op in ("copy", "recode", "threshold") and len(inputs) != 1):
            raise SpecificationError(f"mapping {path}, field {target!r}: op {op!r} takes "
                                     f"{'two' if needed == 2 else 'one'} input(s), got {len(inputs)}")
        if op == "threshold" and "at_least" not in spec:
            raise SpecificationError(f"mapping {path}, field {target!r}: threshold needs at_least")
        missing = spec.get("missing_codes")
        rules.append(FieldRule(
            target=target, op=op, inputs=inputs,
            recode=tuple((str(k), v) for k, v in spec.get("recode", {}).items()),
            missing_codes=default_missing if missing is None
            else tuple((str(k), str(v)) for k, v in missing.items()),
            scale=spec.get("scale"), at_least=spec.get("at_least"),
            separator=spec.get("separator", ":"), note=spec.get("note", "")))
    return Mapping(name=raw.get("name", Path(path).stem), version=str(raw.get("version", "0")),
                   title=raw.get("title", ""), source=raw.get("source", ""), rules=tuple(rules),
                   keep_unmapped=bool(raw.get("keep_unmapped", False)), path=path)


def _code_mask(series: pd.Series, code: str) -> np.ndarray:
    """Where ``series`` equals ``code`` read as a number (numeric columns) or as text."""
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        try:
            number = float(code)
        except ValueError:
            return np.zeros(len(series), bool)
        return (series.to_numpy(dtype="float64", na_value=np.nan) == number)
    return series.astype("str").str.strip().eq(code).fillna(False).to_numpy(dtype=bool)


def _numeric(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce").astype("float64")


def apply_mapping(frame: pd.DataFrame, mapping: Mapping | str | Path) -> tuple[pd.DataFrame, MappingReport]:
    """Apply a mapping to a source frame.

    Parameters
    ----------
    frame : pandas.DataFrame
        The source as read (the survey's own column names).
    mapping : Mapping, str or Path
        A mapping or its name/path.

    Returns
    -------
    (pandas.DataFrame, MappingReport)
        Canonical columns (plus unmapped source columns when ``keep_unmapped``) and the report
        counting every recode and every value set to missing.
    """
    mapping = read_mapping(mapping)
    out: dict[str, pd.Series] = {}
    actions: list[tuple[str, str, str, int]] = []
    not_derived: list[str] = []
    used: set[str] = set()
    for rule in mapping.rules:
        columns = []
        for alternatives in rule.inputs:
            present = [c for c in alternatives if c in frame.columns]
            columns.append(present[0] if present else None)
        if any(c is None for c in columns):
            absent = [" or ".join(a) for a, c in zip(rule.inputs, columns) if c is None]
            not_derived.append(f"{rule.target}: source column {', '.join(absent)} absent")
            continue
        used.update(columns)
        inputs = []
        for name in columns:
            series = frame[name]
            for code, meaning in rule.missing_codes:
                hit = _code_mask(series, code)
                if hit.any():
                    actions.append((rule.target, name, f"code {code} ({meaning}) -> missing",
                                    int(hit.sum())))
                    series = series.mask(hit)
            inputs.append(series)
        result = _derive(rule, columns, inputs, actions)
        if rule.scale is not None:
            result = result * rule.scale
        out[rule.target] = result.rename(rule.target)
    data = pd.DataFrame(out, index=frame.index)
    unused = [c for c in frame.columns if c not in used and c not in out]
    if mapping.keep_unmapped:
        for name in unused:
            data[name] = frame[name]
        dropped: tuple[str, ...] = ()
    else:
        dropped = tuple(map(str, unused))
    table = pd.DataFrame(actions, columns=list(_REPORT_COLUMNS))
    table["n"] = table["n"].astype("int64")
    return data, MappingReport(mapping.label, table, tuple(not_derived), dropped)


def _derive(rule: FieldRule, columns: list[str], inputs: list[pd.Series],
            actions: list[tuple[str, str, str, int]]) -> pd.Series:
    if rule.op == "copy":
        return inputs[0]
    if rule.op == "concat":
        text = [s.astype("str").where(s.notna(), pd.NA) for s in inputs]
        joined = text[0]
        for part in text[1:]:
            joined = joined + rule.separator + part
        return joined
    if rule.op == "recode":
        # codes not listed pass through unchanged, so the schema check reports them
        result = inputs[0]
        for code, new in rule.recode:
            hit = _code_mask(inputs[0], code)
            if hit.any():
                actions.append((rule.target, columns[0], f"recode {code} -> {new}", int(hit.sum())))
                result = result.mask(hit, new)
        return result
    numbers = []
    for name, series in zip(columns, inputs):
        values = _numeric(series)
        bad = (series.notna() & values.isna()).to_numpy()
        if bad.any():
            examples = ", ".join(map(repr, pd.unique(series[bad].astype(str))[:5]))
            raise SchemaError(
                f"mapping field {rule.target!r} ({rule.op} of {', '.join(columns)}): column {name} "
                f"has {int(bad.sum())} value(s) that are not numbers (e.g. {examples}); expected "
                f"numeric codes. Fix the source column or add the codes to missing_codes.",
                problems=None, source=name)
        numbers.append(values)
    if rule.op == "difference":
        return numbers[0] - numbers[1]
    if rule.op == "sum":
        return pd.concat(numbers, axis=1).sum(axis=1, skipna=False, min_count=len(numbers))
    # threshold
    values = numbers[0]
    return (values >= rule.at_least).astype("float64").where(values.notna())
