"""Lock-in measures (gvcpanel.gvc.lockin), the diversification risk set and their simulated truth."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from gvcpanel.errors import PanelStructureError, SchemaError, SpecificationError
from gvcpanel.gvc.lockin import (
    LAG_FIRST,
    LAG_GAP,
    SPELL_GAP,
    buyer_dependence,
    with_buyer_dependence,
)
from gvcpanel.gvc.simulate import _dependence_run, simulate_panel
from gvcpanel.gvc.upgrading import risk_set
from gvcpanel.gvc.hazard import upgrading_hazard


def _frame(rows):
    return pd.DataFrame(rows, columns=["firm_id", "year", "main_buyer_share"])


def test_dependence_years_by_hand_with_gaps_and_missing_shares():
    df = _frame([
        (1, 2001, 0.6), (1, 2002, 0.7), (1, 2003, 0.8), (1, 2004, 0.9), (1, 2005, 0.2),
        (2, 2001, 0.6), (2, 2003, 0.7), (2, 2004, 0.8), (2, 2005, 0.9), (2, 2006, 0.95),
        (3, 2001, 0.6), (3, 2002, None), (3, 2003, 0.7), (3, 2004, 0.4), (3, 2005, 0.5),
    ])
    dep = buyer_dependence(df, threshold=0.5, years=3)
    got = dep.values["dependence_years"].astype("Float64").tolist()
    nan = pd.NA
    assert [None if v is nan else v for v in got] == [
        1, 2, 3, 3, 0,  # firm 1: counted from the first observed year, capped at 3
        1, None, None, 3, 3,  # firm 2: the 2002 gap makes 2003 and 2004 unknown, 2005 reaches 3 after it
        1, None, None, 0, 1,  # firm 3: 2002 missing share; 2003 walks back into it
    ]
    locked = dep.values["locked_in"].astype("Float64").tolist()
    assert [None if v is nan else v for v in locked] == [0, 0, 1, 1, 0, 0, None, None, 1, 1, 0, None, None, 0, 0]
    reasons = dep.report.set_index(["measure", "reason"])["n_rows"]
    assert reasons[("dependence_years", SPELL_GAP)] == 2
    assert reasons[("dependence_years", "main_buyer_share missing in year t")] == 1
    assert reasons[("dependence_years", "main_buyer_share missing in an earlier year of the dependence spell")] == 1
    assert reasons[("main_buyer_share_lag", LAG_FIRST)] == 3
    assert reasons[("main_buyer_share_lag", LAG_GAP)] == 1
    lag = dep.values["main_buyer_share_lag"]
    assert lag.loc[(1, 2002)] == 0.6 and pd.isna(lag.loc[(2, 2003)]) and pd.isna(lag.loc[(3, 2003)])


def test_a_below_threshold_year_determines_the_spell_despite_earlier_gaps():
    df = _frame([(1, 2001, 0.9), (1, 2004, 0.3), (1, 2005, 0.6)])
    values = buyer_dependence(df, years=3).values
    assert values["dependence_years"].tolist() == [1, 0, 1]
    assert values["locked_in"].tolist() == [0, 0, 0]


def test_bad_input_gets_the_package_errors():
    with pytest.raises(SpecificationError, match="threshold"):
        buyer_dependence(_frame([(1, 2001, 0.5)]), threshold=0)
    with pytest.raises(SpecificationError, match="years"):
        buyer_dependence(_frame([(1, 2001, 0.5)]), years=0)
    with pytest.raises(SpecificationError, match="column 'share'"):
        buyer_dependence(_frame([(1, 2001, 0.5)]), column="share")
    with pytest.raises(PanelStructureError, match="more than once"):
        buyer_dependence(_frame([(1, 2001, 0.5), (1, 2001, 0.6)]))
    with pytest.raises(SchemaError, match="must be numeric"):
        buyer_dependence(_frame([(1, 2001, "half")]))
    with pytest.raises(SchemaError, match=r"\[0, 1\].*Divide percentages"):
        buyer_dependence(_frame([(1, 2001, 55.0)]))


def test_package_measure_equals_the_simulators_wherever_it_is_determined():
    sim = simulate_panel(n_firms=1500, seed=14)  # 3% of shares missing
    frame = sim.frame
    dep = buyer_dependence(frame).values
    # the simulator's forward run, applied to the stored (masked) shares firm by firm
    wide = frame.pivot(index="firm_id", columns="year", values="main_buyer_share").astype(float)
    present = frame.assign(one=1).pivot(index="firm_id", columns="year", values="one").notna().to_numpy()
    run = _dependence_run(np.nan_to_num(wide.to_numpy(), nan=0.0), present, 0.5, 3)
    forward = pd.DataFrame(run, index=wide.index, columns=wide.columns).stack()
    forward.index.names = ["firm_id", "year"]
    determined = dep["dependence_years"].notna()
    assert determined.mean() > 0.9
    # where nothing is missing in the walk back the two agree exactly
    np.testing.assert_array_equal(dep.loc[determined, "dependence_years"].to_numpy(dtype=int),
                                  forward.loc[dep.index[determined]].to_numpy())
    complete = simulate_panel(n_firms=800, seed=15, missing_rate=0.0).frame
    assert buyer_dependence(complete).values["locked_in"].notna().all()


def test_with_buyer_dependence_keeps_a_firm_panel_and_records_the_step():
    sim = simulate_panel(n_firms=300, seed=16)
    panel = with_buyer_dependence(sim.panel)
    assert {"locked_in", "dependence_years", "main_buyer_share_lag"} <= set(panel.data.columns)
    assert "buyer dependence" in panel.provenance.steps[-1]
    assert with_buyer_dependence(panel) is panel  # columns already there: nothing recomputed


def test_diversification_risk_set_follows_the_flow_rules():
    df = pd.DataFrame({
        "firm_id": [1, 1, 1, 1, 2, 2, 2, 3, 3],
        "year": [2001, 2002, 2003, 2004, 2001, 2003, 2004, 2001, 2002],
        "new_buyer_or_market": [0, 1, 0, 1, 0, 0, 1, 0, None],
    })
    rs = risk_set(df, "diversification")
    assert rs.frame.index.tolist() == [(1, 2001), (1, 2002), (2, 2001), (3, 2001)]
    assert rs.frame["event"].tolist() == [0, 1, 0, 0]
    assert rs.frame["duration"].tolist() == [1, 2, 1, 1]
    report = rs.report.set_index("reason")["n_rows"]
    assert report["after the first event (left the risk set)"] == 2
    assert report["previous year not observed (gap)"] == 1  # firm 2, 2003: the spell ends at the gap
    assert report["after an unobserved year (an earlier event may be unseen)"] == 1
    assert report["missing new_buyer_or_market"] == 1
    assert report.sum() + len(rs.frame) == len(df)


def test_hazards_recover_simulated_lock_in_and_destination_effects():
    """Nonzero lock-in and global-buyer effects in the functional hazard, and the diversification truth."""
    params = {"functional_locked_in": -0.5, "functional_global_buyer": -0.4, "functional_main_buyer_share": 0.0}
    sim = simulate_panel(n_firms=8000, n_clusters=40, n_countries=8, seed=77, params=params)
    panel = sim.panel  # the lock-in measures are formula names: computed on demand
    base = ["network", "quasi_hierarchy", "hierarchy", "network_strength_c",
            "quasi_hierarchy:network_strength_c", "log(employees)", "firm_age", "foreign_owned", "export_share"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        functional = upgrading_hazard(panel, "functional ~ " + " + ".join(
            [*base, "main_buyer_share", "locked_in", "global_buyer"]))
        diversification = upgrading_hazard(panel, "diversification ~ network + quasi_hierarchy + hierarchy + "
                                           "main_buyer_share + locked_in + log(employees) + firm_age + "
                                           "foreign_owned + export_share")
    truth = sim.truth
    checks = [
        (functional, "locked_in", truth.functional_locked_in),
        (functional, "global_buyer", truth.functional_global_buyer),
        (functional, "main_buyer_share", truth.functional_main_buyer_share),
        (functional, "quasi_hierarchy", truth.functional_quasi_hierarchy),
        (diversification, "locked_in", truth.diversification_locked_in),
        (diversification, "main_buyer_share", truth.diversification_main_buyer_share),
        (diversification, "network", truth.diversification_network),
        (diversification, "export_share", truth.diversification_export_share),
    ]
    for res, term, value in checks:
        z = (res.params[term] - value) / res.std_errors[term]
        assert abs(z) < 3.5, (res.spec.dependent, term, res.params[term], res.std_errors[term], value)
    baseline = truth.baseline("diversification", (2006, 2018))
    estimated = diversification.params[[f"year[{y}]" for y in baseline.index]].to_numpy()
    assert np.abs(estimated - baseline.to_numpy()).mean() < 0.15
