"""Command line: ``gvcpanel validate|describe|classify|hypotheses PATH``.

One function per subcommand (``cmd_<name>``) registered in :func:`build_parser`, so further
subcommands slot in the same way. Every error gvcpanel raises on purpose, and every ``OSError``,
ends the command with one message on standard error and the exit code of :func:`exit_code`;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import errno
import sys
import warnings
from pathlib import Path
from typing import Callable, Sequence

from gvcpanel.errors import GvcPanelError, SchemaError, SpecificationError

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_IO = 0, 1, 2, 3

EXIT_CODES_TEXT = """\
exit codes:
  0  success (validate: the data are valid)
  1  invalid data: the file breaks the schema, or the data cannot support the model
     (classify: no firm-year could be classified; every missing rule input is listed)
  2  usage or specification: unknown command, option, value, column, file type or --out
     extension, or an optional dependency that is not installed
  3  input/output: a file is missing or unreadable, an output cannot be written (read-only,
     disk full, a file where a folder is expected) or another run is writing it

--out names what is written: a path ending in a format the command writes (.parquet or .csv for
classify; .md, .tex, .html or .csv for hypotheses) is that one file in that format; any other
file-type extension (.xlsx, .txt, ...) is refused; a path without one is a stem whose dots are
kept (res/hyp_v1.2 writes res/hyp_v1.2.md, .tex, .html and .csv). Files are replaced whole or not
at all, and replacing earlier files is said on standard error."""

TABLE_FORMATS = ("md", "tex", "html", "csv")
PANEL_FORMATS = ("parquet", "pq", "csv")


def exit_code(exc: BaseException) -> int:
    """Exit code for an error that ends a command (see ``gvcpanel --help``).

    Invalid data (:class:`SchemaError`, and the data-driven :class:`PanelStructureError`,
    :class:`IdentificationError`, :class:`ConvergenceError`) give 1; a file that cannot be read
    or written (any ``OSError``, including :class:`OutputError`) gives 3; a wrong option or
    argument (:class:`SpecificationError`) or a missing optional dependency (an error that is
    also an ``ImportError``) gives 2.
    """
    if isinstance(exc, SchemaError):
        return EXIT_INVALID
    if isinstance(exc, OSError):
        return EXIT_IO
    if isinstance(exc, (SpecificationError, ImportError)):
        return EXIT_USAGE
    return EXIT_INVALID


def error_message(exc: BaseException) -> str:
    """The one message shown for an error: its text and notes, without a traceback."""
    if isinstance(exc, OSError) and not isinstance(exc, GvcPanelError):
        reason = exc.strerror or str(exc)
        text = f"{exc.filename}: {reason}" if exc.filename else reason
    else:
        text = str(exc)
    notes = getattr(exc, "__notes__", ())
    return "\n".join([text, *notes])


def _require_input(path: str) -> None:
    # The readers call a missing path a bad argument; the command line reports it as the I/O
    # failure it is, before anything is loaded.
    if not Path(path).exists():
        raise FileNotFoundError(errno.ENOENT, "no such file or folder (expected a CSV, Parquet file "
                                              "or folder, Stata .dta or Excel .xlsx)", path)


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate a file in batches; print every problem (up to --show) or a summary."""
    from gvcpanel.data.io import validate_file

    _require_input(args.path)
    report = validate_file(args.path, schema=args.schema, mapping=args.mapping,
                           batch_size=args.batch_size, encoding=args.encoding, sheet=args.sheet)
    print(report.message(shown=args.show))
    return EXIT_OK if report.ok else EXIT_INVALID


def _load(args: argparse.Namespace):
    """The panel named on the command line, with its module joined when --module is given."""
    from gvcpanel.data.io import load_panel

    _require_input(args.path)
    if args.module is not None:
        _require_input(args.module)
    panel = load_panel(args.path, schema=args.schema, mapping=args.mapping,
                       encoding=args.encoding, sheet=args.sheet)
    if args.module is not None:
        from gvcpanel.data.modules import join_module

        panel = join_module(panel, args.module, mapping=args.module_mapping)
    return panel


