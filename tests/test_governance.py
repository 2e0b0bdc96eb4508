"""Governance classification: each rule on hand-made firms, thresholds, missing indicators."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from gvcpanel.errors import SpecificationError
from gvcpanel.gvc.governance import GHS_RULES, HS_RULES, SCHEMES, classify_frame, classify_governance

NA = pd.NA


def _firms(rows: list[dict]) -> pd.DataFrame:
    """One firm per row, year 2010, with nullable indicator columns."""
    frame = pd.DataFrame(rows)
    frame.insert(0, "firm_id", np.arange(1, len(frame) + 1))
    frame.insert(1, "year", 2010)
    frame.insert(2, "cluster_id", "c1")
    for column in frame.columns[3:]:
        if column not in ("governance", "governance_ghs"):
            frame[column] = pd.to_numeric(frame[column]).astype("Float64")
    return frame


BASE = dict(buyer_owned=0, buyer_sets_design=0, buyer_monitors_process=0, main_buyer_share=0.2,
            joint_development=0, n_buyers=6)


def _hs(**changes) -> dict:
    return {**BASE, **changes}


def test_each_rule_classifies_its_hand_made_firm():
    frame = _firms([
        _hs(buyer_owned=1, buyer_sets_design=1, main_buyer_share=0.9, n_buyers=1),
        _hs(buyer_sets_design=1, main_buyer_share=0.6, n_buyers=2),
        _hs(buyer_monitors_process=1, main_buyer_share=0.5, n_buyers=2),  # at the cut: >=
        _hs(joint_development=1, main_buyer_share=0.3, n_buyers=4),
        _hs(),
    ])
    report = classify_frame(frame)
    assert report.result.tolist() == ["hierarchy", "quasi_hierarchy", "quasi_hierarchy",
                                      "network", "market"]
    counts = dict(zip(report.rule_counts["rule"], report.rule_counts["n_firm_years"]))
    assert counts == {"hierarchy_buyer_owned": 1, "quasi_hierarchy_buyer_control": 2,
                      "network_joint_development": 1, "market_arms_length": 1}
    assert report.n_unclassified == 0 and report.unclassified.empty


def test_precedence_order_decides_overlapping_rules():
    frame = _firms([
        # owned and controlled: hierarchy comes first
        _hs(buyer_owned=1, buyer_sets_design=1, main_buyer_share=0.95, joint_development=1),
        # controlled by a dominant buyer and developing jointly: asymmetry wins (quasi_hierarchy)
        _hs(buyer_sets_design=1, main_buyer_share=0.7, joint_development=1),
    ])
    assert classify_frame(frame).result.tolist() == ["hierarchy", "quasi_hierarchy"]


def test_firm_fitting_no_type_stays_missing_with_reason():
    frame = _firms([
        _hs(buyer_sets_design=1, main_buyer_share=0.3),  # control without dependence
        _hs(n_buyers=2),  # arm's length but too few buyers
    ])
    report = classify_frame(frame)
    assert report.result.isna().all()
    assert report.reasons.tolist() == ["no rule matched", "no rule matched"]
    assert report.unclassified.to_dict("records") == [{"reason": "no rule matched", "n_firm_years": 2}]


def test_raising_dominant_buyer_share_moves_firms_as_documented():
    frame = _firms([
        _hs(buyer_sets_design=1, main_buyer_share=0.6, joint_development=1),  # -> network
        _hs(buyer_sets_design=1, main_buyer_share=0.6),  # -> no rule matched
        _hs(buyer_sets_design=1, main_buyer_share=0.85),  # stays quasi_hierarchy
        _hs(joint_development=1, main_buyer_share=0.6),  # no rule -> network
    ])
    default = classify_frame(frame)
    sinos = classify_frame(frame, thresholds={"dominant_buyer_share": 0.8})
    assert default.result.tolist()[:3] == ["quasi_hierarchy", "quasi_hierarchy", "quasi_hierarchy"]
    assert pd.isna(default.result.iloc[3])
    assert sinos.result.tolist()[0] == "network"
    assert pd.isna(sinos.result.iloc[1]) and sinos.reasons.loc[1] == "no rule matched"
    assert sinos.result.tolist()[2:] == ["quasi_hierarchy", "network"]
    assert sinos.thresholds["dominant_buyer_share"] == 0.8
    assert "0.8" in sinos.rule_counts.loc[1, "condition"]


def test_market_min_buyers_moves_firms_out_of_market():
    frame = _firms([_hs(n_buyers=3), _hs(n_buyers=5)])
    assert classify_frame(frame).result.tolist() == ["market", "market"]
    stricter = classify_frame(frame, thresholds={"market_min_buyers": 4})
    assert pd.isna(stricter.result.iloc[0]) and stricter.result.iloc[1] == "market"


def test_missing_indicators_stay_missing_with_the_reason():
    frame = _firms([
        _hs(buyer_owned=NA, joint_development=1),  # cannot rule out hierarchy
        _hs(buyer_monitors_process=NA),  # market needs to know monitoring is absent
        _hs(buyer_sets_design=1, buyer_monitors_process=NA, main_buyer_share=0.7),  # decided anyway
        _hs(buyer_sets_design=1, main_buyer_share=NA),
        _hs(buyer_sets_design=NA, main_buyer_share=NA, joint_development=1),
    ])
    report = classify_frame(frame)
    assert report.result.isna().tolist() == [True, True, False, True, True]
    assert report.result.iloc[2] == "quasi_hierarchy"  # design = 1 settles the 'or' without monitoring
    assert report.reasons.to_dict() == {
        0: "missing buyer_owned (rule hierarchy_buyer_owned)",
        1: "missing buyer_monitors_process (rule market_arms_length)",
        3: "missing main_buyer_share (rule quasi_hierarchy_buyer_control)",
        4: "missing buyer_sets_design, main_buyer_share (rule quasi_hierarchy_buyer_control)",
    }
    assert report.unclassified["n_firm_years"].sum() == 4


def test_absent_indicator_column_leaves_every_dependent_firm_year_missing():
    frame = _firms([_hs(), _hs(buyer_owned=1)]).drop(columns="buyer_owned")
    report = classify_frame(frame)
    assert report.result.isna().all()
    assert set(report.reasons) == {"missing buyer_owned (rule hierarchy_buyer_owned)"}


def test_unknown_threshold_and_scheme_list_the_valid_ones():
    frame = _firms([_hs()])
    with pytest.raises(SpecificationError, match=r"dominant_buyer_share.*market_min_buyers"):
        classify_frame(frame, thresholds={"main_share": 0.6})
    with pytest.raises(SpecificationError, match="gereffi_humphrey_sturgeon_2005"):
        classify_frame(frame, scheme="gereffi_2005")
    with pytest.raises(SpecificationError, match="must be a number"):
        classify_frame(frame, thresholds={"dominant_buyer_share": "half"})


def test_input_governance_is_kept_and_cross_tabulated():
    frame = _firms([
        _hs(buyer_owned=1),
        _hs(buyer_sets_design=1, main_buyer_share=0.7),
        _hs(joint_development=1),
        _hs(),
        _hs(buyer_owned=NA),
    ])
    frame["governance"] = pd.array(["hierarchy", "quasi_hierarchy", "market", "market", "network"],
                                   dtype="string")
    report = classify_frame(frame)
    assert report.kept_input
    assert report.n_compared == 4  # the fifth firm has no rule result
    assert report.agreement_rate == pytest.approx(3 / 4, abs=1e-12)
    table = report.crosstab
    assert table.loc["market", "network"] == 1 and table.loc["market", "market"] == 1
    assert table.loc["network", "<NA>"] == 1
    assert int(table.to_numpy().sum()) == 5


def test_classify_governance_on_a_panel_writes_or_keeps_the_column():
    from gvcpanel.data.io import load_panel

    frame = _firms([_hs(buyer_owned=1), _hs(joint_development=1), _hs(buyer_owned=NA)])
    panel = load_panel(frame)
    classified = classify_governance(panel)
    data = classified.data
    assert data["governance"].astype("string").tolist()[:2] == ["hierarchy", "network"]
    assert pd.isna(data["governance"].iloc[2])
    assert classified.governance_report.n_unclassified == 1
    assert not classified.governance_report.kept_input
    # a DataFrame is loaded first; an existing column is kept as given
    given = frame.assign(governance=["market", "market", "market"])
    kept = classify_governance(given)
    assert kept.data["governance"].astype("string").tolist() == ["market"] * 3
    assert kept.governance_report.agreement_rate == pytest.approx(0.0, abs=1e-12)


GHS_CASES = [  # (complexity, codifiability, capability) -> type (GHS 2005 Table 1)
    ((0.2, 0.8, 0.9), "market"),
    ((0.8, 0.8, 0.9), "modular"),
    ((0.8, 0.2, 0.9), "relational"),
    ((0.8, 0.8, 0.1), "captive"),
    ((0.8, 0.2, 0.1), "hierarchy"),
]


def test_ghs_table_one_rows_and_excluded_combinations():
    rows = [dict(transaction_complexity=c, codifiability=k, supplier_capability=s)
            for (c, k, s), _ in GHS_CASES]
    rows += [dict(transaction_complexity=0.1, codifiability=0.1, supplier_capability=0.9),
             dict(transaction_complexity=0.1, codifiability=0.9, supplier_capability=0.1),
             dict(transaction_complexity=0.9, codifiability=NA, supplier_capability=0.9)]
    report = classify_frame(_firms(rows), scheme="gereffi_humphrey_sturgeon_2005")
    assert report.column == "governance_ghs"
    assert report.result.tolist()[:5] == [expected for _, expected in GHS_CASES]
    assert report.result.iloc[5:].isna().all()
    assert report.reasons.to_dict() == {
        5: "excluded by source (ghs_excluded_low_complexity_low_codifiability)",
        6: "excluded by source (ghs_excluded_supplier_lacks_capability)",
        7: "missing codifiability (rule ghs_modular)",
    }


def test_ghs_high_cut_and_text_codes():
    frame = _firms([dict(transaction_complexity=0.6, codifiability=0.9, supplier_capability=0.9)])
    assert classify_frame(frame, scheme="gereffi_humphrey_sturgeon_2005").result.iloc[0] == "modular"
    moved = classify_frame(frame, scheme="gereffi_humphrey_sturgeon_2005", thresholds={"high_at": 0.7})
    assert moved.result.iloc[0] == "market"
    text = pd.DataFrame({"transaction_complexity": ["High"], "codifiability": ["low"],
                         "supplier_capability": ["low"]})
    assert classify_frame(text, scheme="gereffi_humphrey_sturgeon_2005").result.iloc[0] == "hierarchy"
    with pytest.raises(SpecificationError, match="'high'/'low'"):
        classify_frame(text.assign(codifiability=["medium"]), scheme="gereffi_humphrey_sturgeon_2005")


def test_every_rule_cites_a_source_and_reads_only_known_columns():
    for rule in HS_RULES + GHS_RULES:
        assert re.search(r"\((2001|2002|2005)\)", rule.source), rule.name
    assert SCHEMES["humphrey_schmitz_2002"].rules == HS_RULES
    for name, scheme in SCHEMES.items():
        assert set(scheme.default_thresholds) == set(scheme.threshold_notes), name
