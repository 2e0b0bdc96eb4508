"""Engines that run the transaction definitions: DuckDB (embedded, the default) and Spark.

Both take the same SQL text from :mod:`.indicators` and :mod:`.schema`. What differs is kept
here and small: how a source is registered as the view ``tx_raw`` (with ``_file`` and ``_row``,
the record's file and 0-based row in it), how an intermediate table is materialised, the
regular-expression test (:meth:`Engine.regex`), the exact median
aggregate where an engine has one (:attr:`Engine.exact_median`), how repeated record hashes
are found (:meth:`Engine.repeated`), how a table is built from parts (one batch of years
each, :meth:`Engine.create_parts`), column types, and progress reporting.

Sources are Parquet files or folders (hive-partitioned folders such as ``year=2012/`` included),
CSV files or folders of CSV files, or a pandas DataFrame. CSV is first converted, streaming and
without type inference (every column as text, so ``010121`` keeps its zero), to a temporary
Parquet copy that carries ``_file`` and ``_row``; both engines then read the same copy, and the
checks report non-numbers as problems instead of guessing.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote

import pandas as pd

from gvcpanel.errors import SpecificationError

EngineName = Literal["duckdb", "spark"]
_CSV_SUFFIXES = (".csv", ".txt", ".gz")
_PARQUET_SUFFIXES = (".parquet", ".pq")


def data_files(folder: Path) -> list[Path]:
    """Data files of a folder as the engines read them (hidden and ``_``-prefixed skipped)."""
    out = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        out += [Path(root) / f for f in files if not f.startswith((".", "_"))]
    return sorted(out, key=lambda p: p.relative_to(folder).as_posix())


@dataclass(frozen=True)
class Source:
    """A transaction source after resolution.

    ``kind`` is ``"parquet"`` (``path`` is a file or folder), ``"converted"`` (a CSV source copied
    to Parquet in ``path``, with ``_file``/``_row`` columns) or ``"frame"``.
    """

    label: str
    kind: str
    path: Path | None = None
    frame: pd.DataFrame | None = None
    sha256: str = ""
    cleanup: tuple[Path, ...] = field(default=(), repr=False)


def _sha256(path: Path) -> str:
    from gvcpanel.data.io import content_sha256

    return content_sha256(path)


def _csv_to_parquet(files: list[Path], root: Path, missing: tuple[str, ...]) -> Path:
    """Stream CSV files into one Parquet file per CSV: text columns plus ``_file`` and ``_row``."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    out = Path(tempfile.mkdtemp(prefix="gvcpanel-tx-"))
    for k, file in enumerate(files):
        with pacsv.open_csv(file) as probe:
            names = probe.schema.names
        convert = pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                       null_values=list(missing), strings_can_be_null=True)
        reader = pacsv.open_csv(file, convert_options=convert,
                                read_options=pacsv.ReadOptions(block_size=1 << 24))
        label = file.relative_to(root).as_posix() if root.is_dir() else file.name
        writer = None
        offset = 0
        try:
            for batch in reader:
                n = batch.num_rows
                table = pa.Table.from_batches([batch]).append_column(
                    "_file", pa.array([label] * n, pa.string())).append_column(
                    "_row", pa.array(range(offset, offset + n), pa.int64()))
                offset += n
                if writer is None:
                    writer = pq.ParquetWriter(out / f"part-{k:05d}.parquet", table.schema)
                writer.write_table(table)
        finally:
            if writer is not None:
                writer.close()
    return out


