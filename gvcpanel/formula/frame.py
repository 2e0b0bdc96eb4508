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
from gvcpanel.models.absorb import FixedEffect, compress_codes, interact, singleton_sweep

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
    codes: Mapping[str, np.ndarray]
    labels: Mapping[str, np.ndarray]
    exclusions: dict[str, int]
    weights: np.ndarray | None = None  # probability weights of the kept rows (evaluate(weights=))
    #: rows dropped as singletons per effect, when evaluate(singletons=) asked (None: not looked for)
    singletons: dict[str, int] | None = None

    @property
    def years(self) -> np.ndarray:
        """The year value of each row (made when asked: only differences and cohorts need it)."""
        return self.labels["year"][self.codes["year"]]

    def subset(self, keep: np.ndarray) -> "Arrays":
        """The rows ``keep``."""
        codes, labels = {}, {}
        for name, c in self.codes.items():
            codes[name], used = compress_codes(c, len(self.labels[name]), keep)
            labels[name] = self.labels[name][used]
        return Arrays(
            take_rows(self.data, keep), self.terms, self.dependent, codes, labels, dict(self.exclusions),
            None if self.weights is None else self.weights[keep],
        )

    def effect(self, name: str) -> FixedEffect:
        cols = effect_columns(name)
        fe = FixedEffect(cols[0], self.codes[cols[0]], len(self.labels[cols[0]]), self.labels[cols[0]])
        for col in cols[1:]:
            fe = interact(fe, FixedEffect(col, self.codes[col], len(self.labels[col]), self.labels[col]))
        return FixedEffect(name, fe.codes, fe.n_levels, fe.labels)


