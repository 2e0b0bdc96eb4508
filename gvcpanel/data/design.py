"""The observation design of a panel: every year, or waves years apart; recall windows.

Registers observe firms every year; surveys interview them in waves (Enterprise Surveys every
three to six years).  In a wave design a firm seen in 2009 and 2015 was not "missing" from 2010
to 2014: nobody was asked.  :func:`observation_design` reads the design from the years of a
panel, so that descriptions speak of waves and intervals instead of gaps, and models of change
between observations (interval hazards) know how long each interval is.

A survey question that asks about a window ("new products in the last three years") is a recall
question; its window is declared by the source mapping (``"recall": 3``) and kept here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd

__all__ = ["ObservationDesign", "observation_design", "interval_table"]


@dataclass(frozen=True)
class ObservationDesign:
    """How often a panel observes its firms.

    Attributes
    ----------
    kind : {"annual", "waves"}
        ``annual`` when the panel's years are consecutive, ``waves`` when two consecutive years
        of the panel are more than one year apart.
    years : tuple of int
        The panel's distinct years (the waves of a wave design).
    intervals : tuple of int
        Years between consecutive waves (``years[i+1] - years[i]``); all 1 for annual panels.
    recall : Mapping[str, int]
        Column -> window in years of a recall question ("in the last k years"), as declared by
        the source mapping; empty when none is declared.
    """

    kind: str
    years: tuple[int, ...]
    intervals: tuple[int, ...]
    recall: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def is_waves(self) -> bool:
        return self.kind == "waves"

    def text(self) -> str:
        """One line: ``annual, 2005-2019`` or ``waves 2009, 2015, 2019 (intervals 6, 4 years)``."""
        if not self.years:
            return "no years"
        if self.kind == "annual":
            return f"annual, {self.years[0]}-{self.years[-1]}"
        waves = ", ".join(map(str, self.years))
        gaps = ", ".join(map(str, self.intervals))
        return f"waves {waves} (intervals {gaps} years)"

    def with_recall(self, recall: Mapping[str, int]) -> "ObservationDesign":
        """The same design with recall windows (column -> years)."""
        return ObservationDesign(self.kind, self.years, self.intervals,
                                 MappingProxyType({str(k): int(v) for k, v in recall.items()}))


def observation_design(years: np.ndarray | pd.Index, recall: Mapping[str, int] | None = None) -> ObservationDesign:
    """Read the observation design from the years of a panel (any order, repeats allowed)."""
    distinct = tuple(int(y) for y in np.unique(np.asarray(years)))
    intervals = tuple(int(b - a) for a, b in zip(distinct, distinct[1:]))
    kind = "waves" if any(i > 1 for i in intervals) else "annual"
    return ObservationDesign(kind, distinct, intervals,
                             MappingProxyType({str(k): int(v) for k, v in (recall or {}).items()}))


def interval_table(firm_codes: np.ndarray, years: np.ndarray) -> pd.DataFrame:
    """Years between a firm's consecutive observations: ``interval`` (years), ``n`` (pairs).

    ``firm_codes`` and ``years`` are per row, sorted by firm then year.
    """
    same = firm_codes[1:] == firm_codes[:-1]
    gaps = (years[1:] - years[:-1])[same]
    values, counts = np.unique(gaps, return_counts=True)
    return pd.DataFrame({"interval": values.astype(np.int64), "n": counts.astype(np.int64)})
