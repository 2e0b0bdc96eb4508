"""``make bench``: gvcpanel against linearmodels, pyfixest and statsmodels, written to results.md.

Each (design, tool) pair runs in its own subprocess so that memory figures do not mix: the
worker builds the seeded design, runs the estimator once (warm-up: imports, numba JIT), then
``--reps`` timed runs (the median is reported), then one more run under :mod:`tracemalloc`
whose peak is the memory the call allocated on top of the data it was given (numpy and pandas
report their buffers to tracemalloc).  ``ru_maxrss`` of the worker is reported as well; it
also contains the interpreter, the libraries and the data.

Usage::

    .venv/bin/python benchmarks/run.py            # full size (2,000,000 firm-years), ~15 min
    .venv/bin/python benchmarks/run.py --quick    # 200,000 firm-years, a minute or two
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
import warnings
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from designs import FORMULA, N_REGRESSORS, effects_of, make_design  # noqa: E402

REGRESSORS = [f"x{j}" for j in range(1, N_REGRESSORS + 1)]
TOOLS = {
    "balanced": ["gvcpanel", "gvcpanel-engine", "pyfixest", "linearmodels"],
    "unbalanced": ["gvcpanel", "gvcpanel-engine", "pyfixest", "linearmodels"],
    "threeway": ["gvcpanel", "gvcpanel-engine", "pyfixest", "linearmodels"],
    "hazard": ["gvcpanel", "statsmodels"],
}


# --- workers ---------------------------------------------------------------------------------
def hazard_panel(n_firms: int, seed: int = 20240611):
    """Firm-years at risk of first ISO certification (rows after the event are not kept)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    years = 10
    firm = np.repeat(np.arange(n_firms), years)
    year = np.tile(np.arange(2000, 2000 + years), n_firms)
    x = rng.normal(size=(firm.size, 3))
    eta = -3.0 + 0.1 * (year - 2000) + x @ np.array([0.3, -0.2, 0.1])
    event = rng.random(firm.size) < 1 - np.exp(-np.exp(eta))
    # keep rows up to and including the first event of each firm; firms certified when first
    # observed are left-truncated (not at risk), as the package's risk set does
    cum = np.cumsum(event)
    start = np.repeat(np.arange(n_firms) * years, years)
    prior = cum - event - np.concatenate(([0], cum))[start]
    keep = (prior == 0) & ~event.reshape(n_firms, years)[:, 0][firm]
    certified = np.maximum.accumulate(event.reshape(n_firms, years), axis=1).ravel().astype(float)
    frame = pd.DataFrame(
        {"iso_certified": certified, "x1": x[:, 0], "x2": x[:, 1], "x3": x[:, 2],
         "cluster_id": rng.integers(0, 100, n_firms)[firm]},
        index=pd.MultiIndex.from_arrays([firm, year], names=["firm_id", "year"]),
    )
    return frame, keep


