"""The upgrading risk set in one compiled pass per firm (the rules of :mod:`gvcpanel.gvc.upgrading`).

:func:`gvcpanel.gvc.upgrading.risk_rows` states the rules (entry, exit after the first event,
left truncation, gaps, missing outcomes) for every upgrading type; this module applies them
firm by firm to the sorted rows, reading the firm codes, years and outcome once and writing
only the outputs (at risk, event, duration, reason), so that a panel of millions of
firm-years costs a few arrays of its length instead of dozens of whole-panel temporaries.

Every output is defined row by row from the firm's earlier rows (and, for the reason of a row
whose outcome is missing, from the firm's first event), so the pass is sequential within a
firm; firms are independent.  Integer arithmetic and comparisons only: the results do not
depend on anything but the data.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: type codes of :func:`risk_pass`
STATE, FLOW, FUNCTIONAL = 0, 1, 2
#: reason codes, in the order of :data:`gvcpanel.gvc.upgrading._REASONS`
AT_RISK, MISSING, LEFT_TRUNCATED, ENTRY, AFTER_EVENT, AT_TOP, GAP, PREVIOUS_MISSING, SPELL_ENDED = range(9)
TOP_FUNCTION_LEVEL = 3.0
_NEVER = np.iinfo(np.int64).max


@njit(cache=True)
def risk_pass(firm, year, values, observed, kind, any_change, truncating_value):  # pragma: no cover - compiled
    """Reason (0 = at risk), event and duration of every row; left-truncated firms.

    Parameters
    ----------
    firm : int array
        Firm codes, equal on a firm's rows, which are contiguous and sorted by year.
    year : int64 array
    values : float64 array
        The outcome as numbers (NaN where missing).
    observed : bool array
        Where the outcome is observed.
    kind : int
        :data:`STATE` (process, intersectoral), :data:`FLOW` (product, diversification) or
        :data:`FUNCTIONAL`.
    any_change : bool
        For :data:`STATE`: the event is any change of the value (intersectoral) rather than the
        value 1 (process).
    truncating_value : float
        A firm whose first observed value equals it is left-truncated (NaN: none is).

    Returns
    -------
    reason : int8 array, event : int8 array, duration : int64 array, n_left_truncated : int
    """
    n = firm.size
    reason = np.zeros(n, dtype=np.int8)
    event = np.zeros(n, dtype=np.int8)
    duration = np.zeros(n, dtype=np.int64)
    n_truncated = 0
    start = 0
    while start < n:
        stop = start + 1
        while stop < n and firm[stop] == firm[start]:
            stop += 1
        # the firm's first observed row decides left truncation and the origin of durations
        first_row = -1
        for i in range(start, stop):
            if observed[i]:
                first_row = i
                break
        truncated = first_row >= 0 and values[first_row] == truncating_value
        n_truncated += truncated
        first_year = year[first_row] if first_row >= 0 else 0
        first_event_year = _NEVER
        previous = -1  # the previous row with an observed outcome
        n_changes = 0  # STATE: changes so far, this row included
        n_breaks = 0  # FLOW: breaks of the yearly sequence so far
        n_events = 0  # FLOW: events before this row
        origin = 0  # FUNCTIONAL: the year the level held was entered
        for i in range(start, stop):
            if not observed[i]:
                continue
            has_previous = previous >= 0
            consecutive = has_previous and year[previous] == year[i] - 1
            # why the predecessor is unusable: a missing value in t-1, or no row for t-1 at all
            row_before_is_t_minus_1 = i > start and year[i - 1] == year[i] - 1
            break_reason = PREVIOUS_MISSING if row_before_is_t_minus_1 else GAP
            v = values[i]
            r = AT_RISK
            ev = 0
            if kind == STATE:
                changed = (has_previous and v != values[previous]) if any_change else v == 1.0
                n_changes += changed
                if not has_previous:
                    r = ENTRY
                elif not consecutive:
                    r = break_reason
                if not (n_changes == 0 or (changed and n_changes == 1)):
                    r = AFTER_EVENT
                if r == AT_RISK and changed:
                    ev = 1
                if changed and year[i] < first_event_year:
                    first_event_year = year[i]  # a change across a gap also ends the spell
                duration[i] = year[i] - first_year
            elif kind == FLOW:
                broken = has_previous and not consecutive
                n_breaks += broken
                happened = v == 1.0
                if n_breaks > 0:
                    r = SPELL_ENDED
                if broken and n_breaks == 1:
                    r = break_reason
                if n_events > 0:
                    r = AFTER_EVENT
                if r == AT_RISK and happened:
                    ev = 1
                if happened:
                    n_events += 1
                    if year[i] < first_event_year:
                        first_event_year = year[i]
                duration[i] = year[i] - first_year + 1
            else:
                v_previous = values[previous] if has_previous else np.nan
                origin_previous = origin if has_previous else 0
                if not has_previous or v != v_previous:
                    origin = year[i]
                if not has_previous:
                    r = ENTRY
                elif not consecutive:
                    r = break_reason
                if r == AT_RISK and v_previous >= TOP_FUNCTION_LEVEL:
                    r = AT_TOP
                if r == AT_RISK and v > v_previous:
                    ev = 1
                duration[i] = year[i] - origin_previous
            if truncated:
                r = LEFT_TRUNCATED
            reason[i] = r
            event[i] = ev
            previous = i
        for i in range(start, stop):
            if observed[i]:
                continue
            if truncated:
                reason[i] = LEFT_TRUNCATED
            elif kind != FUNCTIONAL and year[i] > first_event_year:
                reason[i] = AFTER_EVENT
            else:
                reason[i] = MISSING
        start = stop
    return reason, event, duration, n_truncated


@njit(cache=True)
def reason_counts(reason, firm, n_reasons):  # pragma: no cover - compiled
    """Rows and distinct firms per reason code among rows not at risk (firms' rows contiguous)."""
    rows = np.zeros(n_reasons, dtype=np.int64)
    firms = np.zeros(n_reasons, dtype=np.int64)
    last = np.full(n_reasons, -1, dtype=np.int64)
    seen = np.zeros(n_reasons, dtype=np.bool_)
    for i in range(reason.size):
        r = reason[i]
        if r == AT_RISK:
            continue
        rows[r] += 1
        if not seen[r] or last[r] != firm[i]:
            firms[r] += 1
            last[r] = firm[i]
            seen[r] = True
    return rows, firms
