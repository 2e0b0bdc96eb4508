"""Transaction records -> checked -> firm-year indicators -> FirmPanel.

:func:`validate_transactions` runs the schema's checks in the engine; :func:`transaction_indicators`
also computes the indicators of :mod:`.indicators`; :func:`panel_from_transactions` joins them
to a firm table (clusters, survey answers, controls) and returns a validated
:class:`~gvcpanel.data.panel.FirmPanel` whose provenance names every input file with its
SHA-256, the engine and its version, and the version of the definitions.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gvcpanel.errors import SpecificationError
from gvcpanel.gvc.transactions import indicators as ind
from gvcpanel.gvc.transactions.engines import (Engine, Source, data_files, make_engine, normalise_file,
                                               resolve_source)
from gvcpanel.gvc.transactions.schema import (COUNT_COLUMNS, PROBLEM_COLUMNS, TransactionSchemaError,
                                              check_lookup, checked_from, duplicate_key,
                                              empty_problems, problems_message, read_tx_schema,
                                              record_checks, value_tables)

LAYOUT = ("transactions", "products", "buyers", "firms")
#: records per batch of year partitions (see :func:`year_batches`)
BATCH_ROWS = 4_000_000


@dataclass(frozen=True)
class Input:
    """One input: its role (transactions, products, buyers, firms), where from, SHA-256."""

    role: str
    label: str
    sha256: str


@dataclass(frozen=True)
class TransactionReport:
    """What the build read, with which engine and definitions, and what it left out.

    Attributes
    ----------
    inputs : tuple of Input
    engine, engine_version, definitions_version : str
    n_records, n_zero_value, n_without_quantity : int
        Records read; records of value 0 (kept; a buyer, product or market counts only with a
        positive yearly value); records without a positive quantity (left out of unit values).
    n_firm_years : int
        Seller-years with records.
    exclusions : dict
        Rows left out when joining the firm table, by reason.
    seconds : dict
        Wall-clock seconds of each step.
    """

    inputs: tuple[Input, ...]
    engine: str
    engine_version: str
    definitions_version: str
    n_records: int
    n_zero_value: int
    n_without_quantity: int
    n_firm_years: int
    proxy_share: float
    exclusions: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        """SHA-256 over the inputs' roles, labels and hashes (the panel's content hash)."""
        digest = hashlib.sha256()
        for item in self.inputs:
            digest.update(f"{item.role}\0{item.label}\0{item.sha256}\n".encode())
        return digest.hexdigest()

    def describe(self) -> str:
        """One line for a provenance step or a run log."""
        files = "; ".join(f"{i.role}={i.label} sha256={i.sha256}" for i in self.inputs)
        return (f"firm-year indicators from transaction records: engine {self.engine} "
                f"{self.engine_version}, definitions {self.definitions_version}, "
                f"proxy_share={self.proxy_share:g}; inputs: {files}")


@dataclass(frozen=True)
class TransactionIndicators:
    """Firm-year indicators (``frame``, one row per seller-year) and the build report."""

    frame: pd.DataFrame
    report: TransactionReport


# -- inputs ---------------------------------------------------------------------------------
def _layout(path: Path) -> dict[str, Path] | None:
    """A folder with ``transactions`` (file or folder) and optional products/buyers/firms."""
    if not path.is_dir():
        return None
    found: dict[str, Path] = {}
    for entry in sorted(path.iterdir()):
        stem = entry.name.split(".")[0]
        if stem in LAYOUT and stem not in found:
            found[stem] = entry
    return found if "transactions" in found else None


def _read_table(obj: Any, role: str) -> tuple[pd.DataFrame, Input]:
    from gvcpanel.data.panel import FirmPanel, frame_sha256

    if isinstance(obj, FirmPanel):
        return obj.data.reset_index(), Input(role, f"FirmPanel({obj.provenance.source})",
                                             obj.provenance.sha256)
    if isinstance(obj, pd.DataFrame):
        return obj.reset_index(drop=obj.index.names == [None]), Input(role, "<DataFrame>",
                                                                      frame_sha256(obj))
    path = Path(obj)
    if not path.exists():
        raise SpecificationError(f"{role} table {path} does not exist.")
    from gvcpanel.data.io import content_sha256

    if path.suffix.lower() in (".parquet", ".pq") or path.is_dir():
        frame = pd.read_parquet(path)
    elif role == "firms":
        from gvcpanel.data.io import load_panel

        panel = load_panel(path) if {"year"} <= set(pd.read_csv(path, nrows=0).columns) else None
        frame = panel.data.reset_index() if panel is not None else pd.read_csv(path)
    else:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    return frame, Input(role, str(path), content_sha256(path))


def _lookups(engine: Engine, products: Any, buyers: Any, tx_columns: list[str],
             id_dtype: Any) -> tuple[list[Input], bool, bool]:
    inputs: list[Input] = []
    if products is not None:
        frame, info = _read_table(products, "products")
        clean = check_lookup(frame, "transactions_products", info.label)
        engine.register_frame("products_lookup", pd.DataFrame({
            "product_code": clean["product_code"].astype(object).where(clean["product_code"].notna(), None),
            "sector": clean["sector"].astype(object).where(clean["sector"].notna(), None)}))
        inputs.append(info)
    if buyers is not None:
        frame, info = _read_table(buyers, "buyers")
        clean = check_lookup(frame, "transactions_buyers", info.label)
        ids = clean["buyer_id"]
        if id_dtype is not None and pd.api.types.is_integer_dtype(id_dtype):
            as_int = pd.to_numeric(ids, errors="coerce")
            if as_int.notna().all() and (as_int == np.floor(as_int)).all():
                ids = as_int.astype(np.int64)
        else:
            ids = ids.astype(str)
        lead = (pd.to_numeric(clean["lead_firm"], errors="coerce") if "lead_firm" in clean
                else pd.Series(np.nan, index=clean.index))
        income = (clean["income_group"].astype(object) if "income_group" in clean
                  else pd.Series(None, index=clean.index, dtype=object))
        engine.register_frame("buyers_lookup", pd.DataFrame({
            "buyer_id": ids.to_numpy(),
            "lead_firm": lead.astype("Int32").to_numpy(),
            "income_group": income.where(income.notna(), None)}))
        inputs.append(info)
    return inputs, products is not None, buyers is not None


# -- batches of years -----------------------------------------------------------------------
def year_batches(engine: Engine, source: Source, columns: list[str],
                 batch_rows: int = BATCH_ROWS) -> list[str | None]:
    """Conditions on the raw records ``r`` that split them into batches of whole years.

    Only a Parquet folder partitioned by an integer ``year`` (``year=2012/``) is split: a
    condition on the partition column reads only that batch's files, so the hash tables of
    each scan (and the sort of the duplicate check) hold one batch's records and groups, not
    every year's: their memory is bounded by the largest batch whatever the number of years.
    Consecutive years are joined until a batch holds at least ``batch_rows`` records (few
    statements on small data). Every other source is one batch (``[None]``): there a
    condition on the year would read the whole source once per batch.

    The scans group by year, so a batch's groups are its own and the stacked parts equal one
    pass over all records, bit for bit (tested on DuckDB and Spark).
    """
    if (source.kind != "parquet" or source.path is None or not source.path.is_dir()
            or "year" not in columns or engine.column_kinds("tx_raw").get("year") != "integer"):
        return [None]
    root = source.path
    if not all(any(d.startswith("year=") for d in f.relative_to(root).parts[:-1])
               for f in data_files(root)):
        return [None]
    counts = engine.fetch("SELECT r.year AS y, COUNT(*) AS n FROM tx_raw r GROUP BY r.year ORDER BY y")
    if counts["y"].isna().any() or len(counts) < 2:
        return [None]
    batches: list[tuple[int, int]] = []
    size = 0
    for year, n in zip(counts["y"].astype(np.int64), counts["n"].astype(np.int64)):
        if batches and size < batch_rows:
            batches[-1] = (batches[-1][0], int(year))
            size += int(n)
        else:
            batches.append((int(year), int(year)))
            size = int(n)
    if len(batches) == 1:
        return [None]
    return [f"r.year = {a}" if a == b else f"r.year >= {a} AND r.year <= {b}" for a, b in batches]


# -- checks ---------------------------------------------------------------------------------
_CANONICAL_INT = "-?(0|[1-9][0-9]{0,17})"


def _register(engine: Engine, source: Source) -> list[str]:
    """Register the source as ``tx_raw``; CSV ids that are all whole numbers become BIGINT.

    Text ids from CSV would otherwise sort as text ("10" < "9") where the same data in Parquet
    sort as numbers, and ties between buyers would go another way; the rule is the firm panel's
    (:mod:`gvcpanel.data.schema`): canonical whole numbers become int64, anything else stays text.
    """
    if source.kind != "converted":
        return engine.register_source(source)
    columns = engine.register_source(source, view="tx_text")
    ids = [c for c in ("seller_id", "buyer_id", "record_id") if c in columns]
    casts = {}
    if ids:
        sums = ", ".join(f"SUM(CASE WHEN {c} IS NOT NULL AND NOT {engine.regex(c, _CANONICAL_INT)} "
                         f"THEN 1 ELSE 0 END) AS {c}" for c in ids)
        counts = engine.fetch(f"SELECT {sums} FROM tx_text").iloc[0]
        casts = {c: f"CAST({c} AS BIGINT) AS {c}" for c in ids if int(counts[c] or 0) == 0}
    select = ", ".join(casts.get(c, c) for c in [*columns, "_file", "_row"])
    engine.create("tx_raw", f"SELECT {select} FROM tx_text", materialise=False)
    return columns


def _check(engine: Engine, source: Source, columns: list[str], *, products: bool, buyers: bool,
           cap: int, batches: list[str | None] | None = None) -> None:
    schema = read_tx_schema("transactions")
    present = set(columns)
    whole: list[dict[str, Any]] = []
    for f in schema.fields:
        if f.required and f.name not in present:
            whole.append({"column": f.name, "problem": "missing required column"})
    for group in schema.required_one_of:
        if not any(c in present for c in group):
            whole.append({"column": "+".join(group), "problem": "missing required column "
                          f"(one of {', '.join(group)})"})
    if whole:
        problems = pd.DataFrame([{**{c: pd.NA for c in PROBLEM_COLUMNS}, **w, "file": source.label}
                                 for w in whole]).astype(object)
        counts = pd.DataFrame([{"column": w["column"], "problem": w["problem"], "n": 1} for w in whole])
        raise TransactionSchemaError(problems_message(problems, counts, source.label, "transactions"),
                                     problems, counts, source.label)
    checks = record_checks(schema, present, engine.regex, products=products, buyers=buyers,
                           kinds=engine.column_kinds("tx_raw"))
    tables = value_tables(schema, present, engine.regex, products=products, buyers=buyers)
    for name, sql, _ in tables:
        engine.create(name, sql, materialise=True)
    # a bad-value table that came out empty cannot flag a record: no join, no rule
    empty = {name for name, _, column in tables if column is not None
             and int(engine.fetch(f"SELECT COUNT(*) AS n FROM {name}").iloc[0]["n"]) == 0}
    tables = [t for t in tables if t[0] not in empty]
    checks = [c for c in checks if not any(f"{name}.v" in c.condition for name in empty)]
    frm = checked_from(tables)
    # COUNT of a CASE keeps a 64-bit counter per rule (a SUM of ones is a 128-bit sum in DuckDB)
    sums = ", ".join(f"COUNT(CASE WHEN {c.condition} THEN 1 END) AS c{k}"
                     for k, c in enumerate(checks))
    counted = engine.fetch(f"SELECT {sums} FROM {frm}").iloc[0]
    # duplicates: group by one 64-bit hash of the key, then confirm the few candidates exactly
    key = duplicate_key(present, schema)
    hashed = engine.row_hash([f"r.{k}" for k in key])
    # copies of a record share its year: with the year in the key, each batch of years is
    # searched on its own
    parts = batches if batches and "year" in key else [None]
    engine.create_parts("duplicate_hashes", [
        engine.repeated(f"SELECT {hashed} AS h FROM tx_raw r{f' WHERE {where}' if where else ''}")
        for where in parts])
    cols = ", ".join(f"r.{k} AS {k}" for k in key)
    dup_groups = (f"SELECT {cols}, COUNT(*) AS n FROM tx_raw r JOIN duplicate_hashes c "
                  f"ON {hashed} = c.h GROUP BY {', '.join('r.' + k for k in key)} HAVING COUNT(*) > 1")
    dup = engine.fetch(f"SELECT COUNT(*) AS n_groups, SUM(n - 1) AS surplus FROM ({dup_groups}) d").iloc[0]
    n_dup = int(dup["surplus"]) if pd.notna(dup["surplus"]) else 0
    fired = [(c, int(counted[f"c{k}"])) for k, c in enumerate(checks)
             if pd.notna(counted[f"c{k}"]) and int(counted[f"c{k}"]) > 0]
    if not fired and n_dup == 0:
        return
    ident = ("CAST(r.seller_id AS STRING) AS seller_id, CAST(r.buyer_id AS STRING) AS buyer_id, "
             "CAST(r.product_code AS STRING) AS product_code")
    year = ("CAST(r.year AS STRING)" if "year" in present else "CAST(NULL AS STRING)")
    parts, counts = [], []
    for check, n in fired:
        parts.append(engine.fetch(
            f"SELECT r._file AS file, r._row AS row, {ident}, {year} AS year, "
            f"'{check.column}' AS problem_column, '{check.problem}' AS problem, {check.value} AS value "
            f"FROM {frm} WHERE {check.condition} ORDER BY r._file, r._row LIMIT {cap}"))
        counts.append({"column": check.column, "problem": check.problem, "n": n})
    if n_dup:
        on = " AND ".join(f"r.{k} IS NOT DISTINCT FROM d.{k}" for k in key)
        label = "+".join(key) if key == ("record_id",) else "all fields"
        listed = engine.fetch(
            f"SELECT file, row, seller_id, buyer_id, product_code, year, problem_column, problem, value FROM ("
            f"SELECT r._file AS file, r._row AS row, {ident}, {year} AS year, '{label}' AS problem_column, "
            f"'duplicate record (repeats an earlier row)' AS problem, CAST(NULL AS STRING) AS value, "
            f"ROW_NUMBER() OVER (PARTITION BY {', '.join('r.' + k for k in key)} "
            f"ORDER BY r._file, r._row) AS copy FROM tx_raw r JOIN ({dup_groups}) d ON {on}) x "
            f"WHERE copy > 1 ORDER BY file, row LIMIT {cap}")
        parts.append(listed)
        counts.append({"column": label, "problem": "duplicate record (repeats an earlier row)",
                       "n": n_dup})
    problems = pd.concat([p.astype(object) for p in parts], ignore_index=True)
    problems = problems.rename(columns={"problem_column": "column"})[list(PROBLEM_COLUMNS)]
    root = str(source.path) if source.kind == "parquet" else source.label
    problems["file"] = [normalise_file(f, root) for f in problems["file"]]
    problems = problems.sort_values(["file", "row"], kind="stable").reset_index(drop=True)
    counts_frame = pd.DataFrame(counts, columns=list(COUNT_COLUMNS))
    raise TransactionSchemaError(problems_message(problems, counts_frame, source.label, "transactions"),
                                 problems, counts_frame, source.label)


# -- the build ------------------------------------------------------------------------------
def _tx_source(transactions: Any) -> tuple[Any, dict[str, Path]]:
    if isinstance(transactions, (str, Path)):
        layout = _layout(Path(transactions))
        if layout is not None:
            return layout["transactions"], layout
    return transactions, {}


def _normalise(frame: pd.DataFrame) -> pd.DataFrame:
    """One pandas dtype per indicator whichever engine produced it."""
    out = pd.DataFrame(index=range(len(frame)))
    for column in frame.columns:
        values = frame[column].reset_index(drop=True)
        if column in ("firm_id", "main_buyer_id"):
            out[column] = values.astype(object).where(values.notna(), None)
        elif column == "sector":
            out[column] = values.astype("string")
        elif column == "year":
            out[column] = values.astype(np.int64)
        else:
            out[column] = pd.to_numeric(values, errors="raise").astype(np.float64)
    return out


def transaction_indicators(transactions: Any, *, products: Any = None, buyers: Any = None,
                           engine: str | Engine = "duckdb", proxy_share: float = 0.5,
                           cap: int = 100, progress: bool | None = None,
                           engine_options: dict[str, Any] | None = None,
                           batch_rows: int = BATCH_ROWS) -> TransactionIndicators:
    """Check transaction records in the engine and compute the firm-year indicators.

    Parameters
    ----------
    transactions : path or DataFrame
        Parquet file or folder (hive-partitioned folders included), CSV file or folder, a
        DataFrame, or a folder laid out as ``transactions[.parquet|.csv|/]`` with optional
        ``products.*``, ``buyers.*`` (and ``firms.*``, used by :func:`panel_from_transactions`).
    products, buyers : path or DataFrame, optional
        Lookup tables (``transactions_products`` / ``transactions_buyers`` schemas); taken from
        the folder layout when not given.
    engine : {"duckdb", "spark"} or Engine
        Where the SQL runs. DuckDB is embedded; Spark needs ``gvcpanel[spark]`` and Java.
    proxy_share : float
        Main-buyer share threshold of the quasi-hierarchy proxy.
    cap : int
        Rows listed per kind of problem (every kind is counted in full).
    progress : bool, optional
        Progress line on stderr (default: when stderr is a terminal).
    engine_options : dict, optional
        Passed to the engine (DuckDB: threads, memory_limit, temp_directory; Spark: spark,
        master, config).
    batch_rows : int
        A Parquet folder partitioned by year is read in batches of whole years of at least
        this many records (:func:`year_batches`); the output does not depend on it.

    Returns
    -------
    TransactionIndicators

    Raises
    ------
    TransactionSchemaError
        (a :class:`~gvcpanel.errors.SchemaError`) listing every problem of the records or of a
        lookup table: file, row, seller, buyer, product, year, column, value, with full counts.

    Notes
    -----
    The definitions are in :mod:`gvcpanel.gvc.transactions.indicators`.
    """
    tx, layout = _tx_source(transactions)
    products = products if products is not None else layout.get("products")
    buyers = buyers if buyers is not None else layout.get("buyers")
    schema = read_tx_schema("transactions")
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    source = resolve_source(tx, schema.missing_values)
    seconds["read"] = time.perf_counter() - start
    options = dict(engine_options or {})
    if not isinstance(engine, Engine):
        options.setdefault("progress", progress)
    eng = make_engine(engine, **options)
    own_engine = not isinstance(engine, Engine)
    try:
        columns = _register(eng, source)
        id_dtype = source.frame["buyer_id"].dtype if source.kind == "frame" and "buyer_id" in columns else None
        if id_dtype is None and "buyer_id" in columns:
            probe = eng.fetch("SELECT buyer_id FROM tx_raw LIMIT 1")
            id_dtype = probe["buyer_id"].dtype
        inputs, has_products, has_buyers = _lookups(eng, products, buyers, columns, id_dtype)
        eng.step("checks")
        t0 = time.perf_counter()
        batches = year_batches(eng, source, columns, batch_rows)
        _check(eng, source, columns, products=has_products, buyers=has_buyers, cap=cap,
               batches=batches)
        seconds["checks"] = time.perf_counter() - t0
        options = dict(products=has_products, buyers=has_buyers, proxy_share=proxy_share,
                       median=eng.exact_median)
        parts = []
        for b, where in enumerate(batches):
            eng.create(f"tx_{b}", ind.normalised_view(set(columns), where), materialise=False)
            parts.append(dict(ind.statements(**options, records=f"tx_{b}")))
        steps = ind.statements(**options)
        summary = None
        for k, (name, sql) in enumerate(steps[:-1], start=1):
            eng.step(f"{k}/{len(steps)} {name}")
            t0 = time.perf_counter()
            if name in ind.SCAN_STEPS:
                eng.create_parts(name, [p[name] for p in parts])
            else:
                eng.create(name, sql, materialise=True)
            seconds[name] = time.perf_counter() - t0
            if name == ind.SUMMARY_TABLE:
                summary = eng.fetch(ind.SUMMARY_SQL).iloc[0]
            # free each intermediate table after its last reader (memory, spill space)
            later = " ".join(s for _, s in steps[k:])
            for done, _ in steps[:k]:
                if not re.search(rf"\b{done}\b", later):
                    eng.drop(done)
        eng.step(f"{len(steps)}/{len(steps)} indicators")
        t0 = time.perf_counter()
        frame = _normalise(eng.fetch(steps[-1][1]))
        seconds["indicators"] = time.perf_counter() - t0
        version = eng.version()
    finally:
        if own_engine:
            eng.close()
        for path in source.cleanup:
            shutil.rmtree(path, ignore_errors=True)
    seconds["total"] = time.perf_counter() - start
    report = TransactionReport(
        inputs=(Input("transactions", source.label, source.sha256), *inputs),
        engine=eng.name, engine_version=version, definitions_version=ind.DEFINITIONS_VERSION,
        n_records=int(summary["n_records"] if pd.notna(summary["n_records"]) else 0),
        n_zero_value=int(summary["n_zero_value"] if pd.notna(summary["n_zero_value"]) else 0),
        n_without_quantity=int(summary["n_without_quantity"] if pd.notna(summary["n_without_quantity"]) else 0),
        n_firm_years=len(frame),
        proxy_share=float(proxy_share), seconds=seconds)
    return TransactionIndicators(frame, report)


def validate_transactions(transactions: Any, *, products: Any = None, buyers: Any = None,
                          engine: str | Engine = "duckdb", cap: int = 100) -> int:
    """Check records (and lookup tables) without computing indicators.

    Returns
    -------
    int
        Number of records checked.

    Raises
    ------
    TransactionSchemaError
        With every problem counted and the first ``cap`` rows of each kind listed.
    """
    tx, layout = _tx_source(transactions)
    products = products if products is not None else layout.get("products")
    buyers = buyers if buyers is not None else layout.get("buyers")
    schema = read_tx_schema("transactions")
    source = resolve_source(tx, schema.missing_values)
    eng = make_engine(engine) if not isinstance(engine, Engine) else engine
    try:
        columns = _register(eng, source)
        probe = eng.fetch("SELECT buyer_id FROM tx_raw LIMIT 1") if "buyer_id" in columns else None
        _, has_p, has_b = _lookups(eng, products, buyers, columns,
                                   probe["buyer_id"].dtype if probe is not None else None)
        _check(eng, source, columns, products=has_p, buyers=has_b, cap=cap)
        return int(eng.fetch("SELECT COUNT(*) AS n FROM tx_raw").iloc[0]["n"])
    finally:
        if not isinstance(engine, Engine):
            eng.close()
        for path in source.cleanup:
            shutil.rmtree(path, ignore_errors=True)


def panel_from_transactions(transactions: Any, *, firms: Any = None, products: Any = None,
                            buyers: Any = None, engine: str | Engine = "duckdb",
                            proxy_share: float = 0.5, cap: int = 100,
                            progress: bool | None = None,
                            engine_options: dict[str, Any] | None = None) -> Any:
    """A FirmPanel built from transaction records (and a firm table).

    Parameters
    ----------
    transactions, products, buyers, engine, proxy_share, cap, progress, engine_options
        As in :func:`transaction_indicators`.
    firms : path, DataFrame or FirmPanel, optional
        What the records do not hold: ``cluster_id`` and any survey or register columns, per
        firm (``firm_id``) or per firm-year (``firm_id``, ``year``); taken from ``firms.*`` of a
        folder layout when not given. Without it ``cluster_id`` is set to ``firm_id`` (standard
        errors clustered by firm).

    Returns
    -------
    FirmPanel
        One row per seller-year with records (and, when a firm table is given, a row in it),
        the indicators as columns. Indicators with a firm-panel field (``main_buyer_share``,
        ``n_buyers``, ``global_buyer``, ``sector``, ``new_sector_entry``, ``new_product``,
        ``unit_value``) replace same-named columns of the firm table; the load report says so.
        ``provenance.sha256`` hashes every input's hash; ``provenance.steps`` names the inputs,
        the engine and the definitions version.

    Notes
    -----
    Rows left out are counted in ``panel.load_report.notes``: seller-years without a row in the
    firm table, and firm-table rows without records (non-exporting years).
    """
    from gvcpanel.data.panel import FirmPanel, LoadReport, Provenance, package_version
    from gvcpanel.data.schema import read_schema

    tx, layout = _tx_source(transactions)
    firms = firms if firms is not None else layout.get("firms")
    built = transaction_indicators(transactions, products=products, buyers=buyers, engine=engine,
                                   proxy_share=proxy_share, cap=cap, progress=progress,
                                   engine_options=engine_options)
    frame = built.frame.copy()
    report = built.report
    notes: list[str] = []
    exclusions: dict[str, int] = {}
    inputs = list(report.inputs)
    if firms is not None:
        table, info = _read_table(firms, "firms")
        inputs.append(info)
        if "firm_id" not in table.columns:
            raise SpecificationError(f"the firm table {info.label} has no firm_id column; it needs "
                                     "firm_id (and year for firm-year tables) and cluster_id.")
        replaced = [c for c in table.columns if c in frame.columns and c not in ("firm_id", "year")]
        if replaced:
            table = table.drop(columns=replaced)
            notes.append("from the transaction records, replacing the firm table's columns: "
                         + ", ".join(replaced))
        key = ["firm_id", "year"] if "year" in table.columns else ["firm_id"]
        frame["firm_id"], table["firm_id"] = _common_ids(frame["firm_id"], table["firm_id"])
        merged = frame.merge(table, on=key, how="outer", indicator=True)
        only_tx = int((merged["_merge"] == "left_only").sum())
        only_firms = int((merged["_merge"] == "right_only").sum())
        if only_tx:
            exclusions["seller-years without a row in the firm table"] = only_tx
        if only_firms and "year" in key:
            exclusions["firm-table rows without transaction records (left out)"] = only_firms
        frame = merged[merged["_merge"] == "both"].drop(columns="_merge")
    else:
        frame["cluster_id"] = frame["firm_id"]
        notes.append("no firm table: cluster_id = firm_id (standard errors clustered by firm)")
    if "unit_value" in frame.columns:
        notes.append("unit_value is the relative unit value (value-weighted ratio to the "
                     "product-unit-year median), not currency per unit")
    notes.append("quasi_hierarchy_proxy is a proxy from records (dependence and a lasting main "
                 "buyer), not the survey classification; governance is never filled from it")
    for reason, n in exclusions.items():
        notes.append(f"left out: {reason}: {n}")
    notes.append(f"records: {report.n_records}; of value 0: {report.n_zero_value}; without a "
                 f"positive quantity (not in unit values): {report.n_without_quantity}")
    full = TransactionReport(**{**report.__dict__, "inputs": tuple(inputs), "exclusions": exclusions})
    schema = read_schema("firm_panel")
    provenance = Provenance(source=f"transactions:{report.inputs[0].label}", sha256=full.sha256,
                            schema_version=schema.version, package_version=package_version(),
                            mapping=f"transactions@{ind.DEFINITIONS_VERSION}",
                            steps=(full.describe(),))
    load_report = LoadReport(source=report.inputs[0].label, n_rows_source=report.n_records,
                             n_rows=len(frame), notes=tuple(notes))
    return FirmPanel(frame.reset_index(drop=True), provenance=provenance, load_report=load_report)


def _common_ids(ids: pd.Series, reference: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Both id columns as int64 when every id on both sides is a whole number, else as text
    (CSV sources give text ids, Parquet and the firm panel integers)."""
    left = pd.to_numeric(ids, errors="coerce")
    right = pd.to_numeric(reference, errors="coerce")
    whole = (left.notna().all() and right.notna().all() and (left == np.floor(left)).all()
             and (right == np.floor(right)).all())
    if whole:
        return left.astype(np.int64), right.astype(np.int64)
    return ids.astype(str), reference.astype(str)


__all__ = ["BATCH_ROWS", "Input", "TransactionIndicators", "TransactionReport",
           "panel_from_transactions", "transaction_indicators", "validate_transactions",
           "year_batches"]