def _print_module_report(panel) -> None:
    report = panel.module_report
    if report is not None:
        from gvcpanel.data.panel import markdown_table

        print(f"\n## Module joined ({report.source})\n")
        print(markdown_table(report.summary()))


def cmd_describe(args: argparse.Namespace) -> int:
    """Load a panel and print its description as Markdown."""
    panel = _load(args)
    print(f"# {args.path}\n")
    print(panel.describe().to_markdown(max_rows=args.max_rows), end="")
    report = panel.load_report
    if report is not None and report.mapping is not None and not report.set_missing.empty:
        from gvcpanel.data.panel import markdown_table

        print("\n## Values set to missing by the mapping\n")
        print(markdown_table(report.set_missing))
    _print_module_report(panel)
    return EXIT_OK


def _load_classified(args: argparse.Namespace):
    from gvcpanel.gvc.governance import classify_governance

    panel = _load(args)
    if "governance" not in panel.data.columns or panel.data["governance"].isna().all():
        panel = classify_governance(panel)
    return panel


def cmd_classify(args: argparse.Namespace) -> int:
    """Classify governance and print the rule report; optionally write the panel (--out)."""
    from gvcpanel.errors import PanelStructureError
    from gvcpanel.gvc.governance import classify_governance
    from gvcpanel.data.panel import markdown_table
    from gvcpanel.report.output import output_files, write_files

    # The output path is checked before the work, so a wrong extension costs nothing.
    target = None
    if args.out is not None:
        target = output_files(args.out, PANEL_FORMATS, default=("parquet",), option="--out")
    panel = classify_governance(_load(args), scheme=args.scheme)
    report = panel.governance_report
    print(f"# Governance of {args.path} ({args.scheme})\n")
    print(markdown_table(report.rule_counts))
    _print_module_report(panel)
    if not report.missing_inputs.empty:
        print("\n## Rule inputs absent or missing (every rule, every input)\n")
        print(markdown_table(report.missing_inputs))
    if not report.unclassified.empty:
        print("\n## Not classified (left missing)\n")
        print(markdown_table(report.unclassified))
    if report.n_classified == 0 and not report.kept_input:
        raise PanelStructureError(
            f"no firm-year of {args.path} could be classified ({report.n_unclassified} firm-years; "
            f"scheme {args.scheme}): {report.missing_inputs_text() or 'no rule matched any firm-year'}. "
            "Map these columns from your source (--mapping), or join a governance module of your "
            "own (--module FILE --module-mapping governance_module); nothing was written.")
    if report.crosstab is not None:
        print(f"\n## Input governance against the rules (agreement {report.agreement_rate:.3f})\n")
        print(markdown_table(report.crosstab.reset_index()))
    if target is not None:
        ((fmt, path),) = target.files.items()
        if fmt in ("parquet", "pq"):
            written = panel.to_parquet(path)
        else:
            frame = panel.data.reset_index()
            (written,) = write_files({path: lambda staged: frame.to_csv(staged, index=False,
                                                                        lineterminator="\n")},
                                     stem=target.stem, option="--out")
        print(f"\nwrote {written}")
    return EXIT_OK


def cmd_hypotheses(args: argparse.Namespace) -> int:
    """Run the hypothesis registry and print the summary; optionally write it as tables."""
    from gvcpanel.gvc.hypotheses import test_hypotheses
    from gvcpanel.report.output import output_files
    from gvcpanel.report.tables import frame_table

    target = None if args.out is None else output_files(args.out, TABLE_FORMATS, option="--out")
    panel = _load_classified(args)
    report = test_hypotheses(panel, inference=args.inference, adjust=args.adjust, alpha=args.alpha,
                             weights=args.weights)
    labels = report.rows.loc[report.rows["inference"] != "", "inference"].unique()
    how = labels[0] if len(labels) == 1 else (
        f"inference {args.inference!r}: " + "; ".join(labels) if len(labels) else "no model estimable")
    table = report.table().drop(columns=["statement", "inference"]).set_index("id")
    out = frame_table(table, title=f"Hypotheses on {args.path} ({how})")
    print(out.to_markdown(), end="")
    if target is not None:
        for path in out.write(args.out):  # the same rule as output_files above
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


