"""From a panel and a formula to float64 arrays, with every excluded row counted.

Terms and exclusions come from :func:`gvcpanel.formula.design.evaluate_terms`, the same function
behind :func:`gvcpanel.formula.design.build_design`; this module keeps its one Fortran-ordered array
(no DataFrame) and codes the grouping columns, so a two-million-row model holds its data once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gvcpanel.models.absorb import FixedEffect, compress_codes, factorize, interact
from gvcpanel.formula.design import evaluate_terms, expand_terms
from gvcpanel.errors import SpecificationError

INDEX = ("firm_id", "year")
ALIASES = {"firm": "firm_id", "year": "year"}


def panel_frame(panel: Any) -> tuple[pd.DataFrame, dict[str, str]]:
    """The (firm_id, year)-indexed frame of a FirmPanel or DataFrame, and its provenance."""
    frame = panel.data if hasattr(panel, "data") and not isinstance(panel, pd.DataFrame) else panel
    if not isinstance(frame, pd.DataFrame):
        raise SpecificationError(
            f"expected a FirmPanel or a pandas DataFrame, found {type(panel).__name__}; "
            "load the data with gp.load_panel(...)."
        )
    if tuple(frame.index.names) != INDEX:
        if all(c in frame.columns for c in INDEX):
            frame = frame.set_index(list(INDEX))
        else:
            raise SpecificationError(
                f"the panel must be indexed by (firm_id, year) or have those columns; found index "
                f"{list(frame.index.names)} and columns {list(map(str, frame.columns))[:10]}."
            )
    provenance: dict[str, str] = {}
    prov = getattr(panel, "provenance", None)
    if prov is not None and hasattr(prov, "as_dict"):
        provenance = dict(prov.as_dict())
    return frame, provenance


def canonical(name: str) -> str:
    return ALIASES.get(name, name)


def effect_columns(effect: str) -> list[str]:
    """Data columns (or index levels) an effect name reads: ``"cluster_id^year"`` -> both."""
    parts = effect.replace("#", "^").split("^")
    return [canonical(p.strip()) for p in parts]


@dataclass(frozen=True, eq=False)
class Arrays:
    """Evaluated model data on the kept rows.

    ``data`` is n x (1 + k), Fortran-ordered: outcome first, then the regressors in ``terms``.
    ``codes``/``labels`` hold contiguous integer codes for ``firm_id``, ``year`` and every
    further grouping column that was asked for.
    """

    data: np.ndarray
    terms: tuple[str, ...]
    dependent: str
    codes: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    years: np.ndarray  # the year value of each row (for differences)
    exclusions: dict[str, int]

    def subset(self, keep: np.ndarray) -> "Arrays":
        codes, labels = {}, {}
        for name, c in self.codes.items():
            codes[name], used = compress_codes(c[keep], len(self.labels[name]))
            labels[name] = self.labels[name][used]
        return Arrays(
            take_rows(self.data, keep), self.terms, self.dependent, codes, labels, self.years[keep], dict(self.exclusions)
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
        out[:, j] = data[keep, j]
    return out


def evaluate(frame: pd.DataFrame, dependent: str, terms: Sequence[str], groups: Sequence[str]) -> Arrays:
    """Evaluate the outcome and regressors, and code the grouping columns, dropping incomplete rows.

    Rows are excluded by :func:`gvcpanel.formula.design.evaluate_terms`, with its counted reasons.
    """
    terms = expand_terms(terms)
    group_cols = [c for c in dict.fromkeys(groups) if c not in INDEX]
    frame, _, data, kept, exclusions = evaluate_terms(frame, [dependent, *terms], group_cols)
    codes: dict[str, np.ndarray] = {}
    labels: dict[str, np.ndarray] = {}
    index = frame.index
    for level, name in enumerate(INDEX):
        level_codes = np.asarray(index.codes[level])
        codes[name] = level_codes
        labels[name] = np.asarray(index.levels[level])
    for col in group_cols:
        fe = factorize(frame[col].to_numpy(), col) if not frame[col].isna().any() else None
        if fe is None:  # rows with a missing group are excluded above; code them after subsetting
            fe_codes, uniques = pd.factorize(frame[col], sort=True)
            codes[col], labels[col] = fe_codes.astype(np.intp), np.asarray(uniques)
        else:
            codes[col], labels[col] = fe.codes, fe.labels
    years = np.asarray(index.levels[1])[codes["year"]]
    full = Arrays(data, tuple(terms), dependent, codes, labels, years, exclusions)
    # contiguous codes on the kept rows (unused index levels are dropped here too)
    return full.subset(kept)
