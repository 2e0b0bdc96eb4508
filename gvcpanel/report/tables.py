"""Publication tables: one table, four formats (Markdown, LaTeX booktabs, HTML, CSV).

Writers are local (no tabulate or jinja2), so output depends only on the numbers and is
byte-identical across runs.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gvcpanel.errors import SpecificationError
from gvcpanel.report.markdown import pipe_table
from gvcpanel.results import ResultBase, inference_name

STARS = ((0.01, "***"), (0.05, "**"), (0.10, "*"))
_LATEX_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                  "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


@dataclass(frozen=True)
class Table:
    """A rectangular table of strings with a title and notes, written in several formats.

    ``body`` holds the cells; ``midrules`` lists row positions before which LaTeX draws a rule
    (the boundary between coefficients and statistics).
    """

    body: pd.DataFrame
    title: str = ""
    notes: str = ""
    midrules: tuple[int, ...] = ()

    def to_markdown(self) -> str:
        header = [self.body.index.name or "", *map(str, self.body.columns)]
        rows = [[str(i), *map(str, r)] for i, r in zip(self.body.index, self.body.to_numpy())]
        out = [f"**{self.title}**", ""] if self.title else []
        out += pipe_table(header, rows)
        if self.notes:
            out += ["", self.notes]
        return "\n".join(out) + "\n"

    def to_latex(self) -> str:
        n_cols = self.body.shape[1]
        esc = _latex_escape
        out = [r"\begin{table}[htbp]", r"\centering"]
        if self.title:
            out.append(rf"\caption{{{esc(self.title)}}}")
        out += [rf"\begin{{tabular}}{{l{'c' * n_cols}}}", r"\toprule"]
        out.append(" & ".join([esc(self.body.index.name or ""), *(esc(str(c)) for c in self.body.columns)]) + r" \\")
        out.append(r"\midrule")
        for pos, (label, row) in enumerate(zip(self.body.index, self.body.to_numpy())):
            if pos in self.midrules:
                out.append(r"\midrule")
            out.append(" & ".join([esc(str(label)), *(esc(str(v)) for v in row)]) + r" \\")
        out += [r"\bottomrule", r"\end{tabular}"]
        if self.notes:
            out.append(rf"\par\smallskip\footnotesize {esc(self.notes)}")
        out.append(r"\end{table}")
        return "\n".join(out) + "\n"

    def to_html(self) -> str:
        e = html.escape
        out = ["<table>"]
        if self.title:
            out.append(f"<caption>{e(self.title)}</caption>")
        head = "".join(f"<th>{e(str(c))}</th>" for c in [self.body.index.name or "", *self.body.columns])
        out.append(f"<thead><tr>{head}</tr></thead>")
        out.append("<tbody>")
        for pos, (label, row) in enumerate(zip(self.body.index, self.body.to_numpy())):
            style = ' class="midrule"' if pos in self.midrules else ""
            cells = "".join(f"<td>{e(str(v))}</td>" for v in row)
            out.append(f"<tr{style}><th>{e(str(label))}</th>{cells}</tr>")
        out.append("</tbody>")
        if self.notes:
            out.append(f'<tfoot><tr><td colspan="{self.body.shape[1] + 1}">{e(self.notes)}</td></tr></tfoot>')
        out.append("</table>")
        return "\n".join(out) + "\n"

    def to_csv(self) -> str:
        return self.body.to_csv(lineterminator="\n")

    def write(self, path: str | Path, formats: Sequence[str] | None = None) -> list[Path]:
        """Write the table to files, whole or not at all; return the paths written.

        Parameters
        ----------
        path : str or Path
            A file whose extension chooses the format (``t2.tex``), or a stem whose dots are
            kept: ``res/t2_v1.2`` writes ``res/t2_v1.2.md``, ``.tex``, ``.html`` and ``.csv``.
            Another file-type extension (``.xlsx``, ``.txt``) is refused.
        formats : sequence of str, optional
            Formats to write for a stem (default all four of md, tex, html, csv).

        Notes
        -----
        The files go through :func:`gvcpanel.report.output.write_files`: they replace earlier
        versions only once all are complete, and a failure leaves every earlier file as it was.
        """
        from gvcpanel.report.output import output_files, write_files

        writers = {"md": self.to_markdown, "tex": self.to_latex, "html": self.to_html, "csv": self.to_csv}
        unknown = set(formats or ()) - set(writers)
        if unknown:
            raise SpecificationError(f"formats {sorted(unknown)} are not known; choose from {sorted(writers)}.")
        target = output_files(path, formats=list(writers), default=formats)
        if formats is not None and not set(target.files) <= set(formats):
            raise SpecificationError(f"{path} names format {next(iter(target.files))!r} but "
                                     f"formats={tuple(formats)}; give a stem or matching formats")

        def writer(fmt: str):
            return lambda staged: staged.write_text(writers[fmt](), encoding="utf-8")

        return write_files({p: writer(fmt) for fmt, p in target.files.items()}, stem=target.stem)


def _latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def stars(pvalue: float) -> str:
    """Significance marks: *** p<0.01, ** p<0.05, * p<0.10."""
    for cut, mark in STARS:
        if pvalue < cut:
            return mark
    return ""


def fmt(value: float, digits: int = 3) -> str:
    """Fixed-point number; the minus sign is kept, -0.000 becomes 0.000."""
    if value is None or not np.isfinite(value):
        return ""
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def fmt_p(pvalue: float) -> str:
    """p-value to three decimals, with ``<0.001`` rather than a misleading 0.000."""
    if pvalue is None or not np.isfinite(pvalue):
        return ""
    return "<0.001" if pvalue < 0.001 else f"{pvalue:.3f}"


def frame_table(frame: pd.DataFrame, title: str = "", notes: str = "", digits: int = 3) -> Table:
    """Format a numeric DataFrame (descriptives, comparisons) as a :class:`Table`."""
    body = frame.copy()
    for col in body.columns:
        if pd.api.types.is_integer_dtype(body[col]):
            body[col] = body[col].map(lambda v: f"{v:,}".replace(",", ","))
        elif pd.api.types.is_float_dtype(body[col]):
            body[col] = body[col].map(lambda v: fmt(v, digits))
        else:
            body[col] = body[col].astype(str).replace({"<NA>": "", "nan": "", "None": ""})
    return Table(body=body.astype(str), title=title, notes=notes)


#: rows below the coefficients, by key (``stats=`` picks and orders them); ``effects`` stands
#: for one row per effect that any column absorbs (or uses as its baseline)
STAT_ROWS = {
    "nobs": "Observations",
    "n_firms": "Firms",
    "n_clusters": "Clusters",
    "r2_within": "R-squared (within)",
    "r2": "R-squared (overall)",
    "loglik": "Log-likelihood",
    "effects": "",
    "estimator": "Estimator",
    "inference": "Inference",
    "dep_mean": "Mean of dependent variable",
}
DEFAULT_STATS = ("nobs", "n_firms", "n_clusters", "r2_within", "r2", "effects", "estimator", "inference", "dep_mean")


def regression_table(
    results: Mapping[str, ResultBase] | Sequence[ResultBase],
    terms: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
    digits: int = 3,
    title: str = "",
    notes: str | None = None,
    stats: Sequence[str] | None = None,
) -> Table:
    """Side-by-side regression table: estimates with their uncertainty, then model statistics.

    Parameters
    ----------
    results : mapping of column label to result, or a sequence of results
        ``{"(1)": fe_result, "(2)": hazard_result}``, or ``[fe_result, hazard_result]`` for
        columns ``(1)``, ``(2)``, ...
    terms : sequence of str, optional
        Terms to show, in order; default: every term of every model except baseline-hazard
        and year dummies (``year[...]``, ``duration[...]``).
    labels : mapping, optional
        Display names for terms.
    digits : int
        Decimals of estimates, their uncertainty and statistics.
    title, notes : str
        Notes default to a description of what the brackets hold and of the stars.
    stats : sequence of str, optional
        Rows below the coefficients, in order, from :data:`STAT_ROWS`: ``"nobs"``,
        ``"n_firms"``, ``"n_clusters"``, ``"r2_within"``, ``"r2"`` (overall), ``"loglik"``,
        ``"effects"`` (one row per absorbed effect), ``"estimator"``, ``"inference"``,
        ``"dep_mean"``.  Default :data:`DEFAULT_STATS`, leaving out rows empty in every
        column; rows asked for explicitly are always shown.

    Returns
    -------
    Table

    Notes
    -----
    Stars and the uncertainty under each estimate come from the same inference, named in the
    ``Inference`` row: standard errors in parentheses for analytic covariances; for a wild
    bootstrap its test-inversion interval in brackets; for the score bootstrap, which has no
    intervals, its p-value in brackets (``[p=0.012]``).  A bootstrap column never shows the
    analytic standard error next to bootstrap stars.  Marks: ``***`` p<0.01, ``**`` p<0.05,
    ``*`` p<0.10 (two-sided).

    Effects: a column that absorbs ``cluster_id^year`` shows that row as ``Yes``, and a
    ``Year effects`` row (when another column has one) as ``in cluster_id^year``, because an
    interaction of effects spans each of them; hazards show their baseline periods as
    ``baseline``.

    Examples
    --------
    >>> import gvcpanel as gp
    >>> panel = gp.simulate_panel(n_firms=300, n_clusters=12, seed=1).panel
    >>> fe = gp.fe_regression(panel, "labour_productivity ~ quasi_hierarchy + network")
    >>> table = gp.regression_table([fe], stats=["nobs", "r2_within", "inference"])
    >>> list(table.body.index[-3:])
    ['Observations', 'R-squared (within)', 'Inference']
    """
    columns = _columns(results)
    labels = dict(labels or {})
    explicit = stats is not None
    stats = tuple(DEFAULT_STATS if stats is None else stats)
    unknown = [k for k in stats if k not in STAT_ROWS]
    if unknown:
        raise SpecificationError(f"stats {unknown} are not known; choose from {list(STAT_ROWS)}.")
    if terms is None:
        terms = []
        for res in columns.values():
            terms += [t for t in res.params.index if t not in terms and not _is_baseline(t, res)]
    labels_col: list[str] = []
    cells: list[list[str]] = []
    res_list = list(columns.values())
    shows = [_uncertainty_kind(r) for r in res_list]
    intervals = [r._intervals_or_none(r.inference.spec.level) if kind == "interval" else None
                 for r, kind in zip(res_list, shows)]
    for term in terms:
        est_row, unc_row = [], []
        for res, kind, ci in zip(res_list, shows, intervals):
            if term not in res.params.index:
                est_row.append("")
                unc_row.append("")
                continue
            p = float(res.pvalues[term])
            est_row.append(fmt(res.params[term], digits) + stars(p))
            if kind == "se":
                unc_row.append(f"({fmt(res.std_errors[term], digits)})")
            elif kind == "interval":
                unc_row.append(f"[{fmt(ci.loc[term, 'lower'], digits)}, {fmt(ci.loc[term, 'upper'], digits)}]")
            else:
                unc_row.append(f"[p={fmt_p(p)}]")
        labels_col += [labels.get(term, term), ""]
        cells += [est_row, unc_row]
    n_coef_rows = len(cells)
    for label, row in _stat_rows(res_list, stats, digits, explicit):
        labels_col.append(label)
        cells.append(row)
    body = pd.DataFrame(cells, index=pd.Index(labels_col, name=""), columns=list(columns))
    if notes is None:
        notes = _default_notes(res_list, shows)
    return Table(body=body, title=title, notes=notes, midrules=(n_coef_rows,))


def _columns(results: Mapping[str, ResultBase] | Sequence[ResultBase]) -> dict[str, ResultBase]:
    if isinstance(results, Mapping):
        columns = dict(results)
    elif isinstance(results, (ResultBase, str)) or not isinstance(results, Sequence):
        raise SpecificationError(
            "regression_table takes a list of results or a mapping {column label: result}, not "
            f"{type(results).__name__}; wrap a single result in a list."
        )
    else:
        columns = {f"({i})": res for i, res in enumerate(results, start=1)}
    if not columns:
        raise SpecificationError("regression_table needs at least one result.")
    wrong = [label for label, res in columns.items() if not isinstance(res, ResultBase)]
    if wrong:
        raise SpecificationError(f"columns {wrong} are not gvcpanel results (estimates with their inference).")
    return columns


def _uncertainty_kind(result: ResultBase) -> str:
    """What goes under an estimate: ``"se"``, ``"interval"`` (bootstrap) or ``"pvalue"``."""
    if not result.is_bootstrap:
        return "se"
    return "interval" if result._intervals_or_none(result.inference.spec.level) is not None else "pvalue"


def _stat_rows(results: Sequence[ResultBase], stats: Sequence[str], digits: int,
               explicit: bool) -> list[tuple[str, list[str]]]:
    rows: list[tuple[str, list[str]]] = []
    for key in stats:
        if key == "effects":
            rows += _effect_rows(results)
            continue
        row = [_stat_cell(r, key, digits) for r in results]
        if explicit or any(row):
            rows.append((STAT_ROWS[key], row))
    return rows


def _stat_cell(result: ResultBase, key: str, digits: int) -> str:
    values = result._stats()
    if key == "nobs":
        return "" if values.get("N") is None else f"{int(values['N']):,}"
    if key in ("n_firms", "n_clusters"):
        return "" if values.get(key) is None else f"{int(values[key]):,}"
    if key in ("r2", "r2_within", "dep_mean"):
        return "" if values.get(key) is None else fmt(float(values[key]), digits)
    if key == "loglik":
        return "" if values.get("ll") is None else fmt(float(values["ll"]), digits)
    if key == "estimator":
        return result._estimator_label()
    if key == "inference":
        return inference_name(result.inference, result._default_cluster())
    raise SpecificationError(f"stat {key!r} is not known; choose from {list(STAT_ROWS)}.")


def _effect_rows(results: Sequence[ResultBase]) -> list[tuple[str, list[str]]]:
    """One row per effect any column has; interactions span their component effects."""
    per_column = [r._table_effects() for r in results]
    names: list[str] = []
    for effects in per_column:
        names += [e for e in effects if e not in names]
    # firm, then year, then the others as they appear (the usual order of a table's effect rows)
    appearance = list(names)
    names.sort(key=lambda e: ({"firm": 0, "year": 1}.get(e, 2), appearance.index(e)))
    rows = []
    for name in names:
        row = []
        for effects in per_column:
            if name in effects:
                row.append(effects[name])
                continue
            spanning = [e for e in effects if "^" in e and name in e.split("^") and effects[e] == "Yes"]
            row.append(f"in {spanning[0]}" if spanning else "No")
        label = name.capitalize() if "^" not in name else name
        rows.append((f"{label} effects", row))
    return rows


def _default_notes(results: Sequence[ResultBase], shows: Sequence[str]) -> str:
    parts = []
    if "se" in shows:
        parts.append("Standard errors in parentheses.")
    if "interval" in shows:
        levels = sorted({r.inference.spec.level for r, s in zip(results, shows) if s == "interval"})
        pct = "/".join(f"{100 * level:g}%" for level in levels)
        parts.append(f"Bootstrap {pct} confidence intervals (test inversion) in brackets.")
    if "pvalue" in shows:
        parts.append("Bootstrap p-values in brackets where the bootstrap gives no interval.")
    parts.append("*** p<0.01, ** p<0.05, * p<0.10.")
    if len(set(shows)) > 1 or "se" not in shows:
        parts.append("Stars and brackets in each column come from the inference in its Inference row.")
    for note in dict.fromkeys(r._table_note() for r in results):
        if note:
            parts.append(note)
    return " ".join(parts)


def _is_baseline(term: str, result: ResultBase | None = None) -> bool:
    spec = getattr(result, "spec", None)
    hidden = set(spec.option("baseline_terms", ())) if hasattr(spec, "option") else set()
    return term in hidden or term.startswith(("year[", "duration["))
