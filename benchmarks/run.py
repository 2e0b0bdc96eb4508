"""``make bench``: gvcpanel against fereg, pyfixest and linearmodels, written to results.md.

Each design runs in its own subprocess, and within it every tool on the same data: the worker
builds the seeded design, prepares each tool's input (untimed), runs each once (warm-up: imports,
numba JIT), then ``--reps`` rounds in which the tools take turns (so that a busy neighbour on a
shared machine slows them alike); the best and the median of each tool's times are reported and
the speed ratios are taken on the best times, within the one process.  Coefficients and CRV1
standard errors of every tool are compared with gvcpanel's (the largest relative difference is
reported; fereg and pyfixest must agree to 1e-8 in coefficients and 1e-6 in errors, or the run
says so).  Memory of one more call per tool is measured two ways: the :mod:`tracemalloc` peak
(what NumPy/pandas allocated on top of the input; Rust allocations in fereg are not seen) and
the rise of the resident set sampled every 2 ms (sees every allocator; an underestimate when
memory freed by earlier calls is reused).  Both are divided by the bytes of the model's columns.

Usage::

    .venv/bin/python benchmarks/run.py            # full size (2,000,000 firm-years)
    .venv/bin/python benchmarks/run.py --quick    # 200,000 firm-years, a minute or two
    .venv/bin/python benchmarks/run.py --designs big --skip-load   # 10M firm-years, gvcpanel only
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
import threading
import time
import tracemalloc
import warnings
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from designs import FORMULA, N_REGRESSORS, effects_of, make_design  # noqa: E402

REGRESSORS = [f"x{j}" for j in range(1, N_REGRESSORS + 1)]
HAZARD_COVARIATES = ["x1", "x2", "x3"]
TOOLS = {
    "balanced": ["gvcpanel", "gvcpanel-engine", "fereg", "pyfixest", "linearmodels"],
    "unbalanced": ["gvcpanel", "gvcpanel-engine", "fereg", "pyfixest", "linearmodels"],
    "threeway": ["gvcpanel", "gvcpanel-engine", "fereg", "pyfixest", "linearmodels"],
    "hazard": ["gvcpanel", "gvcpanel-logit", "fereg", "pyfixest"],
    "big": ["gvcpanel"],
}
#: tools whose estimates must equal gvcpanel's (coefficients to COEF_RTOL, CRV1 errors to SE_RTOL)
EXACT = ("fereg", "pyfixest")
COEF_RTOL, SE_RTOL = 1e-8, 1e-6
#: the likelihood fits stop at their own tolerances (fereg: IWLS 1e-8): compared more loosely
HAZARD_RTOL = 1e-4


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


def _pf_like(result, names):
    """(coefficients, standard errors, N - K of the small-sample factor) of a pyfixest-style result."""
    dof = float(getattr(result, "_N", 0) - getattr(result, "_df_k", 0))
    return result.coef()[names].to_numpy(), result.se()[names].to_numpy(), dof


def _gvc(result, names, cluster="firm_id"):
    """gvcpanel's estimates and N - K with K = k + k_absorbed - nested + 1[nested] (the fixest preset)."""
    model = result.model
    k_abs = int(getattr(model, "k_absorbed", 0) or 0)
    nested = int(dict(getattr(model, "absorbed_nested", {}) or {}).get(cluster, 0))
    dof = float(result.nobs - (len(result.params) + k_abs - nested + (nested > 0)))
    return result.params[names].to_numpy(), result.std_errors[names].to_numpy(), dof


