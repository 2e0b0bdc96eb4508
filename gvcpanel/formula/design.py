"""A formula's design as pandas objects, and the columns a formula reads.

:func:`build_design` gives the outcome and the design columns of a formula as a Series and a
DataFrame on the kept rows (the estimators use the array form, :func:`gvcpanel.formula.frame.evaluate`;
both come from :func:`gvcpanel.formula.evaluate.evaluate_formula`).  :func:`model_columns` lists
the columns a formula reads, for projection pushdown when loading a large file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from gvcpanel.formula.evaluate import DerivedColumn, evaluate_formula
from gvcpanel.formula.parse import ParsedFormula, parse_formula

INDEX = ("firm_id", "year")


@dataclass(frozen=True)
class Design:
    """Outcome, design columns and what was left out.

    ``y`` and ``X`` share the (firm_id, year) index of the rows kept; ``exclusions`` maps a reason
    to the number of rows it removed; ``frame`` holds the kept rows of every column the formula
    and ``keep`` read (for clustering, effects and risk sets); ``term_of`` maps each design
    column to its formula term.
    """

    y: pd.Series
    X: pd.DataFrame
    exclusions: dict[str, int]
    frame: pd.DataFrame
    term_of: Mapping[str, str]


def build_design(
    frame: pd.DataFrame,
    formula: str | ParsedFormula,
    keep: Sequence[str] = (),
    *,
    derived: Mapping[str, DerivedColumn] | None = None,
    spans_intercept: bool | None = None,
) -> Design:
    """Evaluate ``formula`` on ``frame`` and drop incomplete rows, counted.

    Parameters
    ----------
    frame : DataFrame
        Panel data indexed by (firm_id, year).
    formula : str
        ``"y ~ terms"`` in the language of :mod:`gvcpanel.formula.parse` (an ``|`` effects part
        is read but not used here).
    keep : sequence of str
        Further columns that must be non-missing and are returned in ``Design.frame``.
    derived : mapping, optional
        Names computed from the frame, see :class:`gvcpanel.formula.evaluate.DerivedColumn`.
    spans_intercept : bool, optional
        Whether something in the model spans the constant (dummy coding, see
        :mod:`gvcpanel.formula.evaluate`); default: the formula's intercept.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"firm_id": [1, 1, 2], "year": [2000, 2001, 2000], "y": [1.0, 2.0, 3.0],
    ...                    "x": [1.0, 4.0, 0.0]}).set_index(["firm_id", "year"])
    >>> d = build_design(df, "y ~ log(x)")
    >>> list(d.X.columns), d.exclusions
    (['log(x)'], {'non-positive x (log)': 1})
    """
    parsed = parse_formula(formula) if isinstance(formula, str) else formula
    spans = parsed.intercept if spans_intercept is None else spans_intercept
    ev = evaluate_formula(frame, parsed, keep=keep, derived=derived, spans_intercept=spans)
    index = frame.index[ev.kept]
    y = pd.Series(ev.data[:, 0], index=index, name=parsed.dependent.expr)
    X = pd.DataFrame(ev.data[:, 1:], index=index, columns=list(ev.names))
    read = [c for c in (*parsed.columns(), *keep) if c in frame.columns]
    return Design(y=y, X=X, exclusions=ev.exclusions, frame=frame.loc[ev.kept, list(dict.fromkeys(read))],
                  term_of=dict(zip(ev.names, ev.term_of)))


def model_columns(
    formula: str | Sequence[str],
    extra: Sequence[str] = ("cluster_id",),
    derived: Mapping[str, DerivedColumn] | None = None,
) -> list[str]:
    """Data columns a model reads, for ``load_panel(path, columns=...)`` projection pushdown.

    ``formula`` is ``"y ~ a + log(b) | effects"`` or a list of terms; a derived name is replaced
    by the columns it reads (``derived[name].reads``); the panel keys are left out (they are
    always read).

    Examples
    --------
    >>> model_columns("y ~ x1 + log(x2) | firm + region^year")
    ['y', 'x1', 'x2', 'region', 'cluster_id']
    """
    if isinstance(formula, str):
        columns = parse_formula(formula).columns()
    else:
        # a term list: parse it behind a placeholder outcome and leave that out
        columns = parse_formula("__outcome__ ~ " + " + ".join(formula)).columns()[1:]
    derived = derived or {}
    out: list[str] = []
    for column in (*columns, *extra):
        mapped = derived[column].reads if column in derived else (column,)
        out.extend(c for c in mapped if c not in out and c not in INDEX)
    return out
