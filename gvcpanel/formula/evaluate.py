"""Evaluate a parsed formula on a panel: one Fortran-ordered float64 array, every excluded row counted.

Numbers are computed here on numpy arrays (columns, ``log``/``log1p``, products, the panel
operators ``l``/``f``/``d``, the dummies of ``C()``, ``i()`` and text columns).  formulaic is
asked only for what it does better: which dummies a categorical term gets so that the design
has full rank (its materializer runs on a few-row prototype of the design, never on the data),
and expressions such as ``I(x**2)`` or ``poly(x, 2)``.

Rows and their reasons
----------------------
A row is left out, and counted under the first reason that applies, in this order:

1. ``"missing <column>"``: a column the row needs is missing (outcome, regressors, then the
   columns in ``keep`` such as the clustering variable), at the first such column;
2. per factor, in the order of the formula: ``"non-positive x (log)"``, ``"x <= -1 (log1p)"``,
   ``"non-finite x"`` (infinite values), ``"l(x, 1): previous year not observed"``,
   ``"l(x, 1): previous year's x missing"`` (and the same for ``f`` and ``d``; ``year t-2`` for
   k = 2), ``"non-finite I(...)"``.

Lags, leads and differences read the firm's row for the calendar year t - k (t + k) among all
rows of the frame, also those left out of the estimation (``rows=``).

Names that are not columns
--------------------------
A caller may pass ``derived``: a mapping from a name to a :class:`DerivedColumn`, computed on the
whole frame when a formula uses that name and the frame has no such column.  The estimators
pass the registered providers' names (:mod:`gvcpanel.formula.providers`; the value-chain layer
supplies the names of its theory this way) and their own ``derived=``; the code here knows
none of them.

Dummies
-------
A factor is categorical when it is ``C(x)`` or a column of text or pandas ``Categorical`` type
(booleans are numbers).  Its levels are those present on the rows kept, in the order of the
categories of a ``Categorical``, else sorted; the first is the base.  Whether a term gets all
its levels or all but the base follows formulaic (and patsy and R): the columns of the whole
model stay structurally of full rank, given that the intercept, absorbed effects or baseline
dummies (``spans_intercept``) span the constant.  Columns are named as formulaic names them
(``x[T.b]``, ``C(x)[T.b]``, ``x[a]:z``); ``i()`` columns as pyfixest names them (``x::b``,
``x::b:z``).
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from gvcpanel import kernels
from gvcpanel.errors import SpecificationError
from gvcpanel.formula.parse import Factor, ParsedFormula, Term, parse_formula

INDEX = ("firm_id", "year")


@dataclass(frozen=True)
class DerivedColumn:
    """A column computed from others when a formula asks for it.

    Attributes
    ----------
    compute : callable
        ``frame -> values`` aligned with the frame's rows (array, Series or Categorical); it sees
        the whole frame given to the estimator.
    reads : tuple of str
        The data columns it is computed from (for projection pushdown, see
        :func:`gvcpanel.formula.design.model_columns`).
    reason : str, optional
        Name used in ``"missing <reason>"`` for rows where the value is missing (default: the
        derived name itself).
    """

    compute: Callable[[pd.DataFrame], Any]
    reads: tuple[str, ...] = ()
    reason: str | None = None


Derived = Mapping[str, DerivedColumn]


@dataclass(frozen=True, eq=False)
class Evaluation:
    """A formula evaluated on the kept rows.

    Attributes
    ----------
    data : ndarray, n_kept x (1 + p), Fortran order
        The outcome, then the p design columns.
    names : tuple of str
        Names of the p design columns.
    term_of : tuple of str
        The formula term each design column comes from.
    kept : ndarray of bool
        Over the frame's rows: the rows in ``data``.
    exclusions : dict
        Rows left out per reason (among ``rows`` when given).
    """

    data: np.ndarray
    names: tuple[str, ...]
    term_of: tuple[str, ...]
    kept: np.ndarray
    exclusions: dict[str, int]


def evaluate_formula(
    frame: pd.DataFrame,
    formula: str | ParsedFormula,
    *,
    keep: Sequence[str] = (),
    rows: np.ndarray | None = None,
    derived: Derived | None = None,
    spans_intercept: bool = True,
    prune: Callable[[np.ndarray], tuple[np.ndarray, dict[str, int]]] | None = None,
) -> Evaluation:
    """Evaluate the outcome and the design of ``formula`` on ``frame``.

    Parameters
    ----------
    frame : pandas.DataFrame
        Indexed by (firm_id, year); the index levels can be used like columns.
    formula : str or ParsedFormula
    keep : sequence of str
        Further columns that must be observed (clustering variables, effects).
    rows : ndarray of bool, optional
        Rows eligible for the estimation; the others are neither kept nor counted, but panel
        operators still read them.
    derived : mapping of name to DerivedColumn, optional
        Names computed when the frame has no such column.
    spans_intercept : bool
        Whether the model's intercept, absorbed effects or baseline dummies span the constant
        (decides full or reduced dummy coding; see the module docstring).
    prune : callable, optional
        Called with the rows kept so far (a boolean mask over the frame) before any data are
        copied; returns the rows it drops among them and their counts by reason (singletons of
        the absorbed effects).  The design's columns are still those of the rows before it.
    """
    parsed = parse_formula(formula) if isinstance(formula, str) else formula
    n = len(frame)
    sources = _Sources(frame, derived or {}, parsed.formula)
    active = np.ones(n, dtype=bool) if rows is None else np.asarray(rows, dtype=bool)
    excluded = ~active
    exclusions: dict[str, int] = {}

    def exclude(mask: np.ndarray, reason: str) -> None:
        if not mask.any():
            return
        new = mask & ~excluded
        count = int(new.sum())
        if count:
            exclusions[reason] = exclusions.get(reason, 0) + count
            excluded[:] |= new

    factors = parsed.factors()
    current = [c for f in factors for c in f.reads_current_row()]
    for name in dict.fromkeys(current + list(keep)):
        if name not in current and sources.never_missing(name):
            continue  # a plain integer column (cluster numbers) cannot miss a value: not read here
        column = sources.get(name)
        exclude(column.missing, f"missing {column.reason}")

    values: dict[str, _Values] = {}
    for factor in factors:
        evaluated = _evaluate_factor(factor, sources, parsed.formula, ~excluded)
        for mask, reason in evaluated.invalid:
            exclude(mask, reason)
        values[factor.expr] = evaluated
    if values[parsed.dependent.expr].levels is not None:
        raise SpecificationError(
            f"formula {parsed.formula!r}: the outcome {parsed.dependent.expr!r} is text or categorical; "
            "it must be numeric."
        )
    kept = sample = ~excluded
    if prune is not None:
        dropped, reasons = prune(kept)
        if reasons:
            excluded |= dropped
            for reason, count in reasons.items():
                exclusions[reason] = exclusions.get(reason, 0) + count
            kept = ~excluded
    all_kept = bool(kept.all())
    columns = _design_columns(parsed, values, sample, kept, spans_intercept)
    data = np.empty((int(kept.sum()), 1 + len(columns)), order="F")
    starts = None if all_kept else kernels.chunk_starts(kept)
    _fill(data[:, 0], [values[parsed.dependent.expr].block[:, 0]], kept, all_kept, starts)
    for j, column in enumerate(columns, start=1):
        pieces = [piece() if callable(piece) else piece for piece in column.pieces]
        _fill(data[:, j], pieces, kept, all_kept, starts)
        if len(pieces) > 1 and not np.isfinite(data[:, j]).all():
            raise SpecificationError(
                f"formula {parsed.formula!r}: term {column.term!r} overflows (its product is not finite); "
                "rescale its factors."
            )
    return Evaluation(data, tuple(c.name for c in columns), tuple(c.term for c in columns), kept, exclusions)


# --- data sources ----------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class _Column:
    """A column as numbers (``numeric``) or as codes into ``levels``; ``missing`` per row."""

    name: str
    reason: str
    missing: np.ndarray
    numeric: np.ndarray | None = None
    codes: np.ndarray | None = None
    levels: tuple | None = None
    ordered_by_categories: bool = False
    finite: bool = False  # numeric and every value finite (no missing, no infinity)
    mixed: bool = False  # an object column holding numbers and text


class _Sources:
    """Columns, index levels and derived names of one frame, read once each."""

    def __init__(self, frame: pd.DataFrame, derived: Derived, formula: str) -> None:
        self.frame, self.derived, self.formula = frame, derived, formula
        self._columns: dict[str, _Column] = {}
        self._panel: tuple[np.ndarray, np.ndarray] | None = None

    def series(self, name: str) -> pd.Series:
        frame = self.frame
        if name in frame.columns:
            return frame[name]
        if name in self.derived:
            values = self.derived[name].compute(frame)
            if isinstance(values, pd.Series):
                return values if values.index.equals(frame.index) else values.reindex(frame.index)
            return pd.Series(values, index=frame.index, name=name)
        if name in frame.index.names:
            return pd.Series(frame.index.get_level_values(name), index=frame.index, name=name)
        raise self._unknown(name)

    def never_missing(self, name: str) -> bool:
        """A column of NumPy integers or booleans (no missing value is representable)."""
        return name in self.frame.columns and isinstance(self.frame[name].dtype, np.dtype) and \
            self.frame[name].dtype.kind in "iub"

    def has(self, name: str) -> bool:
        return name in self.frame.columns or name in self.derived or name in self.frame.index.names

    def get(self, name: str) -> _Column:
        if name not in self._columns:
            self._columns[name] = self._read(name)
        return self._columns[name]

    def _read(self, name: str) -> _Column:
        series = self.series(name)
        reason = self.derived[name].reason if name in self.derived and name not in self.frame.columns else None
        reason = reason or name
        dtype = series.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            codes = np.asarray(series.cat.codes, dtype=np.intp)
            return _Column(name, reason, codes < 0, codes=codes, levels=tuple(dtype.categories),
                           ordered_by_categories=True)
        if _is_text(series):
            try:
                codes, uniques = pd.factorize(series, sort=True)
            except TypeError:  # numbers and text together cannot be sorted
                codes, uniques = pd.factorize(series.astype(str).where(series.notna()), sort=True)
            return _Column(name, reason, codes < 0, codes=codes.astype(np.intp), levels=tuple(uniques),
                           mixed=pd.api.types.infer_dtype(series, skipna=True).startswith("mixed"))
        if dtype == np.float64:
            numeric = series.to_numpy()  # a view: the data are not copied
        else:
            try:
                numeric = series.to_numpy(dtype=np.float64, na_value=np.nan)
            except (TypeError, ValueError) as e:
                raise SpecificationError(
                    f"formula {self.formula!r}: column {name!r} ({dtype}) is neither numbers nor text."
                ) from e
        # one summing pass tells whether anything is missing or infinite (NaN and inf propagate);
        # only then is the column searched row by row
        if numeric.size == 0 or kernels.all_finite(np.ascontiguousarray(numeric, dtype=np.float64)):
            return _Column(name, reason, np.zeros(numeric.size, dtype=bool), numeric=numeric, finite=True)
        return _Column(name, reason, np.isnan(numeric), numeric=numeric)

    def codes_of(self, name: str) -> _Column:
        """The column as codes into sorted levels (numbers too: C(year), i(year))."""
        column = self.get(name)
        if column.codes is not None:
            return column
        codes, uniques = pd.factorize(column.numeric, sort=True)
        levels = tuple(_plain(v) for v in uniques)
        return _Column(name, column.reason, column.missing, codes=codes.astype(np.intp), levels=levels)

    def panel(self) -> tuple[np.ndarray, np.ndarray]:
        """Firm codes and integer years of every row (for lags)."""
        if self._panel is None:
            index = self.frame.index
            if list(index.names[:2]) != list(INDEX):
                raise SpecificationError(
                    f"formula {self.formula!r}: lags, leads and differences need a frame indexed by "
                    f"(firm_id, year); found index {list(index.names)}."
                )
            years = index.get_level_values("year")
            try:
                year_values = np.asarray(years, dtype=np.int64)
            except (TypeError, ValueError) as e:
                raise SpecificationError(
                    f"formula {self.formula!r}: lags, leads and differences need whole calendar years; "
                    f"found year values such as {years[0]!r}."
                ) from e
            if not np.array_equal(year_values, np.asarray(years)):
                raise SpecificationError(
                    f"formula {self.formula!r}: lags, leads and differences need whole calendar years; "
                    f"found {years[0]!r}."
                )
            firm = np.asarray(index.codes[0], dtype=np.int64) if isinstance(index, pd.MultiIndex) else (
                pd.factorize(index.get_level_values("firm_id"))[0].astype(np.int64))
            self._panel = (firm, year_values)
        return self._panel

    def _unknown(self, name: str) -> SpecificationError:
        known = [str(c) for c in self.frame.columns] + list(self.derived) + [str(i) for i in self.frame.index.names]
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
        hint = f"closest: {', '.join(close)}" if close else "check the spelling"
        if not self.derived and not close:
            # low-level calls get no computed names unless they pass them
            hint += "; names computed from other columns need derived="
        return SpecificationError(f"formula {self.formula!r}: no column {name!r} in the data ({hint}).")


def _is_text(series: pd.Series) -> bool:
    dtype = series.dtype
    if pd.api.types.is_string_dtype(dtype) and dtype != object:
        return True
    if dtype == object:
        kind = pd.api.types.infer_dtype(series, skipna=True)
        return kind not in ("integer", "floating", "mixed-integer-float", "decimal", "boolean", "empty")
    return False


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers, integral floats as int (level names 2005, not 2005.0)."""
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# --- factors ---------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class _Values:
    """A factor over every row: a numeric block (n x m) or codes into levels; invalid rows."""

    factor: Factor
    block: np.ndarray | None = None  # n x m (m = 1 except formulaic expressions)
    block_names: tuple[str, ...] = ()
    codes: np.ndarray | None = None
    levels: tuple | None = None
    ordered_by_categories: bool = False
    by: np.ndarray | None = None
    invalid: tuple[tuple[np.ndarray, str], ...] = ()


