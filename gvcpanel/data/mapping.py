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
Inputs of numeric fields also read the table schema's ``missingValues`` markers (``NA``,
``.``, ...) as missing, counted the same way; inputs of text fields keep them (a country
``NA`` is Namibia) unless ``missing_codes`` lists them.

Every mapping file is checked against ``data_schemas/mapping.schema.json`` with the
``jsonschema`` library before it is used: an unknown key (a misspelt ``missing_code``), a key
given twice in one object (JSON parsers keep only the last), a value of the wrong type or an
operation without its options is a :class:`~gvcpanel.errors.MappingError` naming the key.
A rule whose target is not a field of the table schema is refused too (a misspelt target would
otherwise become an extra column while the real field stays empty), unless the rule says
``"extra": true``.

A rule may declare ``"recall": k``: its field answers a question about "the last k years"
(Enterprise Surveys ``h1``: new products in the last three years).  The window is carried to the
panel (``panel.observation.recall``), where interval hazards read the answer as an event in the
k years up to the interview.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gvcpanel.data.schema import Schema, read_schema
from gvcpanel.errors import MappingError, SchemaError, SpecificationError

MAPPING_DIR = Path(__file__).resolve().parent.parent / "schemas" / "mappings"
MAPPING_SCHEMA = MAPPING_DIR.parent / "mapping.schema.json"
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
    extra: bool = False
    recall: int | None = None


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

    @property
    def recall(self) -> dict[str, int]:
        """Fields that answer recall questions -> their window in years."""
        return {rule.target: rule.recall for rule in self.rules if rule.recall is not None}


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
    recall : dict
        Derived fields that answer recall questions -> window in years (see the module docstring).
    """

    mapping: str
    actions: pd.DataFrame
    not_derived: tuple[str, ...]
    dropped_columns: tuple[str, ...]
    recall: Any = None

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
        return MappingReport(self.mapping, actions, self.not_derived, self.dropped_columns, self.recall)


def read_mapping(name_or_path: str | Path | Mapping) -> Mapping:
    """Read a mapping by shipped name (``"wbes"``) or path to a JSON file.

    Raises
    ------
    SpecificationError
        No such mapping (the shipped ones are listed).
    MappingError
        The file is not valid JSON, repeats a key, or breaks ``mapping.schema.json`` (every
        problem is listed with its key path, e.g. ``fields.employees.scale``).
    """
    if isinstance(name_or_path, Mapping):
        return name_or_path
    path = Path(name_or_path)
    if path.suffix.lower() != ".json":
        path = MAPPING_DIR / f"{name_or_path}.json"
    path = path.resolve()
    try:
        stat = path.stat()
    except FileNotFoundError as exc:
        shipped = sorted(p.stem for p in MAPPING_DIR.glob("*.json"))
        raise SpecificationError(f"mapping {path} not found; pass a JSON file path or one of the "
                                 f"shipped mappings: {', '.join(shipped)}") from exc
    # keyed on the modification time too, so an edited mapping is read again
    return _read_mapping_file(str(path), stat.st_mtime_ns, stat.st_size)


class _JsonObject(dict):
    """A JSON object that remembers the keys it was given more than once."""

    repeated: tuple[str, ...] = ()


def _keep_repeats(pairs: list[tuple[str, Any]]) -> _JsonObject:
    obj = _JsonObject()
    repeated = []
    for key, value in pairs:
        if key in obj:
            repeated.append(key)
        obj[key] = value
    obj.repeated = tuple(repeated)
    return obj


def _key_path(parts: Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _repeated_keys(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[str, str]]:
    found = []
    if isinstance(node, _JsonObject):
        for key in dict.fromkeys(node.repeated):
            times = node.repeated.count(key) + 1
            found.append((_key_path(path + (key,)),
                          f"key {key!r} is given {times} times in "
                          f"{_key_path(path) if path else 'the top-level object'}; a JSON reader "
                          f"keeps only the last, so the earlier ones would be lost silently: "
                          f"keep one"))
        for key, value in node.items():
            found += _repeated_keys(value, path + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _repeated_keys(value, path + (i,))
    return found


@lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema

    with open(MAPPING_SCHEMA, encoding="utf-8") as handle:
        schema = json.load(handle)
    return jsonschema.Draft202012Validator(schema)


def _annotation(error: Any, root: dict[str, Any]) -> str | None:
    """The deepest ``message`` on the schema path of a validation error."""
    node: Any = root
    message = root.get("message")
    for step in error.schema_path:
        if isinstance(node, dict) and isinstance(node.get("$ref"), str) and step not in node:
            node = _resolve(root, node["$ref"])
            message = node.get("message", message)
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(node, str) and step == "$ref":
            node = _resolve(root, node)
        if isinstance(node, dict) and "message" in node:
            message = node["message"]
    return message


def _resolve(root: dict[str, Any], ref: str) -> Any:
    node: Any = root
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, _JsonObject) else \
        json.dumps(dict(value), ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _schema_problems(raw: Any) -> list[tuple[str, str]]:
    validator = _validator()
    root = validator.schema
    problems = []
    for error in validator.iter_errors(raw):
        where = list(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = list(error.schema.get("properties", {}))
            for key in error.instance:
                if key in allowed:
                    continue
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                problems.append((_key_path(where + [key]),
                                 f"unknown key {key!r}{hint}; allowed keys here: "
                                 f"{', '.join(allowed)}"))
            continue
        if error.validator == "required" and isinstance(error.instance, dict):
            missing = [k for k in error.validator_value if k not in error.instance]
            message = _annotation(error, root)
            problems.append((_key_path(where), f"missing key {', '.join(map(repr, missing))}"
                             + (f": {message}" if message and error.schema is not root else "")))
            continue
        message = _annotation(error, root) or error.message
        problems.append((_key_path(where), f"{message}; found {_shown(error.instance)}"))
    return sorted(dict.fromkeys(problems), key=lambda p: p[0])


def _mapping_error(path: str, problems: list[tuple[str, str]]) -> MappingError:
    lines = [f"mapping {path}: {len(problems)} problem(s) against data_schemas/"
             f"mapping.schema.json:"]
    lines += [f"  - {key}: {text}" for key, text in problems]
    lines.append("The mapping is refused whole: nothing of it is used until every key is right.")
    return MappingError("\n".join(lines), source=path, problems=tuple(problems))


def check_mapping_json(raw: Any, label: str) -> None:
    """Check a parsed mapping (keep repeats with :func:`parse_mapping_text`) against the schema.

    Raises
    ------
    MappingError
        Listing every repeated key, unknown key, wrong type and missing option.
    """
    problems = _repeated_keys(raw) + _schema_problems(raw)
    if problems:
        raise _mapping_error(label, problems)


def parse_mapping_text(text: str, label: str) -> Any:
    """JSON text to Python objects, remembering repeated keys (see check_mapping_json)."""
    try:
        return json.loads(text, object_pairs_hook=_keep_repeats)
    except json.JSONDecodeError as exc:
        raise MappingError(f"mapping {label} is not valid JSON: {exc.msg} at line {exc.lineno}, "
                           f"column {exc.colno}. Check for a missing comma or quote, or a comma "
                           f"after the last item.", source=label,
                           problems=((f"line {exc.lineno}", exc.msg),)) from exc


@lru_cache(maxsize=16)
def _read_mapping_file(path: str, mtime_ns: int = 0, size: int = 0) -> Mapping:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except UnicodeDecodeError as exc:
        raise MappingError(f"mapping {path} is not UTF-8 text (byte {exc.start}: "
                           f"{exc.object[exc.start:exc.end]!r}); save it as UTF-8.",
                           source=path) from exc
    raw = parse_mapping_text(text, path)
    check_mapping_json(raw, path)
    default_missing = tuple((str(k), str(v)) for k, v in raw.get("missing_codes", {}).items())
    rules = []
    for target, spec in raw["fields"].items():
        op = spec.get("op", "copy")
        inputs = tuple((i,) if isinstance(i, str) else tuple(i) for i in spec.get("from", [target]))
        missing = spec.get("missing_codes")
        rules.append(FieldRule(
            target=target, op=op, inputs=inputs,
            recode=tuple((str(k), v) for k, v in spec.get("recode", {}).items()),
            missing_codes=default_missing if missing is None
            else tuple((str(k), str(v)) for k, v in missing.items()),
            scale=spec.get("scale"), at_least=spec.get("at_least"),
            separator=spec.get("separator", ":"), note=spec.get("note", ""),
            extra=bool(spec.get("extra", False)), recall=spec.get("recall")))
    return Mapping(name=raw.get("name", Path(path).stem), version=str(raw.get("version", "0")),
                   title=raw.get("title", ""), source=raw.get("source", ""), rules=tuple(rules),
                   keep_unmapped=bool(raw.get("keep_unmapped", False)), path=path)


def check_targets(mapping: Mapping, schema: Schema) -> None:
    """Refuse rules whose target is not a field of ``schema`` (unless marked ``extra``).

    Raises
    ------
    MappingError
        Naming each unknown target and the closest field name.
    """
    names = list(schema.field_names)
    problems = []
    for rule in mapping.rules:
        if rule.target in schema or rule.extra:
            continue
        close = difflib.get_close_matches(rule.target, names, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        problems.append((f"fields.{rule.target}",
                         f"{rule.target!r} is not a field of schema {schema.name!r}; {hint}"
                         f"to bring in a column the schema does not have, add \"extra\": true "
                         f"to the rule"))
    if problems:
        raise _mapping_error(mapping.path or mapping.label, problems)


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


def _markers(rule: FieldRule, schema: Schema) -> tuple[str, ...]:
    """Text cells an input of ``rule`` reads as missing: those of its target field."""
    if rule.target in schema:
        return schema.field(rule.target).missing_values
    return ()


def apply_mapping(frame: pd.DataFrame, mapping: Mapping | str | Path, *,
                  schema: Schema | str = "firm_panel") -> tuple[pd.DataFrame, MappingReport]:
    """Apply a mapping to a source frame.

    Parameters
    ----------
    frame : pandas.DataFrame
        The source as read (the survey's own column names).
    mapping : Mapping, str or Path
        A mapping or its name/path.
    schema : Schema or str
        The table schema the result is checked against: targets must be its fields (or be
        marked ``extra``), and inputs read its missing-value markers as the target field does.

    Returns
    -------
    (pandas.DataFrame, MappingReport)
        Canonical columns (plus unmapped source columns when ``keep_unmapped``) and the report
        counting every recode and every value set to missing.
    """
    mapping = read_mapping(mapping)
    schema = read_schema(schema)
    check_targets(mapping, schema)
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
        markers = _markers(rule, schema)
        for name in columns:
            series = frame[name]
            if markers and (pd.api.types.is_object_dtype(series.dtype)
                            or pd.api.types.is_string_dtype(series.dtype)):
                hit = series.isin(markers).to_numpy(dtype=bool, na_value=False)
                if hit.any():
                    for marker, n in series[hit].astype(str).value_counts(sort=False).items():
                        if marker != "":
                            actions.append((rule.target, name,
                                            f"marker {marker!r} (schema missingValues) -> missing",
                                            int(n)))
                    series = series.mask(hit)
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
    recall = {target: years for target, years in mapping.recall.items() if target in data.columns}
    return data, MappingReport(mapping.label, table, tuple(not_derived), dropped, recall)


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
            rows = ", ".join(map(str, np.flatnonzero(bad)[:5]))
            raise SchemaError(
                f"mapping field {rule.target!r} ({rule.op} of {', '.join(columns)}): source column "
                f"{name} has {int(bad.sum())} value(s) that are not numbers (e.g. {examples}; "
                f"rows {rows}{', ...' if bad.sum() > 5 else ''}, counted from 0 in this part "
                f"of the source); expected numeric codes. Fix the source column or add the codes "
                f"to missing_codes.", problems=None, source=name)
        numbers.append(values)
    if rule.op == "difference":
        return numbers[0] - numbers[1]
    if rule.op == "sum":
        return pd.concat(numbers, axis=1).sum(axis=1, skipna=False, min_count=len(numbers))
    # threshold
    values = numbers[0]
    return (values >= rule.at_least).astype("float64").where(values.notna())


def _shown_value(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return "missing"
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def source_values(problems: pd.DataFrame, source: pd.DataFrame, index: pd.Index,
                  mapping: Mapping, *, row_offset: int = 0) -> pd.DataFrame:
    """Problems with their ``source`` column naming the source values of mapped fields.

    Parameters
    ----------
    problems : pandas.DataFrame
        From :func:`gvcpanel.data.schema.check_frame` on the mapped frame.
    source : pandas.DataFrame
        The frame the mapping was applied to.
    index : pandas.Index
        Index labels of the checked frame, by position (labels of ``source``).
    mapping : Mapping
        The mapping applied.
    row_offset : int
        As given to check_frame.

    Returns
    -------
    pandas.DataFrame
        A copy; e.g. ``firm_age`` 1918 gets source ``"year=2013, b5=95"``.
    """
    rules = {rule.target: rule for rule in mapping.rules}
    out = problems.copy()
    if out.empty:
        return out
    rows = pd.to_numeric(out["row"], errors="coerce")
    for target, rule in rules.items():
        mask = (out["column"] == target).to_numpy() & rows.notna().to_numpy()
        if not mask.any():
            continue
        columns = []
        for alternatives in rule.inputs:
            present = [c for c in alternatives if c in source.columns]
            if present:
                columns.append(present[0])
        if not columns:
            continue
        positions = rows[mask].to_numpy(dtype=np.int64) - row_offset
        labels = index[positions]
        values = source.loc[labels, columns]
        texts = [", ".join(f"{c}={_shown_value(v)}" for c, v in zip(columns, row))
                 for row in values.itertuples(index=False, name=None)]
        out.loc[mask, "source"] = np.asarray(texts, dtype=object)
    return out
