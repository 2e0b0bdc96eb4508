"""Chain-entry cohorts from governance: statuses, entry, exit and switches by hand, recovery of the
simulator's entry years, cohort-by-year counts and comparison groups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import gvcpanel as gp
from gvcpanel.errors import SpecificationError
from gvcpanel.gvc.cohorts import chain_cohorts, chain_entries, cohort_table, comparison_groups


def _panel(paths: dict[int, list]) -> pd.DataFrame:
    rows = []
    for firm, path in paths.items():
        for year, gov in path:
            rows.append({"firm_id": firm, "year": year, "governance": gov, "cluster_id": "c1"})
    return pd.DataFrame(rows).set_index(["firm_id", "year"])


M, Q, N = "market", "quasi_hierarchy", "network"
PATHS = {
    1: [(2010, M), (2011, M), (2012, Q), (2013, Q), (2014, M)],      # enters 2012, exits 2014
    2: [(2010, Q), (2011, Q), (2012, M)],                             # in at first observation
    3: [(2010, M), (2011, N), (2012, M)],                             # never
    4: [(2010, None), (2011, None)],                                  # unknown
    5: [(2010, M), (2011, None), (2012, Q), (2013, Q)],               # entry 2012, uncertain
    6: [(2010, M), (2011, Q), (2012, M), (2013, M), (2014, Q), (2015, Q)],  # blip, then spell
    7: [(2010, M), (2011, M), (2012, Q)],                             # spell runs into the end
}


def test_statuses_entry_exit_and_switches_by_hand():
    entries = chain_entries(_panel(PATHS))
    expected = {  # status, cohort, entry_uncertain, exit_year, n_switches
        1: ("entered", 2012.0, False, 2014.0, 2),
        2: ("in_at_first_observation", 2010.0, False, 2012.0, 1),
        3: ("never", 0.0, False, np.nan, 0),
        4: ("unknown", np.nan, False, np.nan, 0),
        5: ("entered", 2012.0, True, np.nan, 1),
        6: ("entered", 2011.0, False, 2012.0, 3),
        7: ("entered", 2012.0, False, np.nan, 1),
    }
    for firm, (status, cohort, uncertain, exit_year, switches) in expected.items():
        row = entries.loc[firm]
        assert row["status"] == status, firm
        np.testing.assert_equal(row["cohort"], cohort)
        assert bool(row["entry_uncertain"]) is uncertain, firm
        np.testing.assert_equal(row["exit_year"], exit_year)
        assert row["n_switches"] == switches, firm
    spelled = chain_entries(_panel(PATHS), min_spell=2)
    assert spelled.loc[6, "cohort"] == 2014.0  # the one-year 2011 spell is a blip
    assert spelled.loc[7, "status"] == "unknown"  # a one-year spell at the end cannot be judged
    assert spelled.loc[3, "status"] == "never"


def test_chain_cohorts_recover_the_simulated_entry_years():
    sim = gp.simulate_panel(n_firms=400, n_clusters=8, n_countries=2, years=(2005, 2014), seed=5)
    panel = chain_cohorts(sim.panel)
    assert "chain_cohorts:quasi_hierarchy:qh_entry_year" in panel.provenance.steps[-1]
    cohort = panel.data["qh_entry_year"].groupby(level="firm_id").first()
    truth = pd.Series(sim.entry.cohort, index=np.arange(1, 401))
    entered = truth.notna()
    np.testing.assert_array_equal(cohort[entered.to_numpy()].to_numpy(), truth[entered].to_numpy())
    # the simulator's non-entrants are never in quasi-hierarchy (cohort 0) or in it from the start
    entries = chain_entries(sim.panel)
    assert set(entries.loc[~entered.to_numpy(), "status"]) <= {"never", "in_at_first_observation"}


def test_cohort_table_counts_firms_by_cohort_and_year():
    frame = chain_cohorts(_panel(PATHS))
    table = cohort_table(frame)
    assert list(table.index) == ["never", "2010", "2011", "2012", "unknown"]
    assert table.loc["2012", "firms"] == 3 and table.loc["2012", 2013] == 2 and table.loc["2012", 2010] == 3
    assert table.loc["never", "firms"] == 1 and table.loc["unknown", 2011] == 1
    assert table.drop(columns="firms").to_numpy().sum() == len(frame)


def test_comparison_groups_label_every_firm_year():
    frame = chain_cohorts(_panel(PATHS))
    groups = comparison_groups(frame)
    assert groups.loc[(1, 2011), "group"] == "not_yet_treated" and groups.loc[(1, 2014), "group"] == "treated"
    assert groups.loc[(1, 2014), "event_time"] == 2
    assert groups.loc[(3, 2011), "group"] == "never_treated" and np.isnan(groups.loc[(3, 2011), "event_time"])
    assert groups.loc[(4, 2010), "group"] == "unknown"


def test_global_buyer_chain_and_bad_input():
    frame = _panel(PATHS)
    frame["global_buyer"] = (frame["governance"] == Q).astype(float).where(frame["governance"].notna())
    assert chain_entries(frame, "global_buyer")["cohort"].equals(chain_entries(frame)["cohort"])
    assert "global_entry_year" in chain_cohorts(frame, "global_buyer").columns
    with pytest.raises(SpecificationError, match="classify_governance"):
        chain_entries(frame.drop(columns="governance"))
    bad = frame.assign(global_buyer=frame["global_buyer"].replace(1.0, 2.0))
    with pytest.raises(SpecificationError, match="must be 0/1"):
        chain_entries(bad, "global_buyer")
    with pytest.raises(SpecificationError, match="neither"):
        chain_entries(frame, "lead_firm")
    with pytest.raises(SpecificationError, match="min_spell"):
        chain_entries(frame, min_spell=0)