def _evaluate_factor(factor: Factor, sources: _Sources, formula: str, eligible: np.ndarray) -> _Values:
    kind = factor.kind
    if kind in ("categorical", "i"):
        column = sources.codes_of(factor.column)
        by = None
        if factor.by is not None:
            by_column = sources.get(factor.by)
            if by_column.numeric is None:
                raise SpecificationError(
                    f"formula {formula!r}: term {factor.expr!r} multiplies by {factor.by!r}, which is text; "
                    "the second argument of i() must be numeric."
                )
            by = by_column.numeric
        if factor.ref and not any(_same_level(level, factor.ref[0]) for level in column.levels):
            shown = ", ".join(map(repr, column.levels[:12])) + (", ..." if len(column.levels) > 12 else "")
            raise SpecificationError(
                f"formula {formula!r}: term {factor.expr!r}: ref={factor.ref[0]!r} is not a level of "
                f"{factor.column!r} (levels: {shown})."
            )
        return _Values(factor, codes=column.codes, levels=column.levels,
                       ordered_by_categories=column.ordered_by_categories, by=by)
    if kind == "column":
        column = sources.get(factor.column)
        if column.mixed:
            example = next((v for v in column.levels if isinstance(v, str)), column.levels[0])
            raise SpecificationError(
                f"formula {formula!r}: column {factor.column!r} mixes numbers and text (such as {example!r}); "
                f"clean it, or write C({factor.column}) to treat its values as categories."
            )
        if column.numeric is None:  # text or categorical: dummies
            return _Values(factor, codes=column.codes, levels=column.levels,
                           ordered_by_categories=column.ordered_by_categories)
        values = column.numeric
        invalid = ()
        if not column.finite and np.isinf(values).any():
            invalid = ((np.isinf(values), f"non-finite {factor.column}"),)
        return _Values(factor, block=values[:, None], block_names=(factor.expr,), invalid=invalid)
    if kind in ("log", "log1p"):
        values, invalid = _transformed(factor, sources, formula)
        return _Values(factor, block=values[:, None], block_names=(factor.expr,), invalid=invalid)
    if kind in ("lag", "lead", "diff"):
        return _panel_operator(factor, sources, formula)
    return _formulaic_factor(factor, sources, formula, eligible)