def resolve_source(source: Any, missing: tuple[str, ...] = ("",)) -> Source:
    """Turn a path or DataFrame into a :class:`Source` (CSV converted, content hashed)."""
    if isinstance(source, pd.DataFrame):
        from gvcpanel.data.panel import frame_sha256

        frame = source.reset_index(drop=True).copy()
        frame["_file"] = "<DataFrame>"
        frame["_row"] = range(len(frame))
        return Source("<DataFrame>", "frame", frame=frame, sha256=frame_sha256(source.reset_index(drop=True)))
    path = Path(source)
    if not path.exists():
        raise SpecificationError(f"transaction source {path} does not exist; pass a Parquet file or "
                                 "folder, a CSV file or folder, or a DataFrame.")
    files = data_files(path) if path.is_dir() else [path]
    if not files:
        raise SpecificationError(f"transaction folder {path} holds no data files.")
    suffixes = {f.suffix.lower() for f in files}
    if suffixes <= set(_PARQUET_SUFFIXES):
        return Source(str(path), "parquet", path=path, sha256=_sha256(path))
    if suffixes <= set(_CSV_SUFFIXES):
        converted = _csv_to_parquet(files, path, missing)
        return Source(str(path), "converted", path=converted, sha256=_sha256(path),
                      cleanup=(converted,))
    raise SpecificationError(f"transaction source {path} mixes or uses unsupported formats "
                             f"{sorted(suffixes)}; use Parquet (.parquet) or CSV (.csv) files.")


_INTEGER_TYPES = {"tinyint", "smallint", "integer", "int", "bigint", "hugeint", "utinyint",
                  "usmallint", "uinteger", "ubigint", "uhugeint", "long", "short", "byte"}
_FLOAT_TYPES = {"float", "double", "real"}


def _kind(type_name: str) -> str:
    name = type_name.lower().split("(")[0].strip()
    if name in _INTEGER_TYPES:
        return "integer"
    if name in _FLOAT_TYPES or name == "decimal":
        return "float"
    return "date" if name == "date" else "other"


def _default_memory_limit() -> str:
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - non-POSIX
        return "4GB"
    return f"{max(256, min(4096, total // 2**21))}MB"


class _ProgressLine:
    """A one-line progress display on stderr (only on a terminal unless forced)."""

    def __init__(self, enabled: bool | None, label: str) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.label = label
        self._width = 0

    def show(self, text: str) -> None:
        if not self.enabled:
            return
        line = f"{self.label} {text}"
        sys.stderr.write("\r" + line.ljust(self._width))
        sys.stderr.flush()
        self._width = max(self._width, len(line))

    def done(self, text: str) -> None:
        if self.enabled:
            self.show(text)
            sys.stderr.write("\n")
            sys.stderr.flush()


class Engine:
    """What the definitions need from an engine (see :class:`DuckDBEngine`, :class:`SparkEngine`)."""

    name: str = ""
    #: exact median aggregate (``{x}`` the argument) as ``(lower middle + upper middle) / 2``,
    #: or None for the portable ranking window of :func:`.indicators.statements`
    exact_median: str | None = None

    def version(self) -> str:
        raise NotImplementedError

    def regex(self, expr: str, pattern: str) -> str:
        """SQL test that ``expr`` matches ``pattern`` in full."""
        raise NotImplementedError

    def row_hash(self, expressions: list[str]) -> str:
        """SQL of a 64-bit hash of several columns (NULLs included); collisions are confirmed
        by the caller, so engines may use different hash functions."""
        raise NotImplementedError

    def repeated(self, sql: str) -> str:
        """SQL of the distinct values of column ``h`` of ``sql`` that occur more than once."""
        return f"SELECT h FROM ({sql}) x GROUP BY h HAVING COUNT(*) > 1"

    def register_source(self, source: Source, view: str = "tx_raw") -> list[str]:
        """Make ``view`` with the source's columns plus ``_file`` and ``_row``; return the data columns."""
        raise NotImplementedError

    def register_frame(self, name: str, frame: pd.DataFrame) -> None:
        raise NotImplementedError

    def column_types(self, view: str) -> dict[str, str]:
        """Column -> the engine's type name, lower case (``bigint``, ``double``, ``date``, ...)."""
        raise NotImplementedError

    def column_kinds(self, view: str) -> dict[str, str]:
        """Column -> ``"integer"``, ``"float"``, ``"date"`` or ``"other"`` (text and the rest)."""
        return {name: _kind(kind) for name, kind in self.column_types(view).items()}

    def create(self, name: str, sql: str, *, materialise: bool) -> None:
        raise NotImplementedError

    def create_parts(self, name: str, parts: list[str]) -> None:
        """Materialise ``UNION ALL`` of ``parts`` as table ``name``, computing one part at a
        time (so each part's hash tables are built and released before the next)."""
        raise NotImplementedError

    def fetch(self, sql: str) -> pd.DataFrame:
        raise NotImplementedError

    def drop(self, name: str) -> None:
        """Release an intermediate table made by :meth:`create` (its memory or spill space)."""

    def close(self) -> None:
        pass

    def step(self, label: str) -> None:
        """Name of the step running now, for the progress line."""
        self._step = label