def prepare(tool: str, design: str, n_firms: int):
    """Data for one tool (untimed) and a zero-argument callable that runs the estimator."""
    import numpy as np

    if design == "hazard":
        frame, keep = hazard_panel(n_firms)
        col_bytes = int(frame.memory_usage(index=True).sum())
        if tool == "gvcpanel":
            from gvcpanel.gvc.hazard import upgrading_hazard

            return col_bytes, lambda: upgrading_hazard(frame, "process ~ x1 + x2 + x3", cluster="cluster_id")
        import pandas as pd
        import statsmodels.api as sm

        at_risk = frame[keep]
        year = at_risk.index.get_level_values("year")
        exog = pd.concat([at_risk[["x1", "x2", "x3"]],
                          pd.get_dummies(year, prefix="year", dtype=float).set_index(at_risk.index)], axis=1)
        endog = at_risk["iso_certified"].to_numpy()
        groups = at_risk["cluster_id"].to_numpy()
        link = sm.families.links.CLogLog()
        return col_bytes, lambda: sm.GLM(endog, exog, family=sm.families.Binomial(link=link)).fit(
            cov_type="cluster", cov_kwds={"groups": groups})
    frame = make_design(design, n_firms)
    col_bytes = int(frame.memory_usage(index=True).sum())
    effects = effects_of(design)
    if tool == "gvcpanel":
        from gvcpanel.models.linear import fe_regression

        return col_bytes, lambda: fe_regression(frame, FORMULA, effects=effects, cluster="firm_id")
    if tool == "gvcpanel-engine":
        from gvcpanel.models.absorb import Absorber, FixedEffect, interact

        idx = frame.index
        firm = FixedEffect("firm", np.asarray(idx.codes[0], dtype=np.intp), len(idx.levels[0]))
        year = FixedEffect("year", np.asarray(idx.codes[1], dtype=np.intp), len(idx.levels[1]))
        fes = [firm, year]
        if design == "threeway":
            cl = frame["cluster_id"].to_numpy()
            fes.append(interact(FixedEffect("cluster_id", cl.astype(np.intp), int(cl.max()) + 1), year))
        block = np.asfortranarray(frame[["y", *REGRESSORS]].to_numpy())

        def engine():
            work = block.copy(order="F")
            return Absorber(fes).demean(work)

        return col_bytes, engine
    if tool == "pyfixest":
        import pyfixest as pf

        flat = frame.reset_index()
        rhs = " + ".join(["firm_id", "year"] + (["cluster_id^year"] if design == "threeway" else []))
        return col_bytes, lambda: pf.feols(f"{FORMULA} | {rhs}", data=flat, vcov={"CRV1": "firm_id"})
    if tool == "linearmodels":
        if design == "threeway":  # PanelOLS takes at most two effects: use AbsorbingLS
            import pandas as pd
            from linearmodels.iv.absorbing import AbsorbingLS

            absorb = pd.DataFrame({
                "firm": pd.Categorical(frame.index.get_level_values(0)),
                "year": pd.Categorical(frame.index.get_level_values(1)),
                "cy": pd.Categorical(frame["cluster_id"].astype(str) + "_" + frame.index.get_level_values(1).astype(str)),
            }, index=frame.index)
            clusters = frame.index.get_level_values(0).to_numpy()
            return col_bytes, lambda: AbsorbingLS(frame["y"], frame[REGRESSORS], absorb=absorb).fit(
                cov_type="clustered", clusters=clusters)
        from linearmodels import PanelOLS

        return col_bytes, lambda: PanelOLS(frame["y"], frame[REGRESSORS], entity_effects=True, time_effects=True).fit(
            cov_type="clustered", cluster_entity=True)
    raise SystemExit(f"unknown tool {tool}")


def worker(tool: str, design: str, n_firms: int, reps: int) -> dict:
    warnings.simplefilter("ignore")
    col_bytes, run = prepare(tool, design, n_firms)
    start = time.perf_counter()
    run()
    first = time.perf_counter() - start
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "first": first,
        "times": times,
        "median": statistics.median(times),
        "peak_alloc": peak,
        "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "column_bytes": col_bytes,
    }


def run_worker(tool: str, design: str, n_firms: int, reps: int, timeout: float) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", tool, design, str(n_firms), str(reps)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout:.0f} s"}
    if out.returncode < 0:  # a signal: on this 24 GiB machine in practice the kernel's OOM killer
        return {"error": f"killed by signal {-out.returncode} (out of memory?)"}
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1][:200]}
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- report ----------------------------------------------------------------------------------
def versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for name in ("gvcpanel", "numpy", "pandas", "scipy", "linearmodels", "pyfixest", "statsmodels", "numba"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "not installed"
    return out


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kib / 2**20:.1f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} logical CPUs{mem}"


def fmt_mb(b: float) -> str:
    return f"{b / 2**20:,.0f} MiB"