def _same_level(level: Any, ref: Any) -> bool:
    return level == ref or str(level) == str(ref)


def _numeric(factor: Factor, sources: _Sources, formula: str, name: str) -> _Column:
    column = sources.get(name)
    if column.numeric is None:
        raise SpecificationError(
            f"formula {formula!r}: term {factor.expr!r} needs numbers, but {name!r} is text or categorical."
        )
    return column


def _transformed(factor: Factor, sources: _Sources, formula: str) -> tuple[np.ndarray, tuple]:
    """Values of a column, ``log(col)`` or ``log1p(col)`` on every row (NaN where undefined)."""
    column = _numeric(factor, sources, formula, factor.column)
    x = column.numeric
    if factor.kind == "column":
        bad = np.isinf(x) if not column.finite else np.zeros(x.size, dtype=bool)
        return x, (((bad, f"non-finite {factor.column}"),) if bad.any() else ())
    with np.errstate(divide="ignore", invalid="ignore"):
        if factor.kind == "log":
            bad = (x <= 0) | np.isposinf(x)
            values = np.log(x)
            reason = f"non-positive {factor.column} (log)"
        else:
            bad = (x <= -1) | np.isposinf(x)
            values = np.log1p(x)
            reason = f"{factor.column} <= -1 (log1p)"
    values[bad] = np.nan
    return values, ((bad, reason),)


