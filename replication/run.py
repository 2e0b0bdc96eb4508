"""Write every table and figure of the replication package to replication/output/.

Usage: ``python -m replication.run [--data PATH] [--mapping FILE] [--out DIR]``.  Without
``--data`` it runs on the simulated example panel (``gp.example_panel()``) and adds a table of
estimates against the simulation's true values.  Tables are deterministic: two runs on the same
data write byte-identical files; only ``run_log.txt`` records times.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings
from pathlib import Path

import gvcpanel as gp
from replication import tables as rt

DEFAULT_OUT = Path(__file__).resolve().parent / "output"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="your panel: CSV, Parquet file or folder, .dta or .xlsx")
    parser.add_argument("--mapping", help="mapping file (or shipped name, e.g. 'wbes') for --data")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="output folder")
    parser.add_argument("--skip-bootstrap", action="store_true", help="leave out table 6 (wild bootstrap)")
    parser.add_argument("--source", choices=("panel", "transactions"), default="panel",
                        help="transactions: build the panel from transaction records (--data is a folder "
                             "layout; without it, records simulated from the example panel)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = rt.RunLog(out / "run_log.txt")
    start = time.perf_counter()

    if args.source == "transactions":
        from replication import transactions as tx

        panel, truth, label = tx.load(args.data)
        log.line(f"source: {label}; {panel.provenance.steps[0]}")
    elif args.data:
        panel = gp.load_panel(args.data, mapping=args.mapping)
        truth = None
    else:
        from gvcpanel.gvc.simulate import example_truth

        panel, truth = gp.example_panel(), example_truth()
    log.line(f"data: {args.data or 'gvcpanel.example_panel() (simulated, see README)'}")
    log.line(f"data sha256: {panel.provenance.sha256}")
    if "governance" not in panel.data.columns or panel.data["governance"].isna().all():
        panel = gp.classify_governance(panel)
        log.line("governance: classified with humphrey_schmitz_2002 rules")
    else:
        log.line("governance: taken from the data")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        written = rt.write_all(panel, truth, out, bootstrap=not args.skip_bootstrap, log=log)
        if args.source == "transactions" and "governance" in panel.data.columns:
            written += tx.table_proxy_vs_survey(panel, truth).write(out / "table_proxy_vs_survey")
    for w in caught:
        log.line(f"warning: {w.category.__name__}: {w.message}")
    for path in written:
        log.line(f"wrote {path.relative_to(out)}")
    log.versions()
    log.line(f"python {platform.python_version()} on {platform.machine()}")
    log.line(f"elapsed seconds: {time.perf_counter() - start:.1f}")
    log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