class DuckDBEngine(Engine):
    """DuckDB in this process, out of core over Parquet.

    Parameters
    ----------
    threads : int, optional
        Worker threads (default: DuckDB's, the number of cores).
    memory_limit : str, optional
        For example ``"8GB"``; DuckDB spills to ``temp_directory`` beyond it. Default: 4 GB or
        half the machine's memory if that is less (DuckDB's own default, 80% of memory, lets
        one build crowd out everything else on a shared machine; the aggregates spill well).
    temp_directory : str, optional
        Where DuckDB spills (default: a fresh temporary folder).
    progress : bool, optional
        Show a progress line (default: when stderr is a terminal). DuckDB reports the share of
        the running query done, polled twice a second.
    """

    name = "duckdb"
    # quantile_disc(x, 0.5) is the lower middle value (index floor((n - 1) / 2)); that of -x is
    # minus the upper one: the sum of the two is lower + upper exactly, as in the ranking
    exact_median = "(quantile_disc({x}, 0.5) - quantile_disc(-{x}, 0.5)) / CAST(2 AS DOUBLE)"

    def __init__(self, *, threads: int | None = None, memory_limit: str | None = None,
                 temp_directory: str | None = None, progress: bool | None = None) -> None:
        try:
            import duckdb
        except ImportError as exc:  # pragma: no cover - duckdb is a core dependency
            raise SpecificationError("the DuckDB engine needs the duckdb package: pip install duckdb") from exc
        self._duckdb = duckdb
        self._tmp = Path(temp_directory or tempfile.mkdtemp(prefix="gvcpanel-duckdb-"))
        self.con = duckdb.connect(":memory:")
        self.con.execute("SET enable_progress_bar = false")
        # results are ordered explicitly; not preserving scan order lets DuckDB stream and spill
        self.con.execute("SET preserve_insertion_order = false")
        self.con.execute(f"SET temp_directory = '{self._tmp.as_posix()}'")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        self.con.execute(f"SET memory_limit = '{memory_limit or _default_memory_limit()}'")
        self._progress = _ProgressLine(progress, "transactions [duckdb]")
        self._step = ""
        self._frames: list[str] = []

    def version(self) -> str:
        return self._duckdb.__version__

    def regex(self, expr: str, pattern: str) -> str:
        return f"regexp_full_match({expr}, '{pattern}')"

    def row_hash(self, expressions: list[str]) -> str:
        return f"hash({', '.join(expressions)})"

    def repeated(self, sql: str) -> str:
        # nearly every hash is unique: DuckDB sorts them in about half the time it takes to
        # group them (a hash table of 10^8 one-row groups), and equal ones end up adjacent
        return (f"SELECT DISTINCT h FROM (SELECT h, LAG(h) OVER (ORDER BY h) AS previous "
                f"FROM ({sql}) x) y WHERE h = previous")

    def register_source(self, source: Source, view: str = "tx_raw") -> list[str]:
        if source.kind == "frame":
            self.register_frame(f"{view}_frame", source.frame)
            self.con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT * FROM {view}_frame")
        else:
            assert source.path is not None
            files = data_files(source.path) if source.path.is_dir() else [source.path]
            listing = ", ".join("'" + f.as_posix().replace("'", "''") + "'" for f in files)
            hive = "true" if source.path.is_dir() else "false"
            if source.kind == "converted":
                self.con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT * FROM read_parquet("
                                 f"[{listing}], union_by_name = true)")
            else:
                self.con.execute(
                    f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT * EXCLUDE (file_row_number, _file_name), "
                    f"_file_name AS _file, file_row_number AS _row FROM read_parquet([{listing}], "
                    f"hive_partitioning = {hive}, union_by_name = true, filename = '_file_name', "
                    f"file_row_number = true)")
        return [c for c in self.columns(view) if c not in ("_file", "_row")]

    def columns(self, view: str) -> list[str]:
        return list(self.con.execute(f"SELECT * FROM {view} LIMIT 0").fetch_df().columns)

    def column_types(self, view: str) -> dict[str, str]:
        rows = self.con.execute(f"DESCRIBE SELECT * FROM {view}").fetchall()
        return {str(r[0]): str(r[1]).lower() for r in rows}

    def register_frame(self, name: str, frame: pd.DataFrame) -> None:
        self.con.register(name, frame)
        self._frames.append(name)

    def _run(self, call: Any) -> Any:
        if not self._progress.enabled:
            return call()
        stop = threading.Event()

        def poll() -> None:
            while not stop.wait(0.5):
                try:
                    share = self.con.query_progress()
                except Exception:  # noqa: BLE001 - progress is cosmetic
                    return
                if share is not None and share >= 0:
                    self._progress.show(f"{self._step}: {share:5.1f}%")

        watcher = threading.Thread(target=poll, daemon=True)
        watcher.start()
        try:
            return call()
        finally:
            stop.set()
            watcher.join()
            self._progress.show(f"{self._step}: done")

    def create(self, name: str, sql: str, *, materialise: bool) -> None:
        kind = "TABLE" if materialise else "VIEW"
        self._run(lambda: self.con.execute(f"CREATE OR REPLACE TEMP {kind} {name} AS {sql}"))

    def create_parts(self, name: str, parts: list[str]) -> None:
        self.create(name, parts[0], materialise=True)
        for sql in parts[1:]:
            self._run(lambda sql=sql: self.con.execute(f"INSERT INTO {name} {sql}"))

    def fetch(self, sql: str) -> pd.DataFrame:
        return self._run(lambda: self.con.execute(sql).fetch_df())

    def drop(self, name: str) -> None:
        self.con.execute(f"DROP TABLE IF EXISTS {name}")

    def close(self) -> None:
        if self._progress.enabled:
            self._progress.done("finished")
        self.con.close()
        import shutil

        shutil.rmtree(self._tmp, ignore_errors=True)