def _panel_operator(factor: Factor, sources: _Sources, formula: str) -> _Values:
    """``l(x, k)``, ``f(x, k)`` and ``d(x, k)`` within firm by calendar year."""
    inner = factor.inner
    values, inner_invalid = _transformed(inner, sources, formula)
    firm, year = sources.panel()
    k = factor.order
    shift = -k if factor.kind in ("lag", "diff") else k
    span = int(year.max() - year.min()) + 1 if year.size else 1
    stride = span + k + 1  # keys of different firms never meet after a shift of k years
    key = firm * stride + (year - (year.min() if year.size else 0))
    order = None if key.size < 2 or bool(np.all(key[1:] > key[:-1])) else np.argsort(key, kind="stable")
    sorted_key = key if order is None else key[order]
    target = key + shift
    pos = np.searchsorted(sorted_key, target)
    pos_safe = np.minimum(pos, max(key.size - 1, 0))
    found = sorted_key[pos_safe] == target if key.size else np.zeros(0, dtype=bool)
    partner = pos_safe if order is None else order[pos_safe]
    other = np.where(found, values[partner], np.nan)
    when = ("previous year" if shift == -1 else "next year") if k == 1 else f"year t{shift:+d}"
    absent = ~found
    missing_there = found & np.isnan(other)
    there = f"{when}'s {inner.expr}" if k == 1 else f"{inner.expr} in {when}"
    invalid = [(absent, f"{factor.expr}: {when} not observed"), (missing_there, f"{factor.expr}: {there} missing")]
    if factor.kind == "diff":
        # the row's own value must exist too (its missing value is counted as 'missing x' already)
        invalid = list(inner_invalid) + invalid
        result = values - other
    else:
        result = other
    return _Values(factor, block=result[:, None], block_names=(factor.expr,), invalid=tuple(invalid))