def prepare(tool: str, design: str, n_firms: int):
    """Data for one tool (untimed): (column bytes, zero-argument runner, extractor of (b, se))."""
    import numpy as np

    if design == "hazard":
        frame, keep = hazard_panel(n_firms)
        col_bytes = int(frame.memory_usage(index=True).sum())
        names = HAZARD_COVARIATES
        if tool in ("gvcpanel", "gvcpanel-logit"):
            from gvcpanel.gvc.hazard import upgrading_hazard

            link = "logit" if tool == "gvcpanel-logit" else "cloglog"
            return col_bytes, (lambda: upgrading_hazard(frame, "process ~ x1 + x2 + x3", cluster="cluster_id",
                                                        link=link)), (lambda r: _gvc(r, names, "cluster_id"))
        # the same at-risk rows, year effects absorbed, logit (what fereg and pyfixest offer)
        at_risk = frame[keep].reset_index()
        fml = "iso_certified ~ x1 + x2 + x3 | year"
        if tool == "fereg":
            import fereg

            return col_bytes, (lambda: fereg.feglm(fml, at_risk, family="logit", vcov={"CRV1": "cluster_id"})), \
                (lambda r: _pf_like(r, names))
        if tool == "pyfixest":
            import pyfixest as pf

            return col_bytes, (lambda: pf.feglm(fml, at_risk, family="logit", vcov={"CRV1": "cluster_id"})), \
                (lambda r: _pf_like(r, names))
        raise SystemExit(f"unknown tool {tool}")
    frame = make_design("balanced" if design == "big" else design, n_firms)
    col_bytes = int(frame.memory_usage(index=True).sum())
    effects = effects_of(design)
    names = REGRESSORS
    if tool == "gvcpanel":
        from gvcpanel.models.linear import fe_regression

        return col_bytes, (lambda: fe_regression(frame, FORMULA, effects=effects, cluster="firm_id")), \
            (lambda r: _gvc(r, names))
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

        return col_bytes, engine, None
    rhs = " + ".join(["firm_id", "year"] + (["cluster_id^year"] if design == "threeway" else []))
    if tool in ("fereg", "pyfixest"):
        flat = frame.reset_index()
        if tool == "fereg":
            import fereg as fit_module
        else:
            import pyfixest as fit_module
        return col_bytes, (lambda: fit_module.feols(f"{FORMULA} | {rhs}", data=flat, vcov={"CRV1": "firm_id"})), \
            (lambda r: _pf_like(r, names))
    if tool == "linearmodels":
        extract = lambda r: (r.params[names].to_numpy(), r.std_errors[names].to_numpy(), 0.0)  # noqa: E731
        if design == "threeway":  # PanelOLS takes at most two effects: use AbsorbingLS
            import pandas as pd
            from linearmodels.iv.absorbing import AbsorbingLS

            absorb = pd.DataFrame({
                "firm": pd.Categorical(frame.index.get_level_values(0)),
                "year": pd.Categorical(frame.index.get_level_values(1)),
                "cy": pd.Categorical(frame["cluster_id"].astype(str) + "_" + frame.index.get_level_values(1).astype(str)),
            }, index=frame.index)
            clusters = frame.index.get_level_values(0).to_numpy()
            return col_bytes, (lambda: AbsorbingLS(frame["y"], frame[REGRESSORS], absorb=absorb).fit(
                cov_type="clustered", clusters=clusters)), extract
        from linearmodels import PanelOLS

        return col_bytes, (lambda: PanelOLS(frame["y"], frame[REGRESSORS], entity_effects=True, time_effects=True).fit(
            cov_type="clustered", cluster_entity=True)), extract
    raise SystemExit(f"unknown tool {tool}")


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def rss_rise(run) -> int:
    """Largest rise of the resident set during ``run()`` (sampled every 2 ms in a thread)."""
    base = _rss()
    peak = [base]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.002)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        run()
    finally:
        done.set()
        thread.join()
    return max(peak[0], _rss()) - base