class SparkEngine(Engine):
    """Spark SQL through PySpark (``pip install "gvcpanel[spark]"``; needs a Java runtime).

    Parameters
    ----------
    spark : pyspark.sql.SparkSession, optional
        A session to use (a cluster's); by default a local one, ``local[*]``.
    master : str
        Master URL of the default session.
    progress : bool, optional
        Spark's console progress bar (default: when stderr is a terminal).
    config : dict, optional
        Extra Spark settings for the default session.

    Notes
    -----
    Intermediate tables are cached (``CACHE TABLE ... AS``) and released by :meth:`close`;
    a session passed in is left running, the default one is stopped.
    """

    name = "spark"

    def __init__(self, spark: Any = None, *, master: str = "local[*]", progress: bool | None = None,
                 config: dict[str, str] | None = None) -> None:
        try:
            import pyspark
            from pyspark.sql import SparkSession
        except ImportError as exc:
            raise SpecificationError(
                "the Spark engine needs PySpark and a Java runtime: pip install 'gvcpanel[spark]' "
                "(and e.g. apt-get install default-jre-headless); or use engine='duckdb'.") from exc
        self._pyspark = pyspark
        self._own = spark is None
        show = sys.stderr.isatty() if progress is None else progress
        if spark is None:
            builder = (SparkSession.builder.master(master).appName("gvcpanel-transactions")
                       .config("spark.ui.enabled", "false")
                       .config("spark.ui.showConsoleProgress", str(bool(show)).lower())
                       .config("spark.sql.shuffle.partitions", str(max(2, 2 * (os.cpu_count() or 1))))
                       .config("spark.sql.session.timeZone", "UTC")
                       .config("spark.sql.execution.arrow.pyspark.enabled", "true"))
            for key, value in (config or {}).items():
                builder = builder.config(key, value)
            spark = builder.getOrCreate()
            spark.sparkContext.setLogLevel("ERROR")
        self.spark = spark
        self._cached: list[str] = []
        self._views: list[str] = []
        self._progress = _ProgressLine(progress, "transactions [spark]")
        self._step = ""

    def version(self) -> str:
        return str(self.spark.version)

    def regex(self, expr: str, pattern: str) -> str:
        # Spark string literals treat a backslash as an escape character: double it
        escaped = pattern.replace("\\", "\\\\")
        return f"({expr} RLIKE '^(?:{escaped})$')"

    def row_hash(self, expressions: list[str]) -> str:
        return f"xxhash64({', '.join(expressions)})"

    def register_source(self, source: Source, view: str = "tx_raw") -> list[str]:
        from pyspark.sql import functions as F

        if source.kind == "frame":
            self.register_frame(view, source.frame)
        else:
            assert source.path is not None
            frame = self.spark.read.parquet(source.path.as_posix())
            if source.kind == "parquet":
                frame = frame.select("*", F.col("_metadata.file_path").alias("_file"),
                                     F.col("_metadata.row_index").alias("_row"))
            frame.createOrReplaceTempView(view)
            self._views.append(view)
        return [c for c in self.spark.table(view).columns if c not in ("_file", "_row")]

    def register_frame(self, name: str, frame: pd.DataFrame) -> None:
        self.spark.createDataFrame(frame).createOrReplaceTempView(name)
        self._views.append(name)

    def column_types(self, view: str) -> dict[str, str]:
        return {name: kind.lower() for name, kind in self.spark.table(view).dtypes}

    def create(self, name: str, sql: str, *, materialise: bool) -> None:
        self._progress.show(f"{self._step}")
        self.spark.sql(f"DROP VIEW IF EXISTS {name}")
        if materialise:
            self.spark.sql(f"CACHE TABLE {name} AS {sql}")
            self._cached.append(name)
        else:
            self.spark.sql(f"CREATE OR REPLACE TEMPORARY VIEW {name} AS {sql}")
            self._views.append(name)

    def create_parts(self, name: str, parts: list[str]) -> None:
        if len(parts) == 1:
            self.create(name, parts[0], materialise=True)
            return
        for k, sql in enumerate(parts):
            self.create(f"{name}__part{k}", sql, materialise=True)
        union = " UNION ALL ".join(f"SELECT * FROM {name}__part{k}" for k in range(len(parts)))
        self.create(name, union, materialise=False)

    def fetch(self, sql: str) -> pd.DataFrame:
        self._progress.show(f"{self._step}")
        return self.spark.sql(sql).toPandas()

    def drop(self, name: str) -> None:
        # a cached table is a temporary view whose plan names the views it was made from, so
        # dropping one would break the later ones; Spark evicts cached blocks under memory
        # pressure anyway, and close() releases them all
        return None

    def close(self) -> None:
        for name in self._cached:
            self.spark.sql(f"UNCACHE TABLE IF EXISTS {name}")
        for name in self._cached + self._views:
            self.spark.catalog.dropTempView(name)
        if self._progress.enabled:
            self._progress.done("finished")
        if self._own:
            self.spark.stop()


