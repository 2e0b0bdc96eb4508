"""Write every table and figure of the replication package to replication/output/.

Usage: ``python -m replication.run [--data PATH] [--mapping FILE] [--out DIR]``.  Without
``--data`` it runs on the simulated example panel (``gp.example_panel()``) and adds a table of
estimates against the simulation's true values.

The folder is written whole or not at all (``gvcpanel.report.output.write_directory``): the run
writes into a hidden sibling folder and swaps it in only when every file is complete, so a failed
or killed run leaves the previous set as it was, and no file of an earlier run survives beside
the new ones. Tables are deterministic: two runs on the same data write byte-identical files;
only ``run_log.txt`` (which lists every other file with its SHA-256) records times.
Exit codes as for the ``gvcpanel`` command: 0 ok, 1 invalid data, 2 usage, 3 input/output.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings
from pathlib import Path

import gvcpanel as gp
from gvcpanel.cli import error_message, exit_code
from gvcpanel.errors import GvcPanelError
from gvcpanel.report.output import write_directory
from replication import tables as rt

DEFAULT_OUT = Path(__file__).resolve().parent / "output"
LOG_NAME = "run_log.txt"


def _earlier_replication(folder: Path) -> bool:
    """A folder written by a version of this script from before the set marker existed."""
    log = folder / LOG_NAME
    try:
        first = log.read_text(encoding="utf-8").split("\n", 1)[0]
    except (OSError, UnicodeDecodeError):
        return False
    return first.startswith("data: ") and all(p.is_file() for p in folder.iterdir())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m replication.run", description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="your panel: CSV, Parquet file or folder, .dta or .xlsx")
    parser.add_argument("--mapping", help="mapping file (or shipped name, e.g. 'wbes') for --data")
    parser.add_argument("--module", help="a module of your own joined to --data by firm and year or wave "
                                         "(e.g. a governance module), keys checked")
    parser.add_argument("--module-mapping", help="mapping of the module's codes (e.g. 'governance_module')")
    parser.add_argument("--weights", help="column of probability weights for every model (e.g. 'weight', "
                                          "the Enterprise Surveys' wmedian in the wbes mapping)")
    parser.add_argument("--out", default=str(DEFAULT_OUT),
                        help="output folder, replaced whole by each successful run")
    parser.add_argument("--skip-bootstrap", action="store_true", help="leave out table 6 (wild bootstrap)")
    parser.add_argument("--source", choices=("panel", "transactions"), default="panel",
                        help="transactions: build the panel from transaction records (--data is a folder "
                             "layout; without it, records simulated from the example panel)")
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (GvcPanelError, OSError) as exc:
        print(f"replication: {error_message(exc)}", file=sys.stderr)
        return exit_code(exc)


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    out = Path(args.out)
    source_note = ""
    if args.source == "transactions":
        from replication import transactions as tx

        panel, truth, source_note = tx.load(args.data)
    elif args.data:
        if not Path(args.data).exists():
            raise FileNotFoundError(2, "no such file or folder (--data)", args.data)
        try:
            panel = gp.load_panel(args.data, mapping=args.mapping)
            if args.module:
                from gvcpanel.data.modules import join_module

                panel = join_module(panel, args.module, mapping=args.module_mapping)
        except (GvcPanelError, OSError) as exc:
            # Nothing has been written yet; say so, since the folder may hold an earlier set.
            exc.add_note(f"{out} was left as it was.")
            raise
        truth = None
    else:
        from gvcpanel.gvc.simulate import example_truth

        panel, truth = gp.example_panel(), example_truth()

    with write_directory(out, option="--out", adopt=_earlier_replication) as stage:
        log = rt.RunLog(stage.path / LOG_NAME)
        log.line(f"data: {args.data or 'gvcpanel.example_panel() (simulated, see README)'}")
        log.line(f"data sha256: {panel.provenance.sha256}")
        if source_note:
            log.line(f"source: {source_note}; {panel.provenance.steps[0]}")
        if args.mapping:
            log.line(f"mapping: {args.mapping}")
        if panel.module_report is not None:
            for text in panel.module_report.lines():
                log.line(f"module join: {text}")
        log.line(f"observation design: {panel.observation.text()}")
        if "governance" not in panel.data.columns or panel.data["governance"].isna().all():
            panel = gp.classify_governance(panel)
            report = panel.governance_report
            log.line(f"governance: classified with humphrey_schmitz_2002 rules ({report.n_classified} of "
                     f"{report.n_classified + report.n_unclassified} firm-years)")
            if report.n_classified == 0:
                log.line(f"governance: nothing classified: {report.missing_inputs_text()}")
        else:
            log.line("governance: taken from the data")

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            log.line(f"weights: {args.weights}" if args.weights else "weights: none (unweighted estimates)")
            rt.write_all(panel, truth, stage.path, bootstrap=not args.skip_bootstrap, log=log,
                         weights=args.weights)
            if args.source == "transactions" and "governance" in panel.data.columns:
                tx.table_proxy_vs_survey(panel, truth).write(stage.path / "table_proxy_vs_survey")
        seen: dict[str, int] = {}
        for w in caught:  # one line per distinct warning, with how often it was given
            text = f"{w.category.__name__}: {w.message}"
            seen[text] = seen.get(text, 0) + 1
        for text, count in seen.items():
            log.line(f"warning: {text}" + (f" (x{count})" if count > 1 else ""))
        files = stage.sha256()
        log.line(f"files ({len(files)} besides this log; sha256, as `sha256sum -c` reads them):")
        for rel, digest in files.items():
            log.line(f"{digest}  {rel}")
        log.versions()
        log.line(f"python {platform.python_version()} on {platform.machine()}")
        log.line(f"elapsed seconds: {time.perf_counter() - start:.1f}")
        log.close()
    print(f"wrote {len(files) + 1} files to {out} (list and sha256 in {out / LOG_NAME})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