def relative_difference(a, b) -> float:
    import numpy as np

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def worker(design: str, tools: list[str], n_firms: int, reps: int) -> dict:
    """Time every tool on one design in this process; compare estimates; measure memory."""
    import gc

    warnings.simplefilter("ignore")
    prepared, out = {}, {}
    for tool in tools:
        try:
            prepared[tool] = prepare(tool, design, n_firms)
        except Exception as e:  # a tool that cannot run is reported, the others still are
            out[tool] = {"error": f"{type(e).__name__}: {str(e)[:160]}"}
    estimates = {}
    for tool, (col_bytes, run, extract) in prepared.items():
        try:
            start = time.perf_counter()
            result = run()
            out[tool] = {"first": time.perf_counter() - start, "times": [], "column_bytes": col_bytes}
            if extract is not None:
                estimates[tool] = extract(result)
            del result
        except Exception as e:
            out[tool] = {"error": f"{type(e).__name__}: {str(e)[:160]}"}
    live = [t for t in prepared if "error" not in out[t]]
    for _ in range(reps):  # tools take turns, so that machine load hits them alike
        for tool in live:
            gc.collect()
            start = time.perf_counter()
            prepared[tool][1]()
            out[tool]["times"].append(time.perf_counter() - start)
    for tool in live:
        r = out[tool]
        r["best"], r["median"] = min(r["times"] or [r["first"]]), statistics.median(r["times"] or [r["first"]])
        gc.collect()
        tracemalloc.start()
        prepared[tool][1]()
        r["peak_alloc"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        gc.collect()
        r["rss_rise"] = rss_rise(prepared[tool][1])
    reference = "gvcpanel-logit" if design == "hazard" else "gvcpanel"
    if reference in estimates:
        b0, se0, dof0 = estimates[reference]
        for tool, (b, se, dof) in estimates.items():
            if tool in (reference, "gvcpanel"):
                continue
            out[tool]["coef_diff"] = relative_difference(b, b0)
            out[tool]["se_diff"] = relative_difference(se, se0)
            if dof > 0 and dof0 > 0 and design != "hazard":
                # the same CRV0 sandwich whatever each tool counts as K in (N-1)/(N-K)
                out[tool]["se_diff_same_k"] = relative_difference(se * (dof / dof0) ** 0.5, se0)
                out[tool]["k_gap"] = dof - dof0
    out["_maxrss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return out


def run_worker(design: str, tools: list[str], n_firms: int, reps: int, timeout: float) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", design, ",".join(tools), str(n_firms), str(reps)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {tool: {"error": f"timeout after {timeout:.0f} s"} for tool in tools}
    if out.returncode < 0:  # a signal: in practice the kernel's OOM killer
        return {tool: {"error": f"killed by signal {-out.returncode} (out of memory?)"} for tool in tools}
    if out.returncode != 0:
        message = (out.stderr.strip().splitlines() or ["failed"])[-1][:200]
        return {tool: {"error": message} for tool in tools}
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- report ----------------------------------------------------------------------------------
def versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for name in ("gvcpanel", "numpy", "pandas", "scipy", "numba", "fereg", "pyfixest", "linearmodels"):
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


def _agreement(r: dict, design: str) -> str:
    if "coef_diff" not in r:
        return ""
    text = f"{r['coef_diff']:.1e} / {r['se_diff']:.1e}"
    if r.get("k_gap") and "se_diff_same_k" in r:  # the tool counts other absorbed parameters in K
        text += f" (K {-r['k_gap']:+.0f}: {r['se_diff_same_k']:.1e})"
    return text


def check_agreement(results: dict) -> list[str]:
    """Tools that must reproduce gvcpanel's numbers and did not."""
    problems = []
    for design, by_tool in results.items():
        coef_tol, se_tol = (HAZARD_RTOL, HAZARD_RTOL) if design == "hazard" else (COEF_RTOL, SE_RTOL)
        for tool in EXACT:
            r = by_tool.get(tool, {})
            se_diff = r.get("se_diff_same_k", r.get("se_diff", 0.0))
            if "coef_diff" in r and (r["coef_diff"] > coef_tol or se_diff > se_tol):
                problems.append(f"{design}: {tool} differs from gvcpanel (coefficients {r['coef_diff']:.1e}, "
                                f"errors {r['se_diff']:.1e}; tolerances {coef_tol:g}, {se_tol:g})")
    return problems


def write_report(path: Path, results: dict, sizes: dict, args, load_text: str, elapsed: float) -> None:
    lines = [
        "# gvcpanel benchmarks",
        "",
        f"Written by `{' '.join(['benchmarks/run.py', *sys.argv[1:]])}` (`make bench` runs it without options) on "
        f"{datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} in {elapsed / 60:.1f} min; not edited by hand.",
        f"Machine: {machine()}; load average at start {args.load}.",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()) + ".",
        "",
        "All tools of a design run in one process on the same data and take turns for "
        f"{args.reps} rounds after one warm-up call",
        "each (`first`: imports, numba JIT); `best` and `median` are seconds of wall time; `ratio` is",
        "the tool's best time over gvcpanel's (above 1: gvcpanel is faster).  `agreement` is the largest",
        "relative difference of the tool's coefficients / CRV1 standard errors from gvcpanel's.",
        "`alloc peak` is the tracemalloc peak of one more call (NumPy/pandas allocations on top of the",
        "input; fereg's Rust allocations are not seen) and `RSS rise` the sampled rise of the resident",
        "set during a call (every allocator); `x cols` divides by the bytes of the model's columns",
        "(outcome, regressors, cluster_id, the (firm_id, year) index).  Where a tool counts a different",
        "number K of absorbed parameters in the factor (N-1)/(N-K) (fixest does not detect every redundant",
        "level of three or more effects; gvcpanel uses the exact rank), `(K +m: d)` gives its excess m and the",
        "difference d of the errors once both use gvcpanel's K, which is what the equality check uses.",
        "gvcpanel is `fe_regression(...)`",
        "end to end (formula, exclusions, absorption, OLS, CRV1 covariance); `gvcpanel-engine` the",
        "absorption alone on an 8-column block.  Errors clustered by firm (hazard: by cluster_id).",
        "",
    ]
    titles = {
        "balanced": f"Two-way FE (firm, year), balanced, {sizes.get('balanced', 0):,} firm-years",
        "unbalanced": f"Two-way FE (firm, year), unbalanced, {sizes.get('unbalanced', 0):,} firm-years",
        "threeway": f"Three-way FE (firm, year, cluster_id^year), {sizes.get('threeway', 0):,} firm-years "
                    "(linearmodels: AbsorbingLS, PanelOLS takes two effects)",
        "hazard": f"Process-upgrading hazard, panel of {sizes.get('hazard', 0):,} firm-years.  gvcpanel is "
                  "`upgrading_hazard` end to end (risk set, year baseline, CRV1 by cluster; cloglog, and "
                  "`gvcpanel-logit` with link='logit'); fereg and pyfixest fit a logit with year effects on "
                  "the at-risk rows made for them beforehand (untimed); agreement is with gvcpanel-logit",
        "big": f"Two-way FE, balanced, {sizes.get('big', 0):,} firm-years (memory: 8 GB budget)",
    }
    for design, by_tool in results.items():
        maxrss = by_tool.pop("_maxrss", None)
        lines += [f"## {titles[design]}", "",
                  "| tool | best s | median s | first s | ratio | agreement | alloc peak | x cols | RSS rise | x cols |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        base = by_tool.get("gvcpanel", {}).get("best")
        for tool, r in by_tool.items():
            if "error" in r:
                lines.append(f"| {tool} | {r['error']} | | | | | | | | |")
                continue
            ratio = f"{r['best'] / base:.2f}" if base and tool != "gvcpanel" else ""
            cols = r["column_bytes"]
            lines.append(
                f"| {tool} | {r['best']:.3f} | {r['median']:.3f} | {r['first']:.3f} | {ratio} | {_agreement(r, design)} | "
                f"{fmt_mb(r['peak_alloc'])} | {r['peak_alloc'] / cols:.2f} | {fmt_mb(r['rss_rise'])} | "
                f"{r['rss_rise'] / cols:.2f} |"
            )
        if maxrss is not None:
            lines += ["", f"Largest resident set of the worker process (all tools, data, libraries): {fmt_mb(maxrss)}."]
        lines.append("")
    problems = check_agreement(results)
    lines += ["## Agreement", ""]
    lines += [f"- NOT EQUAL: {p}" for p in problems] or [
        f"fereg and pyfixest reproduce gvcpanel's coefficients to {COEF_RTOL:g} and CRV1 errors to {SE_RTOL:g} "
        f"(hazard: {HAZARD_RTOL:g}, the likelihood fits' own tolerances) on every design run."]
    lines.append("")
    if load_text:
        lines += ["## Load and validate (benchmarks/load_validate.py)", "", load_text.strip(), ""]
    # benchmarks/transactions.py keeps its own section of the file between markers: carry it over
    old = path.read_text() if path.exists() else ""
    start, end = "<!-- transactions:start -->", "<!-- transactions:end -->"
    if start in old and end in old:
        lines += ["", old[old.index(start): old.index(end) + len(end)]]
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--designs", default="balanced,unbalanced,threeway,hazard")
    parser.add_argument("--tools", default="", help="comma-separated subset of the tools")
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--out", type=Path, default=HERE / "results.md")
    parser.add_argument("--worker", nargs=4, metavar=("DESIGN", "TOOLS", "N_FIRMS", "REPS"))
    args = parser.parse_args()
    if args.worker:
        design, tools, n_firms, reps = args.worker
        print(json.dumps(worker(design, tools.split(","), int(n_firms), int(reps))))
        return
    started = time.perf_counter()
    args.load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    firms = 20_000 if args.quick else 200_000
    designs = [d for d in args.designs.split(",") if d]
    only = {t for t in args.tools.split(",") if t}
    results: dict[str, dict] = {}
    sizes: dict[str, int] = {}
    for design in designs:
        # entry, exit and holes keep about 54% of firm-years: scale firms so the unbalanced
        # design has about as many firm-years as the balanced one
        n_firms = {"unbalanced": int(firms * 1.86), "big": firms * 5}.get(design, firms)
        sizes[design] = n_firms * 10 if design in ("hazard", "balanced", "threeway", "big") else len(
            make_design(design, n_firms))
        tools = [t for t in TOOLS[design] if not only or t in only or t == "gvcpanel"]
        results[design] = run_worker(design, tools, n_firms, args.reps, args.timeout)
        for tool, r in results[design].items():
            sys.stderr.write(f"{design:10s} {tool:16s} {r}\n")
    load_text = ""
    if not args.skip_load:
        rows = ["--rows", "100000", "--stream-rows", "1000000"] if args.quick else []
        out = subprocess.run([sys.executable, str(HERE / "load_validate.py"), *rows], capture_output=True, text=True)
        load_text = out.stdout if out.returncode == 0 else f"load_validate.py failed: {out.stderr.strip()[-300:]}"
    problems = check_agreement(results)
    write_report(args.out, results, sizes, args, load_text, time.perf_counter() - started)
    for problem in problems:
        sys.stderr.write(f"NOT EQUAL: {problem}\n")
    if problems:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