def make_engine(engine: EngineName | Engine = "duckdb", **options: Any) -> Engine:
    """An engine by name (``"duckdb"`` or ``"spark"``), or the Engine given."""
    if isinstance(engine, Engine):
        return engine
    if engine == "duckdb":
        return DuckDBEngine(**options)
    if engine == "spark":
        return SparkEngine(**options)
    raise SpecificationError(f"engine={engine!r}; use 'duckdb' (embedded, the default) or 'spark'.")


def normalise_file(name: Any, root: str) -> Any:
    """A record's file as a path relative to the source (Spark gives ``file:`` URIs)."""
    if name is None or (isinstance(name, float) and pd.isna(name)) or name is pd.NA:
        return name
    text = unquote(str(name))
    if text.startswith("file:"):
        text = text[5:]
        while text.startswith("//"):
            text = text[1:]
    try:
        base = Path(root)
        if base.is_dir():
            return Path(text).resolve().relative_to(base.resolve()).as_posix()
        if base.is_file():
            return base.name
    except (ValueError, OSError):
        pass
    return text


def timed(engine: Engine, label: str, call: Any) -> tuple[Any, float]:
    engine.step(label)
    start = time.perf_counter()
    out = call()
    return out, time.perf_counter() - start


__all__ = ["DuckDBEngine", "Engine", "SparkEngine", "Source", "data_files", "make_engine",
           "normalise_file", "resolve_source"]