def _formulaic_factor(factor: Factor, sources: _Sources, formula: str, eligible: np.ndarray) -> _Values:
    """An expression such as ``I(x**2)`` evaluated by formulaic on the rows that have its inputs."""
    import formulaic
    from formulaic.errors import FormulaicError

    names = [v for v in factor.variables if sources.has(v)]
    observed = eligible.copy()
    data = {}
    for name in names:
        series = sources.series(name)
        observed &= ~sources.get(name).missing
        data[name] = series
    frame = pd.DataFrame(data, index=sources.frame.index).loc[observed] if data else pd.DataFrame(
        index=sources.frame.index[observed])
    try:
        matrix = formulaic.model_matrix(f"0 + {factor.expr}", frame, ensure_full_rank=False, na_action="ignore")
    except (FormulaicError, Exception) as e:  # formulaic wraps evaluation errors of user code
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SpecificationError(f"formula {formula!r}: term {factor.expr!r} cannot be evaluated: {reason}") from e
    if matrix.model_spec.factor_contrasts:
        raise SpecificationError(
            f"formula {formula!r}: term {factor.expr!r} gives text or categories; write C(...) for dummies "
            "or make the expression numeric."
        )
    block = np.full((len(sources.frame), matrix.shape[1]), np.nan)
    block[observed] = np.asarray(matrix, dtype=np.float64)
    bad = observed & ~np.isfinite(block).all(axis=1)
    return _Values(factor, block=block, block_names=tuple(str(c) for c in matrix.columns),
                   invalid=((bad, f"non-finite {factor.expr}"),))


