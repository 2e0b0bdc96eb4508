"""Risk sets on hand-made firms whose every row's fate is worked out by hand, and the network index."""

import numpy as np
import pandas as pd
import pytest

from gvcpanel.errors import SchemaError, SpecificationError
from gvcpanel.gvc.upgrading import (
    AFTER_EVENT,
    AT_TOP,
    ENTRY,
    GAP,
    LEFT_TRUNCATED,
    SPELL_ENDED,
    network_strength,
    risk_set,
)

NA = np.nan


def _panel(rows: list[tuple], column: str) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["firm_id", "year", column])
    return frame.set_index(["firm_id", "year"])


def _at_risk(rs) -> list[tuple]:
    f = rs.frame
    return [(i, y, int(e), int(d)) for (i, y), e, d in zip(f.index, f["event"], f["duration"])]


def _report(rs) -> dict[str, tuple[int, int]]:
    return {r: (int(n), int(k)) for r, n, k in zip(rs.report["reason"], rs.report["n_rows"], rs.report["n_firms"])}


def test_process_entry_left_truncation_gaps_and_missing_values():
    rows = [
        ("A", 2001, 0), ("A", 2002, 0), ("A", 2003, 1), ("A", 2004, 1),
        ("B", 2001, 1), ("B", 2002, 1),  # certified when first seen: left-truncated
        ("C", 2001, 0), ("C", 2002, 0), ("C", 2004, 0), ("C", 2005, 0), ("C", 2006, 1),  # 2003 absent
        ("D", 2001, 0), ("D", 2002, NA), ("D", 2003, 0), ("D", 2004, 0),
        ("E", 2001, NA), ("E", 2002, 0), ("E", 2003, 1),
        ("F", 2001, 0), ("F", 2003, 1), ("F", 2004, NA),  # certified across a gap: year unknown
    ]
    rs = risk_set(_panel(rows, "iso_certified"), "process")
    assert _at_risk(rs) == [
        ("A", 2002, 0, 1), ("A", 2003, 1, 2),
        ("C", 2002, 0, 1), ("C", 2005, 0, 4), ("C", 2006, 1, 5),
        ("D", 2004, 0, 3),
        ("E", 2003, 1, 1),
    ]
    assert _report(rs) == {
        ENTRY: (5, 5),
        AFTER_EVENT: (2, 2),
        LEFT_TRUNCATED: (2, 1),
        GAP: (2, 2),
        "missing iso_certified": (2, 2),
        "previous year's iso_certified missing": (1, 1),
    }
    assert rs.n_left_truncated == 1
    assert rs.n_events == 3
    assert len(rs.frame) + rs.report["n_rows"].sum() == len(rows)


def test_functional_steps_top_level_and_left_truncation():
    rows = [
        ("G", 2001, 0), ("G", 2002, 0), ("G", 2003, 1), ("G", 2004, 1), ("G", 2005, 3),
        ("G", 2006, 3), ("G", 2007, 2), ("G", 2008, 2),
        ("H", 2001, 3), ("H", 2002, 3),
        ("I", 2001, 1), ("I", 2002, NA), ("I", 2003, 2), ("I", 2005, 2), ("I", 2006, 3),
    ]
    rs = risk_set(_panel(rows, "function_level"), "functional")
    # a jump of two levels (2004 -> 2005) is one event; duration restarts when the level changes,
    # also after a fall from the top (2007) and after a change hidden by a missing value (I, 2003)
    assert _at_risk(rs) == [
        ("G", 2002, 0, 1), ("G", 2003, 1, 2), ("G", 2004, 0, 1), ("G", 2005, 1, 2), ("G", 2008, 0, 1),
        ("I", 2006, 1, 3),
    ]
    assert _report(rs) == {
        ENTRY: (2, 2),
        AT_TOP: (2, 1),
        LEFT_TRUNCATED: (2, 1),
        "missing function_level": (1, 1),
        "previous year's function_level missing": (1, 1),
        GAP: (1, 1),
    }