def write_report(path: Path, results: dict, sizes: dict, args, load_text: str, elapsed: float) -> None:
    lines = [
        "# gvcpanel benchmarks",
        "",
        f"Written by `benchmarks/run.py{' --quick' if args.quick else ''}` on "
        f"{datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} in {elapsed / 60:.1f} min.",
        f"Machine: {machine()}; load average at start {args.load}.",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()) + ".",
        "",
        "Times are wall-clock seconds, median of the timed repetitions after one warm-up run (its time",
        "is the `first` column: imports, numba JIT).  `alloc peak` is the tracemalloc peak of one more",
        "call (memory allocated by the call on top of its input); `ratio to columns` divides it by the",
        "bytes of the columns the model uses (outcome, 7 regressors, cluster_id and the (firm_id, year)",
        "index).  `maxrss` is the whole worker process.  gvcpanel is `fe_regression(...)` end to end",
        "(formula, exclusions, absorption, OLS, CRV1 covariance); `gvcpanel-engine` is the absorption",
        "alone on an 8-column block.  Errors clustered by firm in every design.",
        "",
    ]
    titles = {
        "balanced": f"Two-way FE (firm, year), balanced, {sizes.get('balanced', 0):,} firm-years",
        "unbalanced": f"Two-way FE (firm, year), unbalanced, {sizes.get('unbalanced', 0):,} firm-years",
        "threeway": f"Three-way FE (firm, year, cluster_id^year), {sizes.get('threeway', 0):,} firm-years "
                    "(linearmodels: AbsorbingLS, PanelOLS takes two effects)",
        "hazard": f"Process-upgrading hazard (cloglog, year baseline, CRV1 by cluster), panel of {sizes.get('hazard', 0):,} "
                  "firm-years (rows after certification and left-truncated firms are not at risk)",
    }
    for design, by_tool in results.items():
        lines += [f"## {titles[design]}", "",
                  "| tool | median s | first s | runs | alloc peak | ratio to columns | maxrss | gvcpanel speed-up |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        base = by_tool.get("gvcpanel", {}).get("median")
        for tool, r in by_tool.items():
            if "error" in r:
                lines.append(f"| {tool} | {r['error']} | | | | | | |")
                continue
            speed = f"{r['median'] / base:.1f}x" if base and tool not in ("gvcpanel", "gvcpanel-engine") else ""
            lines.append(
                f"| {tool} | {r['median']:.3f} | {r['first']:.3f} | {len(r['times'])} | {fmt_mb(r['peak_alloc'])} | "
                f"{r['peak_alloc'] / r['column_bytes']:.2f} | {fmt_mb(r['maxrss'])} | {speed} |"
            )
        lines.append("")
    if load_text:
        lines += ["## Load and validate (benchmarks/load_validate.py)", "", load_text.strip(), ""]
    path.write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--designs", default="balanced,unbalanced,threeway,hazard")
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--out", type=Path, default=HERE / "results.md")
    parser.add_argument("--worker", nargs=4, metavar=("TOOL", "DESIGN", "N_FIRMS", "REPS"))
    args = parser.parse_args()
    if args.worker:
        tool, design, n_firms, reps = args.worker
        print(json.dumps(worker(tool, design, int(n_firms), int(reps))))
        return
    started = time.perf_counter()
    args.load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    firms = 20_000 if args.quick else 200_000
    designs = [d for d in args.designs.split(",") if d]
    if "hazard" in designs:
        try:
            import gvcpanel.models.hazard  # noqa: F401
        except ImportError:
            designs.remove("hazard")
    results: dict[str, dict] = {}
    sizes: dict[str, int] = {}
    for design in designs:
        # entry, exit and holes keep about 54% of firm-years: scale firms so the unbalanced
        # design has about as many firm-years as the balanced one
        n_firms = int(firms * 1.86) if design == "unbalanced" else firms
        sizes[design] = len(hazard_panel(n_firms)[0]) if design == "hazard" else len(make_design(design, n_firms))
        results[design] = {}
        for tool in TOOLS[design]:
            results[design][tool] = run_worker(tool, design, n_firms, args.reps, args.timeout)
            sys.stderr.write(f"{design:10s} {tool:16s} {results[design][tool]}\n")
    load_text = ""
    if not args.skip_load:
        rows = ["--rows", "100000", "--stream-rows", "1000000"] if args.quick else []
        out = subprocess.run([sys.executable, str(HERE / "load_validate.py"), *rows], capture_output=True, text=True)
        load_text = out.stdout if out.returncode == 0 else f"load_validate.py failed: {out.stderr.strip()[-300:]}"
    write_report(args.out, results, sizes, args, load_text, time.perf_counter() - started)


if __name__ == "__main__":
    main()
