"""The compiled risk set (gvc/risk_kernel.py) against the vectorized rules it replaced.

``vectorized_risk_rows`` below is the NumPy implementation of :func:`gvcpanel.gvc.upgrading.risk_rows`
as it stood before the compiled pass (commit 3bba1b0), kept here as the oracle: the same rules
written a second, independent way (whole-panel array operations instead of a walk through each
firm).  Both must give the same at-risk rows, events, durations, left-truncated firms and
exclusion report on seeded random panels with gaps, missing outcomes, left truncation and every
upgrading type.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gvcpanel.gvc import upgrading as up
from gvcpanel.gvc.upgrading import FLOW_TYPES, TOP_FUNCTION_LEVEL, UPGRADES

CODE = {label: code for code, label in enumerate(up._REASONS)}


def _cumcount_within(firm, flag):
    total = np.cumsum(flag.astype(np.int64))
    starts = np.r_[True, firm[1:] != firm[:-1]] if firm.size else np.zeros(0, dtype=bool)
    before_firm = np.where(starts, total - flag.astype(np.int64), 0)
    return total - np.maximum.accumulate(before_firm)


def _previous_within_firm(firm, positions):
    prev = np.full(positions.size, -1, dtype=np.int64)
    if positions.size > 1:
        same = firm[positions[1:]] == firm[positions[:-1]]
        prev[1:] = np.where(same, positions[:-1], -1)
    return prev


def vectorized_risk_rows(frame, upgrade):
    """(at_risk, event, duration, reason codes, firm codes, n_left_truncated) by array operations."""
    column = up.OUTCOME_COLUMN[upgrade]
    firm = pd.factorize(frame.index.get_level_values("firm_id"), sort=False)[0].astype(np.int64)
    year = np.asarray(frame.index.get_level_values("year"), dtype=np.int64)
    values, observed = up._outcome_values(frame, upgrade, column)
    n = len(frame)
    reason = np.zeros(n, dtype=np.int8)
    event = np.zeros(n, dtype=np.int8)
    duration = np.zeros(n, dtype=np.int64)
    pos = np.flatnonzero(observed)
    prev = _previous_within_firm(firm, pos)
    first = prev < 0
    has_prev = ~first
    prev_safe = np.where(has_prev, prev, 0)
    consecutive = has_prev & (year[prev_safe] == year[pos] - 1)
    row_before = np.maximum(pos - 1, 0)
    before_is_t_minus_1 = (pos > 0) & (firm[row_before] == firm[pos]) & (year[row_before] == year[pos] - 1)
    break_reason = np.where(before_is_t_minus_1, CODE[up.PREVIOUS_MISSING], CODE[up.GAP]).astype(np.int8)
    v = values[pos]
    v_prev = np.where(has_prev, values[prev_safe], np.nan)
    n_firms = int(firm.max()) + 1 if n else 0
    first_value = np.full(n_firms, np.nan)
    first_year = np.zeros(n_firms, dtype=np.int64)
    first_value[firm[pos[first]]] = v[first]
    first_year[firm[pos[first]]] = year[pos[first]]
    truncated = np.zeros(n_firms, dtype=bool)
    if upgrade == "process":
        truncated = first_value == 1
    elif upgrade == "functional":
        truncated = first_value == TOP_FUNCTION_LEVEL
    r = np.zeros(pos.size, dtype=np.int8)
    ev = np.zeros(pos.size, dtype=np.int8)
    if upgrade in ("process", "intersectoral"):
        changed = has_prev & (v != v_prev) if upgrade == "intersectoral" else v == 1
        count = _cumcount_within(firm[pos], changed)
        r[first] = CODE[up.ENTRY]
        r[~first & ~consecutive] = break_reason[~first & ~consecutive]
        r[~((count == 0) | (changed & (count == 1)))] = CODE[up.AFTER_EVENT]
        ev[(r == 0) & changed] = 1
        dur = year[pos] - first_year[firm[pos]]
    elif upgrade in FLOW_TYPES:
        broken = has_prev & ~consecutive
        n_breaks = _cumcount_within(firm[pos], broken)
        happened = v == 1
        prior_events = _cumcount_within(firm[pos], happened) - happened.astype(np.int64)
        r[n_breaks > 0] = CODE[up.SPELL_ENDED]
        r[broken & (n_breaks == 1)] = break_reason[broken & (n_breaks == 1)]
        r[prior_events > 0] = CODE[up.AFTER_EVENT]
        ev[(r == 0) & happened] = 1
        dur = year[pos] - first_year[firm[pos]] + 1
    else:
        marks = np.where(first | (v != v_prev), np.arange(pos.size), 0)
        origin = year[pos][np.maximum.accumulate(marks)]
        origin_prev = np.where(has_prev, np.r_[0, origin[:-1]], 0)
        r[first] = CODE[up.ENTRY]
        r[~first & ~consecutive] = break_reason[~first & ~consecutive]
        r[(r == 0) & (v_prev >= TOP_FUNCTION_LEVEL)] = CODE[up.AT_TOP]
        ev[(r == 0) & (v > v_prev)] = 1
        dur = year[pos] - origin_prev
    r[truncated[firm[pos]]] = CODE[up.LEFT_TRUNCATED]
    reason[~observed] = CODE[up.MISSING]
    reason[pos] = r
    reason[~observed & truncated[firm]] = CODE[up.LEFT_TRUNCATED]
    if upgrade != "functional":
        first_event_year = np.full(n_firms, np.iinfo(np.int64).max)
        event_pos = pos[(r == 0) & (ev == 1)] if upgrade not in FLOW_TYPES else pos[v == 1]
        np.minimum.at(first_event_year, firm[event_pos], year[event_pos])
        if upgrade not in FLOW_TYPES:
            np.minimum.at(first_event_year, firm[pos[changed]], year[pos[changed]])
        late_missing = ~observed & (year > first_event_year[firm]) & ~truncated[firm]
        reason[late_missing] = CODE[up.AFTER_EVENT]
    event[pos] = ev
    duration[pos] = dur
    return reason == 0, event, duration, reason, firm, int(truncated.sum())


def random_panel(rng):
    """Firms with random years (gaps), outcomes with missing values, ids not 0..F-1."""
    keys = []
    for f in range(int(rng.integers(1, 30))):
        years = np.sort(rng.choice(np.arange(2000, 2012), size=int(rng.integers(1, 10)), replace=False))
        keys += [(f * 7 + 3, y) for y in years]
    firm, year = np.array(keys).T
    n = firm.size
    iso = rng.integers(0, 2, n).astype(float)
    iso[rng.random(n) < 0.15] = np.nan
    iso = np.where(rng.random(n) < rng.random(), 0.0, iso)  # from rare to frequent certification
    level = rng.integers(0, 4, n).astype(float)
    level[rng.random(n) < 0.15] = np.nan
    sector = rng.choice(["a", "b", "c"], n).astype(object)
    sector[rng.random(n) < 0.15] = None
    return pd.DataFrame(
        {"iso_certified": iso, "new_product": np.where(rng.random(n) < 0.7, 0.0, iso), "new_buyer_or_market": iso,
         "function_level": level, "sector": sector},
        index=pd.MultiIndex.from_arrays([firm, year], names=["firm_id", "year"]))


@pytest.mark.parametrize("upgrade", UPGRADES)
def test_compiled_risk_set_equals_the_vectorized_rules(upgrade):
    rng = np.random.default_rng(20240611)
    for _ in range(150):
        frame = random_panel(rng)
        got = up.risk_rows(frame, upgrade)
        at_risk, event, duration, reason, firm, n_truncated = vectorized_risk_rows(frame, upgrade)
        np.testing.assert_array_equal(got.at_risk, at_risk)
        np.testing.assert_array_equal(got.event, event)
        np.testing.assert_array_equal(got.duration, duration)
        assert got.event.dtype == np.int8 and got.duration.dtype == np.int64
        assert got.n_left_truncated == n_truncated
        # the report: rows and distinct firms per reason among rows not at risk
        table = pd.DataFrame({"code": reason[~at_risk], "firm": firm[~at_risk]}).groupby("code")["firm"]
        labels = up._reason_labels(up.OUTCOME_COLUMN[upgrade])
        expected = {labels[c]: (int(size), int(firms)) for (c, size), firms in zip(table.size().items(), table.nunique())}
        assert {r: (int(a), int(b)) for r, a, b in got.report[["reason", "n_rows", "n_firms"]].itertuples(index=False)} \
            == expected
        assert list(got.report["reason"]) == [labels[c] for c in sorted(table.size().index)]
