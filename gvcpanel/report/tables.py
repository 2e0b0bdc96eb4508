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
from gvcpanel.results import EstimationResult

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
        widths = [max(len(c) for c in col) for col in zip(header, *rows)]
        def line(cells: Sequence[str]) -> str:
            return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"
        out = [f"**{self.title}**", ""] if self.title else []
        out += [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
        out += [line(r) for r in rows]
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


def _effects_label(result: EstimationResult, effect: str) -> str:
    if result.spec.estimator != "fe_regression":
        return "No"
    if result.spec.method == "fd" and effect == "firm":
        return "differenced"
    return "Yes" if effect in result.spec.effects else "No"


def regression_table(
    results: Mapping[str, EstimationResult],
    terms: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
    digits: int = 3,
    title: str = "",
    notes: str | None = None,
) -> Table:
    """Side-by-side regression table: estimates with standard errors in parentheses.

    Parameters
    ----------
    results : mapping of column label to result
        For example ``{"(1)": fe_result, "(2)": hazard_result}``.
    terms : sequence of str, optional
        Terms to show, in order; default: every term of every model except baseline-hazard
        dummies (``year[...]``, ``duration[...]``).
    labels : mapping, optional
        Display names for terms.
    digits : int
        Decimals of estimates and standard errors.

    Notes
    -----
    Rows below the coefficients: observations (firm-years, or firm-periods at risk for hazards),
    firms, clusters, the fixed effects or baseline of each model, the standard-error type and the
    mean of the dependent variable. Marks: *** p<0.01, ** p<0.05, * p<0.10 (two-sided, from each
    result's own inference).
    """
    if not results:
        raise SpecificationError("regression_table needs at least one result.")
    labels = dict(labels or {})
    if terms is None:
        terms = []
        for res in results.values():
            terms += [t for t in res.params.index if t not in terms and not _is_baseline(t)]
    labels_col: list[str] = []
    cells: list[list[str]] = []
    for term in terms:
        est_row, se_row = [], []
        for res in results.values():
            if term in res.params.index:
                est_row.append(fmt(res.params[term], digits) + stars(float(res.pvalues[term])))
                se_row.append(f"({fmt(res.std_errors[term], digits)})")
            else:
                est_row += [""]
                se_row += [""]
        labels_col += [labels.get(term, term), ""]
        cells += [est_row, se_row]
    n_coef_rows = len(cells)
    res_list = list(results.values())
    stats_rows = {
        "Observations": [f"{r.nobs:,}" for r in res_list],
        "Firms": [f"{r.n_firms:,}" for r in res_list],
        "Clusters": ["" if r.n_clusters is None else f"{r.n_clusters:,}" for r in res_list],
        "Firm effects": [_effects_label(r, "firm") for r in res_list],
        "Year effects / baseline": [_baseline_label(r) for r in res_list],
        "Estimator": [_estimator_label(r) for r in res_list],
        "Standard errors": [_se_label(r) for r in res_list],
        "Mean of dependent variable": [fmt(r.dep_mean, digits) for r in res_list],
    }
    for label, row in stats_rows.items():
        labels_col.append(label)
        cells.append(row)
    body = pd.DataFrame(cells, index=pd.Index(labels_col, name=""), columns=list(results))
    if notes is None:
        notes = ("Standard errors in parentheses. *** p<0.01, ** p<0.05, * p<0.10. "
                 "Hazard coefficients are log hazard ratios.")
    return Table(body=body, title=title, notes=notes, midrules=(n_coef_rows,))


def _is_baseline(term: str) -> bool:
    return term.startswith(("year[", "duration["))


def _baseline_label(result: EstimationResult) -> str:
    if result.spec.estimator == "fe_regression":
        return _effects_label(result, "year")
    return f"baseline: {result.spec.option('baseline', 'year')}"


def _estimator_label(result: EstimationResult) -> str:
    if result.spec.estimator == "fe_regression":
        return {"fe": "within", "fd": "first difference", "re": "random effects",
                "between": "between", "pooled": "pooled OLS"}.get(result.spec.method, result.spec.method)
    return f"{result.spec.method} hazard"


def _se_label(result: EstimationResult) -> str:
    spec = result.inference.spec
    cluster = spec.cluster or result.spec.cluster or ()
    by = f" by {'/'.join(cluster)}" if cluster and spec.kind not in ("unadjusted", "robust") else ""
    names = {"cluster": f"CRV1 ({spec.preset})", "cr2": "CR2", "cr3": "CR3", "wild": "wild bootstrap",
             "score": "score bootstrap", "unadjusted": "conventional", "robust": "HC1",
             "twoway": "two-way clustered", "driscoll_kraay": "Driscoll-Kraay"}
    return names.get(spec.kind, spec.kind) + by
