"""Command line: ``gvcpanel validate|describe|classify|hypotheses PATH``.

Exit codes: 0 success (data valid), 1 invalid data, 2 usage errors (bad arguments, unknown
file type or mapping, missing file). One function per subcommand (``cmd_<name>``) registered
in :func:`build_parser`, so further subcommands slot in the same way.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

from gvcpanel.errors import GvcPanelError, SchemaError, SpecificationError

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate a file in batches; print every problem (up to --show) or a summary."""
    from gvcpanel.data.io import validate_file

    report = validate_file(args.path, schema=args.schema, mapping=args.mapping,
                           batch_size=args.batch_size, encoding=args.encoding, sheet=args.sheet)
    print(report.message(shown=args.show))
    return EXIT_OK if report.ok else EXIT_INVALID


def cmd_describe(args: argparse.Namespace) -> int:
    """Load a panel and print its description as Markdown."""
    from gvcpanel.data.io import load_panel

    panel = load_panel(args.path, schema=args.schema, mapping=args.mapping,
                       encoding=args.encoding, sheet=args.sheet)
    print(f"# {args.path}\n")
    print(panel.describe().to_markdown(max_rows=args.max_rows), end="")
    report = panel.load_report
    if report is not None and report.mapping is not None and not report.set_missing.empty:
        from gvcpanel.data.panel import markdown_table

        print("\n## Values set to missing by the mapping\n")
        print(markdown_table(report.set_missing))
    return EXIT_OK


def _load_classified(args: argparse.Namespace):
    from gvcpanel.gvc.governance import classify_governance
    from gvcpanel.data.io import load_panel

    panel = load_panel(args.path, schema=args.schema, mapping=args.mapping,
                       encoding=args.encoding, sheet=args.sheet)
    if "governance" not in panel.data.columns or panel.data["governance"].isna().all():
        panel = classify_governance(panel)
    return panel


def cmd_classify(args: argparse.Namespace) -> int:
    """Classify governance and print the rule report; optionally write the panel to Parquet."""
    from gvcpanel.gvc.governance import classify_governance
    from gvcpanel.data.io import load_panel
    from gvcpanel.data.panel import markdown_table

    panel = classify_governance(load_panel(args.path, schema=args.schema, mapping=args.mapping,
                                           encoding=args.encoding, sheet=args.sheet),
                                scheme=args.scheme)
    report = panel.governance_report
    print(f"# Governance of {args.path} ({args.scheme})\n")
    print(markdown_table(report.rule_counts))
    if not report.unclassified.empty:
        print("\n## Not classified (left missing)\n")
        print(markdown_table(report.unclassified))
    if report.crosstab is not None:
        print(f"\n## Input governance against the rules (agreement {report.agreement_rate:.3f})\n")
        print(markdown_table(report.crosstab.reset_index()))
    if args.out:
        panel.to_parquet(args.out)
        print(f"\nwrote {args.out}")
    return EXIT_OK


def cmd_hypotheses(args: argparse.Namespace) -> int:
    """Run the hypothesis registry and print the summary; optionally write it as tables."""
    import pandas as pd

    from gvcpanel.gvc.hypotheses import test_hypotheses
    from gvcpanel.report.tables import frame_table

    panel = _load_classified(args)
    report = test_hypotheses(panel, inference=args.inference, adjust=args.adjust, level=args.level)
    table = report.table().drop(columns=["statement", "inference"]).set_index("id")
    out = frame_table(table, title=f"Hypotheses on {args.path} ({report.rows['inference'].iloc[0]})")
    print(out.to_markdown(), end="")
    if args.out:
        for path in out.write(pd.io.common.stringify_path(args.out)):
            print(f"wrote {path}")
    return EXIT_OK


def _add_source_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="CSV, Parquet file or folder, Stata .dta or Excel .xlsx")
    parser.add_argument("--mapping", default=None,
                        help="source mapping: a JSON file or a shipped name (e.g. wbes)")
    parser.add_argument("--schema", default="firm_panel", help="schema name or JSON path")
    parser.add_argument("--encoding", default=None,
                        help="text encoding of a CSV file (default utf-8; e.g. latin-1, cp1252)")
    parser.add_argument("--sheet", default=None,
                        help="worksheet of an Excel file (name, or 0-based position)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one subparser per command."""
    parser = argparse.ArgumentParser(
        prog="gvcpanel", description="Firm-level global value chain panels.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = sub.add_parser("validate", help="check a panel file against the schema",
                              description="Exit 0 when valid, 1 when problems are found.")
    _add_source_arguments(validate)
    validate.add_argument("--show", type=int, default=20, help="problems to list (default 20)")
    validate.add_argument("--batch-size", type=int, default=500_000,
                          help="rows per batch for streaming validation")
    validate.set_defaults(handler=cmd_validate)

    describe = sub.add_parser("describe", help="firms, years, balance, clusters, missingness")
    _add_source_arguments(describe)
    describe.add_argument("--max-rows", type=int, default=40, help="rows shown per table")
    describe.set_defaults(handler=cmd_describe)

    classify = sub.add_parser("classify", help="classify chain governance with a cited rule table")
    _add_source_arguments(classify)
    classify.add_argument("--scheme", default="humphrey_schmitz_2002",
                          choices=["humphrey_schmitz_2002", "gereffi_humphrey_sturgeon_2005"])
    classify.add_argument("--out", default=None, help="write the classified panel to this Parquet file")
    classify.set_defaults(handler=cmd_classify)

    hyp = sub.add_parser("hypotheses", help="test H1-H5 and print the summary table")
    _add_source_arguments(hyp)
    hyp.add_argument("--inference", default="cluster",
                     help="cluster (default), cr2, wild, score, stata, fixest, linearmodels, ...")
    hyp.add_argument("--adjust", default=None, choices=["holm", "romano_wolf"],
                     help="family-wise adjustment of the one-sided p-values")
    hyp.add_argument("--level", type=float, default=0.05, help="level of the one-sided tests")
    hyp.add_argument("--out", default=None, help="file stem: writes .md, .tex, .html and .csv")
    hyp.set_defaults(handler=cmd_hypotheses)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except SchemaError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_INVALID
    except (SpecificationError, FileNotFoundError) as exc:
        print(f"gvcpanel {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except GvcPanelError as exc:
        print(f"gvcpanel {args.command}: {exc}", file=sys.stderr)
        return EXIT_INVALID


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
