"""Benchmark: load + validate 1,000,000 firm-years from Parquet; stream-validate 10,000,000.

Not a test. Writes synthetic Parquet files with every canonical column into benchmarks/_data/
(gitignored), then prints a Markdown table:

- ``load_panel`` (read, validate, index, hash the file) on the 1M file, median of ``--repeat``;
- ``validate_file`` streaming over the 10M file in a fresh process, wall time and peak RSS
  (``resource.getrusage(RUSAGE_SELF).ru_maxrss``, KiB on Linux).

Usage::

    .venv/bin/python benchmarks/load_validate.py [--rows 1000000] [--stream-rows 10000000]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

DATA = Path(__file__).resolve().parent / "_data"
YEARS = 10


def synthetic_chunk(start: int, stop: int, rng: np.random.Generator) -> pa.Table:
    """Rows ``start..stop`` of a balanced panel (10 years per firm) with canonical columns."""
    rows = np.arange(start, stop, dtype=np.int64)
    n = rows.size
    firm = rows // YEARS
    binary = lambda: rng.integers(0, 2, n).astype(np.float64)  # noqa: E731
    gov = np.array(["market", "network", "quasi_hierarchy", "hierarchy"])
    ghs = np.array(["market", "modular", "relational", "captive", "hierarchy"])
    countries = np.array(["BRA", "IND", "VNM", "MEX", "CHN", "TUR"])
    return pa.table({
        "firm_id": firm, "year": (2005 + rows % YEARS).astype(np.int64),
        "cluster_id": firm % 30, "country": countries[firm % 6],
        "sector": (10 + firm % 24).astype(str), "new_sector_entry": binary(),
        "main_buyer_share": rng.uniform(0, 1, n), "n_buyers": rng.integers(1, 50, n).astype(float),
        "buyer_sets_design": binary(), "buyer_monitors_process": binary(), "buyer_owned": binary(),
        "joint_development": binary(), "global_buyer": binary(),
        "governance": pa.array(gov[rng.integers(0, 4, n)]).dictionary_encode(),
        "governance_ghs": pa.array(ghs[rng.integers(0, 5, n)]).dictionary_encode(),
        "transaction_complexity": rng.uniform(0, 1, n), "codifiability": rng.uniform(0, 1, n),
        "supplier_capability": rng.uniform(0, 1, n), "iso_certified": binary(),
        "labour_productivity": rng.normal(9, 1, n), "defect_rate": rng.uniform(0, 0.2, n),
        "new_product": binary(), "unit_value": rng.lognormal(2, 1, n),
        "function_level": rng.integers(0, 4, n).astype(float),
        "n_partners": rng.integers(0, 10, n).astype(float), "alliance": binary(),
        "university_link": binary(), "association_member": binary(),
        "employees": rng.integers(5, 5000, n).astype(float),
        "firm_age": rng.integers(0, 60, n).astype(float), "foreign_owned": binary(),
        "export_share": rng.uniform(0, 1, n),
    })


def write_panel(path: Path, n_rows: int, chunk: int = 1_000_000) -> Path:
    """Write ``n_rows`` synthetic firm-years to ``path`` (kept if it already exists)."""
    if path.exists() and pq.read_metadata(path).num_rows == n_rows:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20240601)
    writer = None
    for start in range(0, n_rows, chunk):
        table = synthetic_chunk(start, min(start + chunk, n_rows), rng)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()
    return path


def time_load(path: Path, repeat: int) -> list[float]:
    """Wall times of load_panel(path), each a full read + validate + index + hash."""
    from gvcpanel.data.io import load_panel

    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        panel = load_panel(path)
        times.append(time.perf_counter() - start)
        assert len(panel) == pq.read_metadata(path).num_rows
        del panel
    return times


STREAM = """
import resource, sys, time
from gvcpanel.data.io import validate_file
start = time.perf_counter()
report = validate_file(sys.argv[1], batch_size=int(sys.argv[2]))
elapsed = time.perf_counter() - start
assert report.ok, report.message()
print(elapsed, report.n_rows, report.n_firms, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def time_stream(path: Path, batch_size: int) -> tuple[float, int, int, int]:
    """Seconds, rows, firms and peak RSS (KiB) of validate_file in a fresh process."""
    out = subprocess.run([sys.executable, "-c", STREAM, str(path), str(batch_size)],
                         capture_output=True, text=True, check=True)
    seconds, rows, firms, peak = out.stdout.split()
    return float(seconds), int(rows), int(firms), int(peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--stream-rows", type=int, default=10_000_000)
    parser.add_argument("--batch-size", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    small = write_panel(DATA / f"panel_{args.rows}.parquet", args.rows)
    times = time_load(small, args.repeat)
    lines = ["| task | rows | median s | min s | peak RSS MB |", "| --- | --- | --- | --- | --- |",
             f"| load_panel + validate (Parquet) | {args.rows:,} | {statistics.median(times):.2f} | "
             f"{min(times):.2f} | |"]
    if args.stream_rows:
        big = write_panel(DATA / f"panel_{args.stream_rows}.parquet", args.stream_rows)
        seconds, rows, firms, peak = time_stream(big, args.batch_size)
        lines.append(f"| validate_file streaming (batch {args.batch_size:,}) | {rows:,} | "
                     f"{seconds:.2f} | | {peak / 1024:.0f} |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