def take_rows(data: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Rows of a Fortran-ordered array, column by column so that no C-ordered copy is made."""
    if keep.all():
        return data
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
    singletons: Sequence[str] = (),
    later: Sequence[str] = (),
) -> Arrays:
    """Evaluate the outcome and design, and code the grouping columns, dropping incomplete rows.

    Rows are excluded by :func:`gvcpanel.formula.evaluate.evaluate_formula`, with its counted
    reasons; grouping columns other than the index must be observed.  ``weights`` (one per row
    of ``frame``) are carried to the kept rows.  The rows alone in a level of one of the effects
    ``singletons`` (names such as ``"firm"``, whose columns are among ``groups``) are dropped
    sweep after sweep (:func:`gvcpanel.models.absorb.singleton_mask`) before the data are copied,
    and counted as ``"singleton in <effect> effect"``.  The columns ``later`` (observed on every
    row: they exclude none) are coded on the kept rows when first asked for (kept for a later
    choice of clusters).
    """
    group_cols = [c for c in dict.fromkeys(groups) if c not in INDEX]
    for col in group_cols:
        if col not in frame.columns:
            raise SpecificationError(f"grouping column {col!r} is not in the data.")
    # codes of every row (a row that is left out may carry any code), made compact on the kept
    # rows; a grouping column no singleton rule reads is coded on the kept rows alone
    index = frame.index
    raw: dict[str, tuple[np.ndarray, np.ndarray]] = {
        name: (np.asarray(index.codes[level]), np.asarray(index.levels[level])) for level, name in enumerate(INDEX)
    }
    swept_cols = {col for name in singletons for col in effect_columns(name)}
    for col in group_cols:
        if col in swept_cols:
            raw[col] = group_codes(frame[col].to_numpy())
    prune = None
    swept: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # a column's int64 codes and rows per level
    if singletons:
        def prune(kept: np.ndarray) -> tuple[np.ndarray, dict[str, int]]:
            effects = [_raw_effect(raw, name, kept) for name in singletons]
            keep, dropped, counts = singleton_sweep(effects, kept)
            for name, fe, count in zip(singletons, effects, counts):
                if len(effect_columns(name)) == 1:  # the last exclusion: these are the final rows
                    swept[effect_columns(name)[0]] = (fe.codes, count)
            return kept & ~keep, {f"singleton in {name} effect": count for name, count in dropped.items()}

    ev = evaluate_formula(frame, formula, keep=group_cols, rows=rows, derived=derived,
                          spans_intercept=spans_intercept, prune=prune)
    kept = ev.kept
    all_kept = bool(kept.all())
    rows_kept = kernels.ALL_ROWS if all_kept else np.ascontiguousarray(kept)
    codes: dict[str, np.ndarray] = {}
    labels: dict[str, np.ndarray] = {}
    for name, (c, values) in raw.items():
        if name in swept:  # the sweep counted the rows of each level: no pass to find those used
            c, count = swept[name]
            present = count > 0
            if all_kept and present.all():
                codes[name], labels[name] = c, values
                continue
            codes[name], used = kernels.recode_present(c, present, rows_kept)
            labels[name] = values[used]
        elif all_kept and name in group_cols:  # group_codes are compact already
            codes[name], labels[name] = c, values
        else:
            codes[name], used = compress_codes(c, len(values), None if all_kept else kept)
            labels[name] = values[used]
    for col in group_cols:
        if col not in raw:
            codes[col], labels[col] = group_codes(frame[col].to_numpy(), None if all_kept else kept)
    pending = {col: (frame[col].to_numpy(), None if all_kept else kept) for col in dict.fromkeys(later)
               if col not in codes}
    if pending:
        store = _GroupStore(codes, labels, pending)
        codes, labels = _GroupView(store, 0), _GroupView(store, 1)
    dependent = formula.dependent.expr if isinstance(formula, ParsedFormula) else _dependent(formula)
    kept_weights = None if weights is None else (weights if all_kept else weights[kept])
    counted = None
    if singletons:
        counted = {name: ev.exclusions.get(f"singleton in {name} effect", 0) for name in singletons}
    return Arrays(ev.data, ev.names, dependent, codes, labels, ev.exclusions, kept_weights, counted)


class _GroupStore:
    """Codes and labels of grouping columns, some of them coded when first asked for."""

    def __init__(self, codes: dict[str, np.ndarray], labels: dict[str, np.ndarray],
                 pending: dict[str, tuple[np.ndarray, np.ndarray | None]]) -> None:
        self.found = {name: (codes[name], labels[name]) for name in codes}
        self.pending = pending  # name -> (values of every row, the kept rows or None for all)
        self.names = (*codes, *pending)

    def get(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in self.found:
            values, kept = self.pending.pop(name)  # KeyError for a name it does not hold
            self.found[name] = group_codes(values, kept)
        return self.found[name]


class _GroupView(Mapping):
    """``Arrays.codes`` (part 0) or ``Arrays.labels`` (part 1) over a :class:`_GroupStore`."""

    def __init__(self, store: _GroupStore, part: int) -> None:
        self.store, self.part = store, part

    def __getitem__(self, name: str) -> np.ndarray:
        return self.store.get(name)[self.part]

    def __contains__(self, name: object) -> bool:
        return name in self.store.names

    def __iter__(self):
        return iter(self.store.names)

    def __len__(self) -> int:
        return len(self.store.names)


def _raw_effect(raw: Mapping[str, tuple[np.ndarray, np.ndarray]], name: str, kept: np.ndarray) -> FixedEffect:
    """Effect ``name`` over every row, from uncompacted codes (meaningful on the rows ``kept``)."""
    columns = effect_columns(name)
    codes, values = raw[columns[0]]
    codes, n_levels = kernels.as_codes(codes), len(values)
    for col in columns[1:]:
        other, other_values = raw[col]
        joint = np.where(kept, codes * len(other_values) + other, 0)  # left-out rows may be -1
        if n_levels * len(other_values) <= 4 * joint.size + 1_000_000:
            codes, n_levels = joint, n_levels * len(other_values)
        else:
            used, codes = np.unique(joint, return_inverse=True)
            n_levels = used.size
    return FixedEffect(name, codes, n_levels)


def group_codes(values: np.ndarray, keep: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Codes 0..G-1 in the sorted order of the values (of the rows ``keep``, when given), and the
    values.

    Whole numbers in a compact range (cluster and region numbers) are coded by counting, which
    is several times faster than hashing on millions of rows; anything else by pandas.
    """
    if values.dtype.kind in "iu" and values.size:
        low, high = int(values.min()), int(values.max())  # of every row: a range that holds the kept ones
        if high - low <= 4 * values.size:
            rows = kernels.ALL_ROWS if keep is None else np.ascontiguousarray(keep, dtype=bool)
            return kernels.integer_codes(np.ascontiguousarray(values), low, high, rows)
    codes, uniques = pd.factorize(values if keep is None else values[keep], sort=True)
    return codes.astype(np.intp, copy=False), np.asarray(uniques)


def _dependent(formula: str) -> str:
    from gvcpanel.formula.parse import parse_formula

    return parse_formula(formula).dependent.expr
