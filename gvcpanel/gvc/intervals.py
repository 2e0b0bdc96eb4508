r"""Upgrading risk sets of survey waves: events over intervals, recall windows.

An annual panel observes every year, and :func:`gvcpanel.gvc.upgrading.risk_set` treats a year
without a row as a gap across which a change happened in an unknown year.  A survey interviews
its firms in waves years apart (Enterprise Surveys: 2009, 2015, 2019): nothing is "missing"
between two interviews, the change happened somewhere in the interval, and the grouped-duration
proportional-hazards model (Prentice and Gloeckler 1978; Sueyoshi 1995) uses it as such.  If the
annual hazard is :math:`h = 1 - \exp(-e^{\alpha + x'\beta})` with the covariates of the interval,
the probability of at least one event in an interval of :math:`L` years is

.. math:: 1 - \exp\{-L\,e^{\alpha + x'\beta}\} = 1 - \exp\{-e^{\alpha + x'\beta + \log L}\},

a complementary log-log model with offset :math:`\log L`: 4-year and 1-year intervals estimate
the same :math:`\beta`, and with one-year intervals it is the annual model.

:func:`interval_risk_rows` builds that risk set.  In a wave design (see
:func:`gvcpanel.data.design.observation_design`) each firm's consecutive interviews are
consecutive observations, whatever the years between them (a firm not interviewed in 2015 has a
2009-2019 interval); the risk-set rules of :mod:`gvcpanel.gvc.upgrading` (entry, left
truncation, exit after the first event, missing outcomes) are applied to that sequence, and each
row at risk gets its interval ``L``:

- states (``process``, ``functional``, ``intersectoral``): the years since the firm's previous
  interview, whose state must be observed;
- recall questions (a flow column the mapping declares with ``"recall": W``, such as
  Enterprise Surveys' ``h1``, new products in the last three years, for ``product``): the answer
  covers the W years up to the interview, so ``L = W`` at a firm's first interview (or when the
  previous answer is missing), and ``L = min(W, years since the previous interview)`` after an
  answer of no: the years the previous window already covered are known to be without event;
- a flow without a declared window in a wave design covers its own year only (``L = 1``), and,
  as in annual panels, the firm's spell ends at the first interval (an earlier event may be
  unseen): declare the window in the mapping.

In an annual panel without recall columns the rows, events and durations are those of
:func:`~gvcpanel.gvc.upgrading.risk_rows` and every interval is 1 (offset 0): the interval hazard
is the annual estimator.  ``duration`` counts calendar years since the spell's origin (the
first interview; for a recall question, the start of its first window).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gvcpanel.data.design import ObservationDesign, observation_design
from gvcpanel.errors import SpecificationError
from gvcpanel.gvc.upgrading import (AT_TOP, ENTRY, FLOW_TYPES, OUTCOME_COLUMN, PREVIOUS_MISSING, SPELL_ENDED,
                                    UPGRADES, risk_rows)

__all__ = ["IntervalRows", "interval_risk_rows", "design_of"]

_WAVE_LABELS = {
    PREVIOUS_MISSING: "previous interview's {column} missing",
    ENTRY: "first interview (state observed, not at risk)",
    AT_TOP: "at the top function level at the previous interview",
    SPELL_ENDED:
        "after an interval without a recall window (an earlier event may be unseen; declare the "
        "question's recall window in the mapping)",
}


@dataclass(frozen=True, eq=False)
class IntervalRows:
    """The risk set as arrays over every row of the (sorted) panel frame.

    Attributes
    ----------
    at_risk : ndarray of bool
        Rows at risk.
    event, duration, interval : ndarray
        On rows at risk: the event (0/1), calendar years since the spell's origin, and the years
        ``L`` the row's event window covers (1 in an annual panel, where ``interval`` is a
        read-only view of a single 1); 0, 0 and 1 elsewhere.
    report : pandas.DataFrame
        Rows left out, by reason (``reason``, ``n_rows``, ``n_firms``).
    outcome : str
        The column the events were read from.
    n_left_truncated : int
        Firms already upgraded when first observed.
    design : ObservationDesign
        The design used (its recall windows included).
    window : int or None
        The recall window of the outcome column, when it has one.
    """

    at_risk: np.ndarray
    event: np.ndarray
    duration: np.ndarray
    interval: np.ndarray
    report: pd.DataFrame
    outcome: str
    n_left_truncated: int
    design: ObservationDesign
    window: int | None = None

    @property
    def exclusions(self) -> dict[str, int]:
        """{reason: rows}, the form estimators merge into a result's exclusion table."""
        return dict(zip(self.report["reason"], self.report["n_rows"].astype(int)))

    @property
    def offset(self) -> np.ndarray:
        """:math:`\\log L` per row (0 where not at risk)."""
        return np.log(self.interval.astype(float))