def _add_module_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--module", default=None,
                        help="a module of your own (one record per firm and year or wave) joined to "
                             "the panel by firm_id and year/wave, keys checked")
    parser.add_argument("--module-mapping", default=None,
                        help="mapping of the module's codes (a JSON file or a shipped name, e.g. "
                             "governance_module); without it the module uses canonical names")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one subparser per command."""
    from gvcpanel import __version__

    parser = argparse.ArgumentParser(
        prog="gvcpanel", description="Firm-level global value chain panels.",
        epilog=EXIT_CODES_TEXT, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"gvcpanel {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, **kwargs) -> argparse.ArgumentParser:
        return sub.add_parser(name, epilog=EXIT_CODES_TEXT,
                              formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)

    validate = add("validate", help="check a panel file against the schema",
                   description="Exit 0 when valid, 1 when problems are found.")
    _add_source_arguments(validate)
    validate.add_argument("--show", type=int, default=20, help="problems to list (default 20)")
    validate.add_argument("--batch-size", type=int, default=500_000,
                          help="rows per batch for streaming validation")
    validate.set_defaults(handler=cmd_validate)

    describe = add("describe", help="firms, years, balance, clusters, missingness")
    _add_source_arguments(describe)
    _add_module_arguments(describe)
    describe.add_argument("--max-rows", type=int, default=40, help="rows shown per table")
    describe.set_defaults(handler=cmd_describe)

    classify = add("classify", help="classify chain governance with a cited rule table")
    _add_source_arguments(classify)
    _add_module_arguments(classify)
    classify.add_argument("--scheme", default="humphrey_schmitz_2002",
                          choices=["humphrey_schmitz_2002", "gereffi_humphrey_sturgeon_2005"])
    classify.add_argument("--out", default=None,
                          help="write the classified panel: x.parquet or x.csv (the extension chooses "
                               "the format); a stem without extension writes Parquet")
    classify.set_defaults(handler=cmd_classify)

    hyp = add("hypotheses", help="test H1-H5 and print the summary table")
    _add_source_arguments(hyp)
    _add_module_arguments(hyp)
    hyp.add_argument("--inference", default="cluster",
                     help="cluster (default, CRV1), or for the whole family: wild, score or bootstrap "
                          "(wild bootstrap for least squares, score bootstrap for hazards), cr2 or "
                          "cr2_score (CR2 for least squares, score bootstrap for hazards); also "
                          "survey, twoway, stata, fixest, linearmodels")
    hyp.add_argument("--weights", default=None,
                     help="column of probability weights for every model (e.g. weight, read from "
                          "wmedian by the wbes mapping)")
    hyp.add_argument("--adjust", default=None, choices=["holm", "romano_wolf"],
                     help="family-wise adjustment of the one-sided p-values")
    hyp.add_argument("--alpha", type=float, default=0.05, help="significance level of the one-sided tests")
    hyp.add_argument("--out", default=None,
                     help="write the table: x.md, x.tex, x.html or x.csv for one format, or a stem "
                          "(dots kept) for all four")
    hyp.set_defaults(handler=cmd_hypotheses)
    return parser


def _warning_printer(command: str) -> Callable[..., None]:
    """Show each distinct warning once, as one line on stderr.

    Python's default display names the package's source file and line and echoes that line of
    code, which reads like a traceback to a user of the command line; the message itself already
    says what happened and what to do.
    """
    shown: set[tuple[str, str]] = set()

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        key = (category.__name__, str(message))
        if key not in shown:
            shown.add(key)
            print(f"gvcpanel {command}: {category.__name__}: {message}", file=sys.stderr)

    return show


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (usage errors included, as 2)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed usage and its message (or --help)
        if exc.code is None:
            return EXIT_OK
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warning_printer(args.command)
            return handler(args)
    except (GvcPanelError, OSError) as exc:
        print(f"gvcpanel {args.command}: {error_message(exc)}", file=sys.stderr)
        return exit_code(exc)
    except KeyboardInterrupt:
        print(f"gvcpanel {args.command}: interrupted; outputs were left as they were", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