# --- design columns --------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class _DesignColumn:
    name: str
    term: str
    pieces: tuple  # arrays over every row, or _Indicator (made on the kept rows when needed)


def _design_columns(
    parsed: ParsedFormula, values: Mapping[str, _Values], sample: np.ndarray, kept: np.ndarray,
    spans_intercept: bool,
) -> list[_DesignColumn]:
    """Every design column as a product of pieces, in the order formulaic would write them: the
    categories that occur on the rows ``sample`` make the columns, filled on the rows ``kept``."""
    levels: dict[str, tuple] = {}
    kept_codes: dict[str, np.ndarray] = {}
    for expr, value in values.items():
        if value.codes is None:
            continue
        codes = value.codes[sample]
        present = np.bincount(codes[codes >= 0], minlength=len(value.levels)) > 0
        levels[expr] = tuple(level for level, here in zip(value.levels, present) if here)
        kept_codes[expr] = codes if kept is sample else value.codes[kept]
    categorical = {expr for expr, v in values.items() if v.codes is not None and v.factor.kind != "i"}
    scoping = _scoping(parsed.terms, categorical, levels, spans_intercept) if categorical else None
    columns: list[_DesignColumn] = []
    for t, term in enumerate(parsed.terms):
        scoped_terms = scoping[t] if scoping is not None else [tuple((f.expr, False) for f in term.factors)]
        for scoped in scoped_terms:
            options = [_factor_columns(parsed.formula, values[expr], reduced, levels.get(expr), kept_codes.get(expr))
                       for expr, reduced in scoped]
            # formulaic's column order: the first factor of a term varies fastest
            for combo in itertools.product(*reversed(options)):
                parts = combo[::-1]
                columns.append(_DesignColumn(":".join(p[0] for p in parts), term.name,
                                             tuple(piece for p in parts for piece in p[1])))
    return columns


def _factor_columns(
    formula: str, value: _Values, reduced: bool, levels: tuple | None, codes: np.ndarray | None
) -> list:
    """(name, pieces) for each column one factor contributes to a term."""
    factor = value.factor
    if reduced and value.ordered_by_categories and levels and levels[0] != value.levels[0]:
        # the base of a Categorical is its first category; dropping another level silently
        # would change what every coefficient of the term means
        raise SpecificationError(
            f"formula {formula!r}: term {factor.expr!r}: its base level {value.levels[0]!r} (the first "
            f"category) does not occur on the rows used; reorder the categories or write "
            f"i({factor.column}, ref=...) to choose another."
        )
    if value.codes is None:
        return [(name, (value.block[:, j],)) for j, name in enumerate(value.block_names)]
    if factor.kind == "i":
        chosen = [lv for lv in levels if not (factor.ref and _same_level(lv, factor.ref[0]))]
        out = []
        for level in chosen:
            name = f"{factor.column}::{level}" + (f":{factor.by}" if factor.by else "")
            pieces = (_Indicator(codes, value.levels.index(level)),) + ((value.by,) if factor.by else ())
            out.append((name, pieces))
        return out
    chosen = levels[1:] if reduced else levels
    mark = "T." if reduced else ""
    return [(f"{factor.expr}[{mark}{level}]", (_Indicator(codes, value.levels.index(level)),)) for level in chosen]


class _Indicator:
    """A piece made on the kept rows only (called when its column is filled): 1.0 where the
    kept-row code equals ``code``."""

    def __init__(self, codes: np.ndarray, code: int) -> None:
        self.codes, self.code = codes, code

    def __call__(self) -> "_Kept":
        return _Kept((self.codes == self.code).astype(np.float64))


