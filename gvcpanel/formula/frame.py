"""From a panel and a formula to the arrays the estimators use, with every excluded row counted.

:func:`panel_frame` is the one place where a FirmPanel or a DataFrame becomes the sorted,
(firm_id, year)-indexed frame every model reads.  :func:`evaluate` runs
:func:`gvcpanel.formula.evaluate.evaluate_formula` (one Fortran-ordered array, outcome first) and
codes the grouping columns, so a two-million-row model holds its data once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gvcpanel import kernels
from gvcpanel.errors import PanelStructureError, SpecificationError
from gvcpanel.formula.evaluate import Derived, DerivedColumn, evaluate_formula
from gvcpanel.formula.parse import ParsedFormula, canonical, effect_columns
from gvcpanel.formula.providers import default_derived
from gvcpanel.models.absorb import FixedEffect, compress_codes, interact

INDEX = ("firm_id", "year")

__all__ = ["INDEX", "Arrays", "canonical", "derived_of", "effect_columns", "evaluate", "panel_frame", "take_rows"]


def panel_frame(panel: Any) -> tuple[pd.DataFrame, dict[str, str]]:
    """The data of a FirmPanel or DataFrame, indexed by a sorted, unique (firm_id, year).

    A frame with ``firm_id`` and ``year`` columns is indexed by them; an unsorted one is sorted.
    Also returns the provenance mapping (empty for a bare DataFrame).

    Raises
    ------
    SpecificationError
        For anything else than a panel or a frame with the two keys.
    PanelStructureError
        When a (firm_id, year) pair occurs twice.
    """
    provenance: dict[str, str] = {}
    if hasattr(panel, "data") and not isinstance(panel, pd.DataFrame):
        frame = panel.data
        prov = getattr(panel, "provenance", None)
        if prov is not None and hasattr(prov, "as_dict"):
            provenance = dict(prov.as_dict())
    elif isinstance(panel, pd.DataFrame):
        frame = panel
    else:
        raise SpecificationError(
            f"expected a FirmPanel or a DataFrame indexed by (firm_id, year), found "
            f"{type(panel).__name__}; load data with gp.load_panel(...)."
        )
    if tuple(frame.index.names) != INDEX:
        if all(c in frame.columns for c in INDEX):
            frame = frame.set_index(list(INDEX))
        else:
            raise SpecificationError(
                f"the panel must be indexed by (firm_id, year) or have those columns; found index "
                f"{list(frame.index.names)} and columns {list(map(str, frame.columns))[:8]}."
            )
    if not _strictly_increasing(frame.index):
        if frame.index.has_duplicates:
            dup = frame.index[frame.index.duplicated()][0]
            raise PanelStructureError(
                f"(firm_id, year) must be unique; found {dup} more than once. Aggregate or drop the "
                "duplicate rows before estimating."
            )
        frame = frame.sort_index()
    return frame, provenance


def _strictly_increasing(index: pd.MultiIndex) -> bool:
    """Sorted and unique, checked on the integer codes when the levels are sorted (fast)."""
    if not isinstance(index, pd.MultiIndex) or not all(lv.is_monotonic_increasing for lv in index.levels):
        return bool(index.is_monotonic_increasing and not index.has_duplicates)
    firm, year = (np.asarray(c) for c in index.codes)
    if firm.size < 2:
        return True
    step_firm = np.diff(firm)
    return bool(np.all((step_firm > 0) | ((step_firm == 0) & (np.diff(year) > 0))))


def derived_of(panel: Any, derived: Derived | None = None) -> dict[str, DerivedColumn]:
    """Names an estimator offers its formula beyond the columns.

    In order, later ones winning: the registered providers (:mod:`gvcpanel.formula.providers`),
    the names a panel object offers (a ``derived_columns`` mapping; DataFrames offer none),
    and the caller's ``derived``.  A column of the data always wins over all of them.
    """
    out: dict[str, DerivedColumn] = default_derived()
    offered = None if isinstance(panel, pd.DataFrame) else getattr(panel, "derived_columns", None)
    out.update(offered or {})
    out.update(derived or {})
    return out


@dataclass(frozen=True, eq=False)
class Arrays:
    """Evaluated model data on the kept rows.

    ``data`` is n x (1 + k), Fortran-ordered: outcome first, then the design columns named in
    ``terms``.  ``codes``/``labels`` hold contiguous integer codes for ``firm_id``, ``year`` and
    every further grouping column that was asked for.
    """

    data: np.ndarray
    terms: tuple[str, ...]
    dependent: str
    codes: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    exclusions: dict[str, int]
    weights: np.ndarray | None = None  # probability weights of the kept rows (evaluate(weights=))

    @property
    def years(self) -> np.ndarray:
        """The year value of each row (made when asked: only differences and cohorts need it)."""
        return self.labels["year"][self.codes["year"]]

    def subset(self, keep: np.ndarray, *, in_place: bool = False) -> "Arrays":
        """The rows ``keep``; ``in_place=True`` compacts ``data`` in its own memory (then this
        object's ``data`` must not be used again: estimators own the array evaluate() made)."""
        codes, labels = {}, {}
        for name, c in self.codes.items():
            codes[name], used = compress_codes(c, len(self.labels[name]), keep)
            labels[name] = self.labels[name][used]
        return Arrays(
            take_rows(self.data, keep, in_place=in_place), self.terms, self.dependent, codes, labels, dict(self.exclusions),
            None if self.weights is None else self.weights[keep],
        )

    def effect(self, name: str) -> FixedEffect:
        cols = effect_columns(name)
        fe = FixedEffect(cols[0], self.codes[cols[0]], len(self.labels[cols[0]]), self.labels[cols[0]])
        for col in cols[1:]:
            fe = interact(fe, FixedEffect(col, self.codes[col], len(self.labels[col]), self.labels[col]))
        return FixedEffect(name, fe.codes, fe.n_levels, fe.labels)


def take_rows(data: np.ndarray, keep: np.ndarray, *, in_place: bool = False) -> np.ndarray:
    """Rows of a Fortran-ordered array, column by column so that no C-ordered copy is made.

    ``in_place=True`` (a contiguous Fortran-ordered ``data`` that the caller owns) moves the kept
    rows to the front of ``data``'s own buffer and returns a Fortran-ordered view of it: no second
    array of the data's size.
    """
    if keep.all():
        return data
    if in_place and data.flags.f_contiguous and data.flags.writeable and data.dtype == np.float64:
        from gvcpanel import kernels

        n, p = data.shape
        flat = data.reshape(-1, order="F")  # a view of a contiguous array
        m = int(kernels.compact_columns(flat, n, p, np.ascontiguousarray(keep, dtype=np.bool_)))
        return flat[: m * p].reshape((m, p), order="F")
    out = np.empty((int(keep.sum()), data.shape[1]), order="F")
    for j in range(data.shape[1]):
        np.compress(keep, data[:, j], out=out[:, j])
    return out


def evaluate(
    frame: pd.DataFrame,
    formula: str | ParsedFormula,
    groups: Sequence[str] = (),
    *,
    derived: Mapping[str, DerivedColumn] | None = None,
    spans_intercept: bool = True,
    rows: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> Arrays:
    """Evaluate the outcome and design, and code the grouping columns, dropping incomplete rows.

    Rows are excluded by :func:`gvcpanel.formula.evaluate.evaluate_formula`, with its counted
    reasons; grouping columns other than the index must be observed.  ``weights`` (one per row
    of ``frame``) are carried to the kept rows.
    """
    group_cols = [c for c in dict.fromkeys(groups) if c not in INDEX]
    ev = evaluate_formula(frame, formula, keep=group_cols, rows=rows, derived=derived,
                          spans_intercept=spans_intercept)
    kept = ev.kept
    all_kept = bool(kept.all())
    index = frame.index
    codes: dict[str, np.ndarray] = {}
    labels: dict[str, np.ndarray] = {}
    for level, name in enumerate(INDEX):
        level_codes = np.asarray(index.codes[level])
        codes[name], used = compress_codes(level_codes, len(index.levels[level]), None if all_kept else kept)
        labels[name] = np.asarray(index.levels[level])[used]
    for col in group_cols:
        if col not in frame.columns:
            raise SpecificationError(f"grouping column {col!r} is not in the data.")
        values = frame[col].to_numpy()
        codes[col], labels[col] = group_codes(values if all_kept else values[kept])
    dependent = formula.dependent.expr if isinstance(formula, ParsedFormula) else _dependent(formula)
    kept_weights = None if weights is None else (weights if all_kept else weights[kept])
    return Arrays(ev.data, ev.names, dependent, codes, labels, ev.exclusions, kept_weights)


def group_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes 0..G-1 in the sorted order of the values, and the values.

    Whole numbers in a compact range (cluster and region numbers) are coded by counting, which
    is several times faster than hashing on millions of rows; anything else by pandas.
    """
    if values.dtype.kind in "iu" and values.size:
        low, high = int(values.min()), int(values.max())
        if high - low <= 4 * values.size:
            return kernels.integer_codes(np.ascontiguousarray(values), values.dtype.type(low), values.dtype.type(high))
    codes, uniques = pd.factorize(values, sort=True)
    return codes.astype(np.intp, copy=False), np.asarray(uniques)


def _dependent(formula: str) -> str:
    from gvcpanel.formula.parse import parse_formula

    return parse_formula(formula).dependent.expr
