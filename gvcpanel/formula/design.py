"""Turn a panel and a list of terms into an outcome vector and a design matrix.

The term language is deliberately small, so that a reader of a table can tell exactly what
entered a model:

- a column name: ``firm_age``
- ``log(col)`` and ``log1p(col)``: natural logarithm (rows with ``col <= 0`` are excluded and
  counted) and log(1 + col)
- ``a:b``: the product of two terms; ``a*b`` expands to ``a + b + a:b``
- governance dummies ``market``, ``network``, ``quasi_hierarchy``, ``hierarchy`` are made from the
  ``governance`` column when asked for and not already present.

Rows with a missing value in any needed column are excluded and counted per reason
(``"missing <column>"``, counted once, at the first needed column that is missing).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gvcpanel.errors import SpecificationError

GOVERNANCE_TYPES = ("market", "network", "quasi_hierarchy", "hierarchy")
_FUNCTION = re.compile(r"^(log|log1p)\((\w+)\)$")


@dataclass(frozen=True)
class Design:
    """Outcome, regressors and what was left out.

    ``y`` and ``X`` share the (firm_id, year) index of the rows kept; ``exclusions`` maps a reason
    to the number of rows it removed; ``frame`` holds the kept rows of every column that was used
    (for clustering, effects and risk sets).
    """

    y: pd.Series
    X: pd.DataFrame
    exclusions: dict[str, int]
    frame: pd.DataFrame


def parse_formula(formula: str) -> tuple[str, list[str]]:
    """Split ``"y ~ a + log(b) + c*d"`` into the outcome and the expanded list of terms."""
    if "~" not in formula:
        raise SpecificationError(
            f"formula {formula!r} has no '~'; write it as 'outcome ~ term + term', "
            "for example 'labour_productivity ~ quasi_hierarchy + network + log(employees)'."
        )
    lhs, rhs = (part.strip() for part in formula.split("~", 1))
    if not lhs or not rhs:
        raise SpecificationError(f"formula {formula!r} needs an outcome and at least one term.")
    return lhs, expand_terms(t.strip() for t in rhs.split("+"))


def expand_terms(terms: Iterable[str]) -> list[str]:
    """Expand ``a*b`` into ``a``, ``b``, ``a:b`` and drop duplicates, keeping order."""
    out: list[str] = []
    for term in terms:
        term = term.replace(" ", "")
        if not term or term in ("1", "0", "-1"):
            continue  # intercepts are decided by the estimator, not the formula
        parts = [term] if "*" not in term else [*term.split("*"), term.replace("*", ":")]
        for part in parts:
            if part not in out:
                out.append(part)
    return out


def columns_of(term: str) -> list[str]:
    """The data columns a term reads."""
    cols: list[str] = []
    for factor in term.split(":"):
        match = _FUNCTION.match(factor)
        cols.append(match.group(2) if match else factor)
    return cols


def model_columns(formula: str | Sequence[str], extra: Sequence[str] = ("cluster_id",)) -> list[str]:
    """Data columns a model reads, for ``load_panel(path, columns=...)`` projection pushdown.

    ``formula`` is ``"y ~ a + log(b)"`` or a list of terms; governance dummies map to
    ``governance``; ``network_strength`` / ``network_strength_c`` map to their four components.

    Examples
    --------
    >>> model_columns("labour_productivity ~ quasi_hierarchy + log(employees)")
    ['labour_productivity', 'governance', 'employees', 'cluster_id']
    """
    terms = list(parse_formula(formula)) if isinstance(formula, str) else [None, list(formula)]
    wanted = ([terms[0]] if terms[0] else []) + expand_terms(terms[1])
    components = ("n_partners", "alliance", "university_link", "association_member")
    out: list[str] = []
    for term in wanted:
        for column in columns_of(term):
            mapped = ("governance",) if column in GOVERNANCE_TYPES else (
                components if column in ("network_strength", "network_strength_c") else (column,))
            out.extend(c for c in mapped if c not in out)
    out.extend(c for c in extra if c not in out)
    return out


def governance_dummies(frame: pd.DataFrame, base: str = "market") -> pd.DataFrame:
    """Add 0/1 columns for each governance type (missing where ``governance`` is missing)."""
    if "governance" not in frame.columns:
        raise SpecificationError(
            "the panel has no 'governance' column; run gp.classify_governance(panel) first or "
            "load a panel whose 'governance' column is filled."
        )
    if base not in GOVERNANCE_TYPES:
        raise SpecificationError(f"base={base!r}; choose one of {GOVERNANCE_TYPES}.")
    gov = frame["governance"]
    bad = sorted(str(v) for v in pd.unique(gov.dropna()) if v not in GOVERNANCE_TYPES)
    if bad:
        raise SpecificationError(
            f"governance has values {bad} outside {GOVERNANCE_TYPES}; recode them or classify again."
        )
    # categorical codes, not object strings: this runs on millions of rows
    codes = pd.Categorical(gov, categories=GOVERNANCE_TYPES).codes
    missing = codes < 0
    out = frame.copy()
    for position, kind in enumerate(GOVERNANCE_TYPES):
        if kind not in out.columns:
            out[kind] = np.where(missing, np.nan, (codes == position).astype(float))
    return out


def _factor_values(frame: pd.DataFrame, factor: str) -> tuple[np.ndarray, str | None]:
    """Values of one factor, and a reason name for rows where a log is undefined."""
    match = _FUNCTION.match(factor)
    column = match.group(2) if match else factor
    values = pd.to_numeric(frame[column], errors="raise").to_numpy(dtype=float, na_value=np.nan)
    if not match:
        return values, None
    if match.group(1) == "log":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(values > 0, np.log(values), np.nan), f"non-positive {column} (log)"
    with np.errstate(invalid="ignore"):
        return np.where(values > -1, np.log1p(values), np.nan), f"{column} <= -1 (log1p)"


def term_values(frame: pd.DataFrame, term: str) -> tuple[np.ndarray, list[str]]:
    """Evaluate one term; return values and the reasons attached to invalid transformed rows."""
    values = np.ones(len(frame))
    reasons: list[str] = []
    for factor in term.split(":"):
        v, reason = _factor_values(frame, factor)
        values = values * v
        if reason is not None:
            reasons.append(reason)
    return values, reasons


def evaluate_terms(
    frame: pd.DataFrame, needed: Sequence[str], keep: Sequence[str] = ()
) -> tuple[pd.DataFrame, list[str], np.ndarray, np.ndarray, dict[str, int]]:
    """Evaluate terms on every row and decide, with counted reasons, which rows are complete.

    The one place where the exclusion rules live (:func:`build_design` and the estimators'
    array path both call it): a missing value in any needed column (``"missing <column>"``, at
    the first one, governance dummies reported as ``"missing governance"``), then an undefined
    transformation (``"non-positive x (log)"``).

    Returns
    -------
    frame : DataFrame
        The input, with governance dummies added when a term needs them.
    columns : list of str
        Data columns read (terms' columns, then ``keep``).
    values : ndarray (n x len(needed)), Fortran order
        Each term evaluated on every row, so a large model holds its data once.
    kept : ndarray of bool
        Complete rows.
    exclusions : dict
        Rows removed per reason.
    """
    if any(c in GOVERNANCE_TYPES for term in needed for c in columns_of(term)):
        if not all(g in frame.columns for g in GOVERNANCE_TYPES):
            frame = governance_dummies(frame)
    columns: list[str] = []
    for term in needed:
        columns.extend(c for c in columns_of(term) if c not in columns)
    columns.extend(c for c in keep if c not in columns)
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise SpecificationError(
            f"columns {absent} are not in the panel; it has {sorted(map(str, frame.columns))}. "
            "Check the spelling or map your source's names with mapping=."
        )
    excluded = np.zeros(len(frame), dtype=bool)
    exclusions: dict[str, int] = {}

    def exclude(mask: np.ndarray, reason: str) -> None:
        new = mask & ~excluded
        count = int(new.sum())
        if count:
            exclusions[reason] = exclusions.get(reason, 0) + count
            excluded[:] |= new

    for column in columns:
        # a governance dummy is missing because governance is: say so in the reason
        source = "governance" if column in GOVERNANCE_TYPES and "governance" in frame.columns else column
        exclude(frame[column].isna().to_numpy(), f"missing {source}")
    values = np.empty((len(frame), len(needed)), order="F")
    for j, term in enumerate(needed):
        column_values, reasons = term_values(frame, term)
        exclude(~np.isfinite(column_values), reasons[0] if reasons else f"non-finite {term}")
        values[:, j] = column_values
    return frame, columns, values, ~excluded, exclusions


def build_design(
    frame: pd.DataFrame,
    dependent: str,
    terms: Sequence[str],
    keep: Sequence[str] = (),
) -> Design:
    """Evaluate ``dependent`` and ``terms`` on ``frame`` and drop incomplete rows, counted.

    Parameters
    ----------
    frame : DataFrame
        Panel data indexed by (firm_id, year).
    dependent : str
        Outcome term (may be ``log(col)``).
    terms : sequence of str
        Regressor terms, see the module docstring.
    keep : sequence of str
        Further columns that must be non-missing and are returned in ``Design.frame``
        (clustering variable, effects).
    """
    terms = expand_terms(terms)
    frame, columns, values, kept, exclusions = evaluate_terms(frame, [dependent, *terms], keep)
    index = frame.index[kept]
    y = pd.Series(values[kept, 0], index=index, name=dependent)
    X = pd.DataFrame({t: values[kept, j] for j, t in enumerate(terms, start=1)}, index=index)
    return Design(y=y, X=X, exclusions=exclusions, frame=frame.loc[kept, columns])