class _Kept:
    """An array already restricted to the kept rows."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = values


def _fill(out: np.ndarray, pieces: Sequence[np.ndarray | _Kept], kept: np.ndarray, all_kept: bool,
          starts: np.ndarray | None = None) -> None:
    """Write the product of ``pieces`` on the kept rows into ``out`` without a full-size copy.

    A piece is an array over every row of the frame, or a :class:`_Kept` array; ``starts``
    (:func:`gvcpanel.kernels.chunk_starts` of ``kept``) lets a float64 column be compressed on
    every core.
    """
    for position, piece in enumerate(pieces):
        if isinstance(piece, _Kept):
            part = piece.values
        elif all_kept:
            part = piece
        elif position == 0:
            if (starts is not None and piece.dtype == np.float64 and piece.ndim == 1 and piece.flags.c_contiguous
                    and out.flags.c_contiguous):
                kernels.compress_into(out, piece, kept, starts)
            else:
                np.compress(kept, piece, out=out)
            continue
        else:
            part = np.compress(kept, piece)
        if position == 0:
            if part.dtype == np.float64 and part.ndim == 1 and out.flags.c_contiguous and part.flags.c_contiguous:
                kernels.copy_into(out, part)  # both cores
            else:
                np.copyto(out, part)
        else:
            np.multiply(out, part, out=out)


def _scoping(
    terms: Sequence[Term], categorical: set[str], levels: Mapping[str, tuple], spans_intercept: bool
) -> list[list[tuple[tuple[str, bool], ...]]]:
    """For each term, its scoped terms: tuples of (factor expr, reduced) from formulaic's rules."""
    exprs = list(dict.fromkeys(f.expr for term in terms for f in term.factors))
    placeholder = {expr: f"v{j}" for j, expr in enumerate(exprs)}
    term_keys = tuple(tuple(placeholder[f.expr] for f in term.factors) for term in terms)
    level_counts = tuple((placeholder[e], len(levels[e])) for e in exprs if e in categorical)
    structure = _formulaic_structure(term_keys, level_counts, spans_intercept)
    back = {v: k for k, v in placeholder.items()}
    return [[tuple((back[p], reduced) for p, reduced in scoped) for scoped in entry] for entry in structure]


@lru_cache(maxsize=256)
def _formulaic_structure(
    term_keys: tuple[tuple[str, ...], ...], level_counts: tuple[tuple[str, int], ...], spans_intercept: bool
) -> tuple[tuple[tuple[tuple[str, bool], ...], ...], ...]:
    """formulaic's full-rank scoping of the terms, read from its materializer on a prototype.

    The prototype has one row per level of the largest categorical factor; numeric factors are
    ones.  Only the structure is used: which factors of each term enter with all levels and
    which without the base.
    """
    from formulaic import Formula

    counts = dict(level_counts)
    n_rows = max([2, *counts.values()])
    proto = {}
    for name in dict.fromkeys(p for key in term_keys for p in key):
        if name in counts:
            labels = [f"l{j}" for j in range(max(counts[name], 1))]
            proto[name] = pd.Categorical([labels[r % len(labels)] for r in range(n_rows)], categories=labels)
        else:
            proto[name] = np.ones(n_rows)
    spec = ("1 + " if spans_intercept else "0 + ") + " + ".join(":".join(key) for key in term_keys)
    matrix = Formula(spec, _ordering="none").get_model_matrix(pd.DataFrame(proto), ensure_full_rank=True)
    entries = [entry for entry in matrix.model_spec.structure if str(entry.term) != "1"]
    if len(entries) != len(term_keys):  # formulaic merged or dropped a term we kept apart
        raise SpecificationError(f"the terms {term_keys} could not be scoped; write each term once.")
    out = []
    for key, entry in zip(term_keys, entries):
        scoped_terms = []
        for scoped in entry.scoped_terms:
            flags = {str(sf.factor.expr): bool(sf.reduced) for sf in scoped.factors}
            # keep the term's own factor order
            scoped_terms.append(tuple((p, flags[p]) for p in key if p in flags))
        out.append(tuple(scoped_terms))
    return tuple(out)