def test_product_first_year_at_risk_and_gap_ends_the_spell():
    rows = [
        ("J", 2001, 0), ("J", 2002, 0), ("J", 2003, 1), ("J", 2004, 0),
        ("K", 2001, 1), ("K", 2002, 1),
        ("L", 2001, 0), ("L", 2003, 0), ("L", 2004, 1),
        ("M", 2001, 0), ("M", 2002, NA), ("M", 2003, 0),
    ]
    rs = risk_set(_panel(rows, "new_product"), "product")
    assert _at_risk(rs) == [
        ("J", 2001, 0, 1), ("J", 2002, 0, 2), ("J", 2003, 1, 3),
        ("K", 2001, 1, 1),
        ("L", 2001, 0, 1),
        ("M", 2001, 0, 1),
    ]
    assert _report(rs) == {
        AFTER_EVENT: (2, 2),
        GAP: (1, 1),
        SPELL_ENDED: (1, 1),
        "missing new_product": (1, 1),
        "previous year's new_product missing": (1, 1),
    }
    assert rs.n_left_truncated == 0


def test_intersectoral_first_change_of_main_sector():
    rows = [
        (1, 2001, "textiles"), (1, 2002, "textiles"), (1, 2003, "apparel"), (1, 2004, "retail"),
        (2, 2001, "textiles"), (2, 2002, None), (2, 2003, "apparel"), (2, 2004, "apparel"),
    ]
    frame = _panel(rows, "sector").astype({"sector": "string"})
    rs = risk_set(frame, "intersectoral")
    assert _at_risk(rs) == [(1, 2002, 0, 1), (1, 2003, 1, 2)]
    assert _report(rs) == {
        ENTRY: (2, 2),
        AFTER_EVENT: (2, 2),
        "missing sector": (1, 1),
        "previous year's sector missing": (1, 1),
    }


def test_risk_set_keeps_columns_and_accepts_unsorted_column_frames():
    frame = pd.DataFrame(
        {"firm_id": [2, 1, 1, 2], "year": [2002, 2002, 2001, 2001], "iso_certified": [1, 0, 0, 0],
         "employees": [5, 6, 7, 8]}
    )
    rs = risk_set(frame, "process")
    assert list(rs.frame.columns) == ["iso_certified", "employees", "event", "duration"]
    assert rs.frame.loc[(2, 2002), "employees"] == 5
    assert rs.frame["event"].tolist() == [0, 1]


def test_risk_set_rejects_bad_codes_and_unknown_types():
    frame = _panel([(1, 2001, 0), (1, 2002, 2)], "iso_certified")
    with pytest.raises(SchemaError, match=r"iso_certified must take the values .*\(1, 2002\)"):
        risk_set(frame, "process")
    with pytest.raises(SpecificationError, match="choose one of process"):
        risk_set(frame, "marketing")
    with pytest.raises(SpecificationError, match="outcome='your_column'"):
        risk_set(frame, "functional")


def test_network_strength_by_hand():
    frame = pd.DataFrame(
        {
            "firm_id": ["a", "a", "b", "b"],
            "year": [2001, 2002, 2001, 2002],
            "n_partners": [0, 1, 3, NA],
            "alliance": pd.array([1, 0, 1, 0], dtype="Int8"),
            "university_link": pd.array([0, 0, 1, 1], dtype="Int8"),
            "association_member": pd.array([0, 1, 0, pd.NA], dtype="Int8"),
        }
    ).set_index(["firm_id", "year"])
    ns = network_strength(frame)
    # log1p(partners) = 0, ln 2, ln 4: mean ln 2, sample sd (ddof=1) ln 2, so z = -1, 0, 1
    np.testing.assert_allclose([ns.mean, ns.sd], [np.log(2), np.log(2)], rtol=1e-14)
    np.testing.assert_allclose(ns.components["partners_z"].to_numpy()[:3], [-1, 0, 1], atol=1e-14)
    np.testing.assert_allclose(ns.values.to_numpy(), [0, 1, 3, NA], atol=1e-14)
    np.testing.assert_allclose(ns.centred.to_numpy(), [-4 / 3, -1 / 3, 5 / 3, NA], atol=1e-14)
    assert ns.index_mean == pytest.approx(4 / 3, rel=1e-14)


def test_network_strength_rejects_non_binary_links():
    frame = pd.DataFrame(
        {"firm_id": [1, 1], "year": [2001, 2002], "n_partners": [1, 2], "alliance": [0, 2],
         "university_link": [0, 0], "association_member": [1, 1]}
    )
    with pytest.raises(SchemaError, match=r"alliance must be 0/1"):
        network_strength(frame)