def design_of(panel: Any, frame: pd.DataFrame, recall: Mapping[str, int] | None = None) -> ObservationDesign:
    """The panel's observation design (its own, with the mapping's recall windows, for a
    FirmPanel; read from the years for a DataFrame), with ``recall`` added."""
    own = getattr(panel, "observation", None)
    if own is None:
        own = observation_design(_distinct_years(frame))
    if recall:
        own = own.with_recall({**own.recall, **recall})
    return own


def _distinct_years(frame: pd.DataFrame) -> np.ndarray:
    """The years that occur in the frame's index, from its level values (no column of years)."""
    index = frame.index
    if isinstance(index, pd.MultiIndex) and "year" in index.names:
        position = index.names.index("year")
        codes = np.asarray(index.codes[position])
        if not codes.size or codes.min() >= 0:
            levels = index.levels[position]
            return np.asarray(levels)[np.bincount(codes, minlength=len(levels)) > 0]
    return np.asarray(index.get_level_values("year"))


def interval_risk_rows(
    frame: pd.DataFrame,
    upgrade: str,
    *,
    outcome: str | None = None,
    design: ObservationDesign | None = None,
) -> IntervalRows:
    """Risk set of one upgrading type with the interval each row at risk covers (module Notes).

    Parameters
    ----------
    frame : pandas.DataFrame
        Panel data indexed by (firm_id, year), sorted.
    upgrade : {"process", "product", "functional", "intersectoral"}
    outcome : str, optional
        Column to read the events from (default: the type's canonical column).
    design : ObservationDesign, optional
        Observation design and recall windows (default: read from the years, no recall).

    Returns
    -------
    IntervalRows
    """
    if upgrade not in UPGRADES:
        raise SpecificationError(f"upgrade={upgrade!r} is not known; choose one of {', '.join(UPGRADES)}.")
    column = outcome or OUTCOME_COLUMN[upgrade]
    design = design or observation_design(_distinct_years(frame))
    window = design.recall.get(column)
    if window is not None and upgrade not in FLOW_TYPES:
        raise SpecificationError(
            f"{column!r} is declared a recall question ({window} years) but {upgrade} upgrading reads "
            "it as a state; a recall window belongs to a flow such as new_product (product upgrading).")
    n = len(frame)
    # every interval is one year here: a read-only view of a single 1, not n of them
    ones = np.broadcast_to(np.int64(1), (n,))
    if window is None and (not design.is_waves or upgrade in FLOW_TYPES):
        # years as they are: an annual panel, or a flow whose answers cover their own year only
        rows = risk_rows(frame, upgrade, outcome=column)
        at_risk, event, duration = rows.at_risk, rows.event, rows.duration
        report = rows.report
        if design.is_waves:
            report = report.assign(reason=report["reason"].replace(SPELL_ENDED, _WAVE_LABELS[SPELL_ENDED]))
        return IntervalRows(at_risk, event, duration, ones, report, column, rows.n_left_truncated,
                            design, None)
    firm = pd.factorize(frame.index.get_level_values("firm_id"), sort=False)[0]
    years = np.asarray(frame.index.get_level_values("year"), dtype=np.int64)
    # consecutive interviews as consecutive observations: the risk-set rules on the firm's sequence
    starts = np.r_[True, firm[1:] != firm[:-1]] if n else np.zeros(0, bool)
    ordinal = np.arange(n) - np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    sequence = pd.DataFrame({column: frame[column].to_numpy()},
                            index=pd.MultiIndex.from_arrays([frame.index.get_level_values("firm_id"), ordinal],
                                                            names=["firm_id", "year"]))
    rows = risk_rows(sequence, upgrade, outcome=column)
    at_risk, event = rows.at_risk, rows.event
    step = np.where(at_risk, rows.duration, 0)  # observations since the spell's origin
    previous_year = np.where(starts, years, np.r_[years[:1], years[:-1]])
    since_previous = years - previous_year
    interval = np.ones(n, dtype=np.int64)
    if window is None:  # a state: the years since the previous interview
        interval[at_risk] = since_previous[at_risk]
    else:
        previous_answer = np.where(starts, np.nan, np.r_[np.nan, pd.to_numeric(
            frame[column], errors="coerce").to_numpy(dtype=float)[:-1]])
        known_none = (~starts) & (previous_answer == 0)
        interval[at_risk] = np.where(known_none, np.minimum(window, since_previous), window)[at_risk]
    # calendar duration: years from the origin observation (the start of the first window for a
    # recall question) to this one
    origin = np.arange(n) - step
    first_of_firm = np.arange(n) - ordinal
    origin_year = np.where(origin >= first_of_firm, years[np.clip(origin, 0, max(n - 1, 0))],
                           years[first_of_firm] - (window or 1))
    duration = np.where(at_risk, years - origin_year, 0)
    report = rows.report.copy()
    for annual, wave in _WAVE_LABELS.items():
        report["reason"] = report["reason"].replace(annual.format(column=column), wave.format(column=column))
    return IntervalRows(at_risk, event, duration, interval, report, column, rows.n_left_truncated,
                        design, window)
